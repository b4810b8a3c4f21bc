"""The person's settings, `$MODELYARD_HOME/settings.json`: a flat JSON object.

Several parts of Modelyard keep a key here (the planner's Ollama host and model, the
job queue's limit, ...): every write merges into what is there and keeps other keys.
Nobody reads it but `engine/settings.py`, which ranks it below flags and environment
variables and above the defaults.
"""

from __future__ import annotations

import fcntl
from typing import Any

from modelyard.storage.files import read_json, write_json_atomic
from modelyard.storage.paths import Home


def load(home: Home) -> dict[str, Any]:
    """All saved settings; empty when there is no file or it cannot be read."""
    try:
        found = read_json(home.settings_path)
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def update(home: Home, **changes: Any) -> dict[str, Any]:
    """Merge `changes` into the settings; a value of None removes its key."""
    home.root.mkdir(parents=True, exist_ok=True)
    with open(home.root / ".settings.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two windows saving at once keep both keys
        try:
            current = load(home)
            for key, value in changes.items():
                if value is None:
                    current.pop(key, None)
                else:
                    current[key] = value
            write_json_atomic(home.settings_path, current)
            return current
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
