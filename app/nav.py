"""The app's pages, defined once: main.py routes to them, pages link to them."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
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
