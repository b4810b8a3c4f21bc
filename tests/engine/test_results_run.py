"""modelyard.engine.results on a real trained Run (tests/results_run.py): the submission in the
sample's exact format, the exported bundle reproducing the predictions in a fresh Python,
the report, diagnostics on the real out-of-fold predictions, and housekeeping."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pandas as pd
import pytest

from modelyard.app.workspace import Workspace
from modelyard.engine.errors import BadInputError
from modelyard.engine.results import diagnostics, explain, housekeeping, report, submission
from modelyard.engine.results.artifacts import load_model, open_run
from modelyard.engine.results.export import export_bundle
from modelyard.storage import runs as run_store
from modelyard.storage.datasets import write_meta
from modelyard.storage.paths import Home
from tests.results_run import SAMPLE_COLUMNS, copy_home, same_predictions, shared_run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, child_env):
    return shared_run(tmp_path_factory, child_env)


@pytest.fixture(scope="module")
def ws(trained):
    workspace = Workspace(Home(trained.home))
    workspace.refresh()
    return workspace


@pytest.fixture(scope="module")
def result(trained, ws):
    return open_run(ws.home, trained.run_id)


def test_submission_follows_the_sample_exactly(trained, result):
    """`modelyard run --sample-submission` wrote OUT/submission.csv: the sample's id column
    (called Id there, lot_code in the test file), its shuffled row order, its own order of
    the class-probability columns, every value from the model."""
    path = trained.out / "submission.csv"
    assert trained.summary["paths"]["submission"] == str(path)
    written = pd.read_csv(path, dtype={"Id": str})
    sample = pd.read_csv(trained.sample, dtype=str)
    assert list(written.columns) == SAMPLE_COLUMNS == list(sample.columns)
    assert written["Id"].tolist() == sample["Id"].tolist()
    assert written.notna().all().all()
    predictions = pd.read_csv(trained.out / "predictions.csv").set_index("lot_code")
    for col in SAMPLE_COLUMNS[1:]:
        np.testing.assert_array_equal(written[col].to_numpy(),
                                      predictions.loc[written["Id"], f"proba_{col}"].to_numpy())
    np.testing.assert_allclose(written[SAMPLE_COLUMNS[1:]].sum(axis=1), 1.0, atol=1e-9)
    assert "the test file calls it “lot_code”" in trained.stderr


def test_submission_format_is_read_from_the_sample(trained, result):
    sample = submission.read_sample(trained.sample)
    fmt = submission.read_format(sample, result.test_rows(), result.predictor)
    assert (fmt.id_column, fmt.test_id_column, fmt.mode) == ("Id", "lot_code", "probabilities")
    assert fmt.class_of == {"cultivar_3": "cultivar_3", "cultivar_1": "cultivar_1",
                            "cultivar_2": "cultivar_2"}


def test_a_sample_naming_an_unknown_class_is_refused(trained, result, tmp_path):
    sample = pd.read_csv(trained.sample).rename(columns={"cultivar_2": "cultivar_9"})
    sample.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(BadInputError, match="cultivar_9 match none of the model's classes"):
        submission.make_submission(result.predictor, tmp_path / "s.csv", result.test_rows())
    assert not list(tmp_path.glob("submission*"))


_FRESH = textwrap.dedent("""
    import json, sys
    import pandas as pd
    from modelyard.engine.training.bundle import Predictor

    bundle, rows, out = sys.argv[1:4]
    model = Predictor.load(bundle)
    model.predict_frame(pd.read_csv(rows)).to_parquet(out)
    print(json.dumps({"streamlit": "streamlit" in sys.modules,
                      "duckdb": "duckdb" in sys.modules}))
