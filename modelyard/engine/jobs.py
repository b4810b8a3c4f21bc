"""The job system: create, queue, launch, watch, cancel Runs; add time to a finished one;
find the ones whose worker died.

Both the app and the CLI launch through here, so a Run behaves the same from either, and
the concurrency limit holds across them: a new Run is queued, and `schedule` starts queued
Runs while fewer than `max_parallel_runs` are active. `schedule` is called by whoever
looks (the app on each rerun, a waiting CLI) and by each worker as it ends, so the queue
drains even when nobody watches. A worker is a detached process group; its liveness is
judged from the run folder alone (pid + process start time + not a zombie + a fresh
heartbeat). A Run whose worker died, or that is given more time, has its folder repaired
first (`RunFolder.repair`: torn journal tails cut), so the next appender starts on a
fresh line; a worker that died on a nearly full disk is said to have.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from modelyard.engine import settings
from modelyard.engine.errors import BadInputError, NotFoundError
from modelyard.engine.settings import default_parallel_runs  # noqa: F401 (part of this API)
from modelyard.engine.training.studies import close_running_trials
from modelyard.schemas import Plan, RunRecord, RunStatus
from modelyard.storage.files import disk_full_reason, free_mb, is_disk_full
from modelyard.storage.paths import Home, new_id
from modelyard.storage.runfolder import RunFolder, read_events

# A worker touches its heartbeat every 2 s; a long silence means it hangs.
HEARTBEAT_STALE_SECONDS = 180.0
CANCEL_GRACE_SECONDS = 5.0
# A worker that died with less than this free on its disk most likely died of it.
LOW_SPACE_MB = 8.0
# Workers this process started: polled so that none lingers as a zombie.
_children: list[subprocess.Popen] = []


def max_parallel_runs(home: Home) -> int:
    """How many Runs may train at once (the `max_parallel_runs` setting; by default one
    per two cores, since training uses every core given)."""
    return settings.resolve(home).max_parallel_runs


def create_run(home: Home, plan: Plan, *, plan_id: str | None = None,
               name: str | None = None, settings: dict[str, Any] | None = None,
               study_storage: str | None = None) -> RunFolder:
    """A queued Run's folder with its RunRecord; `settings`: the resolved settings it is
    launched with, recorded as they were (RunRecord.settings); `study_storage`: the
    database its search is shared through, if any (engine/training/sharing.py)."""
    run_id = new_id("run")
    folder = RunFolder(home.run_dir(run_id))
    now = time.time()
    folder.create(RunRecord(
        id=run_id, name=name or run_id, status=RunStatus.queued,
        dataset_id=plan.dataset_id, dataset_dir=str(home.dataset_dir(plan.dataset_id)),
        plan_id=plan_id, plan=plan.model_dump(mode="json"), created_at=now, queued_at=now,
        budget_seconds=plan.budget_seconds, greater_is_better=plan.metric.greater_is_better,
        settings=settings or {}, study_storage=study_storage,
    ))
    return folder


def active_runs(home: Home) -> list[RunFolder]:
    out = []
    for run_json in home.runs.glob("*/run.json"):
        folder = RunFolder(run_json.parent)
        try:
            if folder.record().status.is_active:
                out.append(folder)
        except (OSError, ValueError):  # a half-written or damaged run.json: not ours
            continue
    return out


def schedule(home: Home, asked_at: dict[str, float] | None = None
             ) -> list[subprocess.Popen]:
    """Start queued Runs, oldest first, while fewer than the limit are active.
    `asked_at`: for a Run that starts now, when the person asked for it, if before now
    (the command line's start: its budget counts from there, `launch`)."""
    reap()
    started = []
    with open(home.root / ".jobs.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one scheduler at a time across processes
        try:
            records = []
            for folder in active_runs(home):
                try:
                    records.append((folder, folder.record()))
                except (OSError, ValueError):
                    continue
            running = sum(r.status is not RunStatus.queued for _, r in records)
            queued = sorted((r.queued_at or r.created_at or 0.0, f.id, f)
                            for f, r in records if r.status is RunStatus.queued)
            limit = max_parallel_runs(home)
            for _, _, folder in queued[: max(0, limit - running)]:
                started.append(launch(home, folder, share=limit,
                                      asked_at=(asked_at or {}).get(folder.id)))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return started


def reap() -> None:
    """Collect the exit status of finished workers this process started."""
    for proc in list(_children):
        if proc.poll() is not None:
            _children.remove(proc)


def memory_limit_gb(home: Home) -> float | None:
    """The most memory training may use, in GB (the `memory_limit_gb` setting); None
    for no limit beyond what is free."""
    return settings.resolve(home).memory_limit_gb or None


# The moment a Run was asked for, handed to its worker in its environment: its budget
# counts from there (`schedule.clock_start`).
ASKED_AT = "MODELYARD_ASKED_AT"


def launch(home: Home, folder: RunFolder, share: int = 1,
           asked_at: float | None = None) -> subprocess.Popen:
    """Start the worker for a queued Run as its own process group, with its share of
    the cores as its thread count. Its budget counts from `asked_at` (the start of a
    command that reads, profiles and plans first), else from now."""
    threads = max(1, (os.cpu_count() or 1) // max(1, share))
    # OpenMP keeps its own wait policy (a short spin, then sleep). Told to wait
    # passively, LightGBM fitted 13 times slower and XGBoost 6 times on 1,347 rows here
    # (3 times and 1.4 times on 40,000): every boosting round's parallel regions paid a
    # futex wake-up. The threads are the Run's share of the cores, so they do not crowd
    # each other.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(threads),
           ASKED_AT: repr(asked_at or time.time())}  # one after now: `clock_start`
    resolved = settings.resolve(home)
    # The worker reads no settings file: what it needs travels in its environment.
    env.update(resolved.environ("memory_limit_gb", "guard_fits"))
    with open(folder.log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "modelyard.engine.training.worker", str(folder.path)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, env=env,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
    _children.append(proc)
    try:
        create_time = psutil.Process(proc.pid).create_time()
    except psutil.NoSuchProcess:
        create_time = None
    folder.update(status=RunStatus.starting, pid=proc.pid, pid_create_time=create_time,
                  threads=threads, launched_at=time.time(),
                  settings=_with_storage(resolved.record(), folder))
    folder.touch_heartbeat()
    return proc


def _with_storage(recorded: dict[str, Any], folder: RunFolder) -> dict[str, Any]:
    """The settings a Run is launched with, its study storage as it was chosen when the
    Run was created (a flag then, perhaps), not as the settings file says now."""
    record = folder.record()
    chosen = (record.settings.get("sources") or {}).get("study_storage")
    recorded["values"]["study_storage"] = settings.mask_url(record.study_storage) or None
    if chosen:
        recorded["sources"]["study_storage"] = chosen
    return recorded


def _close_trials(folder: RunFolder, record: RunRecord) -> None:
    """Fail the RUNNING trials a stopped worker left (a shared Run's in its database: one
    out of reach is left to the heartbeats, which fail them all the same)."""
    if not record.study_storage:
        close_running_trials(folder.optuna_path)
        return
    try:
        close_running_trials(folder.optuna_path, record.study_storage, folder.id)
    except Exception as exc:  # the database is out of reach: say so, go on
        try:
            folder.update(message=f"{record.message or ''} (The shared study storage "
                                  f"could not be reached to close its trials: "
                                  f"{str(exc).splitlines()[0]}.)".strip())
        except OSError:
            pass


def add_time(home: Home, run_id: str, seconds: int) -> RunRecord:
    """Queue a finished Run again with `seconds` more: its worker continues the same
    Optuna studies and journal, and keeps the better of the old and new models."""
    folder = RunFolder(home.run_dir(run_id))
    if not folder.exists():
        raise NotFoundError(f"There is no run “{run_id}”.", "List runs with `modelyard runs`.")
    if seconds < 5:
        raise BadInputError("Add at least 5 seconds.", "Give a number of seconds, e.g. 60.")
    record = folder.record()
    if record.status.is_active:
        raise BadInputError(f"Run {run_id} is still {record.status}.",
                            "Add time once it has finished, or cancel it first.")
    folder.repair()  # a session that died mid-line must not have the next glued onto it
    plan = {**record.plan, "budget_seconds": int(seconds)}
    return folder.update(
        force=True, status=RunStatus.queued, queued_at=time.time(), plan=plan,
        budget_seconds=int(seconds), sessions=record.sessions + 1,
        total_budget_seconds=float(record.total_budget_seconds
                                   or record.budget_seconds or 0) + seconds,
        message=f"{seconds} s more queued after: {record.message or record.status}",
        pid=None, finished_at=None)


def is_alive(record: RunRecord, folder: RunFolder) -> tuple[bool, str]:
    """Whether the Run's worker still lives, and if not, why we think so."""
    pid = record.pid
    if not pid:
        return False, "the worker was never started"
    try:
        proc = psutil.Process(pid)
        if record.pid_create_time and abs(proc.create_time() - record.pid_create_time) > 1.0:
            return False, "the worker process is gone (its process id was reused)"
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False, "the worker process exited without finishing the run"
    except psutil.NoSuchProcess:
        return False, "the worker process is gone (killed or crashed)"
    age = folder.heartbeat_age()
    if age is not None and age > HEARTBEAT_STALE_SECONDS:
        return False, f"the worker stopped responding ({age:.0f} s without a heartbeat)"
    return True, ""


def supervise(home: Home) -> list[str]:
    """Mark Runs whose worker died as failed, with the reason; return their ids."""
    failed = []
    for folder in active_runs(home):
        record = folder.record()
        if record.status is RunStatus.queued or not record.pid:
            continue
        alive, reason = is_alive(record, folder)
        if alive:
            continue
        _kill_group(record.pid, signal.SIGKILL)
        message = f"The run stopped unexpectedly: {reason}."
        if free_mb(folder.path) < LOW_SPACE_MB:
            message += " " + disk_full_reason(folder.path, nearly=True)
        try:
            record = folder.update(status=RunStatus.failed, finished_at=time.time(),
                                   message=message)
            if record.status is RunStatus.failed:
                folder.repair()  # before Optuna's journal is appended to below
                _close_trials(folder, record)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            continue  # no room to say so now; the next look, once there is, will
        if record.status is RunStatus.failed:
            failed.append(folder.id)
    return failed


def cancel(home: Home, run_id: str) -> RunRecord:
    """Stop a queued or running Run (its worker's whole process group) as cancelled."""
    folder = RunFolder(home.run_dir(run_id))
    if not folder.exists():
        raise NotFoundError(f"There is no run “{run_id}”.", "List runs with `modelyard runs`.")
    record = folder.record()
    if not record.status.is_active:
        return record
    record = folder.update(status=RunStatus.cancelled, finished_at=time.time(),
                           message="Cancelled by you.")
    pid = record.pid
    if pid and _kill_group(pid, signal.SIGTERM):
        deadline = time.time() + CANCEL_GRACE_SECONDS
        while time.time() < deadline and _group_alive(pid):
            time.sleep(0.1)
        _kill_group(pid, signal.SIGKILL)
    if not (pid and _group_alive(pid)):
        folder.repair()
    _close_trials(folder, record)
    return record


def _kill_group(pid: int | None, sig: int) -> bool:
    if not pid:
        return False
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _group_alive(pid: int) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def home_at(root: str | os.PathLike | None = None) -> Home:
    """The Home at `root`, else at $MODELYARD_HOME, else at ~/.modelyard."""
    return Home.from_env(str(root) if root is not None else None)


def follow(home: Home, run_id: str, every: float = 0.5) -> Iterator[tuple[RunRecord, list]]:
    """The Run's record and the journal events written since the last look, every
    `every` seconds until it has ended (the last pair holds the ended record). Meanwhile
    the queue is helped along (a queued Run's worker may be started by whoever looks),
    and the workers this process started that have ended are collected."""
    folder = RunFolder(home.run_dir(run_id))
    offset = 0
    while True:
        supervise(home)
        schedule(home)
        _reap()
        record = folder.record()
        events = []
        for event, end in read_events(folder.events_path, offset):
            offset = end
            events.append(event)
        yield record, events
        if not record.status.is_active:
            return
        time.sleep(every)


def _reap() -> None:
    """Collect this process's ended children. A program that replaced itself after
    starting a worker (the CLI's follow.py) holds no handle on it: unreaped, an ended
    worker would stay a zombie until the program ends."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:  # no children
        pass
