"""Every setting of Modelyard, resolved in one place and one order.

    resolve(home, flags) -> Settings

For each setting the first of these that gives a usable value wins:

    1. a command-line flag (`flags`, what the CLI or a caller passes explicitly)
    2. an environment variable (OLLAMA_HOST, MODELYARD_MAX_PARALLEL_RUNS, ... see SETTINGS)
    3. the settings file, `$MODELYARD_HOME/settings.json` (what the Settings page saves)
    4. the default

A value that cannot be read (`MODELYARD_MEMORY_LIMIT_GB=lots`) is passed over, as if it
were not there, so one typo never stops the app. `Settings.sources` says which of the four
gave each value ("flag", the variable's name, "settings" or "default"), so the Settings
page can say "fixed by MODELYARD_MAX_PARALLEL_RUNS", and a Run records what it ran with.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from modelyard.storage import settings as settings_file
from modelyard.storage.paths import Home

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
DEFAULT_TIMEOUT = 120.0
PLANNERS = ("auto", "ollama", "rules")
GUARD_MODES = ("auto", "always", "never")


def normalize_host(host: str) -> str:
    """`localhost` -> `http://localhost:11434`, as the ollama client reads a host."""
    host = host.strip().rstrip("/")
    if "://" not in host:
        split = urlsplit(f"http://{host}")
        port = split.port or 11434
        host = f"http://{split.hostname or '127.0.0.1'}:{port}{split.path}"
    return host


# Study storages a Run may share its search through (Optuna's RDB storage).
STORAGE_SCHEMES = ("postgresql", "postgresql+psycopg", "postgresql+psycopg2", "sqlite")


def normalize_storage_url(url: str) -> str:
    """A study storage URL as SQLAlchemy reads it (`postgresql://` and `postgres://` use
    psycopg 3, the driver `modelyard[scale]` installs); ValueError naming the problem."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep or not rest:
        raise ValueError(f"{mask_url(url)!r} is not a database URL "
                         "(e.g. postgresql://user@host:5432/modelyard)")
    scheme = scheme.lower()
    if scheme in ("postgresql", "postgres"):
        scheme = "postgresql+psycopg"
    if scheme not in STORAGE_SCHEMES:
        raise ValueError(f"{scheme}:// is not a study storage Modelyard can share a run "
                         "through (use postgresql://user@host:5432/database)")
    return f"{scheme}://{rest}"


def mask_url(url: str | None) -> str:
    """`url` with its password, if any, shown as ***: for pages, logs and messages."""
    if not url:
        return ""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


def _storage(value: Any) -> str | None:
    text = _text(value)
    return normalize_storage_url(text) if text else None


