"""One Run's search shared by workers on other hosts, through Optuna's RDB storage.

A Run that names a study storage (a PostgreSQL URL: `modelyard run --storage URL`, or the
Settings page) keeps its Optuna studies there instead of in the journal file of its
folder. Other processes, here or on other hosts, join it with `modelyard worker --join
RUN --storage URL`. They talk only through that database and the data file:

- The Run's own worker (the main worker) publishes the Run in a control study
  (`modelyard:RUN`, no trials, user attributes only): the Plan, the Profile, the
  SHA-256 of the training table, a digest of the validation splits, the package
  versions, the search deadline, and the Run's state (starting, running, closing,
  ended). A joined worker reads it, checks its copy of the data and its splits against
  it (a mismatch stops it with the reason: its predictions would not line up), and
  asks the Run's studies (`modelyard:RUN:FAMILY`) for trials until the deadline.
- Each family's study is shared, so Optuna's sampler and pruner see every worker's
  trials, and a family's trial cap counts them all. Each worker seeds its samplers
  differently, so two workers do not suggest the same first configurations.
- A trial records which worker fits it (`worker`: host and pid) when it starts. When it
  ends, its TrialResult and what its folds learnt go in its user attributes (small), and
  its out-of-fold predictions in the `modelyard_oof` table of the same database (large;
  `storage/shared_oof.py`), both before Optuna is told, so a finished trial always has
  them. The main worker collects other workers' trials as they finish: it writes them
  into the Run's journal (so the leaderboard has them) and gives their predictions to
  the ensemble pool, so the blend and the refit use every worker's trials.
- Heartbeats: every running trial's heartbeat is recorded every HEARTBEAT_SECONDS; a
  trial whose worker died (kill -9, or its host unreachable) goes stale after
  GRACE_SECONDS and is failed by whichever worker looks next (Optuna's
  `fail_stale_trials`), which also queues it once more (`RetryHeartbeatStaleTrialCallback`)
  for any worker to take. So a dead worker loses at most its current trial.
- The budget stays the main worker's: it publishes its search deadline (wall-clock time:
  the hosts' clocks are assumed in step, as NTP keeps them); joined workers start no
  trial after it. When its own search ends it waits a little for other workers' last
  trials (until the deadline plus half its refit reserve, at most the budget's end),
  stops those still running (pruned, as its own trials at the deadline; failed when their
  worker is no longer heard from), and ensembles and refits as usual.

Heartbeat times are the database's own (`now()`), so they need no clock agreement.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import warnings
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from modelyard.engine.errors import BadInputError, NotFoundError
from modelyard.engine.settings import mask_url
from modelyard.schemas import TrialResult, TrialStatus

HEARTBEAT_SECONDS = 5
GRACE_SECONDS = 20
# A stale trial is queued once more; a configuration that kills workers twice is dropped.
MAX_RETRY = 1
# A joined worker not heard from for this long is no longer counted as in.
WORKER_QUIET_SECONDS = 4 * HEARTBEAT_SECONDS
PREFIX = "modelyard:"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

# ask/tell with a heartbeat storage is what we want (Optuna warns it expects optimize()).
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def worker_ident() -> str:
    """This process as the Runs page names it: host and process id."""
    return f"{socket.gethostname()} (pid {os.getpid()})"


def control_name(run_id: str) -> str:
    return f"{PREFIX}{run_id}"


def study_name(run_id: str, family: str) -> str:
    return f"{PREFIX}{run_id}:{family}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def splits_digest(splits) -> str:
    """One digest of every split's validation rows: equal on two hosts only if their
    out-of-fold predictions line up row for row."""
    digest = hashlib.sha256()
    for _, valid in splits:
        digest.update(np.asarray(valid, dtype=np.int64).tobytes())
        digest.update(b"|")
    return digest.hexdigest()


def open_storage(url: str, heartbeat: bool = True) -> RDBStorage:
    """Optuna's RDB storage at `url`, with heartbeats and one retry of a stale trial; a
    database that cannot be reached is a BadInputError naming it."""
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        kwargs["connect_args"] = {"connect_timeout": 10}
    more = {} if not heartbeat else dict(
        heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY))
    try:
        return _retrying(lambda: RDBStorage(url, engine_kwargs=kwargs, **more))
    except ImportError as exc:
        raise BadInputError(f"The study storage needs a database driver that is not "
                            f"installed ({exc.name}).",
                            "Install it: pip install 'modelyard[scale]'.") from exc
    except Exception as exc:  # SQLAlchemy's OperationalError and kin, whatever the driver
        raise BadInputError(f"Cannot reach the study storage at {mask_url(url)}: "
                            f"{str(exc).splitlines()[0]}",
                            "Check the address, that PostgreSQL runs there and lets this "
                            "machine in (pg_hba.conf), and the password (~/.pgpass).") from exc


def _retrying(make, tries: int = 4):
    """`make()`, tried again after a moment: two workers creating the tables of a fresh
    database at once collide (a unique violation in PostgreSQL's catalog) once."""
    for attempt in range(tries):
        try:
            return make()
        except ImportError:
            raise
        except Exception:
            if attempt == tries - 1:
                raise
            time.sleep(0.5 + attempt)


class SharedRun:
    """One Run's shared studies, control record, heartbeats and out-of-fold table, as
    seen by one worker (the main one, or a joined one)."""

    def __init__(self, url: str, run_id: str, *, joined: bool, ident: str | None = None):
        from modelyard.storage.shared_oof import OofStore

        self.url = url
        self.run_id = run_id
        self.joined = joined
        self.ident = ident or worker_ident()
        self.storage = open_storage(url)
        self.oof = _retrying(lambda: OofStore(url, connect_args=(
            {"connect_timeout": 10} if url.startswith("postgresql") else {})))
        # Two workers with the same seed would suggest the same first configurations.
        self.seed_offset = (zlib.crc32(self.ident.encode()) % 100_000) * 100 if joined else 0
        self._control: optuna.Study | None = None
        self._attrs: dict[str, Any] = {}
        self._attrs_at = 0.0
        self._beating: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beats = 0
        self._seen_beats: dict[str, tuple[int, float]] = {}
        self._thread = threading.Thread(target=self._heartbeat, daemon=True,
                                        name="shared-heartbeat")
        self._thread.start()

    # -- the control record ---------------------------------------------------------------
    def publish(self, **attrs: Any) -> None:
        """Create the Run's control study (main worker) and set these attributes."""
        if self._control is None:
            self._control = optuna.create_study(study_name=control_name(self.run_id),
                                                storage=self.storage, load_if_exists=True)
        # One attribute at a time: `published`, set last, says the record is whole.
        self.set(**attrs)
        self.set(published=True)

    def set(self, **attrs: Any) -> None:
        study = self._control_study()
        for key, value in attrs.items():
            study.set_user_attr(key, value)
        self._attrs_at = 0.0

    def wait_for_run(self, seconds: float, say=None) -> None:
        """Wait up to `seconds` for the Run's main worker to publish it (a worker may be
        started right after the Run); NotFoundError if it never does."""
        deadline = time.time() + seconds
        while True:
            try:
                self._control_study()
                if self.attrs(fresh=True).get("published"):
                    return
                if time.time() > deadline:
                    raise NotFoundError(f"Run {self.run_id} never finished publishing "
                                        "itself in the study storage.",
                                        "Look at the run on its machine (Runs page).")
            except NotFoundError:
                if time.time() > deadline:
                    raise
                if say is not None:
                    say(f"waiting for run {self.run_id} to start its search…")
                    say = None
                time.sleep(1.0)

    def _control_study(self) -> optuna.Study:
        if self._control is None:
            try:
                self._control = optuna.load_study(study_name=control_name(self.run_id),
                                                  storage=self.storage)
            except KeyError:
                runs = sorted({s.study_name[len(PREFIX):].split(":")[0]
                               for s in self.storage.get_all_studies()
                               if s.study_name.startswith(PREFIX)})
                raise NotFoundError(
                    f"There is no run “{self.run_id}” in the study storage at "
                    f"{mask_url(self.url)}" + (f" (it holds {', '.join(runs)})." if runs
                                                else " (it holds no run)."),
                    "Start the run with `modelyard run ... --storage URL` (or the storage "
                    "set on the Settings page), then join it with its id.") from None
        return self._control

    def attrs(self, fresh: bool = False) -> dict[str, Any]:
        """The control record's attributes, read again at most once a second."""
        if fresh or time.time() - self._attrs_at > 1.0:
            study = self._control_study()
            self._attrs = dict(self.storage.get_study_user_attrs(study._study_id))
            self._attrs_at = time.time()
        return self._attrs

    def state(self) -> str:
        return self.attrs().get("state", "starting")

    def deadline(self) -> float:
        """The Run's search deadline as its main worker last published it."""
        return float(self.attrs().get("deadline", 0.0))

    # -- studies --------------------------------------------------------------------------
    def study_name(self, family: str) -> str:
        return study_name(self.run_id, family)

    def family_of(self, name: str) -> str | None:
        """The family of one of this Run's studies; None for others' and the control."""
        prefix = f"{PREFIX}{self.run_id}:"
        return name[len(prefix):] if name.startswith(prefix) else None

    # -- heartbeats -----------------------------------------------------------------------
    def beating(self, trial_id: int) -> None:
        """Record heartbeats for this running trial until `stopped` (one now: a trial
        with none is never judged stale)."""
        self.storage.record_heartbeat(trial_id)
        with self._lock:
            self._beating.add(trial_id)

    def stopped(self, trial_id: int) -> None:
        with self._lock:
            self._beating.discard(trial_id)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with self._lock:
                ids = list(self._beating)
            try:
                for trial_id in ids:
                    self.storage.record_heartbeat(trial_id)
                if self.joined and self._control is not None:
                    self.announce()
            except Exception:
                # The database is out of reach for a moment: the trials go stale if it
                # stays so, which is the truth; the fit itself goes on.
                continue

    def announce(self) -> None:
        """A joined worker says it is in (again): its beat counter moves."""
        self._beats += 1
        self.set(**{f"worker:{self.ident}": {"beat": self._beats,
                                             "host": socket.gethostname(), "pid": os.getpid()}})

    def leave(self) -> None:
        """Stop the heartbeats; a joined worker says it has left."""
        self._stop.set()
        if self.joined:
            try:
                self.set(**{f"worker:{self.ident}": {"beat": -1, "left": True}})
            except Exception:
                pass

    def workers(self) -> list[str]:
        """The joined workers heard from lately (their beat counter moved, judged by this
        process's clock, so the hosts' clocks need not agree)."""
        now, alive = time.time(), []
        for key, value in self.attrs().items():
            if not key.startswith("worker:") or not isinstance(value, dict):
                continue
            name = key[len("worker:"):]
            beat = value.get("beat", 0)
            last = self._seen_beats.get(name)
            if last is None or last[0] != beat:
                self._seen_beats[name] = (beat, now)
                last = (beat, now)
            if not value.get("left") and now - last[1] <= WORKER_QUIET_SECONDS:
                alive.append(name)
        return sorted(alive)

    # -- trials -------------------------------------------------------------------------
    def started(self, trial: optuna.Trial) -> None:
        """Say who fits `trial`, and keep its heartbeat."""
        trial.set_user_attr("worker", self.ident)
        self.beating(trial._trial_id)

    def report(self, trial: optuna.Trial, result: TrialResult, cv) -> None:
        """Hand in a finished trial's result and predictions, before Optuna is told."""
        if cv is not None and result.state is TrialStatus.complete:
            self.oof.put(self.run_id, result.model, cv.oof, self.ident)
            trial.set_user_attr("cv", {"fit_seconds": cv.fit_seconds,
                                       "predict_seconds": cv.predict_seconds,
                                       "learnt": cv.learnt})
        trial.set_user_attr("result", result.model_dump(mode="json", exclude_none=True))

    def fail_stale(self, studies) -> None:
        """Fail (and queue again once) trials whose worker's heartbeat stopped."""
        for study in studies:
            optuna.storages.fail_stale_trials(study)

    def finished_elsewhere(self, studies: dict[str, optuna.Study], seen: set[str]
                           ) -> list[tuple[str, FrozenTrial]]:
        """(family, trial) of this Run's finished trials not in `seen`, oldest first."""
        found = []
        for family, study in studies.items():
            for t in self.storage.get_all_trials(study._study_id, deepcopy=False,
                                                 states=FINISHED):
                if f"{family}_{t.number}" not in seen:
                    found.append((family, t))
        found.sort(key=lambda ft: ft[1].datetime_complete or ft[1].datetime_start
                   or datetime.min)
        return found

    def running_elsewhere(self, studies: dict[str, optuna.Study]) -> list[FrozenTrial]:
        return [t for study in studies.values()
                for t in self.storage.get_all_trials(study._study_id, deepcopy=False,
                                                     states=(TrialState.RUNNING,))
                if t.user_attrs.get("worker") != self.ident]

    def close_trial(self, trial: FrozenTrial, state: TrialState) -> bool:
        """End a trial another worker still runs (the search is over) as `state`: PRUNED,
        as this worker's own trials stopped by the budget, or FAIL when its worker is no
        longer heard from; False if it ended meanwhile."""
        try:
            return self.storage.set_trial_state_values(trial._trial_id, state)
        except optuna.exceptions.UpdateFinishedTrialError:
            return False

    def received(self, family: str, trial: FrozenTrial, studies: dict[str, optuna.Study],
                 closed: set[int]):
        """The TrialResult and (for a complete trial) the CVResult another worker handed
        in; a trial its worker never finished becomes a failed one saying why."""
        from modelyard.engine.training.evaluate import CVResult

        model = f"{family}_{trial.number}"
        worker = trial.user_attrs.get("worker")
        stored = trial.user_attrs.get("result")
        # A result handed in stands, unless the trial was closed before Optuna was told.
        if stored and trial._trial_id not in closed and (
                trial.state is not TrialState.FAIL or stored.get("state") == TrialStatus.failed):
            result = TrialResult.model_validate(stored)
        elif trial._trial_id in closed and trial.state is TrialState.PRUNED:
            result = TrialResult(model=model, family=family, number=trial.number,
                                 params=dict(trial.params), state=TrialStatus.pruned,
                                 message=f"{model} stopped: the time budget ran out (it was "
                                         f"still running on {worker})")
        else:
            if trial._trial_id in closed:
                why = (f"its worker {worker} was no longer heard from when the search time "
                       "was over")
            else:
                retry = next((f"{family}_{t.number}" for t in studies[family].get_trials(
                    deepcopy=False) if trial.number in t.system_attrs.get(
                    "retry_history", [])), None)
                why = (f"its worker {worker or '(unknown)'} stopped responding (no heartbeat "
                       f"for {GRACE_SECONDS} s)"
                       + (f"; its settings are tried again as {retry}" if retry else ""))
            result = TrialResult(model=model, family=family, number=trial.number,
                                 params=dict(trial.params), state=TrialStatus.failed,
                                 message=f"{model} failed: {why}")
        result = result.model_copy(update={"worker": worker})
        cv = None
        if result.state is TrialStatus.complete:
            oof = self.oof.get(self.run_id, model)
            extra = trial.user_attrs.get("cv") or {}
            if oof is not None:
                cv = CVResult(list(result.fold_scores), oof,
                              float(extra.get("fit_seconds") or 0.0),
                              float(extra.get("predict_seconds") or 0.0),
                              learnt=dict(extra.get("learnt") or {}))
        return result, cv

    def close(self, state: str | None = None) -> None:
        """Stop the heartbeats; the main worker records the Run's last state."""
        self.leave()
        if state is not None:
            try:
                self.set(state=state)
            except Exception:
                pass
        self.oof.close()


def close_shared_trials(url: str, run_id: str) -> int:
    """Mark the Run's RUNNING trials FAIL in its shared storage and its state ended (the
    supervisor, for a Run whose main worker died or was cancelled)."""
    storage = open_storage(url, heartbeat=False)
    closed = 0
    for summary in storage.get_all_studies():
        if summary.study_name == control_name(run_id):
            storage.set_study_user_attr(summary._study_id, "state", "ended")
        if not summary.study_name.startswith(f"{PREFIX}{run_id}:"):
            continue
        for t in storage.get_all_trials(summary._study_id, deepcopy=False,
                                        states=(TrialState.RUNNING,)):
            try:
                storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
                closed += 1
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
    storage.remove_session()
    storage.engine.dispose()
    return closed
