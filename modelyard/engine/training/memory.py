"""The memory policy: whether a trial may start, and what a trial that ran out teaches.

Each family estimates what a trial needs (`memory_bytes`) before it starts. A trial may
use 80% (`guard.MEMORY_SHARE`) of the memory free at that moment (the system's, or its
cgroup's when that is tighter), and never more than $MODELYARD_MEMORY_LIMIT_GB; a trial
whose estimate exceeds that is skipped. The estimates are rough, and on Linux running
out of memory kills the process rather than raising, so a trial whose estimate is a
large share of its allowance runs in a watched child process (`guard.py`). Killed past
its allowance, or by the kernel, it is recorded as failed "out of memory" and the Run
goes on; the family's estimates are then scaled by what the killed trial really used,
a smaller configuration (`ModelFamily.smaller`) is queued as its next trial, and later
trials at least as large as the one that ran out are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psutil

from modelyard.engine.training.families.base import FitContext, Space
from modelyard.engine.training.guard import Allowance, free_memory, gb, user_limit
from modelyard.engine.training.search import clip

# Prepared folds may hold this share of the memory training may use.
FOLD_CACHE_SHARE = 0.25


@dataclass(frozen=True)
class MemoryCheck:
    """A trial's memory before it starts: its estimate, what it is thought to need
    (the estimate, scaled by what earlier trials really used), what it may use, and
    why it is skipped (empty when it may run)."""

    estimate: int
    need: int
    room: Allowance
    skip: str = ""


def fold_cache_bytes() -> float:
    """How much the prepared folds of this process may hold."""
    room = free_memory(psutil.virtual_memory().available)
    limit = user_limit()
    return FOLD_CACHE_SHARE * (room if limit is None else min(room, limit))


class MemoryPolicy:
    """What this session has learned about each family's memory."""

    def __init__(self, data_bytes: int):
        self.data_bytes = data_bytes
        # Per family: how far its estimates fell short, and the smallest estimate of a
        # trial that ran out of memory.
        self.scale: dict[str, float] = {}
        self.too_big: dict[str, int] = {}

    def check(self, family, model: str, params: dict[str, Any], ctx: FitContext
              ) -> MemoryCheck:
        """Whether a trial of `family` with `params` may start now, and with how much."""
        estimate = family.memory_bytes(params, ctx, self.data_bytes)
        need = int(estimate * self.scale.get(family.name, 1.0))
        room = Allowance(free_memory(psutil.virtual_memory().available), user_limit())
        skip = ""
        if estimate >= self.too_big.get(family.name, estimate + 1):
            skip = f"{model} skipped: a similar trial ran out of memory"
        elif need > room.bytes:
            skip = f"{model} skipped: it needs about {gb(need)} of memory and {room.describe()}"
        return MemoryCheck(estimate, need, room, skip)

    def learn(self, family, params: dict[str, Any], estimate: int, used: int | None,
              ctx: FitContext, space: Space) -> tuple[dict[str, Any] | None, str]:
        """Learn from a trial that ran out of memory: scale the family's estimates by
        what it really used and skip trials as large. Returns the smaller configuration
        to queue (None if there is none) and what was learned, in words."""
        notes = []
        self.too_big[family.name] = min(self.too_big.get(family.name, estimate), estimate)
        if used and estimate > 0 and used > estimate:
            scale = max(self.scale.get(family.name, 1.0), used / estimate)
            self.scale[family.name] = scale
            notes.append(f"its estimates are now × {scale:.1f}")
        smaller = family.smaller(params, ctx)
        if smaller is not None:
            smaller = clip(smaller, space)
        if smaller is not None and family.memory_bytes(smaller, ctx, self.data_bytes) >= estimate:
            smaller = None  # the Plan's limits leave no smaller configuration
        if smaller is not None:
            changes = ", ".join(f"{k} {params.get(k)} → {v}" for k, v in smaller.items()
                                if params.get(k) != v)
            notes.insert(0, f"retrying smaller: {changes}")
        else:
            notes.insert(0, f"{family.name} trials as large (about {gb(estimate)} estimated) "
                            "are skipped from now on")
        return smaller, "; ".join(notes)
