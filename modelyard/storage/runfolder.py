"""One Run's folder: `run.json`, `heartbeat`, `events.jsonl`, the Optuna journal, artifacts.

The folder is the truth for its Run. The launcher, the worker and the supervisor all
change `run.json` through `RunFolder.update`, which holds a per-run file lock, and a
terminal status is never overwritten by a later, slower writer.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from modelyard.storage.files import read_json, write_json_atomic

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
ACTIVE = frozenset({"queued", "starting", "running"})


class RunFolder:
    """Typed access to the files of one Run."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def heartbeat_path(self) -> Path:
        return self.path / "heartbeat"

    @property
    def optuna_path(self) -> Path:
        return self.path / "optuna.journal"

    @property
    def log_path(self) -> Path:
        return self.path / "worker.log"

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def predictions_path(self) -> Path:
        return self.path / "predictions.csv"

    def exists(self) -> bool:
        return self.run_json.exists()

    def read(self) -> dict[str, Any]:
        return read_json(self.run_json)

    def create(self, record: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=False)
        write_json_atomic(self.run_json, record)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.path / ".run.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def update(self, *, force: bool = False, **changes: Any) -> dict[str, Any]:
        """Merge `changes` into run.json; a terminal status stays unless `force`."""
        with self._locked():
            record = self.read()
            if record.get("status") in TERMINAL and not force and "status" in changes:
                return record
            record.update(changes)
            record["updated_at"] = time.time()
            write_json_atomic(self.run_json, record)
            return record

    def touch_heartbeat(self) -> None:
        self.heartbeat_path.touch()

    def heartbeat_age(self) -> float | None:
        try:
            return time.time() - self.heartbeat_path.stat().st_mtime
        except FileNotFoundError:
            return None

    def log_tail(self, n_lines: int = 40) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - 64_000))
                text = fh.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-n_lines:])


class JournalWriter:
    """Appends Events to `events.jsonl`; each line carries a sequence number.

    Lines are flushed as written and fsync'd for the records that matter (trials,
    status), so a killed worker loses at most a progress tick.
    """

    DURABLE_KINDS = frozenset({"trial", "status", "result"})

    def __init__(self, folder: RunFolder):
        self.folder = folder
        self._seq = _last_seq(folder.events_path)
        self._fh = open(folder.events_path, "a", encoding="utf-8")
        # Trials in parallel threads and the heartbeat thread all write here.
        self._lock = threading.Lock()

    def emit(self, kind: str, message: str = "", **data: Any) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            event = {"seq": self._seq, "ts": time.time(), "kind": kind, "message": message,
                     **data}
            self._fh.write(json.dumps(event, default=_json_default) + "\n")
            self._fh.flush()
            if kind in self.DURABLE_KINDS:
                os.fsync(self._fh.fileno())
        self.folder.touch_heartbeat()
        return event

    def close(self) -> None:
        self._fh.close()


def _json_default(value: Any) -> Any:
    # numpy scalars and paths reach the journal from training code.
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _last_seq(path: Path) -> int:
    last = 0
    for event, _ in read_events(path, 0):
        last = event["seq"]
    return last


def read_events(path: Path, offset: int) -> Iterator[tuple[dict[str, Any], int]]:
    """Yield (event, offset after it) for each complete line from byte `offset` on.

    A line still being written (no newline yet) is left for the next read.
    """
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return
    with fh:
        fh.seek(offset)
        position = offset
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            position += len(raw)
            try:
                event = json.loads(raw)
            except json.JSONDecodeError:
                continue  # a torn line from a crash; the next lines are still good
            yield event, position
