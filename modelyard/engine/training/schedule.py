"""Trial scheduling and the budget: which family gets the next trial, and until when.

Budget policy: the Run's budget covers search and the refit of the winner. The search
deadline is the budget minus a reserve for that refit, re-estimated from the current
leader's fit time. Each family's first trial is its library defaults, so the search
never ends worse (in cross-validation) than the plain default model; on 10,000 rows or
more the families that stop themselves at the deadline (the boosters) have their first
turns first, and on tables with free text the linear model before them. After that the
best TOP_FAMILIES families take turns, one TPE-suggested trial each, until the deadline
or their trial caps.

A trial is not started when the family's recent trials say it cannot finish before the
deadline, nor, on 50,000 rows or more, a family's first trial when fits on samples of
the rows, scaled up by the family's `time_exponent`, say so. A fit that cannot stop
itself is run where it can be stopped (see `may_overrun` and the trainer's memory
policy), and stopped at the search deadline: the time after it is the refit's.
"""

from __future__ import annotations

import time

import optuna
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from modelyard.engine.training import families
from modelyard.engine.training.families.base import Space
from modelyard.engine.training.metrics import better, worst
from modelyard.schemas import FamilyChoice, Plan

REFIT_SAFETY = 1.3
# After every family has a score, only the best few keep getting trials.
TOP_FAMILIES = 3
MAX_FAILURES = 3
# A guarded fit is killed once the budget is over by more than this share of it.
BUDGET_GRACE = 0.1
# A trial that cannot stop itself is fitted where it can be stopped when the family's
# last trials took more than this share of the time left, or, before it has any, when
# the data has this many rows (below that, the guard's start-up would cost more).
SLOW_SHARE = 0.25
SLOW_ROWS = 10_000
# How many times its last trials' time a searched trial of a family that cannot stop
# itself may take, on SLOW_ROWS or more (see `may_overrun`).
SEARCH_SPREAD = 10.0
# From this many rows a family's first trial is judged by fits on samples before it
# starts: below, the samples' fixed costs (a forest's trees, a pipeline's set-up) come
# close to the trial's own time, and a guarded trial is stopped at the deadline anyway.
ESTIMATE_ROWS = 50_000
# The family that takes the first turn on tables with free text (see `contenders`).
TEXT_FIRST = "linear"


# What comes before the search (the worker's start, importing its libraries: about 3 s
# here; the command line's reading, profiling and planning: about 2 s) counts against
# the budget, up to this share of it (see `clock_start`).
STARTUP_SHARE = 0.1


def clock_start(asked_at: str | None, budget_seconds: float,
                now: float | None = None) -> float:
    """When a Run's budget starts counting: when the person asked for it (`jobs.launch`
    passes the moment in the worker's environment: the launch, or the start of the
    command that read, profiled and planned first), so the time before the search is
    inside the time asked for. Counted from the end of the worker's imports, 60 s Runs
    from the command line had ended 4-7 s late. A start slowed by a loaded machine costs
    at most STARTUP_SHARE of the budget: under the full test suite's load a 5 s Run
    once spent its whole budget importing and trained nothing. Without a moment (a
    worker started by hand), or with one that is not a time before now: from now."""
    now = time.time() if now is None else now
    try:
        asked = float(asked_at) if asked_at else now
    except ValueError:
        return now
    if not 0 <= now - asked:
        return now
    return max(asked, now - STARTUP_SHARE * budget_seconds)