""")


def test_exported_bundle_reproduces_the_predictions_in_a_fresh_python(trained, result, ws,
                                                                       tmp_path):
    card = report.build(result, ws.catalog).markdown()
    done = export_bundle(result, tmp_path / "bundle", card=card)
    assert {"pipeline.joblib", "metadata.json", "README.md", "requirements.txt",
            "MODEL_CARD.md"} <= set(done.files)
    # Unpack the zip elsewhere: what a colleague receives.
    with zipfile.ZipFile(done.zip_path) as zf:
        zf.extractall(tmp_path / "received")
    received = tmp_path / "received" / "bundle"
    nowhere = tmp_path / "no-home"
    env = {k: v for k, v in trained.env.items() if k != "MODELYARD_HOME"}
    env["MODELYARD_HOME"] = str(nowhere)
    proc = subprocess.run([sys.executable, "-c", _FRESH, str(received), str(trained.test),
                           str(tmp_path / "fresh.parquet")], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"streamlit": False, "duckdb": False}
    assert not nowhere.exists()  # no catalog, no home
    fresh = pd.read_parquet(tmp_path / "fresh.parquet")
    here = result.predictor.predict_frame(pd.read_csv(trained.test))
    assert same_predictions(fresh, here)
    # ... and the worker's own predictions of the test table, bit for bit.
    worker = pd.read_csv(result.folder.predictions_path)
    assert same_predictions(fresh, worker)
    # The zip itself loads too.
    assert same_predictions(load_model(done.zip_path).predict_frame(pd.read_csv(trained.test)),
                            here)


def test_bundle_metadata_usage_note_and_requirements(result, tmp_path):
    done = export_bundle(result, tmp_path / "b", make_zip=False)
    assert done.zip_path is None
    meta = json.loads((done.folder / "metadata.json").read_text())
    assert meta["format"] == 1 and meta["bundle"]["run_name"] == result.name
    assert meta["dtypes"]["alcohol"].lower().startswith("float")
    assert meta["classes"] == ["cultivar_1", "cultivar_2", "cultivar_3"]
    assert meta["plan"]["target"] == "cultivar" and meta["cv_score"] > 0
    readme = (done.folder / "README.md").read_text()
    assert "Predictor.load" in readme and "| alcohol | numeric |" in readme
    assert "`proba_cultivar_2`" in readme
    requirements = (done.folder / "requirements.txt").read_text().splitlines()
    assert any(r.startswith("scikit-learn==") for r in requirements)
    assert any(r.startswith("modelyard==") for r in requirements)
    with pytest.raises(BadInputError, match="already exists and is not empty"):
        export_bundle(result, tmp_path / "b")


def test_report_reads_plainly_and_works_offline(result, ws):
    built = report.build(result, ws.catalog)
    page = built.html()
    assert "<script src" not in page  # plotly.js is inline: no CDN, works offline
    assert page.count("Plotly.newPlot") >= 5  # confusion, ROC, PR, calibration, importance
    assert len(page) > 1_000_000  # the library itself is in the file
    for heading in ("Summary", "The data", "The plan and its reasons", "Leaderboard",
                    "How good is the best model", "Model card: intended use and limitations",
                    "Reproduce"):
        assert f"<h2>{heading}</h2>" in page
        assert f"## {heading}" in built.markdown()
    text = built.markdown()
    assert result.meta["model"] in text and "Log loss" in text
    assert "| true \\ predicted | cultivar_1 | cultivar_2 | cultivar_3 |" in text
    assert "<script" not in text


def test_diagnostics_on_the_real_out_of_fold_predictions(result):
    oof, classes = result.oof, result.classes
    cm = diagnostics.confusion(oof, classes)
    assert np.sum(cm["counts"]) == 140 and cm["accuracy"] > 0.8
    assert [c["class"] for c in diagnostics.roc(oof, classes)] == classes
    summary = diagnostics.summary(oof, classes)
    assert summary["log_loss"] == pytest.approx(result.meta["cv_score"], rel=0.2)
    rows = result.training_rows()
    assert len(rows) == 140 and "lot_code" in rows.columns
    assert (rows["cultivar"].astype(str).to_numpy() == oof["y"].astype(str).to_numpy()).all()
    try:
        found = explain.contributions(result.predictor, rows.iloc[[0]])
        assert len(found.values) == len(result.predictor.features)
    except BadInputError as exc:  # a winner without contributions says so
        assert "Per-row contributions" in str(exc)


def test_leader_is_tested_against_the_runner_up(trained, ws):
    from modelyard.engine.results.compare import leader_verdicts

    leaders = run_store.run_leaders(ws.catalog, run_ids=[trained.run_id])
    verdict = leader_verdicts(leaders)[trained.run_id]
    assert verdict.folds == 5 and verdict.verdict in ("reliably better", "within noise")
    assert leaders[0]["model"] in verdict.text


def test_housekeeping_renames_and_deletes_with_dependents_named(trained, tmp_path):
    ws = Workspace(Home(copy_home(trained.home, tmp_path / "home")))
    ws.refresh()
    run = run_store.get_run(ws.catalog, trained.run_id)
    dataset_id = run["dataset_id"]
    housekeeping.rename_dataset(ws.home, ws.catalog, dataset_id, "Wine lots")
    housekeeping.rename_run(ws.home, ws.catalog, trained.run_id, "first wine run")
    run = run_store.get_run(ws.catalog, trained.run_id)
    assert (run["dataset"], run["name"]) == ("Wine lots", "first wine run")
    with pytest.raises(BadInputError, match="needs a name"):
        housekeeping.rename_run(ws.home, ws.catalog, trained.run_id, "  ")
    ws.home.dataset_dir("ds_other").mkdir()
    write_meta(ws.home, {"id": "ds_other", "name": "other"},
               {"n_rows": 1, "n_cols": 1, "columns": []})
    with pytest.raises(BadInputError, match="already called “Wine lots”"):
        housekeeping.rename_dataset(ws.home, ws.catalog, "ds_other", "Wine lots")
    housekeeping.delete_dataset(ws.home, ws.catalog, "ds_other")  # no runs: no questions

    use = housekeeping.disk_usage(ws.home)
    (entry,) = use["runs"]
    assert entry["model_bytes"] > 0 and entry["checkpoint_bytes"] > 0
    assert use["total_bytes"] >= entry["bytes"] + use["datasets"][0]["bytes"]

    with pytest.raises(BadInputError, match="“first wine run”"):
        housekeeping.delete_dataset(ws.home, ws.catalog, dataset_id)
    assert ws.home.dataset_dir(dataset_id).exists()  # refused: nothing lost

    assert housekeeping.clean_checkpoints(ws.home, older_than_days=1) == []  # too recent
    cleaned = housekeeping.clean_checkpoints(ws.home, older_than_days=0)
    assert [c["id"] for c in cleaned] == [trained.run_id]
    assert not (ws.home.run_dir(trained.run_id) / "oof").exists()
    assert (ws.home.run_dir(trained.run_id) / "model" / "pipeline.joblib").exists()

    done = housekeeping.delete_dataset(ws.home, ws.catalog, dataset_id, with_runs=True)
    assert "with 1 run and" in done.what and done.freed_bytes > 0
    assert not ws.home.dataset_dir(dataset_id).exists()
    assert not ws.home.run_dir(trained.run_id).exists()
    assert not list(ws.home.plans.glob("*.json"))
    assert run_store.list_runs(ws.catalog) == [] and run_store.leaderboard(ws.catalog) == []

