"""sync and reindex: the folders are the truth, the catalog an index rebuilt from them."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from modelyard.storage import runs as run_store
from modelyard.storage.catalog import Catalog
from modelyard.storage.datasets import list_datasets, write_meta
from modelyard.storage.plans import list_plans, save_plan
from modelyard.storage.runfolder import JournalWriter, RunFolder
from modelyard.storage.sync import reindex, sync

TABLES = ("datasets", "plans", "runs", "trials", "events")


def make_dataset(home, dataset_id: str, name: str) -> None:
    meta = {"id": dataset_id, "name": name, "created_at": time.time(), "source": "/x.csv",
            "content_hash": f"hash-{dataset_id}", "n_rows": 10, "n_cols": 3, "target": "y",
            "task": "binary", "modality": "tabular", "has_test": False}
    profile = {"n_rows": 10, "n_cols": 3, "columns": [], "target": None}
    home.dataset_dir(dataset_id).mkdir(parents=True)
    write_meta(home, meta, profile)


def make_run(home, run_id: str, dataset_id: str, n_trials: int = 3,
             status: str = "succeeded") -> RunFolder:
    folder = RunFolder(home.run_dir(run_id))
    folder.create({
        "id": run_id, "name": f"name of {run_id}", "dataset_id": dataset_id, "plan_id": None,
        "plan": {"task": "binary", "metric": "roc_auc"}, "status": "running",
        "created_at": time.time(), "budget_seconds": 10, "greater_is_better": True,
    })
    journal = JournalWriter(folder)
    journal.emit("status", "started", status="running")
    for i in range(n_trials):
        journal.emit("trial", f"linear_{i}", model=f"linear_{i}", family="linear", number=i,
                     state="complete", cv_score=0.8 + i / 100, cv_std=0.01,
                     fold_scores=[0.8, 0.81], fit_seconds=0.1 * (i + 1), params={"C": i + 1})
        journal.emit("progress", f"{i + 1} trials", phase="search", fraction=(i + 1) / 10)
    journal.emit("status", status, status=status)
    journal.close()
    folder.update(status=status, best_model=f"linear_{n_trials - 1}",
                  best_score=0.8 + (n_trials - 1) / 100, finished_at=time.time())
    return folder


@pytest.fixture
def populated(home):
    make_dataset(home, "ds_a", "alpha")
    make_dataset(home, "ds_b", "beta")
    save_plan(home, None, dataset_id="ds_a", plan={"target": "y"}, planner="rules",
              approved=False)
    save_plan(home, None, dataset_id="ds_a", plan={"target": "y", "v": 2}, planner="person",
              approved=True)
    make_run(home, "run_one", "ds_a", n_trials=3)
    make_run(home, "run_two", "ds_b", n_trials=2, status="failed")
    return home


def counts(catalog: Catalog) -> dict[str, int]:
    with catalog.connect() as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def snapshot(catalog: Catalog) -> dict[str, list[tuple]]:
    """Every row of every indexed table, in a stable order."""
    with catalog.connect() as con:
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in TABLES}


def journal_lines(folder: RunFolder) -> list[dict]:
    return [json.loads(line) for line in folder.events_path.read_text().splitlines()]


def test_sync_indexes_every_folder(populated):
    catalog = Catalog(populated)
    sync(catalog)
    lines_one = journal_lines(RunFolder(populated.run_dir("run_one")))
    lines_two = journal_lines(RunFolder(populated.run_dir("run_two")))
    assert counts(catalog) == {"datasets": 2, "plans": 2, "runs": 2, "trials": 5,
                               "events": len(lines_one) + len(lines_two)}
    assert {d["name"] for d in list_datasets(catalog)} == {"alpha", "beta"}
    assert [p["version"] for p in list_plans(catalog, "ds_a")] == [2, 1]
    run = run_store.get_run(catalog, "run_one")
    assert run["status"] == "succeeded"
    assert run["dataset"] == "alpha"
    assert run["metric"] == "roc_auc"
    assert run["best_model"] == "linear_2"
    board = run_store.leaderboard(catalog, run_id="run_one")
    assert [(r["rank"], r["model"]) for r in board] == [(1, "linear_2"), (2, "linear_1"),
                                                        (3, "linear_0")]
    assert board[0]["params"] == {"C": 3}
    assert run_store.get_run(catalog, "run_two")["status"] == "failed"


def test_sync_twice_changes_nothing(populated):
    catalog = Catalog(populated)
    sync(catalog)
    first = snapshot(catalog)
    sync(catalog)
    assert snapshot(catalog) == first
    with catalog.connect() as con:
        dupes = con.execute(
            "SELECT count(*) FROM (SELECT run_id, seq FROM events GROUP BY ALL "
            "HAVING count(*) > 1)").fetchone()[0]
    assert dupes == 0


def test_sync_adds_only_new_journal_lines(populated):
    catalog = Catalog(populated)
    sync(catalog)
    before = counts(catalog)
    folder = RunFolder(populated.run_dir("run_one"))
    journal = JournalWriter(folder)  # a second writer continues the sequence
    event = journal.emit("trial", "lightgbm_0", model="lightgbm_0", family="lightgbm",
                         number=0, state="complete", cv_score=0.99, params={})
    journal.close()
    assert event.seq == len(journal_lines(folder))
    sync(catalog)
    after = counts(catalog)
    assert after["events"] == before["events"] + 1
    assert after["trials"] == before["trials"] + 1
    assert run_store.leaderboard(catalog, run_id="run_one")[0]["model"] == "lightgbm_0"
    seqs = [e["seq"] for e in run_store.events(catalog, "run_one", limit=1000)]
    assert seqs == list(range(1, len(seqs) + 1))


def test_sync_sees_a_changed_run_json(populated):
    catalog = Catalog(populated)
    sync(catalog)
    folder = RunFolder(populated.run_dir("run_one"))
    folder.update(force=True, status="failed", message="changed on disk")
    sync(catalog)
    run = run_store.get_run(catalog, "run_one")
    assert (run["status"], run["message"]) == ("failed", "changed on disk")


def test_a_partial_last_line_waits_until_it_is_complete(populated):
    catalog = Catalog(populated)
    folder = RunFolder(populated.run_dir("run_one"))
    seq = len(journal_lines(folder)) + 1
    line = json.dumps({"seq": seq, "ts": time.time(), "kind": "trial", "message": "late",
                       "model": "late_0", "family": "linear", "state": "complete",
                       "cv_score": 0.5, "params": {}}) + "\n"
    half = len(line) // 2
    with open(folder.events_path, "a", encoding="utf-8") as fh:
        fh.write(line[:half])
    sync(catalog)
    assert "late_0" not in {t["model"] for t in run_store.trials(catalog, "run_one")}
    assert seq not in {e["seq"] for e in run_store.events(catalog, "run_one", limit=1000)}

    with open(folder.events_path, "a", encoding="utf-8") as fh:
        fh.write(line[half:])
    sync(catalog)
    assert "late_0" in {t["model"] for t in run_store.trials(catalog, "run_one")}
    late = [e for e in run_store.events(catalog, "run_one", limit=1000) if e["seq"] == seq]
    assert len(late) == 1 and late[0]["message"] == "late"


def test_deleted_folders_and_files_leave_the_catalog(populated):
    catalog = Catalog(populated)
    sync(catalog)
    shutil.rmtree(populated.run_dir("run_one"))
    shutil.rmtree(populated.dataset_dir("ds_b"))
    plan_file = sorted(populated.plans.glob("*.json"))[0]
    plan_id = plan_file.stem
    plan_file.unlink()
    sync(catalog)
    with catalog.connect() as con:
        for table, column in (("runs", "id"), ("trials", "run_id"), ("events", "run_id"),
                              ("journal_offsets", "run_id")):
            n = con.execute(f"SELECT count(*) FROM {table} WHERE {column} = 'run_one'"
                            ).fetchone()[0]
            assert n == 0, f"{table} still holds rows of the deleted run"
        stamps = [r[0] for r in con.execute("SELECT path FROM file_stamps").fetchall()]
    assert not any("run_one" in p or "ds_b" in p or plan_id in p for p in stamps)
    assert {d["id"] for d in list_datasets(catalog)} == {"ds_a"}
    assert plan_id not in {p["id"] for p in list_plans(catalog, "ds_a")}
    # What was not deleted is all still there.
    assert run_store.get_run(catalog, "run_two")["status"] == "failed"
    assert len(run_store.trials(catalog, "run_two")) == 2


def test_reindex_after_deleting_the_database_rebuilds_it_identically(populated):
    catalog = Catalog(populated)
    sync(catalog)
    before = snapshot(catalog)
    assert all(before[t] for t in TABLES)
    populated.db_path.unlink()
    for leftover in populated.root.glob("modelyard.duckdb.*"):  # a WAL, if any
        leftover.unlink()

    rebuilt = reindex(catalog)
    assert rebuilt == {t: len(before[t]) for t in TABLES}
    assert snapshot(catalog) == before


def test_reindex_on_a_live_catalog_drops_stale_rows(populated):
    catalog = Catalog(populated)
    sync(catalog)
    with catalog.connect() as con:  # junk that no folder backs
        con.execute("INSERT INTO runs (id, status) VALUES ('run_ghost', 'running')")
        con.execute("INSERT INTO trials (run_id, model) VALUES ('run_ghost', 'm')")
    reindex(catalog)
    assert run_store.get_run(catalog, "run_ghost") is None
    assert {r["id"] for r in run_store.list_runs(catalog)} == {"run_one", "run_two"}


def test_a_replaced_journal_is_read_again_from_the_start(populated):
    catalog = Catalog(populated)
    sync(catalog)
    folder = RunFolder(populated.run_dir("run_two"))
    folder.events_path.write_text(json.dumps(
        {"seq": 1, "ts": 1.0, "kind": "log", "message": "fresh"}) + "\n")
    sync(catalog)
    # seq 1 existed already (INSERT OR IGNORE keeps it); the offset was reset, not stuck.
    with catalog.connect() as con:
        offset = con.execute("SELECT byte_offset FROM journal_offsets WHERE run_id = 'run_two'"
                             ).fetchone()[0]
    assert offset == folder.events_path.stat().st_size


def test_a_moved_home_keeps_its_catalog(populated, tmp_path):
    """Moving the whole home folder (catalog included) loses no rows: same ids, new paths."""
    from modelyard.storage.paths import Home

    sync(Catalog(populated))
    before = snapshot(Catalog(populated))
    moved = Home(tmp_path / "moved-home")
    shutil.move(populated.root, moved.root)
    catalog = Catalog(moved)
    sync(catalog)
    assert counts(catalog) == {t: len(rows) for t, rows in before.items()}
    assert all(r["folder"].startswith(str(moved.root)) for r in run_store.list_runs(catalog))
    with catalog.connect() as con:
        stamps = [r[0] for r in con.execute("SELECT path FROM file_stamps").fetchall()]
    assert stamps and all(p.startswith(str(moved.root)) for p in stamps)
    # And deleting still works in the new place.
    shutil.rmtree(moved.run_dir("run_one"))
    sync(catalog)
    assert {r["id"] for r in run_store.list_runs(catalog)} == {"run_two"}
