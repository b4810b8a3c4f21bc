"""Fits that cannot take the worker down with them: one trial's cross-validation in a
child process, watched.

On Linux a process that runs out of memory is usually killed by the kernel, not given a
`MemoryError`; a fit inside the worker would take the whole Run with it. A risky trial
therefore runs `cross_validate` in a child process, and the worker watches it:

- memory: the child (with any children of its own) is measured every POLL_SECONDS and
  killed once it uses more than the trial's allowance → `OutOfMemory` ("used X of Y");
  the child also asks the kernel to pick it first (`oom_score_adj` 1000), so a kill
  the watchdog was too slow for lands on the fit, not on the worker → `OutOfMemory`
  ("probably", since an outside SIGKILL looks the same);
- time: a child still running past `stop_at` (a time, or a function giving the time,
  asked at every check: the search deadline moves) is killed → `OutOfTime`, so one fit
  that cannot stop itself cannot overrun the budget;
- pruning: the child sends each fold's running mean and waits for the worker's verdict,
  so Optuna's pruner sees guarded trials as it sees the others;
- failures: an exception in the child comes back as its type name and message
  (`FitFailed`; `OutOfTime` and `MemoryError` keep their types).

Children come from a forkserver, not from `fork` (the worker has threads and OpenMP
pools, which do not survive a fork) nor `spawn` (each child would import scikit-learn
again: ~2.5 s a child here, against ~0.1 s from a forkserver that imported it once and
took ~1.5 s to start). The
forkserver and its children share the worker's process group, so cancelling a Run
(killpg) stops them too; a child also exits by itself once the worker is gone.

The training data and splits reach the children through one pickle per worker session
in the run folder (`guard/data.pkl`), removed when the search ends.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from modelyard.engine import settings
from modelyard.engine.training import families
from modelyard.engine.training.evaluate import CVResult, OutOfTime
from modelyard.engine.training.folds import FoldCache
from modelyard.schemas import Metric

# A trial may plan on this share of the memory that is free when it starts.
MEMORY_SHARE = 0.8
# In "auto" mode a trial whose estimate exceeds this share of its allowance is guarded.
RISKY_SHARE = 0.25
POLL_SECONDS = 0.1
# How long a child that was told to stop may take before it is killed.
STOP_GRACE_SECONDS = 5.0


class OutOfMemory(Exception):
    """A guarded fit used more memory than it may, or the system killed it."""

    def __init__(self, message: str, used: int | None = None):
        super().__init__(message)
        self.used = used  # bytes at the last measurement, when known


class FitFailed(Exception):
    """The fit raised in the child; `kind` is the exception's type name."""

    def __init__(self, kind: str, message: str, detail: str = ""):
        super().__init__(message)
        self.kind = kind
        self.detail = detail


class FitStopped(Exception):
    """The child ended without a result for a reason other than memory: the Run is
    stopping, or something outside sent it a signal."""


def gb(n_bytes: float) -> str:
    """A memory size for people: "350 MB", "2.4 GB"."""
    if n_bytes < 2**30:
        return f"{n_bytes / 2**20:.0f} MB"
    return f"{n_bytes / 2**30:.1f} GB"


# -- the memory policy --------------------------------------------------------------------
def user_limit() -> int | None:
    """The most memory (bytes) training may use: the `memory_limit_gb` setting, which
    the launcher hands the worker as $MODELYARD_MEMORY_LIMIT_GB."""
    value = settings.resolve().memory_limit_gb
    return int(value * 2**30) if value > 0 else None


def mode() -> str:
    """The `guard_fits` setting ($MODELYARD_GUARD_FITS): "auto" (risky trials only),
    "always" or "never"."""
    return settings.resolve().guard_fits


def free_memory(available: int) -> int:
    """The memory free for training: `available` (the system's), or less when this
    process's cgroup (a container, a systemd slice) has a tighter limit."""
    room = _cgroup_room()
    return available if room is None else max(0, min(available, room))


