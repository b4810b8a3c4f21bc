"""The arrows of ARCHITECTURE.md, checked: pages display what the Workspace hands them,
the app reaches storage only through the Workspace, and settings are resolved in one
place."""

from __future__ import annotations

import ast
from pathlib import Path

import modelyard
from modelyard.engine.settings import SETTINGS

PACKAGE = Path(modelyard.__file__).parent
# The Workspace and its view objects are the app's one door to storage.
DOORS = {"app/workspace.py", "app/views.py"}


def imported(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return found


def modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def test_no_page_and_only_the_workspace_in_the_app_imports_storage():
    offenders = [str(p.relative_to(PACKAGE)) for p in modules("pages") + modules("app")
                 if str(p.relative_to(PACKAGE)) not in DOORS
                 and any(m.startswith("modelyard.storage") for m in imported(p))]
    assert offenders == []
    assert modules("pages") and all((PACKAGE / d).exists() for d in DOORS)


def test_one_settings_resolver():
    # Only engine/settings.py reads the settings file or names a setting's variable.
    readers = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
               if "modelyard.storage.settings" in imported(p)
               or any(f'"{s.env}"' in p.read_text(encoding="utf-8") for s in SETTINGS)}
    assert readers == {"engine/settings.py"}
