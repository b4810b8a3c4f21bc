"""The search: every family's defaults first, then Optuna TPE round-robin within the budget.

The trainer orchestrates four parts, each in its own module with its policy written at
its top:
- trial scheduling and the budget (`schedule.py`): which family gets the next trial and
  the deadline that keeps time for the refit;
- the memory policy (`memory.py`): whether a trial may start, which fits run in a
  watched child process (`guard.py`), and what a trial that ran out of memory teaches;
- the pool of out-of-fold predictions (`pool.py`) of the best trials;
- the ensembler (`ensembler.py`), which blends the pool when that wins and fits.

Within a trial, fold scores are reported to Optuna's median pruner, so a configuration
clearly worse than earlier ones stops after a fold or two. Each fold's features are
prepared once per kind of preprocessing and shared by every later trial of that kind
(`folds.py`): on free text, TF-IDF costs more than most models. A guarded fit still
running when the budget (plus 10%) is over is killed, so it cannot overrun the budget.
A fit in-process cannot be stopped (LightGBM, and CatBoost on the CPU, stop themselves
at the deadline: their `fit_params` hook), so a trial
of a family without such a hook is guarded too when the family's last trials took more
than a quarter of the time left or, before it has any, when the data has 10,000 rows
or more. Below that, fits are short and the guard's start-up (~1.5 s once, then ~0.1 s
a trial) would cost more than it saves.

Boosters learn their number of trees by early stopping on each validation fold; what
the folds learnt (`CVResult.learnt`) is added to the winner's settings for the refit and
to an ensemble member's, while the trial record keeps the searched ones.

Every trial ends in one `Outcome` (complete, pruned, or failed, which includes skipped,
with its reason), recorded in one place (`_record`): the journal's trial event and the
Optuna trial's state.

Resumable: the studies live in the run's Optuna journal and the pool of out-of-fold
predictions in `oof/`, so a Run given more time continues where it stopped.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from modelyard.engine.training import families
from modelyard.engine.training.data import TrainingData
from modelyard.engine.training.ensembler import blend
from modelyard.engine.training.evaluate import CVResult, OutOfTime, cross_validate
from modelyard.engine.training.families.base import FitContext, Space
from modelyard.engine.training.folds import FoldCache
from modelyard.engine.training.guard import (
    FitFailed,
    FitGuard,
    FitStopped,
    OutOfMemory,
    wants_guard,
)
from modelyard.engine.training.memory import MemoryPolicy, fold_cache_bytes
from modelyard.engine.training.metrics import better, worst
from modelyard.engine.training.pool import Candidate, OofPool
from modelyard.engine.training.schedule import Schedule, parallel_trials
from modelyard.engine.training.search import clip, learnt_caps, learnt_limits, narrow, suggest
from modelyard.schemas import EventKind, FamilyChoice, Plan, TrialResult, TrialStatus
from modelyard.storage.files import is_disk_full
from modelyard.storage.runfolder import JournalWriter

optuna.logging.set_verbosity(optuna.logging.WARNING)

__all__ = ["Candidate", "Outcome", "Trainer", "parallel_trials"]


@dataclass
class Outcome:
    """How one trial ended: the TrialResult to record, and what the trainer learns from
    it (its cross-validation, how long it ran, the memory it ran out of)."""

    result: TrialResult
    cv: CVResult | None = None
    seconds: float | None = None  # set when the fit ran to the end
    out_of_memory: tuple[int, int | None] | None = None  # (estimate, bytes really used)


class Trainer:
    def __init__(self, plan: Plan, data: TrainingData, splits, journal: JournalWriter,
                 optuna_path, n_jobs: int, started: float, oof_dir: Path | None = None,
                 scratch_dir: Path | None = None):
        self.plan = plan
        self.data = data
        self.splits = splits
        self.journal = journal
        self.started = started
        self.schedule = Schedule(plan, len(splits), started)
        # Several trials at once on a machine with cores to spare, each with its share.
        self.slots = parallel_trials(n_jobs)
        self.ctx = FitContext(task=plan.task, n_rows=len(data.y), n_classes=data.n_classes,
                              n_jobs=max(1, n_jobs // self.slots), seed=plan.seed)
        # Re-entrant: recording a trial that ran out of memory also learns from it.
        self._lock = threading.RLock()
        self.storage = JournalStorage(JournalFileBackend(str(optuna_path)))
        self.best = Candidate(score=worst(plan.metric))
        self.pool = OofPool(plan.metric, oof_dir)
        self.memory = MemoryPolicy(int(data.X.memory_usage(deep=True).sum()))
        # Each fold's features, prepared once per kind of preprocessing for every trial
        # run in this process, within a share of the memory training may use.
        self.folds = FoldCache(fold_cache_bytes())
        self.scratch_dir = Path(scratch_dir or Path(optuna_path).parent / "guard")
        self._guard: FitGuard | None = None
        self._restore()

    @property
    def trial_count(self) -> int:
        return self.schedule.trial_count

    # -- resuming -----------------------------------------------------------------------
    def _restore(self) -> None:
        """Pick up the trials and the ensemble pool of earlier sessions of this Run."""
        self.schedule.restore(self.storage)
        self.pool.restore()
        if self.pool.members:
            self.best = self.pool.members[0]
            self.journal.emit(EventKind.log, f"continuing: {self.trial_count} earlier trials, "
                                             f"best {self.best.model} ({self.best.score:.5g})")

    # -- budget -------------------------------------------------------------------------
    def search_deadline(self) -> float:
        return self.schedule.search_deadline(self.best.fit_seconds)

    # -- search -------------------------------------------------------------------------
    def _study(self, choice: FamilyChoice, index: int) -> optuna.Study:
        sampler = optuna.samplers.TPESampler(seed=self.plan.seed + index, multivariate=True,
                                             n_startup_trials=5)
        direction = "maximize" if self.plan.metric.greater_is_better else "minimize"
        # Fold-wise reports: prune after the second fold at the earliest, once five
        # trials of this family give a median to compare with.
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
        study = optuna.create_study(study_name=choice.family, storage=self.storage,
                                    direction=direction, sampler=sampler, pruner=pruner,
                                    load_if_exists=True)
        family = families.get(choice.family)
        if not study.trials:
            # The library's defaults first, moved inside the Plan's limits if it sets any.
            defaults = family.default_params(self.ctx)
            study.enqueue_trial(clip(defaults, self._space(choice)) or defaults)
        return study

    def run(self) -> Candidate:
        active = {c.family: (c, self._study(c, i))
                  for i, c in enumerate(self.plan.families)}
        running: dict[Future, str] = {}
        try:
            with ThreadPoolExecutor(self.slots, thread_name_prefix="trial") as pool:
                try:
                    self._search(active, running, pool)
                except BaseException:
                    self._close_guard()  # the pool waits for its trials: end theirs now
                    raise
            self._ensemble()
        finally:
            self._close_guard()
        return self.best

    def _search(self, active: dict, running: dict[Future, str], pool) -> None:
        while True:
            while len(running) < self.slots and time.time() < self.search_deadline():
                name = self.schedule.next_family(
                    active, self.search_deadline() - time.time(), self._space)
                if name is None:
                    break
                choice, study = active[name]
                running[pool.submit(self._one_trial, choice, study)] = name
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                del running[future]
                future.result()  # _one_trial stores its own failures
            self._progress()

    def _fit_guard(self) -> FitGuard:
        with self._lock:
            if self._guard is None:
                self._guard = FitGuard(self.scratch_dir, self.data, self.splits)
            return self._guard

    def _close_guard(self) -> None:
        if self._guard is not None:
            self._guard.close()

    def _ensemble(self) -> None:
        """Blend the pool (see `ensembler.py`); record the blend, and deliver it if chosen."""
        found = blend(self.pool.members, self.best, self.data.y, self.data.n_classes,
                      self.splits, self.plan.metric, self.schedule.stop_at)
        if found is None:
            return
        self.journal.trial(found.trial)
        if found.chosen is not None:
            self.best = found.chosen

    # -- one trial ----------------------------------------------------------------------
    def _one_trial(self, choice: FamilyChoice, study: optuna.Study) -> None:
        with self._lock:
            trial = study.ask()
            # A Plan's cap on a learnt setting (a booster's rounds) bounds every fold.
            params = suggest(trial, self._space(choice)) | learnt_caps(
                families.get(choice.family).learnt, choice.limits)
            self.schedule.trial_count += 1
        outcome = self._attempt(choice, trial, params)
        self._record(choice, study, trial, outcome)

    def _attempt(self, choice: FamilyChoice, trial: optuna.Trial, params: dict) -> Outcome:
        """Fit and score one configuration; every way it can end becomes an Outcome."""
        family = families.get(choice.family)
        model = f"{family.name}_{trial.number}"

        def ended(state: TrialStatus, message: str, **more) -> Outcome:
            return Outcome(TrialResult(model=model, family=family.name, number=trial.number,
                                       params=params, state=state, message=message), **more)

        memory = self.memory.check(family, model, params, self.ctx)
        if memory.skip:
            return ended(TrialStatus.failed, memory.skip)
        started = time.time()

        def after_fold(step: int, mean_so_far: float) -> None:
            trial.report(mean_so_far, step)
            if step < len(self.splits) - 1 and trial.should_prune():
                raise optuna.TrialPruned()

        try:
            result = self._fit(family, params, memory.need, memory.room.bytes, after_fold)
        except optuna.TrialPruned:
            return ended(TrialStatus.pruned, f"{model} stopped early: worse than the median "
                                             "of earlier trials on the first folds")
        except OutOfTime:
            return ended(TrialStatus.pruned, f"{model} stopped: the time budget ran out")
        except (OutOfMemory, MemoryError) as exc:
            reason = str(exc) if isinstance(exc, OutOfMemory) else "out of memory"
            return ended(TrialStatus.failed, f"{model} failed: {reason}",
                         out_of_memory=(memory.estimate, getattr(exc, "used", None)))
        except FitStopped as exc:
            return ended(TrialStatus.failed, f"{model} stopped: {exc}")
        except Exception as exc:  # a failing family is a stored state, not a crash
            if is_disk_full(exc):  # ...but a full disk fails every family: end the run
                raise
            kind = exc.kind if isinstance(exc, FitFailed) else type(exc).__name__
            return ended(TrialStatus.failed, f"{model} failed: {kind}: {exc}")
        seconds = time.time() - started
        value = result.mean
        if not np.isfinite(value):
            return ended(TrialStatus.failed, f"{model} gave a non-finite score",
                         seconds=seconds)
        learnt = "".join(f"; {k} {v} learnt on the folds" for k, v in result.learnt.items())
        done = ended(TrialStatus.complete,
                     f"{model}: {self.plan.metric.value} {value:.5g}{learnt}",
                     cv=result, seconds=seconds)
        done.result = done.result.model_copy(update=dict(
            cv_score=value, cv_std=result.std, fold_scores=result.fold_scores,
            fit_seconds=result.fit_seconds * len(self.splits),
            predict_seconds=result.predict_seconds, train_score=result.train_mean))
        return done

    def _record(self, choice: FamilyChoice, study: optuna.Study, trial: optuna.Trial,
                outcome: Outcome) -> None:
        """The one place a trial's end is recorded: Optuna's state, the journal's trial
        event, and what the schedule, the pool and the memory policy learn from it."""
        result = outcome.result
        with self._lock:  # the rest updates state that parallel trials share
            if outcome.seconds is not None:
                self.schedule.timed(result.family, outcome.seconds)
            if result.state is TrialStatus.complete:
                study.tell(trial, result.cv_score)
            else:
                study.tell(trial, state=TrialState.PRUNED if result.state is
                           TrialStatus.pruned else TrialState.FAIL)
            self.journal.trial(result)
            if outcome.out_of_memory is not None:
                estimate, used = outcome.out_of_memory
                self._after_out_of_memory(choice, study, result.model, result.params,
                                          estimate, used)
            if result.state is TrialStatus.complete:
                self._scored(result, outcome.cv)

    def _scored(self, result: TrialResult, cv: CVResult) -> None:
        self.schedule.scored(result.family, result.cv_score)
        # The refit and the ensemble build it with what its folds learnt (a booster's
        # number of rounds); the trial record keeps the searched settings, as Optuna has.
        limits = next((c.limits for c in self.plan.families if c.family == result.family),
                      {})
        candidate = Candidate(result.model, result.family,
                              result.params | learnt_limits(cv.learnt, limits),
                              result.cv_score, cv.fit_seconds, cv)
        if result.family != "dummy":
            self.pool.add(candidate)
        if better(self.plan.metric, result.cv_score, self.best.score):
            self.best = candidate

    def _fit(self, family, params: dict, need: int, allowed: int, after_fold) -> CVResult:
        """Cross-validate in this process, or in a watched child process when the trial
        might run out of memory or past the budget (see `memory.py`)."""
        slow = self.schedule.may_overrun(family, self.ctx.n_rows)
        if not wants_guard(need, allowed, slow=slow):
            return cross_validate(family, params, self.ctx, self.data, self.splits,
                                  self.plan.metric, deadline=self.search_deadline(),
                                  after_fold=after_fold, folds=self.folds)
        return self._fit_guard().cross_validate(
            family.name, params, self.ctx, self.plan.metric, limit=allowed,
            deadline=self.search_deadline(), after_fold=after_fold,
            stop_at=self.schedule.stop_at, folds=self.folds)

    def _space(self, choice: FamilyChoice) -> Space:
        """The search space of `choice` in this Run: trials are suggested from it, and a
        queued configuration must lie inside it."""
        return narrow(families.get(choice.family).search_space(self.ctx), choice.limits)

    def _after_out_of_memory(self, choice: FamilyChoice, study: optuna.Study, model: str,
                             params: dict, estimate: int, used: int | None) -> None:
        """Learn from a trial that ran out of memory (see `memory.py`), queue the smaller
        configuration if there is one, and say what was learned."""
        family = families.get(choice.family)
        with self._lock:
            smaller, learned = self.memory.learn(family, params, estimate, used, self.ctx,
                                                 self._space(choice))
            if smaller is not None:
                study.enqueue_trial(smaller)
        self.journal.emit(EventKind.log, f"{model} ran out of memory; {learned}",
                          level="warning")

    def _progress(self) -> None:
        elapsed = time.time() - self.started
        self.journal.emit(
            EventKind.progress, f"{self.trial_count} trials, best {self.best.model or '—'}",
            phase="search", fraction=min(1.0, elapsed / self.plan.budget_seconds),
            elapsed=elapsed, best_model=self.best.model,
            best_score=None if not self.best.model else self.best.score)
