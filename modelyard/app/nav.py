"""The app's pages, defined once: main.py routes to them, pages link to them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import streamlit as st

# The page scripts ship inside the package: found through it, wherever it is installed.
PAGES_DIR = Path(str(resources.files("modelyard.pages")))
# Material icons in the app are drawn from a font Streamlit ships; only the tab's icon
# (main.py) would be fetched from the internet, so that one is an emoji.
_PAGES = {
    "home": ("Home", ":material/home:"),
    "data": ("Data", ":material/folder_open:"),
    "plan": ("Plan", ":material/explore:"),
    "runs": ("Runs", ":material/directions_run:"),
    "leaderboard": ("Leaderboard", ":material/leaderboard:"),
    "model": ("Model", ":material/analytics:"),
    "predict": ("Predict", ":material/batch_prediction:"),
    "manage": ("Manage", ":material/storage:"),
    "settings": ("Settings", ":material/settings:"),
}


def page(name: str) -> st.Page:
    title, icon = _PAGES[name]
    return st.Page(str(PAGES_DIR / f"{name}.py"), title=title, icon=icon, url_path=name,
                   default=name == "home")


def all_pages() -> list[st.Page]:
    return [page(name) for name in _PAGES]
