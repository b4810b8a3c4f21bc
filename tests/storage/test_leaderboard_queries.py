"""The leaderboard's SQL: filters, sorting, the two best per Run, best-so-far steps,
downsampled history, Pareto fronts, and the migration that adds predict times."""

from __future__ import annotations

import random
import time

import duckdb
import pytest

from modelyard.storage import migrations
from modelyard.storage import runs as run_store
from modelyard.storage.catalog import Catalog
from modelyard.storage.datasets import write_meta
from modelyard.storage.runfolder import JournalWriter, RunFolder
from modelyard.storage.sync import sync

# (family, state, score, fit seconds, predict seconds), in the order they finish.
TRIALS_A = [("dummy", "complete", 0.50, 0.01, 0.001), ("linear", "complete", 0.80, 0.1, 0.002),
            ("lightgbm", "complete", 0.90, 1.0, 0.010), ("lightgbm", "pruned", None, None, None),
            ("lightgbm", "complete", 0.85, 2.0, 0.020), ("xgboost", "complete", 0.92, 3.0, 0.005),
            ("xgboost", "failed", None, None, None)]
TRIALS_B = [("linear", "complete", 10.0, 0.1, 0.01), ("lightgbm", "complete", 8.0, 1.0, 0.01),
            ("lightgbm", "complete", 9.0, 0.5, 0.01), ("xgboost", "complete", 7.0, 2.0, 0.01)]


def _dataset(home, dataset_id: str) -> None:
    home.dataset_dir(dataset_id).mkdir(parents=True)
    write_meta(home, {"id": dataset_id, "name": f"data {dataset_id}", "created_at": 1.0},
               {"n_rows": 1, "n_cols": 1, "columns": []})


def _run(home, run_id, dataset_id, trials, metric, greater, created) -> None:
    folder = RunFolder(home.run_dir(run_id))
    folder.create({"id": run_id, "name": f"run {run_id}", "dataset_id": dataset_id,
                   "plan": {"task": "binary", "metric": metric}, "status": "succeeded",
                   "created_at": created, "started_at": time.time(),
                   "greater_is_better": greater})
    journal = JournalWriter(folder)
    for i, (family, state, score, fit, predict) in enumerate(trials):
        extra = {} if score is None else {
            "cv_score": score, "cv_std": 0.01, "fold_scores": [score] * 3,
            "fit_seconds": fit, "predict_seconds": predict}
        journal.emit("trial", f"{family}_{i}", model=f"{family}_{i}", family=family, number=i,
                     state=state, params={"p": i, "kind": "a" if i % 2 else "b"}, **extra)
    journal.close()


@pytest.fixture
def catalog(home):
    _dataset(home, "ds_a")
    _dataset(home, "ds_b")
    _run(home, "run_a", "ds_a", TRIALS_A, "roc_auc", True, created=2.0)
    _run(home, "run_b", "ds_b", TRIALS_B, "rmse", False, created=1.0)
    cat = Catalog(home)
    sync(cat)
    return cat


def test_leaders_are_the_two_best_of_each_run_newest_run_first(catalog):
    leaders = run_store.run_leaders(catalog)
    assert [(r["run_id"], r["rank"], r["model"]) for r in leaders] == [
        ("run_a", 1, "xgboost_5"), ("run_a", 2, "lightgbm_2"),
        ("run_b", 1, "xgboost_3"), ("run_b", 2, "lightgbm_1")]
    first = leaders[0]
    assert first["complete_trials"] == 5 and first["fold_scores"] == [0.92] * 3
    assert first["predict_seconds"] == pytest.approx(0.005)
    assert first["dataset"] == "data ds_a"
    assert [r["model"] for r in run_store.run_leaders(catalog, dataset_id="ds_b", top=1)] == [
        "xgboost_3"]


def test_trial_page_filters_sorts_and_counts(catalog):
    rows, total = run_store.trial_page(catalog)
    assert total == 9  # complete trials only, by default
    assert [(r["run_id"], r["rank"]) for r in rows[:5]] == [("run_a", i) for i in range(1, 6)]
    assert [r["model"] for r in rows[5:]] == ["xgboost_3", "lightgbm_1", "lightgbm_2",
                                              "linear_0"]  # rmse: lower is better
    rows, total = run_store.trial_page(catalog, states=None, run_ids=["run_a"])
    assert total == 7 and {r["state"] for r in rows} == {"complete", "pruned", "failed"}
    assert [r["rank"] for r in rows if r["state"] != "complete"] == [None, None]
    rows, total = run_store.trial_page(catalog, families=["lightgbm"], sort="fit_seconds",
                                       descending=True)
    assert total == 4
    assert [(r["run_id"], r["model"]) for r in rows] == [
        ("run_a", "lightgbm_4"), ("run_b", "lightgbm_1"), ("run_a", "lightgbm_2"),
        ("run_b", "lightgbm_2")]
    rows, total = run_store.trial_page(catalog, limit=2, offset=8)
    assert total == 9 and len(rows) == 1
    assert rows[0]["params"] == {"p": 0, "kind": "b"}  # parsed from JSON