def default_parallel_runs() -> int:
    """One Run per two cores: training uses every core it is given."""
    return max(1, (os.cpu_count() or 1) // 2)


def _text(value: Any) -> str | None:
    text = str(value).strip()
    return text or None


def _host(value: Any) -> str | None:
    text = _text(value)
    return normalize_host(text) if text else None


def _choice(options: tuple[str, ...]) -> Callable[[Any], str | None]:
    def read(value: Any) -> str | None:
        text = str(value).strip().lower()
        return text if text in options else None
    return read


def _positive_int(value: Any) -> int:
    return max(1, int(value))


def _positive(value: Any) -> float | None:
    number = float(value)
    return number if number > 0 else None


def _limit_gb(value: Any) -> float:
    # 0 means "no limit beyond what is free", and it is a value: a variable set to 0
    # lifts a limit saved in the file.
    return max(0.0, float(value))


@dataclass(frozen=True)
class Setting:
    """One setting: its variable, its reader (raises or returns None for an unusable
    value) and its default."""

    name: str
    env: str
    read: Callable[[Any], Any]
    default: Callable[[], Any]


SETTINGS = (
    Setting("ollama_host", "OLLAMA_HOST", _host, lambda: DEFAULT_OLLAMA_HOST),
    Setting("ollama_model", "MODELYARD_OLLAMA_MODEL", _text, lambda: None),
    Setting("planner", "MODELYARD_PLANNER", _choice(PLANNERS), lambda: "auto"),
    Setting("ollama_timeout", "MODELYARD_OLLAMA_TIMEOUT", float, lambda: DEFAULT_TIMEOUT),
    Setting("max_parallel_runs", "MODELYARD_MAX_PARALLEL_RUNS", _positive_int,
            default_parallel_runs),
    Setting("memory_limit_gb", "MODELYARD_MEMORY_LIMIT_GB", _limit_gb, lambda: 0.0),
    Setting("guard_fits", "MODELYARD_GUARD_FITS", _choice(GUARD_MODES), lambda: "auto"),
    # What intake unpacks at most from one archive, and how many times its compressed
    # size a big member may be (engine/intake/guards.py says why these numbers).
    Setting("max_unpacked_gb", "MODELYARD_MAX_UNPACKED_GB", _positive, lambda: 20.0),
    Setting("max_unpack_ratio", "MODELYARD_MAX_UNPACK_RATIO", _positive, lambda: 500.0),
    # The prediction server (modelyard/serve): the bearer token every route but /health
    # asks for (none: no token), and the largest request body it reads.
    Setting("serve_token", "MODELYARD_SERVE_TOKEN", _text, lambda: None),
    Setting("serve_max_body_mb", "MODELYARD_SERVE_MAX_BODY_MB", _positive, lambda: 16.0),
    # Where a Run's Optuna studies live when other hosts are to join its search; None:
    # the journal file in the run folder (engine/training/sharing.py).
    Setting("study_storage", "MODELYARD_STUDY_STORAGE", _storage, lambda: None),
)
# Never written into a Run's record (run.json) nor shown: a token is a password.
SECRETS = frozenset({"serve_token"})
BY_NAME = {s.name: s for s in SETTINGS}


class Settings(BaseModel):
    """The resolved value of every setting, and where each came from."""

    model_config = ConfigDict(frozen=True)

    ollama_host: str
    ollama_model: str | None
    planner: Literal["auto", "ollama", "rules"]
    ollama_timeout: float
    max_parallel_runs: int
    memory_limit_gb: float  # 0: no limit beyond what is free
    guard_fits: Literal["auto", "always", "never"]
    max_unpacked_gb: float
    max_unpack_ratio: float
    serve_token: str | None
    serve_max_body_mb: float
    study_storage: str | None = None
    sources: dict[str, str]

    def fixed_by_env(self, name: str) -> str | None:
        """The variable that sets `name` now, if one does."""
        source = self.sources[name]
        return source if source == BY_NAME[name].env else None

    def environ(self, *names: str) -> dict[str, str]:
        """These settings as environment variables, for a child process to resolve."""
        return {BY_NAME[n].env: _as_text(getattr(self, n)) for n in names}

    def record(self) -> dict[str, Any]:
        """What a Run records in run.json: each value and where it came from."""
        values = self.model_dump(exclude={"sources", *SECRETS})
        values["study_storage"] = mask_url(values["study_storage"]) or None
        return {"values": values, "sources": dict(self.sources)}


def resolve(home: Home | None = None, flags: Mapping[str, Any] | None = None,
            environ: Mapping[str, str] | None = None) -> Settings:
    """Every setting: flag, then environment variable, then settings file, then default.
    Without `home` there is no settings file (a worker, whose launcher resolved the file
    into its environment)."""
    flags = flags or {}
    environ = os.environ if environ is None else environ
    saved = settings_file.load(home) if home is not None else {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        layers = ((flags.get(setting.name), "flag"), (environ.get(setting.env), setting.env),
                  (saved.get(setting.name), "settings"))
        for raw, source in layers:
            value = _usable(setting, raw)
            if value is not None:
                values[setting.name], sources[setting.name] = value, source
                break
        else:
            values[setting.name], sources[setting.name] = setting.default(), "default"
    return Settings(**values, sources=sources)


def _as_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _usable(setting: Setting, raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return setting.read(raw)
    except (TypeError, ValueError):
        return None


def save(home: Home, **changes: Any) -> dict[str, Any]:
    """Write settings into the file (None removes one); unknown names are refused."""
    unknown = set(changes) - set(BY_NAME)
    if unknown:
        raise KeyError(f"unknown settings: {sorted(unknown)}")
    return settings_file.update(home, **changes)


def saved(home: Home) -> dict[str, Any]:
    """What the settings file holds (the Settings page shows it next to what applies)."""
    return settings_file.load(home)
