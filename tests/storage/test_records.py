"""Typed records: run.json, journal lines and bundle metadata written before they were
typed still read, and the catalog rows are built from the records' fields."""

from __future__ import annotations

import json

import pytest

from modelyard.schemas import (
    BUNDLE_FORMAT,
    BundleFormatError,
    BundleMetadata,
    Event,
    RunRecord,
    RunStatus,
    TrialResult,
    TrialStatus,
)
from modelyard.storage import runs as run_store
from modelyard.storage.catalog import Catalog
from modelyard.storage.runfolder import JournalWriter, RunFolder, read_events
from modelyard.storage.sync import sync

# Written by the launcher and worker before records were typed: no settings, no
# sessions, and keys this version does not know about.
OLD_RUN_JSON = {
    "id": "run_old", "name": "old run", "dataset_id": "ds_x", "plan_id": None,
    "plan": {"task": "binary", "metric": "roc_auc"}, "status": "succeeded",
    "created_at": 1.0e9, "queued_at": 1.0e9, "budget_seconds": 30,
    "greater_is_better": True, "pid": 4242, "pid_create_time": 1.0e9 + 0.5,
    "started_at": 1.0e9 + 1, "finished_at": 1.0e9 + 31, "best_model": "lightgbm_0",
    "best_score": 0.91, "message": "Best model lightgbm_0 (roc_auc 0.91) after 2 trials.",
    "some_old_key": "kept",
}
# A trial line exactly as the trainer wrote it before: flat keys, no typed payload.
OLD_TRIAL_LINE = ('{"seq": 2, "ts": 1000000020.5, "kind": "trial", "message": '
                  '"lightgbm_0: roc_auc 0.91", "state": "complete", "cv_score": 0.91, '
                  '"cv_std": 0.01, "fold_scores": [0.9, 0.92], "fit_seconds": 1.5, '
                  '"predict_seconds": 0.01, "train_score": 0.99, "model": "lightgbm_0", '
                  '"family": "lightgbm", "number": 0, "params": {"num_leaves": 31}}\n')
OLD_FAILED_LINE = ('{"seq": 3, "ts": 1000000021.0, "kind": "trial", "message": '
                   '"knn_0 failed: ValueError: no", "state": "failed", "model": "knn_0", '
                   '"family": "knn", "number": 0, "params": {}}\n')


def old_run(home) -> RunFolder:
    folder = RunFolder(home.run_dir("run_old"))
    folder.path.mkdir(parents=True)
    folder.run_json.write_text(json.dumps(OLD_RUN_JSON))
    folder.events_path.write_text(
        '{"seq": 1, "ts": 1000000001.0, "kind": "status", "message": "started", '
        '"status": "running"}\n' + OLD_TRIAL_LINE + OLD_FAILED_LINE)
    return folder


def test_an_old_run_json_reads_as_a_run_record(home):
    record = old_run(home).record()
    assert record.status is RunStatus.succeeded and record.status.is_terminal
    assert record.pid == 4242 and record.best_score == 0.91
    assert record.settings == {} and record.sessions == 1 and record.worker_pid is None
    assert record.model_extra == {"some_old_key": "kept"}


def test_an_update_keeps_unknown_keys_and_adds_no_defaults(home):
    folder = old_run(home)
    folder.update(note="later")
    stored = folder.read()
    assert stored["some_old_key"] == "kept" and stored["note"] == "later"
    assert "settings" not in stored and "sessions" not in stored


def test_an_update_with_a_wrong_status_never_reaches_the_file(home):
    folder = old_run(home)
    with pytest.raises(ValueError):
        folder.update(force=True, status="exploded")
    assert folder.read()["status"] == "succeeded"


def test_an_old_trial_line_reads_as_a_typed_event_with_its_trial(home):
    events = [e for e, _ in read_events(old_run(home).events_path, 0)]
    assert [e.kind for e in events] == ["status", "trial", "trial"]
    assert events[0].data == {"status": "running"} and events[0].trial is None
    trial = events[1].trial
    assert trial == TrialResult(
        model="lightgbm_0", family="lightgbm", number=0, state=TrialStatus.complete,
        params={"num_leaves": 31}, cv_score=0.91, cv_std=0.01, fold_scores=[0.9, 0.92],
        train_score=0.99, fit_seconds=1.5, predict_seconds=0.01,
        message="lightgbm_0: roc_auc 0.91", finished_at=1000000020.5)
    assert events[2].trial.state is TrialStatus.failed and events[2].trial.cv_score is None


def test_a_trial_event_writes_the_line_it_always_wrote(home):
    folder = RunFolder(home.run_dir("run_new"))
    folder.create(RunRecord(id="run_new", status=RunStatus.running))
    journal = JournalWriter(folder)
    written = journal.trial(TrialResult(
        model="knn_0", family="knn", number=0, state=TrialStatus.failed, params={},
        message="knn_0 failed: ValueError: no"))
    journal.close()
    line = json.loads(folder.events_path.read_text())
    assert line == {"seq": 1, "ts": written.ts, **{k: v for k, v in json.loads(
        OLD_FAILED_LINE).items() if k not in ("seq", "ts")}}
    assert Event.model_validate(line).trial == written.trial


def test_the_catalog_indexes_an_old_run_from_the_records_fields(home):
    old_run(home)
    catalog = Catalog(home)
    sync(catalog)
    run = run_store.get_run(catalog, "run_old")
    assert (run["status"], run["task"], run["metric"], run["best_model"], run["message"]) == (
        "succeeded", "binary", "roc_auc", "lightgbm_0", OLD_RUN_JSON["message"])
    assert run["folder"] == str(home.run_dir("run_old"))
    trials = {t["model"]: t for t in run_store.trials(catalog, "run_old")}
    assert trials["lightgbm_0"]["train_score"] == 0.99
    assert trials["lightgbm_0"]["params"] == {"num_leaves": 31}
    assert trials["lightgbm_0"]["finished_at"] == 1000000020.5
    assert trials["knn_0"]["state"] == "failed" and trials["knn_0"]["cv_score"] is None
    events = run_store.events(catalog, "run_old")
    assert [e["kind"] for e in events] == ["status", "trial", "trial"]
    assert events[1]["data"]["params"] == {"num_leaves": 31}


def test_old_bundle_metadata_is_upgraded_and_a_newer_format_refused():
    old = {"model": "linear_0", "numeric": ["a"], "categorical": [], "target": "y"}
    meta = BundleMetadata.model_validate(old)
    assert meta.format == BUNDLE_FORMAT and meta.datetime == [] and meta.id_column is None
    # What the file held, plus the upgrade: no defaults invented for absent fields.
    assert meta.as_dict() == {**old, "datetime": [], "id_column": None,
                              "format": BUNDLE_FORMAT}
    with pytest.raises(BundleFormatError, match="newer Modelyard"):
        BundleMetadata.upgrade({**old, "format": BUNDLE_FORMAT + 1})
