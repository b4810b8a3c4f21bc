"""The search: every family's defaults first, then Optuna TPE round-robin within the budget.

The trainer orchestrates four parts, each in its own module with its policy written at
its top:
- trial scheduling and the budget (`schedule.py`): which family gets the next trial and
  the deadline that keeps time for the refit;
- the memory policy (`memory.py`): whether a trial may start, which fits run in a
  watched child process (`guard.py`), and what a trial that ran out of memory teaches;
- the pool of out-of-fold predictions (`pool.py`) of the best trials;
- the ensembler (`ensembler.py`), which blends the pool when that wins and fits, and
  the second layer (`stacking.py`), kept when it beats the blend;
- bagging (`bagging.py`): a trial's fold models are kept while it is in the pool, and
  the delivered model averages them instead of being refitted.

Within a trial, fold scores are reported to Optuna's median pruner, so a configuration
clearly worse than earlier ones stops after a fold or two. Each fold's features are
prepared once per kind of preprocessing and shared by every later trial of that kind
(`folds.py`): on free text, TF-IDF costs more than most models. A guarded fit still
running at the search deadline is killed, so it cannot eat into the refit's time.
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

Shared: a Run that names a study storage keeps its studies in that database, and other
workers may join it (`sharing.py` says how). The trainer is then either the Run's own
(main) worker, which also collects the trials other workers finish into its journal
and ensemble pool, waits for their last trials and ensembles; or a joined worker, which
fits trials until the main worker's deadline and hands each in through the database.
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

from modelyard.engine.training import bagging, families
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
from modelyard.engine.training.stacking import stack
from modelyard.schemas import EventKind, FamilyChoice, Plan, TrialResult, TrialStatus
from modelyard.storage.files import is_disk_full
from modelyard.storage.runfolder import JournalWriter, read_events

# How often a shared Run's workers look for trials other workers finished (seconds).
SHARED_POLL_SECONDS = 1.0
# The larger sample a first trial on many rows is judged by (`Trainer._in_time`).
ESTIMATE_SAMPLE = 4_000
# What a bagged leader keeps of the refit reserve (a share of one fold's fit): saving the
# bundle and predicting the test rows with k models instead of one.
BAG_RESERVE = 0.25
# ...and at least this share of the budget, for the blend and the second layer.
BAG_BUDGET_SHARE = 0.05
# ...and the time to deliver the bags of this many best pool members (a blend usually
# takes four to six).
BLEND_LIKELY = 5
# A leader that is refitted keeps time for one more refit: the best pool member of
# another family (a blend's likely partner), when its refit takes at most this share
# of the budget. With the leader's refit alone kept, a blend found at the end could not
# be delivered (tweets on a holdout: a blend at 0.394 validation log loss was refused,
# its two refits longer than the 16 s left).
PARTNER_SHARE = 0.1
# The most of the search's remaining time one trial's boosting may take, and for a
# family's first trial at most an even share with the families still untried (as
# AutoGluon shares its time among its models): a family that `cuts_short` ends its
# folds' boosting there and is scored on the rounds it has. Without it CatBoost's first
# trial on ten digits (1,347 rows, 10 classes) took the last 38 s of a 60 s run and was
# stopped unscored, and on 258 penguins it took 50 s, leaving the forests no turn.
TRIAL_SHARE = 0.5

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
                 scratch_dir: Path | None = None, shared=None, bags_dir: Path | None = None):
        self.plan = plan
        self._active: dict = {}
        self.data = data
        self.splits = splits
        self.journal = journal
        self.started = started
        self.schedule = Schedule(plan, len(splits), started, n_rows=len(data.y),
                                 text=bool(data.features.text))
        # Several trials at once on a machine with cores to spare, each with its share.
        self.slots = parallel_trials(n_jobs)
        self.ctx = FitContext(task=plan.task, n_rows=len(data.y), n_classes=data.n_classes,
                              n_jobs=max(1, n_jobs // self.slots), seed=plan.seed)
        # Re-entrant: recording a trial that ran out of memory also learns from it.
        self._lock = threading.RLock()
        self._noted: set[str] = set()  # families whose first trial said its note
        # A shared Run (`sharing.SharedRun`): its database holds the studies; else the
        # journal file of the run folder.
        self.shared = shared
        self.joined = bool(shared and shared.joined)
        self.worker = shared.ident if shared else None
        self.storage = (shared.storage if shared
                        else JournalStorage(JournalFileBackend(str(optuna_path))))
        self.studies: dict[str, optuna.Study] = {}
        # Trials already in this worker's journal or collected: by model name.
        self.seen: set[str] = set()
        self._closed: set[int] = set()  # others' trials this worker ended at the end
        self._workers: list[str] = []
        self._progress_at = 0.0
        self.best = Candidate(score=worst(plan.metric))
        # Fold models are kept (bagging.py) by a Run validated in folds whose trials
        # this worker pools: in `bags/` beside `oof/`, unless named otherwise.
        if bags_dir is None and oof_dir is not None:
            bags_dir = Path(oof_dir).parent / "bags"
        self.bags_dir = bags_dir if (not self.joined and bagging.bags(
            plan.validation.kind, len(splits))) else None
        self._bag_full_said = False
        self.pool = OofPool(plan.metric, oof_dir, self.bags_dir)
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
        self.schedule.restore(self.storage,
                              self.shared.family_of if self.shared else lambda name: name)
        if self.shared and not self.joined:
            self.seen = {e.data.get("model") for e, _ in read_events(
                self.journal.folder.events_path, 0) if e.kind == EventKind.trial}
        self.pool.restore()
        if self.pool.members:
            self.best = self.pool.members[0]
            self.journal.emit(EventKind.log, f"continuing: {self.trial_count} earlier trials, "
                                             f"best {self.best.model} ({self.best.score:.5g})")

    # -- budget -------------------------------------------------------------------------
    def search_deadline(self) -> float:
        if self.joined:  # the main worker's, as it last published it
            return self.shared.deadline()
        if self.best.bag is not None:
            # A bagged leader needs no refit: only time to blend, stack and deliver the
            # bags the blend is likely to take (a forest's can take seconds to read back).
            likely = sum(c.close_seconds(0.0) for c in self.pool.members[:BLEND_LIKELY]
                         if c.bag is not None)
            return self.schedule.end - max(BAG_RESERVE * self.best.fit_seconds,
                                           BAG_BUDGET_SHARE * self.plan.budget_seconds,
                                           likely)
        refits = self.best.fit_seconds
        partner = next((c for c in self.pool.members if c.family != self.best.family), None)
        if partner is not None and self.schedule.refit_reserve(partner.fit_seconds) \
                <= PARTNER_SHARE * self.plan.budget_seconds:
            refits += partner.fit_seconds
        return self.schedule.search_deadline(refits)

    # -- search -------------------------------------------------------------------------
    def _study(self, choice: FamilyChoice, index: int) -> optuna.Study:
        offset = self.shared.seed_offset if self.shared else 0
        sampler = optuna.samplers.TPESampler(seed=self.plan.seed + index + offset,
                                             multivariate=True, n_startup_trials=5)
        direction = "maximize" if self.plan.metric.greater_is_better else "minimize"
        # Fold-wise reports: prune after the second fold at the earliest, once five
        # trials of this family give a median to compare with.
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
        name = self.shared.study_name(choice.family) if self.shared else choice.family
        study = optuna.create_study(study_name=name, storage=self.storage,
                                    direction=direction, sampler=sampler, pruner=pruner,
                                    load_if_exists=True)
        family = families.get(choice.family)
        # The main worker queues the defaults; a joined one finds them queued.
        if not study.trials and not self.joined:
            # The library's defaults first, then the family's proven configurations, each
            # moved inside the Plan's limits if it sets any.
            defaults = family.default_params(self.ctx)
            space = self._space(choice)
            queued: list[dict] = []
            for params in (defaults, *(defaults | p for p in family.portfolio)):
                params = clip(params, space) or params
                if params not in queued:
                    queued.append(params)
                    study.enqueue_trial(params)
        return study

    def run(self) -> Candidate:
        active = {c.family: (c, self._study(c, i))
                  for i, c in enumerate(self.plan.families)}
        self._active = active  # the families still searched (`next_family` drops some)
        self.studies = {name: study for name, (_, study) in active.items()}
        if self.shared and not self.joined:
            self._publish(state="running")
        running: dict[Future, str] = {}
        try:
            with ThreadPoolExecutor(self.slots, thread_name_prefix="trial") as pool:
                try:
                    self._search(active, running, pool)
                except BaseException:
                    self._close_guard()  # the pool waits for its trials: end theirs now
                    raise
            if self.shared and not self.joined:
                self._publish(state="closing")
                self._collect()
            if not self.joined:
                self._ensemble()
        finally:
            self._close_guard()
        return self.best

    def _search(self, active: dict, running: dict[Future, str], pool) -> None:
        poll = SHARED_POLL_SECONDS if self.shared else None
        while True:
            while len(running) < self.slots and self._may_start():
                name = self.schedule.next_family(
                    active, self.search_deadline() - time.time(), self._space)
                if name is None:
                    break
                choice, study = active[name]
                if not self._in_time(choice, active):
                    continue
                running[pool.submit(self._one_trial, choice, study)] = name
            done = set()
            if running:
                done, _ = wait(running, timeout=poll, return_when=FIRST_COMPLETED)
                for future in done:
                    del running[future]
                    future.result()  # _one_trial stores its own failures
            elif not self._others_running():
                break
            else:
                time.sleep(poll)
            if self._collect() or done or time.time() - self._progress_at > 5.0:
                self._progress()

    def _in_time(self, choice: FamilyChoice, active: dict) -> bool:
        """Whether the first trial of a family that cannot stop itself can finish before
        the deadline, judged by a fit on a sample; if not the family is left out, and
        the journal says why."""
        family = families.get(choice.family)
        if not self.schedule.wants_estimate(family, self.ctx.n_rows):
            return True
        estimate, sample = self._estimate(family)
        self.schedule.family_estimate[family.name] = estimate
        left = self.search_deadline() - time.time()
        if estimate <= left:
            return True
        del active[choice.family]
        self.journal.emit(EventKind.log, (
            f"{family.name} left out: one trial would take about {estimate:.0f} s on "
            f"{self.ctx.n_rows:,} rows (judged by fits on samples of up to {sample:,}) and "
            f"{max(0.0, left):.0f} s of the search are left"), level="warning")
        return False

    def _estimate(self, family) -> tuple[float, int]:
        """Seconds a cross-validation of `family` at its defaults would take, from fits
        on two samples of the first split (m/2 and m rows): the time a fit costs
        whatever its size (preparing the columns, building the pipeline) is told apart
        from the time that grows as rows ** `time_exponent`, and only the latter is
        scaled up to the split's rows. Times the number of splits."""
        train, valid = self.splits[0]
        m = max(2, min(ESTIMATE_SAMPLE, len(train) // 8))
        rng = np.random.default_rng(self.plan.seed)
        # The samples keep the split's proportions (a quarter as many rows predicted as
        # fitted, as in 5 folds or a 20% holdout), so both parts scale alike.
        fit_rows = rng.permutation(train)[:m]
        valid_rows = rng.permutation(valid)[:max(2, m // 4)]
        params = family.default_params(self.ctx)
        seconds = []
        for size in (m // 2, m):
            sample = (np.sort(fit_rows[:size]), np.sort(valid_rows[:max(1, size // 4)]))
            started = time.perf_counter()
            try:
                cross_validate(family, params, self.ctx, self.data, [sample],
                               self.plan.metric)
            except Exception:  # noqa: BLE001 - the trial itself will meet and record it
                return 0.0, m
            seconds.append(time.perf_counter() - started)
        half, full = seconds
        alpha = family.time_exponent
        # What doubling the sample added, at least a tenth of the whole (timings of
        # quick fits are noisy; the growing part is never taken as nothing).
        growing = max(full - half, 0.1 * full) / (1 - 2 ** -alpha)
        scaled = full + growing * ((len(train) / m) ** alpha - 1)
        return scaled * len(self.splits), m

    def _may_start(self) -> bool:
        """Whether a new trial may start: before the deadline and, for a joined worker,
        while the Run still searches."""
        if time.time() >= self.search_deadline():
            return False
        return not self.joined or self.shared.state() == "running"

    # -- a shared Run -----------------------------------------------------------------
    def _publish(self, **attrs) -> None:
        self.shared.set(deadline=self.search_deadline(), end=self.schedule.end, **attrs)

    def _others_running(self) -> bool:
        """The main worker of a shared Run, its own search over: whether other workers
        still fit trials it should wait for. Those still running when it stops waiting
        (the deadline plus half the refit reserve, at most the budget's end) are failed."""
        if not self.shared or self.joined:
            return False
        self.shared.fail_stale(self.studies.values())
        others = self.shared.running_elsewhere(self.studies)
        if not others:
            return False
        deadline = self.search_deadline()
        wait_until = min(self.schedule.end,
                         deadline + max(2.0, 0.5 * (self.schedule.end - deadline)))
        if time.time() < wait_until:
            return True
        alive = set(self.shared.workers())
        for trial in others:
            heard = trial.user_attrs.get("worker") in alive
            if self.shared.close_trial(trial, TrialState.PRUNED if heard else TrialState.FAIL):
                self._closed.add(trial._trial_id)
        return False

    def _collect(self) -> int:
        """Take in the trials other workers finished: the schedule learns from each; the
        main worker also journals it (the leaderboard) and pools its predictions.
        Returns how many."""
        if not self.shared:
            return 0
        self.shared.fail_stale(self.studies.values())
        found = self.shared.finished_elsewhere(self.studies, self.seen)
        for family, trial in found:
            with self._lock:
                self.seen.add(f"{family}_{trial.number}")
                if trial.state is TrialState.COMPLETE and trial.duration is not None:
                    self.schedule.timed(family, trial.duration.total_seconds())
                if self.joined:
                    if trial.state is TrialState.COMPLETE:
                        self.schedule.scored(family, trial.value)
                    continue
                result, cv = self.shared.received(family, trial, self.studies, self._closed)
                self.schedule.trial_count += 1
                self.journal.trial(result)
                if result.state is TrialStatus.complete and cv is not None:
                    self._scored(result, cv)
                elif result.state is TrialStatus.complete:
                    self.schedule.scored(family, result.cv_score)
                    self.journal.emit(EventKind.log, f"{result.model}: its predictions did "
                                      "not arrive, so it is left out of the ensemble",
                                      level="warning")
        if not self.joined:
            workers = self.shared.workers()
            for name in sorted(set(workers) - set(self._workers)):
                self.journal.emit(EventKind.log, f"worker {name} joined the search")
            for name in sorted(set(self._workers) - set(workers)):
                self.journal.emit(EventKind.log, f"worker {name} is no longer heard from")
            self._workers = workers
            deadline = self.search_deadline()
            if abs(deadline - self.shared.deadline()) > 0.5:
                self._publish()
        return len(found)

    def _fit_guard(self) -> FitGuard:
        with self._lock:
            if self._guard is None:
                self._guard = FitGuard(self.scratch_dir, self.data, self.splits)
            return self._guard

    def _close_guard(self) -> None:
        if self._guard is not None:
            self._guard.close()

    def _ensemble(self) -> None:
        """Blend the pool (see `ensembler.py`), then try a second layer over it
        (`stacking.py`); record both, and deliver the better if it beats the leader."""
        found = blend(self.pool.members, self.best, self.data.y, self.data.n_classes,
                      self.splits, self.plan.metric, self.schedule.end)
        to_beat = found.chosen if found is not None and found.chosen else self.best
        stacked = None
        if time.time() < self.schedule.end:
            stacked = stack(self.pool.members, to_beat, self.data.y, self.data.n_classes,
                            self.splits, self.plan.metric, self.ctx.task,
                            self.schedule.end)
        if found is not None and found.chosen is not None and stacked is not None \
                and stacked.chosen is not None:
            found.trial = found.trial.model_copy(update={
                "state": TrialStatus.not_chosen,
                "message": f"{found.trial.message} (not chosen: the stack is better)"})
            found.chosen = None
        for made in (found, stacked):
            if made is None:
                continue
            # A shared search: the blend is this (main) worker's, like the refit.
            self.journal.trial(made.trial.model_copy(update={"worker": self.worker})
                               if self.shared else made.trial)
            if made.chosen is not None:
                self.best = made.chosen

    # -- one trial ----------------------------------------------------------------------
    def _one_trial(self, choice: FamilyChoice, study: optuna.Study) -> None:
        with self._lock:
            trial = study.ask()
            # A Plan's cap on a learnt setting (a booster's rounds) bounds every fold.
            params = suggest(trial, self._space(choice)) | learnt_caps(
                families.get(choice.family).learnt, choice.limits)
            self.schedule.trial_count += 1
        if self.shared:
            self.shared.started(trial)
        try:
            outcome = self._attempt(choice, trial, params)
            self._record(choice, study, trial, outcome)
        finally:
            if self.shared:
                self.shared.stopped(trial._trial_id)
            # Fold models the pool did not take (it moves those it keeps).
            bagging.discard(self._pending(f"{choice.family}_{trial.number}"))

    def _note_first(self, family) -> None:
        """What a family says of itself when its first trial starts (the pretrained
        weights it uses and their licence), once per Run."""
        with self._lock:
            if family.name in self._noted:
                return
            self._noted.add(family.name)
        if note := family.run_note(self.plan.task):
            self.journal.emit(EventKind.log, note)

    def _pending(self, model: str) -> Path | None:
        """Where a trial's fold models are written while it runs; None: not kept."""
        return None if self.bags_dir is None else self.bags_dir / ".pending" / model

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
        self._note_first(family)
        started = time.time()

        def after_fold(step: int, mean_so_far: float) -> None:
            trial.report(mean_so_far, step)
            if step < len(self.splits) - 1 and trial.should_prune():
                raise optuna.TrialPruned()

        keep = self._pending(model) if family.name != "dummy" else None
        try:
            result = self._fit(family, params, memory.need, memory.room.bytes, after_fold,
                               keep)
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
        if cut := result.extra.get("cut_short"):
            learnt += (f"; boosting cut short on {cut} of {len(self.splits)} folds "
                       "at the trial's share of the time")
        done = ended(TrialStatus.complete,
                     f"{model}: {self.plan.metric.value} {value:.5g}{learnt}",
                     cv=result, seconds=seconds)
        done.result = done.result.model_copy(update=dict(
            cv_score=value, cv_std=result.std, fold_scores=result.fold_scores,
            fit_seconds=result.fit_seconds * len(self.splits),
            # As delivered: a bag predicts with each of its fold models.
            predict_seconds=result.predict_seconds * (len(self.splits) if result.bag else 1),
            train_score=result.train_mean))
        return done

    def _record(self, choice: FamilyChoice, study: optuna.Study, trial: optuna.Trial,
                outcome: Outcome) -> None:
        """The one place a trial's end is recorded: Optuna's state, the journal's trial
        event, and what the schedule, the pool and the memory policy learn from it."""
        result = outcome.result
        if self.shared:
            result = result.model_copy(update={"worker": self.worker})
        with self._lock:  # the rest updates state that parallel trials share
            self.seen.add(result.model)
            if outcome.seconds is not None:
                self.schedule.timed(result.family, outcome.seconds)
            try:
                if self.shared:  # handed in before Optuna is told: a finished trial has it
                    self.shared.report(trial, result, outcome.cv)
                if result.state is TrialStatus.complete:
                    study.tell(trial, result.cv_score)
                else:
                    study.tell(trial, state=TrialState.PRUNED if result.state is
                               TrialStatus.pruned else TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                # Failed meanwhile by the main worker (the search time was over) or for a
                # heartbeat that stalled: that record stands.
                self.journal.emit(EventKind.log, f"{result.model} finished after the Run "
                                  "had closed it; not counted", level="warning")
                return
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
        bag = Path(cv.bag) if cv.bag and self.bags_dir is not None else None
        if bag is not None and not bagging.room_for(bag, self.bags_dir):
            bag = None
            if not self._bag_full_said:
                self._bag_full_said = True
                self.journal.emit(EventKind.log, f"{result.model}: its fold models would "
                                  "take more disk than bagging may use; it and later "
                                  "trials like it are refitted if delivered",
                                  level="warning")
        candidate = Candidate(result.model, result.family,
                              result.params | learnt_limits(cv.learnt, limits),
                              result.cv_score, cv.fit_seconds, cv, bag)
        if result.family != "dummy":
            self.pool.add(candidate)
        if better(self.plan.metric, result.cv_score, self.best.score):
            self.best = candidate

    def _fit(self, family, params: dict, need: int, allowed: int, after_fold,
             keep: Path | None = None) -> CVResult:
        """Cross-validate in this process, or in a watched child process when the trial
        might run out of memory or past the budget (see `memory.py`)."""
        slow = self.schedule.may_overrun(family, self.ctx.n_rows)
        deadline = self.search_deadline()
        seconds = self._trial_seconds(family.name, deadline)
        if not wants_guard(need, allowed, slow=slow):
            return cross_validate(family, params, self.ctx, self.data, self.splits,
                                  self.plan.metric, deadline=deadline,
                                  after_fold=after_fold, folds=self.folds, keep=keep,
                                  seconds=seconds)
        return self._fit_guard().cross_validate(
            family.name, params, self.ctx, self.plan.metric, limit=allowed,
            deadline=deadline, after_fold=after_fold,
            stop_at=self._stop_guarded, folds=self.folds, keep=keep, seconds=seconds)

    def _trial_seconds(self, family: str, deadline: float) -> float:
        """The most a trial's boosting may take (see TRIAL_SHARE)."""
        untried = [n for n in list(self._active) if n not in self.schedule.family_best
                   and n not in (family, "dummy")]
        share = TRIAL_SHARE if family in self.schedule.family_best \
            else min(TRIAL_SHARE, 1 / (1 + len(untried)))
        return share * max(0.0, deadline - time.time())

    def _stop_guarded(self) -> float:
        """When a guarded fit is killed: at the search deadline, which moves with the
        leader's refit time, since what follows it is the refit's (never past the
        budget and its grace)."""
        return min(self.schedule.stop_at, self.search_deadline())

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
        self._progress_at = time.time()
        elapsed = time.time() - self.started
        more = {"workers": [self.worker, *self._workers]} if self.shared else {}
        self.journal.emit(
            EventKind.progress, f"{self.trial_count} trials, best {self.best.model or '—'}",
            phase="search", fraction=min(1.0, elapsed / self.plan.budget_seconds),
            elapsed=elapsed, best_model=self.best.model,
            best_score=None if not self.best.model else self.best.score, **more)