def parallel_trials(threads: int) -> int:
    """Trials run side by side with two threads each once there are four or more
    threads: boosting on small data scales poorly past a few threads, so more trials
    at once use a big machine better. On two cores: one trial, both threads."""
    return max(1, threads // 2) if threads >= 4 else 1


class Schedule:
    """The budget's clock and each family's record so far: what decides the next turn."""

    def __init__(self, plan: Plan, n_splits: int, started: float, n_rows: int = 0,
                 text: bool = False):
        self.plan = plan
        self.n_splits = n_splits
        self.n_rows = n_rows
        self.text = text  # the table has free-text columns
        self.started = started
        self.end = started + plan.budget_seconds
        self.trial_count = 0
        self.family_best: dict[str, float] = {}
        self.family_seconds: dict[str, list[float]] = {}
        # Before a family's first trial on many rows: its time judged from a sample.
        self.family_estimate: dict[str, float] = {}
        self._round: list[str] = []

    # -- the budget ---------------------------------------------------------------------
    def refit_reserve(self, leader_fit_seconds: float) -> float:
        """Time kept for refitting the leader on every row (one fold's fit, grown)."""
        k = max(2, self.n_splits)
        grow = k / (k - 1) if self.n_splits > 1 else 1.25
        return leader_fit_seconds * grow * REFIT_SAFETY

    def search_deadline(self, leader_fit_seconds: float) -> float:
        return self.end - self.refit_reserve(leader_fit_seconds)

    @property
    def stop_at(self) -> float:
        """When a fit that is still running is killed: the budget plus its grace."""
        return self.end + BUDGET_GRACE * self.plan.budget_seconds

    # -- what earlier trials taught -----------------------------------------------------
    def restore(self, storage: BaseStorage, family_of=lambda name: name) -> None:
        """Count the complete trials of earlier sessions of this Run, per family.
        `family_of` names the family of a study, None for a study of another Run (a
        shared storage holds many)."""
        for summary in storage.get_all_studies():
            family = family_of(summary.study_name)
            if family is None:
                continue
            for t in storage.get_all_trials(summary._study_id, deepcopy=False):
                if t.state is TrialState.COMPLETE:
                    self.trial_count += 1
                    self.scored(family, t.value)
                    if t.duration is not None:
                        self.timed(family, t.duration.total_seconds())

    def timed(self, family: str, seconds: float) -> None:
        self.family_seconds.setdefault(family, []).append(seconds)

    def scored(self, family: str, value: float) -> None:
        if better(self.plan.metric, value,
                  self.family_best.get(family, worst(self.plan.metric))):
            self.family_best[family] = value

    # -- whose turn ---------------------------------------------------------------------
    def next_family(self, active: dict, remaining: float, space_of) -> str | None:
        """The family that gets the next trial: round-robin over the contenders of the
        current round, dropping families that are done or cannot finish in time.
        `active` maps a family to (choice, study); it loses the families dropped."""
        while active:
            if not self._round:
                self._round = self.contenders(active)
            name = self._round.pop(0)
            if name not in active:
                continue
            choice, study = active[name]
            if self.worth_another(choice, study, remaining, space_of(choice)):
                return name
            del active[name]
        return None

    def contenders(self, active: dict) -> list[str]:
        """Families that get a trial this round: every family until it has a score, then
        the best few, so the budget goes where it can still improve the leader."""
        untried = [n for n in active if n not in self.family_best]
        if self.n_rows >= SLOW_ROWS:
            # On many rows the boosters, which stop themselves at the deadline and are
            # the strongest there, take their first turns before families that cannot.
            untried.sort(key=lambda n: not families.get(active[n][0].family).fit_params(
                self.end))
        if self.text:
            # On text the linear model reading every word and character n-gram is the
            # strongest single model (tweets: 0.848 accuracy against CatBoost's 0.827),
            # and its preparation is the cheapest: the trees' text features need an SVD
            # first (46 s on 20,000 tweets on a busy machine, a whole 60 s budget).
            untried.sort(key=lambda n: active[n][0].family != TEXT_FIRST)
        scored = sorted((n for n in active if n in self.family_best),
                        key=lambda n: self.family_best[n],
                        reverse=self.plan.metric.greater_is_better)
        return untried + scored[:TOP_FAMILIES]

    def worth_another(self, choice: FamilyChoice, study: optuna.Study, remaining: float,
                      space: Space) -> bool:
        if remaining <= 0:
            return False
        # Running trials count towards the cap too; the enqueued defaults do not.
        trials = [t for t in study.trials if t.state is not TrialState.WAITING]
        failed = sum(t.state is TrialState.FAIL for t in trials)
        if len(trials) >= choice.max_trials or (not space and trials) \
                or failed >= MAX_FAILURES:
            return False
        # Do not start a trial that, judged by this family's last ones (or before it
        # has any, by a fit on a sample), cannot finish.
        durations = self.family_seconds.get(choice.family)
        if durations:
            return min(durations[-3:]) <= remaining
        return self.family_estimate.get(choice.family, 0.0) <= remaining

    def wants_estimate(self, family, n_rows: int) -> bool:
        """Whether `family`'s first trial should be judged by a fit on a sample before
        it starts: it cannot stop itself and the data is large enough that one trial
        could take the rest of the budget."""
        return (family.name not in self.family_seconds
                and family.name not in self.family_estimate
                and n_rows >= ESTIMATE_ROWS and not family.fit_params(self.end))

    def may_overrun(self, family, n_rows: int) -> bool:
        """Whether a trial of `family` could run past the budget with no way to stop it:
        a family without a deadline hook, slow so far or untried on data this large."""
        if family.fit_params(self.end):
            return False
        seconds = self.family_seconds.get(family.name)
        if not seconds:
            # Judged by a fit on a sample, if there was one: a quick family (the dummy,
            # a linear model) then runs in-process, sparing the guard's start-up.
            estimate = self.family_estimate.get(family.name)
            if estimate is None:
                return n_rows >= SLOW_ROWS
            return estimate > SLOW_SHARE * (self.end - time.time())
        # A searched trial can cost many times the defaults' (a forest of 500 trees on
        # every row and column: 220 s after 21 s on 245,000 flights, 25 s past the
        # budget): on many rows it is judged by the spread the search may reach.
        spread = SEARCH_SPREAD if n_rows >= SLOW_ROWS else 1.0
        return spread * max(seconds[-3:]) > SLOW_SHARE * (self.end - time.time())
