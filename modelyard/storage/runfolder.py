"""One Run's folder: `run.json`, `heartbeat`, `events.jsonl`, the Optuna journal, artifacts.

The folder is the truth for its Run. The launcher, the worker and the supervisor all
change `run.json` through `RunFolder.update`, which holds a per-run file lock, and a
terminal status is never overwritten by a later, slower writer.

Torn tails. A worker killed or stopped by a full disk mid-line leaves a journal whose
last line has no newline. Readers skip such a line, as Optuna's `JournalFileBackend`
does; but appending after it would glue the next record onto it, and Optuna then fails
on the glued line with a JSON error. So every appender first cuts a torn tail back to
the last newline (`cut_torn_tail`): the `JournalWriter` when it opens, and `repair`
(called before a Run is started again and after its worker died) for both journals.
The `JournalWriter` itself never leaves a torn line: a write that fails part-way is
truncated back before the error goes on.

The Model bundle is written into `model.partial/` and swapped in whole
(`writing_model`), so a full disk during a later session never damages the bundle a
Run already has.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
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

OPTUNA_LOCK_SUFFIX = ".lock"  # optuna.storages.journal._file.LOCK_FILE_SUFFIX

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

    @property
    def reserve_path(self) -> Path:
        """Space the worker holds back to record a full disk (`files.SpaceReserve`)."""
        return self.path / ".space-reserve"

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

    def repair(self) -> dict[str, int]:
        """Make the folder safe to continue after its worker ended badly: cut torn journal
        tails, drop Optuna's lock left by a killed writer, put back a bundle caught
        between the two renames of a swap. Only call it while no worker runs.
        Returns the bytes cut from each journal (for the log and the tests)."""
        cut = {p.name: cut_torn_tail(p) for p in (self.events_path, self.optuna_path)}
        lock = Path(str(self.optuna_path) + OPTUNA_LOCK_SUFFIX)
        if lock.is_symlink() or lock.exists():
            lock.unlink(missing_ok=True)
        old = self.path / "model.old"
        if old.is_dir() and not self.model_dir.exists():
            os.replace(old, self.model_dir)
        return {k: v for k, v in cut.items() if v}

    @contextmanager
    def writing_model(self) -> Iterator[Path]:
        """A fresh folder to write a Model bundle into; swapped in as `model/` when the
        block ends without error, removed (leaving `model/` as it was) otherwise."""
        staging = self.path / "model.partial"
        old = self.path / "model.old"
        for leftover in (staging, old):
            if leftover.exists():
                shutil.rmtree(leftover)
        staging.mkdir()
        try:
            yield staging
            for path in staging.rglob("*"):  # on disk before the name points at it
                if path.is_file():
                    fd = os.open(path, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if self.model_dir.exists():
            os.replace(self.model_dir, old)
        os.replace(staging, self.model_dir)
        shutil.rmtree(old, ignore_errors=True)

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

    Each line goes out in one unbuffered write and is fsync'd for the records that matter
    (trials, status), so a killed worker loses at most a progress tick. A write that
    fails (a full disk) is cut back to the last whole line before the error goes on, so
    the journal never holds a torn line of ours. The worker, the trainer and the image
    trainer all write through `write` (typed) or `emit` (its shorthand).
    """

    DURABLE_KINDS = frozenset({EventKind.trial, EventKind.status, EventKind.result})

    def __init__(self, folder: RunFolder):
        self.folder = folder
        cut_torn_tail(folder.events_path)  # left by a crash: never append after it
        self._seq = _last_seq(folder.events_path)
        self._fd = os.open(folder.events_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        # Trials in parallel threads and the heartbeat thread all write here.
        self._lock = threading.Lock()

    def write(self, event: Event) -> Event:
        """Append `event` with the next sequence number and the time now; return it so."""
        with self._lock:
            event = event.model_copy(update={"seq": self._seq + 1, "ts": time.time()})
            line = (json.dumps(event.line(), default=_json_default) + "\n").encode("utf-8")
            size = os.fstat(self._fd).st_size
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(self._fd, view):]
                if event.kind in self.DURABLE_KINDS:
                    os.fsync(self._fd)
            except OSError:
                try:
                    os.ftruncate(self._fd, size)  # needs no space: the line is undone
                except OSError:
                    pass
                raise
            self._seq += 1
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
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


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


def cut_torn_tail(path: Path) -> int:
    """Cut what follows the last newline of the journal at `path` (a line a crash or a
    full disk left unfinished); returns the bytes cut. Truncating needs no free space."""
    try:
        fh = open(path, "r+b")
    except FileNotFoundError:
        return 0
    with fh:
        size = fh.seek(0, os.SEEK_END)
        end = size
        while end > 0:
            step = min(end, 64 * 1024)
            fh.seek(end - step)
            block = fh.read(step)
            newline = block.rfind(b"\n")
            if newline >= 0:
                end = end - step + newline + 1
                break
            end -= step
        if end == size:
            return 0
        fh.truncate(end)
        fh.flush()
        os.fsync(fh.fileno())
        return size - end


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