def _cgroup_room() -> int | None:
    """Bytes left under the memory limit of this process's cgroup (v2 or v1), not
    counting page cache the kernel can drop; None without a limit."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    rooms = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            base = Path("/sys/fs/cgroup", path.lstrip("/"))
            names = ("memory.max", "memory.current", "inactive_file")
        elif "memory" in controllers.split(","):
            base = Path("/sys/fs/cgroup/memory", path.lstrip("/"))
            names = ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
        else:
            continue
        try:
            limit = (base / names[0]).read_text().strip()
            used = int((base / names[1]).read_text())
            stat = dict(row.split() for row in (base / "memory.stat").read_text().splitlines())
        except (OSError, ValueError):
            continue
        if limit != "max" and int(limit) < 2**60:
            rooms.append(int(limit) - used + int(stat.get(names[2], 0)))
    return min(rooms) if rooms else None


@dataclass(frozen=True)
class Allowance:
    """What one trial may use now: a share of the free memory, capped by the limit."""

    free: int
    limit: int | None

    @property
    def bytes(self) -> int:
        share = int(MEMORY_SHARE * self.free)
        return min(share, self.limit) if self.limit else share

    def describe(self) -> str:
        if self.limit and self.limit < MEMORY_SHARE * self.free:
            return f"the memory limit is {gb(self.limit)}"
        return f"{self.free / 2**30:.1f} GB are free, of which a trial may use {gb(self.bytes)}"


def wants_guard(need: int, allowed: int, slow: bool = False) -> bool:
    """Whether a trial estimated at `need` bytes is fitted in a watched child process;
    `slow`: it might run past the budget and cannot stop itself."""
    chosen = mode()
    if chosen != "auto":
        return chosen == "always"
    return slow or need > RISKY_SHARE * allowed


# -- the parent side ----------------------------------------------------------------------
class FitGuard:
    """Runs guarded cross-validations for one worker session over one data set."""

    def __init__(self, folder: Path, data, splits):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data_path = self.folder / "data.pkl"
        self.splits = splits
        partial = self.data_path.with_suffix(".tmp")
        with open(partial, "wb") as f:
            pickle.dump((data, splits), f, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(self.data_path)
        self._mp = _context()
        self._live: set = set()
        self._lock = threading.Lock()
        self._closing = False
        # Seconds the last child took to start and read its data: a child that would
        # reach `deadline` before its first fold is not started.
        self.start_seconds = 0.0

    def cross_validate(self, family: str, params: dict[str, Any], ctx, metric: Metric, *,
                       limit: int, deadline: float | None = None,
                       stop_at: float | Callable[[], float] | None = None,
                       after_fold: Callable[[int, float], None] | None = None,
                       folds: FoldCache | None = None, keep: Path | None = None,
                       seconds: float | None = None) -> CVResult:
        """`evaluate.cross_validate` in a child process, killed past `limit` bytes or
        `stop_at`. `after_fold` runs here, in the caller; whatever it raises stops the
        child and is raised again. `result.extra["guard"]` holds the measurements.

        With `folds`, the child starts from the folds already prepared for the family's
        kind of preprocessing, and the folds it prepares come back into `folds`."""
        if deadline is not None and time.time() + self.start_seconds > deadline:
            # It would only start, find the deadline passed and stop (fine_foods: a
            # linear trial started 0.6 s before it, stopped 3 s later, and held the
            # leader's refit 2 s past the budget).
            raise OutOfTime()
        kind = families.get(family).preprocessing
        # A bag's fold models come back as files: the child writes them into `keep`.
        known = self._folds_file(kind, folds) if folds is not None else None
        room = folds.room() if folds is not None else 0
        parent, child_end = self._mp.Pipe()
        proc = self._mp.Process(
            target=_child_main, name=f"modelyard-fit-{family}",
            args=(child_end, str(self.data_path), family, params, ctx, metric, deadline,
                  _me(), known, room, None if keep is None else str(keep), seconds))
        started = time.perf_counter()
        with self._lock:
            if self._closing:
                raise FitStopped("the run is stopping")
            proc.start()
            self._live.add(proc)
        child_end.close()
        try:
            result = self._watch(proc, parent, limit, stop_at, after_fold, started)
        finally:
            parent.close()
            _end(proc)
            with self._lock:
                self._live.discard(proc)
        for fold, prepared in result.extra.pop("prepared", {}).items():
            folds.put(kind, fold, prepared)
        return result

    def _folds_file(self, kind: str, folds: FoldCache) -> str | None:
        """The kind's prepared folds as a file for children, written once all are kept."""
        path = self.folder / f"folds-{kind}.pkl"
        if path.exists():
            return str(path)
        found = folds.of_kind(kind)
        if not found or len(found) < len(self.splits):
            return None
        with self._lock:
            if not path.exists():
                partial = path.with_suffix(".tmp")
                with open(partial, "wb") as f:
                    pickle.dump(found, f, protocol=pickle.HIGHEST_PROTOCOL)
                partial.replace(path)
        return str(path)

    def _watch(self, proc, conn, limit, stop_at, after_fold, started) -> CVResult:
        watched = _Watched(proc.pid)
        next_check = 0.0
        while True:
            # Measured every POLL_SECONDS, however busy the conversation with the child.
            if time.perf_counter() >= next_check:
                used = watched.sample(limit)
                if used > limit:
                    proc.kill()
                    raise OutOfMemory(f"out of memory: used {gb(used)} of the {gb(limit)} "
                                      "allowed", used)
                end = stop_at() if callable(stop_at) else stop_at
                if end is not None and time.time() > end:
                    proc.kill()
                    raise OutOfTime()
                next_check = time.perf_counter() + POLL_SECONDS
            message = _receive(conn, max(0.0, next_check - time.perf_counter()))
            if message is None:
                if not proc.is_alive():
                    proc.join()
                    raise self._died(proc.exitcode, watched)
                continue
            kind = message[0]
            if kind == "fold":
                try:
                    if after_fold is not None:
                        after_fold(message[1], message[2])
                except BaseException:
                    _tell(conn, False)
                    proc.join(STOP_GRACE_SECONDS)
                    raise
                _tell(conn, True)  # if the child died meanwhile, the next round sees it
            elif kind == "ready":
                watched.ready = time.perf_counter() - started
                self.start_seconds = watched.ready
            elif kind == "done":
                result: CVResult = message[1]
                result.extra["guard"] = {"start_seconds": watched.ready,
                                         "peak_bytes": watched.peak,
                                         "seconds": time.perf_counter() - started}
                return result
            else:
                raise _from_child(message[1], message[2], message[3])

    def _died(self, code: int | None, watched: _Watched) -> Exception:
        if self._closing:
            return FitStopped("the run is stopping")
        if code is not None and code < 0:
            signal_number = -code
            if signal_number == 9:
                # The last reading may be far below what the fit reached when it was
                # killed: nothing to learn the family's real needs from.
                return OutOfMemory("out of memory (probably): the system stopped the fit "
                                   f"(killed by signal {signal_number})")
            return FitStopped(f"the fit process was stopped by signal {signal_number}")
        return FitStopped(f"the fit process ended without a result (exit code {code})")

    def close(self) -> None:
        """Kill any guarded fit still running and remove the scratch folder."""
        with self._lock:
            self._closing = True
            live = list(self._live)
        for proc in live:
            _end(proc)
        shutil.rmtree(self.folder, ignore_errors=True)


