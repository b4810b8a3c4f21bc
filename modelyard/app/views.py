"""What the pages display, as the Workspace hands it over: small frozen records built in
one place (`Workspace`'s read methods), so a page renders them and reads nothing itself.

The rows inside are the catalog's rows as `storage/` returns them (dicts keyed by column
name); run records and journal events are the typed RunRecord and Event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelyard.engine.results.counts import TrialCounts
from modelyard.schemas import ACTIVE_STATUSES as ACTIVE
from modelyard.schemas import TERMINAL_STATUSES as TERMINAL
from modelyard.schemas import Event, Profile, RunStatus, TrialResult

# The statuses a page sorts Runs by, from the one place that defines them (RunStatus).
__all__ = ["ACTIVE", "TERMINAL", "DatasetView", "LeaderboardPage", "RunView", "TrialCounts"]


@dataclass(frozen=True)
class DatasetView:
    """A data set: its catalog row (id, name, rows, ...) and its Profile."""

    row: dict[str, Any]
    profile: Profile

    @property
    def id(self) -> str:
        return self.row["id"]


@dataclass(frozen=True)
class RunView:
    """A Run as the Runs page shows it: its catalog row, the Plan it runs, its Trials, the
    latest progress, epoch, resource and status Events, its learning curves and log."""

    run: dict[str, Any]
    plan: dict[str, Any] | None
    trials: list[TrialResult]
    progress: Event | None = None
    epoch: Event | None = None
    resource: Event | None = None
    failure: Event | None = None
    epochs: list[Event] = field(default_factory=list)
    log_tail: str = ""
    max_parallel_runs: int = 1
    # The database its search is shared through (password masked); None: this machine.
    study_storage: str | None = None

    @property
    def id(self) -> str:
        return self.run["id"]

    @property
    def status(self) -> RunStatus:
        return RunStatus(self.run["status"])

    @property
    def counts(self) -> TrialCounts:
        """Its trials counted as every page counts them (`TrialCounts`)."""
        return TrialCounts.of((t.family, str(t.state), 1) for t in self.trials)

    @property
    def workers(self) -> list[str]:
        """The workers searching now ("host (pid N)", this Run's own first), as its latest
        progress says; empty for a Run that trains on one machine."""
        return list((self.progress.data if self.progress else {}).get("workers") or [])


@dataclass(frozen=True)
class LeaderboardPage:
    """The Leaderboard page's tables: the two best trials of each Run (`leaders`), one
    page of trials and how many there are, per Run and family a summary, and each Run's
    trial counts (the one definition, `TrialCounts`)."""

    leaders: list[dict[str, Any]]
    page: list[dict[str, Any]]
    total: int
    families: list[dict[str, Any]]
    counts: dict[str, TrialCounts] = field(default_factory=dict)


# A mixed run (engine/mixed/run.py) names each model after the inputs it learnt from.
INPUTS = {"table_": "table only", "image_": "images only",
          # the late-fusion network (engine/mixed/fusion.py) learns from the pixels itself
          "joined_fusion_": "table + images, one fused network",
          "joined_": "table + images"}


def inputs_of(model: str) -> str:
    """What a mixed run's model learnt from, in words ("" for other runs' models)."""
    return next((words for prefix, words in INPUTS.items() if str(model).startswith(prefix)),
                "")


def with_inputs(frame, columns: list[str]) -> list[str]:
    """`columns` with "inputs" after "model" when `frame` holds a mixed run's models (and
    the column added to `frame`), so a person sees what each kind of data adds."""
    if frame.empty or not frame["model"].astype(str).str.startswith("joined_").any():
        return columns
    frame["inputs"] = frame["model"].map(inputs_of)
    at = columns.index("model") + 1
    return columns[:at] + ["inputs"] + columns[at:]
