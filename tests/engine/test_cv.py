"""Validation splits: the kind the Plan names, adjusted (and said so) when data is short."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from modelyard.engine.errors import PlanError
from modelyard.engine.training.cv import make_splits
from modelyard.schemas import Task, Validation, ValidationKind


def test_group_kfold_keeps_each_group_in_one_fold():
    groups = np.repeat(np.arange(12), 5).astype(object)
    y = np.arange(60) % 2
    splits, note = make_splits(Validation(kind="group_kfold", group_column="g", n_splits=4),
                               y, Task.binary, 0, groups=groups)
    assert len(splits) == 4 and note == ""
    for train, valid in splits:
        assert not set(groups[train]) & set(groups[valid])
    assert sorted(np.concatenate([v for _, v in splits]).tolist()) == list(range(60))


def test_group_kfold_with_fewer_groups_than_folds_says_so():
    groups = np.array(["a", "b", "c"] * 10, dtype=object)
    splits, note = make_splits(Validation(kind="group_kfold", group_column="g", n_splits=5),
                               np.zeros(30), Task.regression, 0, groups=groups)
    assert len(splits) == 3 and "3 groups" in note
    with pytest.raises(PlanError, match="single group"):
        make_splits(Validation(kind="group_kfold", group_column="g"), np.zeros(30),
                    Task.regression, 0, groups=np.array(["a"] * 30, dtype=object))


def test_time_split_always_validates_on_later_rows():
    rng = np.random.default_rng(0)
    order = rng.permutation(100)  # rows arrive shuffled; the time column orders them
    splits, _ = make_splits(Validation(kind="time_split", time_column="t", n_splits=4),
                            np.zeros(100), Task.regression, 0, order=order)
    assert len(splits) == 4
    for train, valid in splits:
        assert order[train].max() < order[valid].min()


def test_stratified_folds_shrink_to_the_rarest_class():
    y = np.array([0] * 40 + [1] * 3)
    splits, note = make_splits(Validation(kind="stratified_kfold", n_splits=5), y,
                               Task.binary, 0)
    assert len(splits) == 3 and "3 rows" in note


def test_a_split_that_needs_a_column_must_name_it():
    with pytest.raises(ValidationError, match="group_column"):
        Validation(kind=ValidationKind.group_kfold)
    with pytest.raises(ValidationError, match="time_column"):
        Validation(kind=ValidationKind.time_split)


def test_group_and_time_roles_choose_the_split_in_the_rule_plan(ws, tmp_path, make_messy):
    from modelyard.engine.intake.ingest import load_profile
    from modelyard.engine.planning.rules import rule_plan

    frame = make_messy()
    frame["store"] = np.arange(len(frame)) % 12
    frame["day"] = np.arange(len(frame))
    frame.to_csv(tmp_path / "sales.csv", index=False)
    meta = ws.ingest(tmp_path / "sales.csv", target="churn")
    ws.set_roles(meta["id"], roles={"store": "group"})
    plan = rule_plan(load_profile(ws.home, meta["id"]), meta["id"])
    assert (plan.validation.kind, plan.validation.group_column) == ("group_kfold", "store")
    ws.set_roles(meta["id"], roles={"store": "group", "day": "time"})
    plan = rule_plan(load_profile(ws.home, meta["id"]), meta["id"])
    assert (plan.validation.kind, plan.validation.time_column) == ("time_split", "day")
