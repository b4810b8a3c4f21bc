"""How many trials a Run has: one definition, used by every page, the CLI and the worker's
closing message, so that the same Run never shows 25, 26 and 20 in three places.

A **trial** is one configuration the search tried: every trial record of the Run except
the blend of the best (family `ensemble`), whatever its state. Of those, `complete` finished
with a cross-validated score (the baseline that ignores the features is one of them),
`stopped_early` were stopped before the end (worse than earlier trials on the first folds,
or out of time) and `failed` raised an error. The blend is counted apart: it is made from
the scored trials, and it is a model on the leaderboard only when it was chosen.
So the leaderboard ranks `ranked` = `complete` (+ 1 for a chosen blend) models.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from modelyard.engine.results.words import plural

BLEND = "ensemble"
# The second layer: the blend and the stack (engine/training/stacking.py) count as one
# combination of the best, not as trials.
SECOND_LAYER = (BLEND, "stack")


@dataclass(frozen=True)
class TrialCounts:
    """A Run's trials by how they ended, and its blend (None, "complete" or "not chosen")."""

    complete: int = 0
    stopped_early: int = 0
    failed: int = 0
    blend: str | None = None
    kept: str = BLEND  # which second-layer model was kept, when one was: "ensemble" or "stack"

    @classmethod
    def of(cls, records: Iterable[tuple[str, str, int]]) -> TrialCounts:
        """From (family, state, how many) triples, as the catalog or a journal has them."""
        found = {"complete": 0, "pruned": 0, "failed": 0}
        blend, kept = None, BLEND
        for family, state, n in records:
            if family in SECOND_LAYER:
                if n and (blend is None or state == "complete"):
                    blend = str(state)
                if n and state == "complete":
                    kept = family
            elif state in found:
                found[state] += n
        return cls(found["complete"], found["pruned"], found["failed"], blend, kept)

    @property
    def trials(self) -> int:
        """Every configuration tried (the blend is not one)."""
        return self.complete + self.stopped_early + self.failed

    @property
    def ranked(self) -> int:
        """The models the leaderboard ranks: the complete trials and a chosen blend."""
        return self.complete + (self.blend == "complete")

    def words(self) -> str:
        """`25 trials: 20 complete, 5 stopped early; a blend of the best was tried and not
        chosen`."""
        text = plural(self.trials, "trial")
        parts = [f"{n:,} {what}" for n, what in ((self.complete, "complete"),
                                                  (self.stopped_early, "stopped early"),
                                                  (self.failed, "failed")) if n]
        if len(parts) > 1:
            text += ": " + ", ".join(parts)
        elif parts:
            text += ", all " + parts[0].split(" ", 1)[1]
        if self.blend == "complete" and self.kept == "stack":
            text += "; and a model over the best models' predictions (a stack), kept as " \
                    "the model"
        elif self.blend == "complete":
            text += "; and a blend of the best, kept as the model"
        elif self.blend:
            text += "; a blend of the best was tried and not chosen"
        return text

    def ranked_words(self) -> str:
        """`21 models: 20 complete trials and their blend` (what a ranking counts)."""
        if self.blend == "complete":
            return (f"{plural(self.ranked, 'model')}: "
                    f"{plural(self.complete, 'complete trial')} and their "
                    + ("stack" if self.kept == "stack" else "blend"))
        return plural(self.complete, "complete trial")

def from_journal(events_path: Path) -> TrialCounts:
    """A Run's counts from its journal, as the catalog will index it (the last record of
    a model wins), so the worker's closing message says what the pages show."""
    from modelyard.storage.runfolder import read_events

    latest: dict[str, tuple[str, str]] = {}
    for event, _ in read_events(events_path, 0):
        if event.kind == "trial" and event.data.get("model"):
            latest[event.data["model"]] = (str(event.data.get("family")),
                                           str(event.data.get("state")))
    return TrialCounts.of((family, state, 1) for family, state in latest.values())
