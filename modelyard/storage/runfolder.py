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

from pydantic import ValidationError

from modelyard.schemas import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    Event,
    EventKind,
    RunRecord,
    RunStatus,
    TrialResult,
)
from modelyard.storage.files import read_json, write_json_atomic

# Kept under these names for the pages and the CLI; the statuses are `RunStatus`.
TERMINAL = TERMINAL_STATUSES
ACTIVE = ACTIVE_STATUSES


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
        """`run.json` as stored, every key (tools and tests); `record()` is the typed view."""
        return read_json(self.run_json)

    def record(self) -> RunRecord:
        """`run.json` as a RunRecord (older files lack some fields: they read as None)."""
        return RunRecord.model_validate(self.read())

    def create(self, record: RunRecord | dict[str, Any]) -> None:
        if isinstance(record, dict):
            record = RunRecord.model_validate(record)
        self.path.mkdir(parents=True, exist_ok=False)
        write_json_atomic(self.run_json, record.model_dump(mode="json", exclude_unset=True))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.path / ".run.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def update(self, *, force: bool = False, **changes: Any) -> RunRecord:
        """Merge `changes` (RunRecord fields) into run.json; a terminal status stays unless
        `force`. Returns the record as it now stands."""
        with self._locked():
            stored = self.read()
            if stored.get("status") in TERMINAL and not force and "status" in changes:
                return RunRecord.model_validate(stored)
            # Validated before it is written: a wrong type never reaches the file.
            merged = RunRecord.model_validate({**stored, **changes, "updated_at": time.time()})
            # Keys as stored plus the changes: fields an older file lacks stay absent.
            keys = set(stored) | set(changes) | {"updated_at"}
            write_json_atomic(self.run_json, {k: v for k, v in merged.model_dump(
                mode="json").items() if k in keys})
            return merged

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
    status), so a killed worker loses at most a progress tick. The worker, the trainer
    and the image trainer all write through `write` (typed) or `emit` (its shorthand).
    """

    DURABLE_KINDS = frozenset({EventKind.trial, EventKind.status, EventKind.result})

    def __init__(self, folder: RunFolder):
        self.folder = folder
        self._seq = _last_seq(folder.events_path)
        self._fh = open(folder.events_path, "a", encoding="utf-8")
        # Trials in parallel threads and the heartbeat thread all write here.
        self._lock = threading.Lock()

    def write(self, event: Event) -> Event:
        """Append `event` with the next sequence number and the time now; return it so."""
        with self._lock:
            self._seq += 1
            event = event.model_copy(update={"seq": self._seq, "ts": time.time()})
            self._fh.write(json.dumps(event.line(), default=_json_default) + "\n")
            self._fh.flush()
            if event.kind in self.DURABLE_KINDS:
                os.fsync(self._fh.fileno())
        self.folder.touch_heartbeat()
        return event

    def emit(self, kind: EventKind | str, message: str = "", **data: Any) -> Event:
        """Write an Event of `kind` whose payload is `data`."""
        return self.write(Event(seq=0, kind=kind, message=message, data=data))

    def trial(self, result: TrialResult) -> Event:
        """The event that records a finished trial (complete, pruned, failed...)."""
        return self.write(Event.of_trial(result))

    def status(self, status: RunStatus, message: str, **data: Any) -> Event:
        """The event that records a change of the Run's status."""
        return self.emit(EventKind.status, message, status=status.value, **data)

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
        last = event.seq
    return last


def read_events(path: Path, offset: int) -> Iterator[tuple[Event, int]]:
    """Yield (Event, offset after it) for each complete line from byte `offset` on.

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
                event = Event.model_validate_json(raw)
            except ValidationError:
                continue  # a torn line from a crash; the next lines are still good
            yield event, position
