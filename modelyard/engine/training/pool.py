"""The pool of out-of-fold predictions: the best trials, kept for the ensembler.

The POOL_SIZE best scored trials (the dummy baseline never) keep their out-of-fold
predictions in memory and, for a Run that may be given more time, in its `oof/` folder
(one `.npy` and one `.json` per model), so a later session blends old and new trials.
A member's bag of fold models (`bagging.py`) moves into `bags/<model>/` when it joins
the pool and is removed when it leaves: only the pool's trials keep theirs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.engine.training import bagging
from modelyard.engine.training.evaluate import CVResult
from modelyard.schemas import Metric

# Out-of-fold predictions of this many best trials are kept for ensembling.
POOL_SIZE = 10
# Delivering a bag costs about this many times the seconds its fold models took to write:
# measured on a 165 MB bag of five forests, under load, 3.1 s to write, then 10.4 s to
# read back (trees unpickle slowly), 3.1 s to write into the bundle, 1.4 s to hash.
CLOSE_PER_KEEP = 5.0


@dataclass
class Candidate:
    """A scored configuration and its cross-validation result: the leader, a pool
    member, or the chosen ensemble."""

    model: str = ""
    family: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    score: float = float("nan")
    fit_seconds: float = 0.0
    result: CVResult | None = None
    bag: Path | None = None  # the folder of its fold models, when it is delivered bagged

    def close_seconds(self, grow: float) -> float:
        """About how long delivering it takes after the search: its bag read back, pickled
        into the bundle and hashed (CLOSE_PER_KEEP x the seconds its folds took to
        write), or, without a bag, its refit on every row (a fold's fit x `grow`)."""
        if self.bag is not None:
            return CLOSE_PER_KEEP * (self.result.keep_seconds if self.result else 0.0)
        return self.fit_seconds * grow


class OofPool:
    """The best candidates, best first, mirrored in `folder` when there is one."""

    def __init__(self, metric: Metric, folder: Path | None = None,
                 bags: Path | None = None):
        self.metric = metric
        self.folder = folder
        self.bags = bags
        self.members: list[Candidate] = []

    def __len__(self) -> int:
        return len(self.members)

    def restore(self) -> None:
        """Load the pool an earlier session of this Run left in its folder."""
        if self.folder is None or not self.folder.exists():
            return
        for meta_path in self.folder.glob("*.json"):
            try:
                meta = json.loads(meta_path.read_text())
                oof = np.load(meta_path.with_suffix(".npy"))
            except (OSError, ValueError, EOFError):
                # Cut short by a full disk or a kill: that member is only lost to the
                # blend (its trial stays in the journal), not the Run's next session.
                continue
            result = CVResult(meta["fold_scores"], oof, meta["fit_seconds"], 0.0,
                              keep_seconds=meta.get("keep_seconds", 0.0))
            bag = self.bags / meta["model"] if self.bags is not None else None
            if bag is not None and (not meta.get("bag_folds")
                                    or len(bagging.fold_files(bag)) != meta["bag_folds"]):
                bag = None  # none kept, or cut short: refitted if delivered
            self.members.append(Candidate(meta["model"], meta["family"], meta["params"],
                                          meta["score"], meta["fit_seconds"], result, bag))
        self.sort()

    def add(self, candidate: Candidate) -> None:
        """Keep `candidate` if it is among the best; forget the one it pushes out."""
        self.members.append(candidate)
        self.sort()
        for gone in self.members[POOL_SIZE:]:
            if self.folder is not None:
                for suffix in (".npy", ".json"):
                    (self.folder / f"{gone.model}{suffix}").unlink(missing_ok=True)
            bagging.discard(gone.bag)
            gone.bag = None
        del self.members[POOL_SIZE:]
        if candidate in self.members and candidate.bag is not None and self.bags is not None:
            kept = self.bags / candidate.model
            bagging.discard(kept)
            self.bags.mkdir(parents=True, exist_ok=True)
            Path(candidate.bag).replace(kept)
            candidate.bag = kept
        if self.folder is not None and candidate in self.members:
            self.folder.mkdir(exist_ok=True)
            np.save(self.folder / f"{candidate.model}.npy", candidate.result.oof)
            (self.folder / f"{candidate.model}.json").write_text(json.dumps({
                "model": candidate.model, "family": candidate.family,
                "params": candidate.params, "score": candidate.score,
                "fit_seconds": candidate.fit_seconds,
                "fold_scores": candidate.result.fold_scores,
                "keep_seconds": candidate.result.keep_seconds,
                "bag_folds": len(bagging.fold_files(candidate.bag)) if candidate.bag else 0}))

    def sort(self) -> None:
        self.members.sort(key=lambda b: b.score, reverse=self.metric.greater_is_better)