class _Watched:
    """Memory readings of one child and everything it started."""

    def __init__(self, pid: int):
        try:
            self.proc: psutil.Process | None = psutil.Process(pid)
        except psutil.Error:  # already gone: the caller finds out from its exit code
            self.proc = None
        self.peak = 0
        self.ready: float | None = None

    def sample(self, limit: int) -> int:
        try:
            procs = [self.proc, *self.proc.children(recursive=True)] if self.proc else []
        except psutil.Error:
            return 0
        # Resident size is cheap but counts pages shared with the forkserver; only near
        # the limit is it worth the exact unique size (~2 ms per process).
        used = _sum(procs, lambda p: p.memory_info().rss)
        if used > limit:
            used = _sum(procs, lambda p: p.memory_full_info().uss)
        self.peak = max(self.peak, used)
        return used


def _sum(procs, read) -> int:
    total = 0
    for p in procs:
        try:
            total += read(p)
        except psutil.Error:
            pass
    return total


def _receive(conn, timeout: float):
    """The next message from the child, or None (nothing yet, or the child is gone)."""
    try:
        if conn.poll(timeout):
            return conn.recv()
    except (EOFError, OSError):
        time.sleep(0.02)  # the child closed its end: give it a moment to finish dying
    return None


def _tell(conn, verdict: bool) -> None:
    try:
        conn.send(verdict)
    except OSError:
        pass


