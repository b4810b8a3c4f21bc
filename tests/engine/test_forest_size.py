"""A forest's search on many rows: bootstrapped trees on a sample, no more of them than
fit in FOREST_BYTES by the family's own estimate."""

from __future__ import annotations

import pytest

from modelyard.engine.training import families
from modelyard.engine.training.families import forests
from modelyard.engine.training.families.base import Choice, FitContext
from modelyard.schemas import Task


@pytest.mark.parametrize("name", ["random_forest", "extra_trees"])
def test_many_rows_offer_sampled_trees_that_fit_their_memory(name):
    family = families.get(name)
    ctx = FitContext(Task.binary, 245_000, 2, 2, 0)
    space = family.search_space(ctx)
    assert space["bootstrap"] == Choice((True,))
    largest = {"n_estimators": space["n_estimators"].high, "bootstrap": True,
               "min_samples_leaf": space["min_samples_leaf"].low, "max_features": 1.0}
    trees = family.memory_bytes(largest, ctx, 0)
    assert forests.FEWEST_MOST_TREES <= space["n_estimators"].high < forests.MOST_TREES
    assert trees <= forests.FOREST_BYTES
    # The default trial is one the search may offer.
    assert family.default_params(ctx)["n_estimators"] <= space["n_estimators"].high


def test_few_rows_keep_the_whole_search():
    space = families.get("random_forest").search_space(FitContext(Task.binary, 3_000, 2, 2, 0))
    assert space["bootstrap"] == Choice((True, False))
    assert space["n_estimators"].high == forests.MOST_TREES