def test_family_summary_counts_states_and_best(catalog):
    found = {(f["run_id"], f["family"]): f for f in run_store.family_summary(catalog)}
    lgbm = found[("run_a", "lightgbm")]
    assert (lgbm["trials"], lgbm["complete"], lgbm["stopped_early"], lgbm["failed"]) == (
        3, 2, 1, 0)
    assert lgbm["best_score"] == pytest.approx(0.90)
    assert found[("run_a", "xgboost")]["failed"] == 1
    assert found[("run_b", "lightgbm")]["best_score"] == pytest.approx(8.0)  # the lower


def test_best_over_time_keeps_only_the_improvements(catalog):
    steps = run_store.best_over_time(catalog, ["run_a", "run_b"])
    by_run = {}
    for s in steps:
        by_run.setdefault(s["run_id"], []).append((s["model"], s["best"]))
    assert by_run["run_a"] == [("dummy_0", 0.5), ("linear_1", 0.8), ("lightgbm_2", 0.9),
                               ("xgboost_5", 0.92)]
    assert by_run["run_b"] == [("linear_0", 10.0), ("lightgbm_1", 8.0), ("xgboost_3", 7.0)]
    assert all(s["seconds"] >= 0 for s in steps)


def test_history_is_thinned_but_keeps_every_improvement(catalog):
    full = run_store.history(catalog, "run_a")
    assert full["total"] == 5 and [p["n"] for p in full["points"]] == [1, 2, 3, 4, 5]
    assert [p["improved"] for p in full["points"]] == [True, True, True, False, True]
    thin = run_store.history(catalog, "run_a", max_points=2)
    kept = [p["model"] for p in thin["points"]]
    assert {"dummy_0", "linear_1", "lightgbm_2", "xgboost_5"} <= set(kept)
    assert len(kept) < 5


def test_speed_points_mark_the_pareto_fronts(catalog):
    points = {p["model"]: p for p in run_store.speed_points(catalog, "run_a")["points"]}
    assert {m for m, p in points.items() if p["fit_front"]} == {
        "dummy_0", "linear_1", "lightgbm_2", "xgboost_5"}
    assert {m for m, p in points.items() if p["predict_front"]} == {
        "dummy_0", "linear_1", "xgboost_5"}


def test_pareto_front_matches_brute_force(home):
    rng = random.Random(3)
    trials = [("lightgbm", "complete", rng.random(), rng.uniform(0.1, 10), rng.uniform(0, 1))
              for _ in range(300)]
    _dataset(home, "ds_x")
    _run(home, "run_x", "ds_x", trials, "roc_auc", True, created=1.0)
    cat = Catalog(home)
    sync(cat)
    found = run_store.speed_points(cat, "run_x", max_points=10)
    front = {p["model"] for p in found["points"] if p["fit_front"]}
    expected = {f"lightgbm_{i}" for i, (_, _, s, fit, _) in enumerate(trials)
                if not any(f2 < fit and s2 >= s for _, _, s2, f2, _ in trials)}
    assert front == expected
    assert found["total"] == 300 and len(found["points"]) < 60  # thinned, fronts kept


def test_param_sample_is_bounded_and_parsed(catalog):
    sample = run_store.param_sample(catalog, "run_a", "lightgbm", limit=1)
    assert len(sample) == 1 and set(sample[0]["params"]) == {"p", "kind"}
    assert len(run_store.param_sample(catalog, "run_a", "lightgbm")) == 2


def test_facets_and_overview_in_one_connection(catalog):
    facets = run_store.trial_facets(catalog)
    assert [r["run_id"] for r in facets["runs"]] == ["run_a", "run_b"]
    assert facets["states"] == {"complete": 9, "pruned": 1, "failed": 1}
    assert facets["families"] == ["dummy", "lightgbm", "linear", "xgboost"]
    board = run_store.overview(catalog, dataset_id="ds_a", limit=3)
    assert board["total"] == 5 and len(board["page"]) == 3
    assert {r["run_id"] for r in board["leaders"]} == {"run_a"}