def _end(proc) -> None:
    """Make sure `proc` is gone and reaped."""
    if proc.is_alive():
        proc.kill()
    proc.join(STOP_GRACE_SECONDS)


def _from_child(kind: str, message: str, detail: str) -> Exception:
    if kind == "OutOfTime":
        return OutOfTime()
    if kind == "MemoryError":
        return MemoryError(message)
    return FitFailed(kind, message, detail)


def _context():
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # Imported once in the forkserver: each child starts with scikit-learn loaded.
    ctx.set_forkserver_preload(["modelyard.engine.training.guard",
                               "modelyard.engine.training.families"])
    return ctx


# -- the child side -----------------------------------------------------------------------
class _Stop(Exception):
    """The parent said stop (pruned, or it stopped the trial)."""


def _child_main(conn, data_path: str, family_name: str, params, ctx, metric, deadline,
                worker: tuple[int, float], folds_path: str | None = None, room: int = 0,
                keep: str | None = None, seconds: float | None = None):
    _first_to_go()
    _exit_with(worker)
    try:
        from modelyard.engine.training.evaluate import cross_validate

        with open(data_path, "rb") as f:
            data, splits = pickle.load(f)
        family = families.get(family_name)
        cache = FoldCache(room)
        known: dict[int, Any] = {}
        if folds_path is not None:
            with open(folds_path, "rb") as f:
                known = pickle.load(f)
            cache = FoldCache(room + sum(p.nbytes for p in known.values()))
            for fold, prepared in known.items():
                cache.put(family.preprocessing, fold, prepared)
        conn.send(("ready",))

        def after_fold(step: int, mean: float) -> None:
            conn.send(("fold", step, mean))
            if not conn.recv():
                raise _Stop()

        result = cross_validate(family, params, ctx, data, splits, metric,
                                deadline=deadline, after_fold=after_fold, folds=cache,
                                keep=None if keep is None else Path(keep), seconds=seconds)
        # The folds this child prepared go back, for later trials of the same kind.
        result.extra["prepared"] = {fold: p for fold, p in
                                    cache.of_kind(family.preprocessing).items()
                                    if fold not in known}
        conn.send(("done", result))
    except (_Stop, EOFError, BrokenPipeError):
        pass
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        try:
            conn.send(("error", type(exc).__name__, str(exc), traceback.format_exc()))
        except (OSError, ValueError):
            pass
    finally:
        conn.close()


def _first_to_go() -> None:
    """Ask the kernel's OOM killer to choose this process before the worker."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass  # not Linux, or not allowed: the watchdog still guards


def _me() -> tuple[int, float]:
    """This process, as pid and start time (a pid alone may be reused)."""
    return os.getpid(), psutil.Process().create_time()


def _exit_with(worker: tuple[int, float]) -> None:
    """End this process once the worker is gone (killed on its own, not with its group).
    Its parent is the forkserver, which outlives the worker for as long as any of its
    children hold the worker's end of their shared pipe: the worker itself is watched."""
    pid, started = worker

    def gone() -> bool:
        try:
            proc = psutil.Process(pid)
            return proc.create_time() != started or proc.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    def watch() -> None:
        while not gone():
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="watch-worker").start()
