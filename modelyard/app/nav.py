"""The app's pages, defined once: main.py routes to them, pages link to them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import streamlit as st

# The page scripts ship inside the package: found through it, wherever it is installed.
PAGES_DIR = Path(str(resources.files("modelyard.pages")))
# Emoji, not `:material/...:` names: those make the browser fetch an icon font from the
# internet, and nothing may leave the machine.
_PAGES = {
    "home": ("Home", "🏠"),
    "data": ("Data", "📂"),
    "plan": ("Plan", "🧭"),
    "runs": ("Runs", "🏃"),
    "leaderboard": ("Leaderboard", "🏆"),
    "model": ("Model", "📈"),
    "predict": ("Predict", "🔮"),
    "manage": ("Manage", "🗄️"),
    "settings": ("Settings", "⚙️"),
}


def page(name: str) -> st.Page:
    title, icon = _PAGES[name]
    return st.Page(str(PAGES_DIR / f"{name}.py"), title=title, icon=icon, url_path=name,
                   default=name == "home")


def all_pages() -> list[st.Page]:
    return [page(name) for name in _PAGES]
