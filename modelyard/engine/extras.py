"""Optional parts installed when first needed: the `vision` extra (torch + timm).

A tabular user should not wait for a 5 GB download before seeing the app, so `make run`
installs the tables-only package; the first time a person needs image models, the app
offers to install the extra. That is a download from the package index, so it starts
only when the person presses the button that says so (nothing leaves the machine
otherwise), runs as a background `pip` process of this interpreter, and writes its output
to a log under the home that the page reads for progress. Offline, pip fails; the state
then says so in plain words, with the command to run later.

The requirements come from this package's own metadata (`pyproject.toml`'s extra), so
there is one list of what the extra holds.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# What each extra makes importable: the modules that tell whether it is installed.
MODULES = {"vision": ("torch", "timm"), "forecast": ("statsmodels",)}
# Neural networks for tables (RealMLP, TabM: `training/families/nets.py`).
MODULES["nets"] = ("torch", "pytabkit")
# Each extra's requirements where the package metadata is unavailable (a source tree run
# without installing); kept equal to pyproject.toml by a test.
FALLBACK = {"vision": ("torch>=2.2", "timm>=1.0", "pillow>=10"),
            "forecast": ("statsmodels>=0.14.4",)}
FALLBACK["nets"] = ("torch>=2.2", "pytabkit>=1.8")
SIZE_WORDS = {"vision": "PyTorch and timm, about 5 GB with the GPU libraries",
              "forecast": "statsmodels, about 40 MB"}
SIZE_WORDS["nets"] = "pytabkit and PyTorch, about 5 GB with the GPU libraries"
OFFLINE = re.compile(r"(connection|network is unreachable|name resolution|temporary "
                     r"failure|no matching distribution|could not find a version|"
                     r"max retries|timed out)", re.I)


def missing(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here (empty when installed)."""
    importlib.invalidate_caches()
    return [m for m in MODULES[extra] if importlib.util.find_spec(m) is None]


def requirements(extra: str) -> list[str]:
    """The requirement strings of `extra`, from the installed package's metadata."""
    try:
        declared = importlib.metadata.requires("modelyard") or []
    except importlib.metadata.PackageNotFoundError:
        return list(FALLBACK[extra])
    marker = re.compile(rf"""extra\s*==\s*['"]{re.escape(extra)}['"]""")
    found = [r.split(";")[0].strip() for r in declared if ";" in r and marker.search(r)]
    return found or list(FALLBACK[extra])


def install_command(extra: str, python: str | None = None) -> list[str]:
    """The pip command that installs `extra` into `python` (this interpreter by default)."""
    return [python or sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
            "--progress-bar", "off", *requirements(extra)]


@dataclass(frozen=True)
class InstallState:
    """Where an install stands: not started, running, finished well or failed."""

    extra: str
    status: str  # "none" | "running" | "succeeded" | "failed"
    message: str
    log_tail: str = ""
    steps: int = 0  # packages collected so far, for a progress line

    @property
    def running(self) -> bool:
        return self.status == "running"


def _files(folder: Path, extra: str) -> tuple[Path, Path]:
    return folder / f"install-{extra}.json", folder / f"install-{extra}.log"


def start(folder: Path, extra: str, python: str | None = None,
          env: dict[str, str] | None = None) -> InstallState:
    """Start installing `extra` in the background (once: a running install is kept)."""
    state = read(folder, extra)
    if state.running:
        return state
    folder.mkdir(parents=True, exist_ok=True)
    status_path, log_path = _files(folder, extra)
    command = install_command(extra, python)
    with open(log_path, "wb") as log:
        # Its own session, so that a page rerun or the app stopping does not cut it short.
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   env={**os.environ, **(env or {})})
    status_path.write_text(json.dumps({"pid": process.pid, "started": time.time(),
                                       "command": command}))
    return read(folder, extra)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child of this process lingers as a zombie until reaped
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def read(folder: Path, extra: str) -> InstallState:
    """The state of the last install of `extra` started from `folder`."""
    status_path, log_path = _files(folder, extra)
    if not missing(extra):
        return InstallState(extra, "succeeded", f"{SIZE_WORDS[extra].split(',')[0]} "
                                                "are installed.")
    if not status_path.exists():
        return InstallState(extra, "none", "Not installed.")
    info = json.loads(status_path.read_text())
    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    tail = "\n".join(log.strip().splitlines()[-12:])
    steps = len(re.findall(r"^(Collecting|Downloading) ", log, re.M))
    if _alive(int(info["pid"])):
        return InstallState(extra, "running", "Installing: " + (
            f"{steps} packages found so far." if steps else "starting pip."), tail, steps)
    if OFFLINE.search(log):
        message = ("The download failed: this machine cannot reach the package index "
                   "(offline?). Run this when it can: " + " ".join(info["command"][2:]))
    else:
        message = ("The install failed; pip's last lines are below. To try by hand: "
                   + " ".join(info["command"][2:]))
    return InstallState(extra, "failed", message, tail, steps)
