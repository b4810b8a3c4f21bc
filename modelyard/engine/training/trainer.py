"""The search: every family's defaults first, then Optuna TPE round-robin within the budget.

Budget policy: the Run's budget covers search and the refit of the winner. The search
deadline is the budget minus a reserve for that refit, re-estimated from the current
leader's fit time. Each family's first trial is its library defaults, so the search
never ends worse (in cross-validation) than the plain default model. After that the
best TOP_FAMILIES families take turns, one TPE-suggested trial each, until the deadline
or their trial caps; a trial is not started when the family's recent trials say it
cannot finish before the deadline. Within a trial, fold scores are reported to Optuna's
median pruner, so a configuration clearly worse than earlier ones stops after a fold or two.
Each fold's features are prepared once per kind of preprocessing and shared by every
later trial of that kind (`folds.py`): on free text, TF-IDF costs more than most models.

Memory policy: each family estimates what a trial needs (`memory_bytes`) before it
starts. A trial may use 80% (`guard.MEMORY_SHARE`) of the memory free at that moment
(the system's, or its cgroup's when that is tighter), and never more than
$MODELYARD_MEMORY_LIMIT_GB; a trial whose estimate exceeds that is skipped. The
estimates are rough, and on Linux running out of memory kills the process rather than
raising, so a trial whose estimate is a large share of its allowance runs in a watched
child process (`guard.py`; $MODELYARD_GUARD_FITS=always|never overrides): killed past
its allowance, or by the kernel, it is recorded as failed "out of memory" and the Run
goes on. The family's estimates are then scaled by what the killed trial really used,
a smaller configuration (`ModelFamily.smaller`) is queued as its next trial, and later
trials at least as large as the one that ran out are skipped. A guarded fit still
running when the budget (plus 10%) is over is killed, so it cannot overrun the budget.
A fit in-process cannot be stopped (LightGBM stops itself at the deadline), so a trial
of a family without such a hook is guarded too when the family's last trials took more
than a quarter of the time left or, before it has any, when the data has 10,000 rows
or more. Below that, fits are short and the guard's start-up (~1.5 s once, then ~0.1 s
a trial) would cost more than it saves.

Resumable: the studies live in the run's Optuna journal and the pool of out-of-fold
predictions in `oof/`, so a Run given more time continues where it stopped.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import psutil
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from modelyard.engine.training import families
from modelyard.engine.training.data import TrainingData
from modelyard.engine.training.ensemble import caruana
from modelyard.engine.training.evaluate import CVResult, OutOfTime, cross_validate
from modelyard.engine.training.families.base import FitContext, Space
from modelyard.engine.training.folds import FoldCache
from modelyard.engine.training.guard import (
    Allowance,
    FitFailed,
    FitGuard,
    FitStopped,
    OutOfMemory,
    free_memory,
    gb,
    user_limit,
    wants_guard,
)
from modelyard.engine.training.metrics import better, score, worst
from modelyard.engine.training.search import clip, narrow, suggest
from modelyard.schemas import FamilyChoice, Plan
from modelyard.storage.runfolder import JournalWriter

optuna.logging.set_verbosity(optuna.logging.WARNING)
REFIT_SAFETY = 1.3
# After every family has a score, only the best few keep getting trials.
TOP_FAMILIES = 3
MAX_FAILURES = 3
# Out-of-fold predictions of this many best trials are kept for ensembling.
POOL_SIZE = 10
# A guarded fit is killed once the budget is over by more than this share of it.
BUDGET_GRACE = 0.1
# A trial that cannot stop itself is fitted where it can be stopped when the family's
# last trials took more than this share of the time left, or, before it has any, when
# the data has this many rows (below that, the guard's start-up would cost more).
SLOW_SHARE = 0.25
SLOW_ROWS = 10_000
# Prepared folds may hold this share of the memory training may use.
FOLD_CACHE_SHARE = 0.25


def parallel_trials(threads: int) -> int:
    """Trials run side by side with two threads each once there are four or more
    threads: boosting on small data scales poorly past a few threads, so more trials
    at once use a big machine better. On two cores: one trial, both threads."""
    return max(1, threads // 2) if threads >= 4 else 1


@dataclass
class Best:
    model: str = ""
    family: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    score: float = float("nan")
    fit_seconds: float = 0.0
    result: CVResult | None = None


class Trainer:
    def __init__(self, plan: Plan, data: TrainingData, splits, journal: JournalWriter,
                 optuna_path, n_jobs: int, started: float, oof_dir: Path | None = None,
                 scratch_dir: Path | None = None):
        self.plan = plan
        self.data = data
        self.splits = splits
        self.journal = journal
        self.started = started
        self.budget_end = started + plan.budget_seconds
        # Several trials at once on a machine with cores to spare, each with its share.
        self.slots = parallel_trials(n_jobs)
        self.ctx = FitContext(task=plan.task, n_rows=len(data.y), n_classes=data.n_classes,
                              n_jobs=max(1, n_jobs // self.slots), seed=plan.seed)
        self._lock = threading.Lock()
        self._round: list[str] = []
        self.storage = JournalStorage(JournalFileBackend(str(optuna_path)))
        self.best = Best(score=worst(plan.metric))
        self.trial_count = 0
        self.family_best: dict[str, float] = {}
        self.family_seconds: dict[str, list[float]] = {}
        self.pool: list[Best] = []
        self.oof_dir = oof_dir
        self.data_bytes = int(data.X.memory_usage(deep=True).sum())
        # Memory learned during this session: per family, how far its estimates fell
        # short, and the smallest estimate of a trial that ran out of memory.
        self.memory_scale: dict[str, float] = {}
        self.too_big: dict[str, int] = {}
        # Each fold's features, prepared once per kind of preprocessing for every trial
        # run in this process, within a share of the memory training may use.
        room = free_memory(psutil.virtual_memory().available)
        limit = user_limit()
        self.folds = FoldCache(FOLD_CACHE_SHARE * (room if limit is None else min(room, limit)))
        self.scratch_dir = Path(scratch_dir or Path(optuna_path).parent / "guard")
        self._guard: FitGuard | None = None
        self._restore()

    # -- resuming -----------------------------------------------------------------------
    def _restore(self) -> None:
        """Pick up the trials and the ensemble pool of earlier sessions of this Run."""
        for summary in self.storage.get_all_studies():
            trials = self.storage.get_all_trials(summary._study_id, deepcopy=False)
            for t in trials:
                if t.state is TrialState.COMPLETE:
                    self.trial_count += 1
                    name = summary.study_name
                    if better(self.plan.metric, t.value,
                              self.family_best.get(name, worst(self.plan.metric))):
                        self.family_best[name] = t.value
                    if t.duration is not None:
                        self.family_seconds.setdefault(name, []).append(
                            t.duration.total_seconds())
        if self.oof_dir is None or not self.oof_dir.exists():
            return
        for meta_path in self.oof_dir.glob("*.json"):
            meta = json.loads(meta_path.read_text())
            oof = np.load(meta_path.with_suffix(".npy"))
            result = CVResult(meta["fold_scores"], oof, meta["fit_seconds"], 0.0)
            self.pool.append(Best(meta["model"], meta["family"], meta["params"],
                                  meta["score"], meta["fit_seconds"], result))
        self._sort_pool()
        if self.pool:
            self.best = self.pool[0]
            self.journal.emit("log", f"continuing: {self.trial_count} earlier trials, best "
                                     f"{self.best.model} ({self.best.score:.5g})")

    # -- budget -------------------------------------------------------------------------
    def refit_reserve(self) -> float:
        k = max(2, len(self.splits))
        grow = k / (k - 1) if len(self.splits) > 1 else 1.25
        return self.best.fit_seconds * grow * REFIT_SAFETY

    def search_deadline(self) -> float:
        return self.budget_end - self.refit_reserve()

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

    def run(self) -> Best:
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
                name = self._next_family(active)
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

    def _next_family(self, active: dict) -> str | None:
        """The family that gets the next trial: round-robin over the contenders of the
        current round, dropping families that are done or cannot finish in time."""
        while active:
            if not self._round:
                self._round = self._contenders(active)
            name = self._round.pop(0)
            if name not in active:
                continue
            choice, study = active[name]
            if self._worth_another(choice, study, self.search_deadline() - time.time()):
                return name
            del active[name]
        return None

    def _ensemble(self) -> None:
        """Blend the best trials' out-of-fold predictions; keep the blend if it wins and
        its members can be refitted within the budget. When the best blend cannot, the
        slowest member is left out of the pool and the blend chosen again, so a slow
        model does not cost the run its ensemble."""
        if len(self.pool) < 2:
            return
        k = len(self.splits)
        grow = k / max(1, k - 1) * REFIT_SAFETY
        # The search reserved time for refitting one model; an ensemble may use the
        # 10% grace the budget allows beyond that, no more.
        end = self.budget_end + 0.1 * self.plan.budget_seconds
        pool, tried = list(self.pool), []
        while len(pool) >= 2:
            counts, value = caruana([b.result.oof for b in pool], self.data.y,
                                    self.plan.metric, self.data.n_classes,
                                    [v for _, v in self.splits])
            if len(counts) < 2:
                break
            fits = time.time() + sum(pool[i].fit_seconds for i in counts) * grow <= end
            tried.append((counts, value, pool, fits))
            if fits or not better(self.plan.metric, value, self.best.score):
                break
            slowest = max(counts, key=lambda i: pool[i].fit_seconds)
            pool = [b for i, b in enumerate(pool) if i != slowest]
        if not tried:
            return
        # The first blend that can be refitted in time; else the best one, reported.
        counts, value, pool, fits = next((t for t in tried if t[3]), tried[0])
        total = sum(counts.values())
        members = [{"model": pool[i].model, "family": pool[i].family,
                    "params": pool[i].params, "weight": n / total}
                   for i, n in sorted(counts.items(), key=lambda kv: -kv[1])]
        blend = sum(pool[i].result.oof * (n / total) for i, n in counts.items())
        folds = [score(self.plan.metric, self.data.y[v], blend[v], self.data.n_classes)
                 for _, v in self.splits]
        fit_seconds = sum(pool[i].fit_seconds for i in counts)
        wins = better(self.plan.metric, value, self.best.score)
        kept = {b.model for b in pool}
        left_out = [b.model for b in self.pool if b.model not in kept]
        note = ("" if wins and fits else
                " (not chosen: the best single model is as good)" if not wins else
                " (not chosen: refitting its members would exceed the budget)")
        if wins and fits and left_out:
            note = f" (without {', '.join(left_out)}: too slow to refit in the budget)"
        # Only a chosen ensemble is "complete": the leaderboard ranks complete trials, and
        # its first place must be the model the run delivers.
        self.journal.emit(
            "trial", f"ensemble of {len(members)}: {self.plan.metric.value} {value:.5g}{note}",
            model="ensemble", family="ensemble", number=0,
            state="complete" if wins and fits else "not chosen", cv_score=value,
            cv_std=float(np.std(folds)), fold_scores=folds,
            fit_seconds=fit_seconds * len(self.splits), params={"members": members})
        if wins and fits:
            self.best = Best("ensemble", "ensemble", {"members": members}, value, fit_seconds,
                             CVResult(folds, blend, fit_seconds, 0.0))

    def _remember(self, best: Best) -> None:
        self.pool.append(best)
        self._sort_pool()
        for gone in self.pool[POOL_SIZE:]:
            if self.oof_dir is not None:
                for suffix in (".npy", ".json"):
                    (self.oof_dir / f"{gone.model}{suffix}").unlink(missing_ok=True)
        del self.pool[POOL_SIZE:]
        if self.oof_dir is not None and best in self.pool:
            self.oof_dir.mkdir(exist_ok=True)
            np.save(self.oof_dir / f"{best.model}.npy", best.result.oof)
            (self.oof_dir / f"{best.model}.json").write_text(json.dumps({
                "model": best.model, "family": best.family, "params": best.params,
                "score": best.score, "fit_seconds": best.fit_seconds,
                "fold_scores": best.result.fold_scores}))

    def _sort_pool(self) -> None:
        self.pool.sort(key=lambda b: b.score, reverse=self.plan.metric.greater_is_better)

    def _contenders(self, active: dict) -> list[str]:
        """Families that get a trial this round: every family until it has a score, then
        the best few, so the budget goes where it can still improve the leader."""
        untried = [n for n in active if n not in self.family_best]
        scored = sorted((n for n in active if n in self.family_best),
                        key=lambda n: self.family_best[n],
                        reverse=self.plan.metric.greater_is_better)
        return untried + scored[:TOP_FAMILIES]

    def _worth_another(self, choice: FamilyChoice, study: optuna.Study,
                       remaining: float) -> bool:
        if remaining <= 0:
            return False
        # Running trials count towards the cap too; the enqueued defaults do not.
        trials = [t for t in study.trials if t.state is not TrialState.WAITING]
        failed = sum(t.state is TrialState.FAIL for t in trials)
        space = self._space(choice)
        if len(trials) >= choice.max_trials or (not space and trials) \
                or failed >= MAX_FAILURES:
            return False
        # Do not start a trial that, judged by this family's last ones, cannot finish.
        durations = self.family_seconds.get(choice.family)
        return not durations or min(durations[-3:]) <= remaining

    def _one_trial(self, choice: FamilyChoice, study: optuna.Study) -> None:
        family = families.get(choice.family)
        with self._lock:
            trial = study.ask()
            params = suggest(trial, self._space(choice))
            self.trial_count += 1
        model = f"{family.name}_{trial.number}"
        common = {"model": model, "family": family.name, "number": trial.number,
                  "params": params}
        estimate = family.memory_bytes(params, self.ctx, self.data_bytes)
        need = int(estimate * self.memory_scale.get(family.name, 1.0))
        room = Allowance(free_memory(psutil.virtual_memory().available), user_limit())
        if estimate >= self.too_big.get(family.name, estimate + 1):
            study.tell(trial, state=TrialState.FAIL)
            self.journal.emit("trial", f"{model} skipped: a similar trial ran out of memory",
                              state="failed", **common)
            return
        if need > room.bytes:
            study.tell(trial, state=TrialState.FAIL)
            self.journal.emit("trial", f"{model} skipped: it needs about {gb(need)} of memory "
                                       f"and {room.describe()}", state="failed", **common)
            return
        started = time.time()

        def after_fold(step: int, mean_so_far: float) -> None:
            trial.report(mean_so_far, step)
            if step < len(self.splits) - 1 and trial.should_prune():
                raise optuna.TrialPruned()

        try:
            result = self._fit(family, params, need, room.bytes, after_fold)
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
            self.journal.emit("trial", f"{model} stopped early: worse than the median of "
                                       "earlier trials on the first folds",
                              state="pruned", **common)
            return
        except OutOfTime:
            study.tell(trial, state=TrialState.PRUNED)
            self.journal.emit("trial", f"{model} stopped: the time budget ran out",
                              state="pruned", **common)
            return
        except (OutOfMemory, MemoryError) as exc:
            study.tell(trial, state=TrialState.FAIL)
            reason = str(exc) if isinstance(exc, OutOfMemory) else "out of memory"
            self.journal.emit("trial", f"{model} failed: {reason}", state="failed", **common)
            self._after_out_of_memory(choice, study, model, params, estimate,
                                      getattr(exc, "used", None))
            return
        except FitStopped as exc:
            study.tell(trial, state=TrialState.FAIL)
            self.journal.emit("trial", f"{model} stopped: {exc}", state="failed", **common)
            return
        except Exception as exc:  # a failing family is a stored state, not a crash
            study.tell(trial, state=TrialState.FAIL)
            kind = exc.kind if isinstance(exc, FitFailed) else type(exc).__name__
            self.journal.emit("trial", f"{model} failed: {kind}: {exc}", state="failed",
                              **common)
            return
        with self._lock:  # the rest updates state that parallel trials share
            self._record(choice, study, trial, model, params, result,
                         time.time() - started, common)

    def _fit(self, family, params: dict, need: int, allowed: int, after_fold) -> CVResult:
        """Cross-validate in this process, or in a watched child process when the trial
        might run out of memory or past the budget (see the module's memory policy)."""
        if not wants_guard(need, allowed, slow=self._may_overrun(family)):
            return cross_validate(family, params, self.ctx, self.data, self.splits,
                                  self.plan.metric, deadline=self.search_deadline(),
                                  after_fold=after_fold, folds=self.folds)
        return self._fit_guard().cross_validate(
            family.name, params, self.ctx, self.plan.metric, limit=allowed,
            deadline=self.search_deadline(), after_fold=after_fold,
            stop_at=self.budget_end + BUDGET_GRACE * self.plan.budget_seconds,
            folds=self.folds)

    def _may_overrun(self, family) -> bool:
        """Whether a trial of `family` could run past the budget with no way to stop it:
        a family without a deadline hook, slow so far or untried on data this large."""
        if family.fit_params(self.budget_end):
            return False
        seconds = self.family_seconds.get(family.name)
        if not seconds:
            return self.ctx.n_rows >= SLOW_ROWS
        return max(seconds[-3:]) > SLOW_SHARE * (self.budget_end - time.time())

    def _space(self, choice: FamilyChoice) -> Space:
        """The search space of `choice` in this Run: trials are suggested from it, and a
        queued configuration must lie inside it."""
        return narrow(families.get(choice.family).search_space(self.ctx), choice.limits)

    def _after_out_of_memory(self, choice: FamilyChoice, study: optuna.Study, model: str,
                             params: dict, estimate: int, used: int | None) -> None:
        """Learn from a trial that ran out of memory: scale the family's estimates by
        what it really used, skip trials as large, and queue a smaller one if it has one."""
        family = families.get(choice.family)
        notes = []
        with self._lock:
            self.too_big[family.name] = min(self.too_big.get(family.name, estimate), estimate)
            if used and estimate > 0 and used > estimate:
                scale = max(self.memory_scale.get(family.name, 1.0), used / estimate)
                self.memory_scale[family.name] = scale
                notes.append(f"its estimates are now × {scale:.1f}")
            smaller = family.smaller(params, self.ctx)
            if smaller is not None:
                smaller = clip(smaller, self._space(choice))
            if smaller is not None and \
                    family.memory_bytes(smaller, self.ctx, self.data_bytes) >= estimate:
                smaller = None  # the Plan's limits leave no smaller configuration
            if smaller is not None:
                study.enqueue_trial(smaller)
        if smaller is not None:
            changes = ", ".join(f"{k} {params.get(k)} → {v}" for k, v in smaller.items()
                                if params.get(k) != v)
            notes.insert(0, f"retrying smaller: {changes}")
        else:
            notes.insert(0, f"{family.name} trials as large (about {gb(estimate)} estimated) "
                            "are skipped from now on")
        self.journal.emit("log", f"{model} ran out of memory; " + "; ".join(notes),
                          level="warning")

    def _record(self, choice, study, trial, model, params, result, seconds, common) -> None:
        family = families.get(choice.family)
        self.family_seconds.setdefault(family.name, []).append(seconds)
        value = result.mean
        if not np.isfinite(value):
            study.tell(trial, state=TrialState.FAIL)
            self.journal.emit("trial", f"{model} gave a non-finite score", state="failed",
                              **common)
            return
        study.tell(trial, value)
        self.journal.emit(
            "trial", f"{model}: {self.plan.metric.value} {value:.5g}", state="complete",
            cv_score=value, cv_std=result.std, fold_scores=result.fold_scores,
            fit_seconds=result.fit_seconds * len(self.splits),
            predict_seconds=result.predict_seconds, train_score=result.train_mean, **common)
        previous = self.family_best.get(family.name, worst(self.plan.metric))
        if better(self.plan.metric, value, previous):
            self.family_best[family.name] = value
        candidate = Best(model, family.name, params, value, result.fit_seconds, result)
        if family.name != "dummy":
            self._remember(candidate)
        if better(self.plan.metric, value, self.best.score):
            self.best = candidate

    def _progress(self) -> None:
        elapsed = time.time() - self.started
        self.journal.emit(
            "progress", f"{self.trial_count} trials, best {self.best.model or '—'}",
            phase="search", fraction=min(1.0, elapsed / self.plan.budget_seconds),
            elapsed=elapsed, best_model=self.best.model,
            best_score=None if not self.best.model else self.best.score)
