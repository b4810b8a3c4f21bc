"""The search: every family's defaults first, then Optuna TPE round-robin within the budget.

Budget policy: the Run's budget covers search and the refit of the winner. The search
deadline is the budget minus a reserve for that refit, re-estimated from the current
leader's fit time. Each family's first trial is its library defaults, so the search
never ends worse (in cross-validation) than the plain default model. After that the
best TOP_FAMILIES families take turns, one TPE-suggested trial each, until the deadline
or their trial caps; a trial is not started when the family's recent trials say it
cannot finish before the deadline. Within a trial, fold scores are reported to Optuna's
median pruner, so a configuration clearly worse than earlier ones stops after a fold or two.

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

from engine.schemas import FamilyChoice, Plan
from engine.training import families
from engine.training.data import TrainingData
from engine.training.ensemble import caruana
from engine.training.evaluate import CVResult, OutOfTime, cross_validate
from engine.training.families.base import FitContext
from engine.training.metrics import better, score, worst
from engine.training.search import suggest
from storage.runfolder import JournalWriter

optuna.logging.set_verbosity(optuna.logging.WARNING)
REFIT_SAFETY = 1.3
# After every family has a score, only the best few keep getting trials.
TOP_FAMILIES = 3
MAX_FAILURES = 3
# Out-of-fold predictions of this many best trials are kept for ensembling.
POOL_SIZE = 10
# A trial may plan on this share of the memory that is free when it starts.
MEMORY_SHARE = 0.8


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
                 optuna_path, n_jobs: int, started: float, oof_dir: Path | None = None):
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
        study = optuna.create_study(study_name=choice.family.value, storage=self.storage,
                                    direction=direction, sampler=sampler, pruner=pruner,
                                    load_if_exists=True)
        family = families.get(choice.family)
        if not study.trials:
            study.enqueue_trial(family.default_params(self.ctx))
        return study

    def run(self) -> Best:
        active = {c.family.value: (c, self._study(c, i))
                  for i, c in enumerate(self.plan.families)}
        running: dict[Future, str] = {}
        with ThreadPoolExecutor(self.slots, thread_name_prefix="trial") as pool:
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
        self._ensemble()
        return self.best

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
        its members can be refitted within the budget."""
        if len(self.pool) < 2:
            return
        counts, value = caruana([b.result.oof for b in self.pool], self.data.y,
                                self.plan.metric, self.data.n_classes,
                                [v for _, v in self.splits])
        if len(counts) < 2:
            return
        total = sum(counts.values())
        members = [{"model": self.pool[i].model, "family": self.pool[i].family,
                    "params": self.pool[i].params, "weight": n / total}
                   for i, n in sorted(counts.items(), key=lambda kv: -kv[1])]
        blend = sum(self.pool[i].result.oof * (n / total) for i, n in counts.items())
        folds = [score(self.plan.metric, self.data.y[v], blend[v], self.data.n_classes)
                 for _, v in self.splits]
        fit_seconds = sum(self.pool[i].fit_seconds for i in counts)
        refit = fit_seconds * len(self.splits) / max(1, len(self.splits) - 1) * REFIT_SAFETY
        wins = better(self.plan.metric, value, self.best.score)
        # The search reserved time for refitting one model; an ensemble may use the
        # 10% grace the budget allows beyond that, no more.
        fits = time.time() + refit <= self.budget_end + 0.1 * self.plan.budget_seconds
        note = ("" if wins and fits else
                " (not chosen: the best single model is as good)" if not wins else
                " (not chosen: refitting its members would exceed the budget)")
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
        space = families.get(choice.family).search_space(self.ctx)
        if len(trials) >= choice.max_trials or (not space and trials) \
                or failed >= MAX_FAILURES:
            return False
        # Do not start a trial that, judged by this family's last ones, cannot finish.
        durations = self.family_seconds.get(choice.family.value)
        return not durations or min(durations[-3:]) <= remaining

    def _one_trial(self, choice: FamilyChoice, study: optuna.Study) -> None:
        family = families.get(choice.family)
        with self._lock:
            trial = study.ask()
            params = suggest(trial, family.search_space(self.ctx))
            self.trial_count += 1
        model = f"{family.name}_{trial.number}"
        common = {"model": model, "family": family.name, "number": trial.number,
                  "params": params}
        need = family.memory_bytes(params, self.ctx, self.data_bytes)
        free = psutil.virtual_memory().available
        if need > MEMORY_SHARE * free:
            study.tell(trial, state=TrialState.FAIL)
            self.journal.emit("trial", f"{model} skipped: it needs about {need / 2**30:.1f} GB "
                                       f"of memory and {free / 2**30:.1f} GB are free",
                              state="failed", **common)
            return
        started = time.time()

        def after_fold(step: int, mean_so_far: float) -> None:
            trial.report(mean_so_far, step)
            if step < len(self.splits) - 1 and trial.should_prune():
                raise optuna.TrialPruned()

        try:
            result = cross_validate(family, params, self.ctx, self.data, self.splits,
                                    self.plan.metric, deadline=self.search_deadline(),
                                    after_fold=after_fold)
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
        except MemoryError:
            study.tell(trial, state=TrialState.FAIL)
            self.journal.emit("trial", f"{model} failed: out of memory", state="failed",
                              **common)
            return
        except Exception as exc:  # a failing family is a stored state, not a crash
            study.tell(trial, state=TrialState.FAIL)
            self.journal.emit("trial", f"{model} failed: {type(exc).__name__}: {exc}",
                              state="failed", **common)
            return
        with self._lock:  # the rest updates state that parallel trials share
            self._record(choice, study, trial, model, params, result,
                         time.time() - started, common)

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