def test_migration_2_fills_predict_times_of_trials_indexed_before_it(home, monkeypatch):
    _dataset(home, "ds_a")
    _run(home, "run_a", "ds_a", TRIALS_A, "roc_auc", True, created=2.0)
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
    from modelyard.storage import sync as sync_module

    # Index with the first migration only, as a catalog of that version would: its trials
    # have neither predict_seconds nor train_score (the last two columns; rows are built
    # by column name, so the columns alone decide what is inserted).
    monkeypatch.setattr(sync_module, "_TRIAL_COLUMNS", [
        c for c in sync_module._TRIAL_COLUMNS
        if c[0] not in ("predict_seconds", "train_score", "worker", "layer")])
    sync(Catalog(home))
    monkeypatch.undo()
    con = duckdb.connect(str(home.db_path))
    try:
        assert migrations.migrate(con) == [2, 3, 4, 5]
        rows = dict(con.execute("SELECT model, predict_seconds FROM trials").fetchall())
    finally:
        con.close()
    assert rows["xgboost_5"] == pytest.approx(0.005)
    assert rows["lightgbm_3"] is None  # pruned: no predict time



# -- one data set, one metric (issue 13) ------------------------------------------------------
def test_scopes_are_per_data_set_and_metric_newest_first(catalog, home):
    _run(home, "run_c", "ds_b", TRIALS_A, "roc_auc", True, created=3.0)
    sync(catalog)
    found = [(s["dataset_id"], s["metric"], s["runs"], s["best_model"])
             for s in run_store.scopes(catalog)]
    # ds_b holds the newest run: it comes first, its newest metric first.
    assert found == [("ds_b", "roc_auc", 1, "xgboost_5"), ("ds_b", "rmse", 1, "xgboost_3"),
                     ("ds_a", "roc_auc", 1, "xgboost_5")]
    board = run_store.overview(catalog, dataset_id="ds_b", metric="rmse")
    assert {r["run_id"] for r in board["leaders"]} == {"run_b"}
    assert board["total"] == 4 and {r["run_id"] for r in board["page"]} == {"run_b"}
    facets = run_store.trial_facets(catalog, "ds_b", "roc_auc")
    assert [r["run_id"] for r in facets["runs"]] == ["run_c"]
    assert [r["run_id"] for r in run_store.leaderboard(catalog, dataset_id="ds_b",
                                                       metric="rmse")] == ["run_b"] * 4


def test_trial_counts_separate_the_blend(catalog, home):
    _run(home, "run_e", "ds_a", [*TRIALS_B, ("ensemble", "not chosen", 7.5, 1.0, 0.1)],
         "rmse", False, created=4.0)
    sync(catalog)
    found = {(r["run_id"], r["blend"], r["state"]): r["n"]
             for r in run_store.trial_counts(catalog, ["run_a", "run_e"])}
    assert found == {("run_a", False, "complete"): 5, ("run_a", False, "pruned"): 1,
                     ("run_a", False, "failed"): 1, ("run_e", False, "complete"): 4,
                     ("run_e", True, "not chosen"): 1}
    board = run_store.overview(catalog, dataset_id="ds_a", metric="rmse")
    assert {(r["run_id"], r["state"], r["n"]) for r in board["counts"]} == {
        ("run_e", "complete", 4), ("run_e", "not chosen", 1)}


def test_best_over_time_reaches_the_end_and_knows_the_worse_end(catalog, home):
    steps = run_store.best_over_time(catalog, ["run_a"])
    last = max(s["seconds"] for s in steps)  # xgboost_5, the last scored trial, improved
    assert [s["end_seconds"] for s in steps] == pytest.approx([last] * len(steps))
    # The worse tenth of the real models (the baseline left out): 0.80 .. 0.92.
    assert 0.8 <= steps[0]["worse_end"] < 0.85
    # Once the Run has ended, the step line reaches its end.
    folder = RunFolder(home.run_dir("run_a"))
    started = run_store.get_run(catalog, "run_a")["started_at"]
    folder.update(finished_at=started + 120.0)
    sync(catalog)
    steps = run_store.best_over_time(catalog, ["run_a"])
    assert [s["end_seconds"] for s in steps] == pytest.approx([120.0] * len(steps))
    # A Run given more time: its worker started after its first trials, which still count
    # from the Run's creation (never before zero).
    folder.update(started_at=started + 3600)
    sync(catalog)
    assert run_store.get_run(catalog, "run_a")["started_at"] == started + 3600
    assert all(s["seconds"] >= 0 for s in run_store.best_over_time(catalog, ["run_a"]))
