"""Where everything lives under MODELYARD_HOME.

Everything there holds a person's data (their tables as Parquet, predictions, bundles,
the catalog), so a process that opens a Home creates files private to its user: umask 077,
set once when the Home is opened, gives folders 0700 and files 0600 whoever writes them
(Polars, DuckDB, joblib, our own writers) and is inherited by the workers it starts. A
home that already exists keeps the permissions its owner gave it.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path("~/.modelyard")
PRIVATE_UMASK = 0o077


@dataclass(frozen=True)
class Home:
    """The root folder of one Modelyard installation and the layout beneath it."""

    root: Path

    @classmethod
    def from_env(cls, override: str | os.PathLike | None = None) -> Home:
        """The home named by `override`, else `$MODELYARD_HOME`, else `~/.modelyard`."""
        raw = override or os.environ.get("MODELYARD_HOME") or DEFAULT_HOME
        home = cls(Path(raw).expanduser().resolve())
        home.ensure()
        return home

    def ensure(self) -> None:
        """Create the layout, private to this user (see the module's note)."""
        keep_private()
        for folder in (self.root, self.datasets, self.runs, self.plans, self.samples):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def plans(self) -> Path:
        return self.root / "plans"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def weights(self) -> Path:
        """Pretrained network weights a person put here (`<name>.safetensors`); never
        downloaded into."""
        return self.root / "weights"

    @property
    def installs(self) -> Path:
        """Logs and state of optional parts installed from the app (`engine/extras.py`)."""
        return self.root / "installs"

    @property
    def db_path(self) -> Path:
        return self.root / "modelyard.duckdb"

    @property
    def lock_path(self) -> Path:
        return self.root / ".catalog.lock"

    @property
    def settings_path(self) -> Path:
        return self.root / "settings.json"

    def dataset_dir(self, dataset_id: str) -> Path:
        return self.datasets / dataset_id

    def run_dir(self, run_id: str) -> Path:
        return self.runs / run_id

    def plan_path(self, plan_id: str) -> Path:
        return self.plans / f"{plan_id}.json"


def keep_private() -> None:
    """From now on this process (and what it starts) creates files 0600, folders 0700."""
    os.umask(os.umask(PRIVATE_UMASK) | PRIVATE_UMASK)


def new_id(prefix: str) -> str:
    """A short random id such as `ds_3f9a1c2b`; readable in a URL and a shell."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"
