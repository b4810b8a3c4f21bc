"""The training pairs of a text-to-text Run, and the held-out split that scores them.

The split holds out whole inputs: every row of an input goes to one side, so the score
is on inputs the models never saw (a repeated input would otherwise be a free answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from modelyard.engine.errors import BadInputError
from modelyard.schemas import Plan

# Fewer pairs than this cannot be split into something to learn from and something to
# score on.
MIN_PAIRS = 10


@dataclass
class Pairs:
    inputs: list[str]
    outputs: list[str]
    rows: list[int]  # each pair's row in the training table

    def __len__(self) -> int:
        return len(self.inputs)

    def take(self, index) -> Pairs:
        return Pairs([self.inputs[i] for i in index], [self.outputs[i] for i in index],
                     [self.rows[i] for i in index])


def read_pairs(path: Path, source: str, target: str) -> tuple[Pairs, int]:
    """The (input, output) pairs of the table at `path`, and how many rows had no output
    (left out). A missing input reads as empty text."""
    table = pl.read_parquet(path, columns=[source, target]).with_row_index("__row__")
    table = table.with_columns(pl.col(source).cast(pl.String).fill_null(""),
                               pl.col(target).cast(pl.String))
    empty = table.filter(pl.col(target).is_null() | (pl.col(target).str.strip_chars() == ""))
    kept = table.filter(pl.col(target).is_not_null()
                        & (pl.col(target).str.strip_chars() != ""))
    pairs = Pairs(kept[source].to_list(), kept[target].to_list(),
                  [int(r) for r in kept["__row__"].to_list()])
    if len(pairs) < MIN_PAIRS:
        raise BadInputError(
            f"Only {len(pairs)} rows have an output text in “{target}” "
            f"({empty.height} are empty): text to text needs at least {MIN_PAIRS}.",
            f"Fill in “{target}” for more rows, or choose the column that holds the "
            "outputs.")
    return pairs, empty.height


def holdout(pairs: Pairs, fraction: float, seed: int) -> tuple[Pairs, Pairs]:
    """(train, valid): about `fraction` of the distinct inputs, with all their rows, held
    out for validation."""
    distinct = sorted(set(pairs.inputs))
    rng = np.random.default_rng(seed)
    n_valid = max(1, round(fraction * len(distinct)))
    held = set(rng.permutation(len(distinct))[:n_valid].tolist())
    held_inputs = {distinct[i] for i in held}
    valid = [i for i, x in enumerate(pairs.inputs) if x in held_inputs]
    train = [i for i, x in enumerate(pairs.inputs) if x not in held_inputs]
    return pairs.take(train), pairs.take(valid)


def load(dataset_dir: Path, plan: Plan) -> tuple[Pairs, int]:
    """The Run's pairs from the data set's training table."""
    return read_pairs(Path(dataset_dir) / "train.parquet", plan.input_column, plan.target)
