"""Train scores in the catalog: migration 3 on an older catalog, sync, reindex, and the
leaderboard queries that return them next to the CV score."""

from __future__ import annotations

import json
import time

import duckdb
import pytest

from modelyard.storage import migrations
from modelyard.storage import runs as run_store
from modelyard.storage import sync as sync_module
from modelyard.storage.catalog import Catalog
from modelyard.storage.runfolder import JournalWriter, RunFolder
from modelyard.storage.sync import reindex, sync

# (model, CV score, train score); None: a journal written before workers recorded it.
TRIALS = [("dummy_0", 0.50, 0.50), ("lightgbm_1", 0.84, 0.99), ("linear_2", 0.80, 0.81)]


def _run(home, run_id: str, trials=TRIALS, *, with_train: bool = True) -> RunFolder:
    folder = RunFolder(home.run_dir(run_id))
    folder.create({"id": run_id, "name": run_id, "dataset_id": None, "status": "succeeded",
                   "plan": {"task": "binary", "metric": "roc_auc"}, "created_at": time.time(),
                   "greater_is_better": True})
    journal = JournalWriter(folder)
    for number, (model, cv, train) in enumerate(trials):
        extra = {"train_score": train} if with_train else {}
        journal.emit("trial", model, model=model, family=model.split("_")[0], number=number,
                     state="complete", cv_score=cv, cv_std=0.01, fold_scores=[cv] * 3,
                     fit_seconds=0.1, predict_seconds=0.01, params={}, **extra)
    journal.close()
    return folder


def _train_scores(con) -> dict[tuple[str, str], float | None]:
    return {(r, m): s for r, m, s in con.execute(
        "SELECT run_id, model, train_score FROM trials").fetchall()}


def _sync_as_version_2(home, monkeypatch) -> None:
    """Index the folders as a catalog with migrations 1-2 only would (no train_score)."""
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:2])
        # Rows are built by column name: the columns alone decide what is inserted.
        m.setattr(sync_module, "_TRIAL_COLUMNS", [
            c for c in sync_module._TRIAL_COLUMNS
            if c[0] not in ("train_score", "worker", "layer")])
        sync(Catalog(home))


def test_migration_3_adds_train_scores_to_an_older_catalog_and_keeps_its_rows(
        home, monkeypatch):
    _run(home, "run_new")
    _run(home, "run_old", with_train=False)
    _sync_as_version_2(home, monkeypatch)
    con = duckdb.connect(str(home.db_path))
    try:
        columns = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'trials'"
        ).fetchall()}
        assert "train_score" not in columns and "predict_seconds" in columns
        before = con.execute("SELECT run_id, model, cv_score, predict_seconds FROM trials "
                             "ORDER BY ALL").fetchall()
        n_events = con.execute("SELECT count(*) FROM events").fetchone()[0]
        assert len(before) == 6

        assert migrations.migrate(con) == [3, 4, 5]
        assert con.execute("SELECT run_id, model, cv_score, predict_seconds FROM trials "
                           "ORDER BY ALL").fetchall() == before
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == n_events
        scores = _train_scores(con)
    finally:
        con.close()
    # Filled from the indexed trial events; journals that never recorded it stay NULL.
    assert scores[("run_new", "lightgbm_1")] == pytest.approx(0.99)
    assert scores[("run_new", "linear_2")] == pytest.approx(0.81)
    assert all(scores[("run_old", m)] is None for m, _, _ in TRIALS)


def test_sync_stores_train_scores_and_the_queries_return_them(home):
    _run(home, "run_a")
    catalog = Catalog(home)
    sync(catalog)
    board = run_store.leaderboard(catalog, run_id="run_a")
    assert [(r["model"], r["cv_score"], r["train_score"]) for r in board] == [
        ("lightgbm_1", 0.84, 0.99), ("linear_2", 0.80, 0.81), ("dummy_0", 0.50, 0.50)]
    assert {t["model"]: t["train_score"] for t in run_store.trials(catalog, "run_a")} == {
        "dummy_0": 0.50, "lightgbm_1": 0.99, "linear_2": 0.81}
    leaders = run_store.run_leaders(catalog, run_ids=["run_a"])
    assert [(r["model"], r["train_score"]) for r in leaders] == [
        ("lightgbm_1", 0.99), ("linear_2", 0.81)]
    page, total = run_store.trial_page(catalog, sort="train_score", descending=True)
    assert total == 3 and [r["train_score"] for r in page] == [0.99, 0.81, 0.50]
    overview = run_store.overview(catalog)
    assert overview["page"][0]["train_score"] == pytest.approx(0.99)


def test_sync_keeps_the_last_train_score_of_a_model_written_twice(home):
    folder = _run(home, "run_a")
    catalog = Catalog(home)
    sync(catalog)
    journal = JournalWriter(folder)  # a Run given more time re-emits a model
    journal.emit("trial", "lightgbm_1", model="lightgbm_1", family="lightgbm", number=1,
                 state="complete", cv_score=0.85, train_score=0.95, params={})
    journal.emit("trial", "knn_3", model="knn_3", family="knn", number=3, state="complete",
                 cv_score=0.7, params={})  # no train score: NULL, not an error
    journal.close()
    sync(catalog)
    with catalog.connect() as con:
        scores = _train_scores(con)
    assert scores[("run_a", "lightgbm_1")] == pytest.approx(0.95)
    assert scores[("run_a", "knn_3")] is None


def test_reindex_fills_train_scores_of_existing_runs(home, monkeypatch):
    _run(home, "run_a")
    _sync_as_version_2(home, monkeypatch)
    catalog = Catalog(home)
    with catalog.connect() as con:  # migrated; now lose the values, as a damaged index
        con.execute("UPDATE trials SET train_score = NULL")
        assert set(_train_scores(con).values()) == {None}
    counts = reindex(catalog)
    assert counts["trials"] == 3
    with catalog.connect() as con:
        scores = _train_scores(con)
    assert scores == {("run_a", m): pytest.approx(t) for m, _, t in TRIALS}
    # And the journal is the source: what reindex stored is what the journal says.
    lines = [json.loads(x) for x in RunFolder(home.run_dir("run_a")).events_path
             .read_text().splitlines()]
    assert {e["model"]: e["train_score"] for e in lines} == {m: t for m, _, t in TRIALS}
