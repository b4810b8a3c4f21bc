"""ONNX export (engine/results/onnx_export.py): real small fitted pipelines of every family
we claim, saved as sealed bundles, converted, then loaded by onnxruntime in a fresh
interpreter that knows nothing of Modelyard (the README's recipe) and compared with the
bundle on new rows (unseen categories, missing values). Models that cannot be converted
say which part and why, and the check refuses a graph that disagrees with the bundle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelyard.engine.errors import BadInputError
from modelyard.engine.results import onnx_export
from modelyard.engine.results.onnx_export import TOLERANCE, convert_and_check, write_onnx
from modelyard.engine.results.onnx_prepare import NotConvertible
from modelyard.engine.training import families, stacking
from modelyard.engine.training.bagging import BaggedModel
from modelyard.engine.training.bundle import Predictor, save_bundle
from modelyard.engine.training.data import Features, TrainingData
from modelyard.engine.training.ensemble import WeightedEnsemble
from modelyard.engine.training.evaluate import make_pipeline, predict_matrix
from modelyard.engine.training.families.base import FitContext
from modelyard.engine.training.stacking import StackedModel
from modelyard.schemas import Task
from tests.engine.test_families_contract import _data

pytestmark = pytest.mark.timeout(300)

CONVERTED = ["linear", "random_forest", "extra_trees", "hist_gradient_boosting", "lightgbm",
             "xgboost", "mlp", "knn", "svm"]
TASKS = [Task.binary, Task.multiclass, Task.regression]

# Loads the ONNX model with onnxruntime alone, builds the inputs as the bundle's README
# says, and writes what it predicted: no Modelyard import anywhere.
FRESH = textwrap.dedent("""
    import json, sys
    import numpy as np, onnxruntime as ort, pandas as pd
    model, rows_path, out = sys.argv[1:4]
    rows = pd.read_parquet(rows_path)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    feeds = {}
    for i in session.get_inputs():
        col = rows[i.name]
        feeds[i.name] = (col.astype("float32").to_numpy() if i.type == "tensor(float)"
                         else col.map(lambda v: "" if pd.isna(v) else str(v))
                         .to_numpy(object)).reshape(-1, 1)
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(None, feeds)))
    json.dump({k: np.asarray(v).tolist() for k, v in got.items()}, open(out, "w"))
""")


def _meta(data: TrainingData, task: Task, family: str) -> dict:
    return {"target": "y", "task": task.value, "family": family, "model": f"{family}_0",
            "metric": "accuracy" if task.is_classification else "rmse", "cv_score": 0.5,
            "classes": data.classes or None, "numeric": data.features.numeric,
            "categorical": data.features.categorical}


def _fit(name: str, task: Task, data: TrainingData):
    family = families.get(name)
    ctx = FitContext(task, len(data.y), data.n_classes, 1, 0)
    return make_pipeline(family, family.default_params(ctx), ctx, data).fit(data.X, data.y)


def _new_rows(task: Task) -> pd.DataFrame:
    """Rows the model never saw: another seed, a category unseen in training and a row
    with every value missing."""
    rows = _data(task, n=60, seed=7).X.copy()
    rows.loc[0, "colour"] = "purple"
    rows.loc[1, ["x1", "x2", "colour"]] = [np.nan, np.nan, None]
    return rows


def _bundle(tmp_path: Path, pipeline, meta: dict) -> Path:
    folder = tmp_path / "bundle"
    save_bundle(folder, pipeline, meta)
    (folder / "README.md").write_text("# a bundle\n", encoding="utf-8")
    return folder


def _fresh_predict(model: Path, rows: pd.DataFrame, tmp_path: Path) -> dict:
    rows_path, out = tmp_path / "rows.parquet", tmp_path / "onnx_out.json"
    rows.to_parquet(rows_path)
    script = tmp_path / "fresh.py"
    script.write_text(FRESH, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, str(script), str(model), str(rows_path), str(out)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


def _export_and_compare(tmp_path: Path, pipeline, meta: dict, task: Task, train: pd.DataFrame):
    folder = _bundle(tmp_path, pipeline, meta)
    report = write_onnx(folder, Predictor.load(folder), train)
    assert report["converted"], report.get("message")
    assert report["check"]["rows_outside"] == 0
    assert report["check"]["max_difference"] <= TOLERANCE
    # Sealed: the bundle (ONNX included) still passes its manifest check, and lists it.
    predictor = Predictor.load(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {"onnx/model.onnx", "onnx/report.json"} <= {f["path"] for f in manifest["files"]}
    assert predictor.meta["onnx"]["converted"] is True
    assert "## ONNX" in (folder / "README.md").read_text()

    rows = _new_rows(task)
    got = _fresh_predict(folder / "onnx" / "model.onnx", rows, tmp_path)
    expected = predictor.predict_frame(rows)
    if task.is_classification:
        want = expected[[f"proba_{c}" for c in meta["classes"]]].to_numpy()
        have = np.asarray(got["probabilities"])
        assert have.shape == want.shape
        assert list(np.asarray(got["label"]).astype(str)) == list(expected["y"].astype(str))
    else:
        want, have = expected["y"].to_numpy(), np.asarray(got["prediction"])
    gap = np.abs(have - want) / np.maximum(1.0, np.abs(want))
    assert gap.max() <= TOLERANCE, f"largest difference {gap.max():.3g}"


def test_a_linear_model_converts_and_a_fresh_onnxruntime_predicts_what_the_bundle_does(
        tmp_path):
    data = _data(Task.binary, n=200)
    pipeline = _fit("linear", Task.binary, data)
    _export_and_compare(tmp_path, pipeline, _meta(data, Task.binary, "linear"), Task.binary,
                        data.X)


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.value)
@pytest.mark.parametrize("name", CONVERTED)
def test_every_family_we_claim_converts_for_every_task(name, task, tmp_path):
    data = _data(task, n=200)
    pipeline = _fit(name, task, data)
    _export_and_compare(tmp_path, pipeline, _meta(data, task, name), task, data.X)


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.value)
def test_a_weighted_ensemble_converts_as_the_weighted_mean_of_its_members(task, tmp_path):
    data = _data(task, n=200)
    members = [_fit(n, task, data) for n in ("linear", "lightgbm", "random_forest")]
    ensemble = WeightedEnsemble(members, [3, 2, 1], task.is_classification)
    meta = _meta(data, task, "ensemble") | {"params": {"members": [
        {"family": f, "model": f"{f}_0", "weight": w}
        for f, w in (("linear", 3), ("lightgbm", 2), ("random_forest", 1))]}}
    _export_and_compare(tmp_path, ensemble, meta, task, data.X)


def test_the_families_the_export_claims_are_the_ones_tested():
    assert list(onnx_export.CONVERTED[:-2]) == CONVERTED
    assert set(CONVERTED) <= set(families.named("tabular"))


def test_catboost_is_refused_by_name_and_the_bundle_stays_the_reference(tmp_path):
    data = _data(Task.binary, n=120)
    family = families.get("catboost")
    ctx = FitContext(Task.binary, 120, 2, 1, 0)
    pipeline = make_pipeline(family, family.default_params(ctx) | {"iterations": 20}, ctx,
                             data).fit(data.X, data.y)
    folder = _bundle(tmp_path, pipeline, _meta(data, Task.binary, "catboost"))
    report = write_onnx(folder, Predictor.load(folder), data.X)
    assert report["converted"] is False
    assert "CatBoost" in report["part"] and "categorical" in report["why"]
    assert "bundle stays the reference" in report["message"]
    assert not (folder / "onnx" / "model.onnx").exists()
    readme = (folder / "README.md").read_text()
    assert "Not converted" in readme and "CatBoost" in readme
    predictor = Predictor.load(folder)  # still sealed, still predicts
    assert predictor.meta["onnx"]["converted"] is False
    assert len(predictor.predict_frame(data.X)) == len(data.X)


def test_the_baseline_and_date_and_text_columns_are_refused_naming_the_part():
    data = _data(Task.regression, n=80)
    baseline = _fit("dummy", Task.regression, data)
    with pytest.raises(NotConvertible, match="baseline") as found:
        convert_and_check(Predictor(baseline, _meta(data, Task.regression, "dummy")), data.X)
    assert isinstance(found.value, BadInputError)  # shown as a message, not a traceback

    frame = data.X.assign(when=pd.date_range("2024-01-01", periods=80, freq="D"))
    dated = TrainingData(frame, data.y, Features(["x1", "x2"], ["colour"], datetime=["when"]))
    pipeline = _fit("lightgbm", Task.regression, dated)
    meta = _meta(dated, Task.regression, "lightgbm") | {"datetime": ["when"]}
    with pytest.raises(NotConvertible, match=r"date column\(s\) when"):
        convert_and_check(Predictor(pipeline, meta), frame)
    # The preparation step itself is refused too, whatever the metadata says.
    with pytest.raises(NotConvertible, match="date parsing"):
        onnx_export.to_onnx(pipeline, _meta(dated, Task.regression, "lightgbm"), frame)


def test_the_check_refuses_a_graph_that_disagrees_with_the_bundle(tmp_path, monkeypatch):
    """Without the fix for forests' missing-value sides, rows with a missing number go the
    wrong way in ONNX: the check must catch it rather than ship the graph."""
    data = _data(Task.regression, n=200)
    pipeline = _fit("random_forest", Task.regression, data)
    predictor = Predictor(pipeline, _meta(data, Task.regression, "random_forest"))
    monkeypatch.setattr(onnx_export, "_missing_sides", lambda onx, model: None)
    with pytest.raises(NotConvertible, match=r"differs from the bundle on \d+ of 200"):
        convert_and_check(predictor, data.X)


def test_a_changed_onnx_file_is_refused_by_the_bundle_check(tmp_path):
    data = _data(Task.binary, n=120)
    folder = _bundle(tmp_path, _fit("linear", Task.binary, data),
                     _meta(data, Task.binary, "linear"))
    write_onnx(folder, Predictor.load(folder), data.X)
    path = folder / "onnx" / "model.onnx"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(BadInputError, match="onnx/model.onnx differs from its manifest"):
        Predictor.load(folder)


def test_the_cli_and_the_export_door_import_no_exporter_library():
    """onnx, onnxruntime, skl2onnx, onnxmltools, mlflow and optuna-dashboard load only
    when an export in that format is asked for."""
    code = ("import sys; import modelyard.app.cli, modelyard.app.workspace, "
            "modelyard.engine.results.export_formats; "
            "heavy = ('onnx', 'onnxruntime', 'skl2onnx', 'onnxmltools', 'mlflow', "
            "'optuna_dashboard'); print(sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_a_missing_extra_is_named_with_the_command_that_installs_it(monkeypatch):
    import importlib.util

    from modelyard.engine.results import export_formats

    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: None if name == "skl2onnx" else object())
    with pytest.raises(BadInputError, match=r"needs skl2onnx.*modelyard\[export\]"):
        export_formats._require("onnx")


class _FoldAverage:
    """A model that keeps the pipelines fitted on each cross-validation fold and averages
    them (bagging): all the ONNX export needs of it is `members` and `weights`."""

    def __init__(self, members):
        self.members, self.weights = members, [1.0] * len(members)
        self.classes_ = members[0].classes_

    def predict_proba(self, X):
        return np.mean([m.predict_proba(X) for m in self.members], axis=0)


def test_fold_models_kept_for_bagging_convert_as_their_average(tmp_path):
    data = _data(Task.multiclass, n=180)
    folds = np.array_split(np.arange(180), 3)
    members = []
    for i in range(3):
        rows = np.concatenate([f for j, f in enumerate(folds) if j != i])
        fold = TrainingData(data.X.iloc[rows].reset_index(drop=True), data.y[rows],
                            data.features, data.classes)
        members.append(_fit("linear", Task.multiclass, fold))
    _export_and_compare(tmp_path, _FoldAverage(members),
                        _meta(data, Task.multiclass, "linear"), Task.multiclass, data.X)


def test_a_bag_whose_fold_never_saw_a_rare_class_converts_with_zero_for_it(tmp_path):
    """A fold of a bag may hold no row of a rare class: its model knows only the others.
    The bag predicts zero for that class from it (evaluate.predict_matrix), and so does
    the ONNX graph, rather than refusing the export."""
    data = _data(Task.multiclass, n=180)
    folds = np.array_split(np.arange(180), 3)
    members = []
    for i in range(3):
        rows = np.concatenate([f for j, f in enumerate(folds) if j != i])
        if i == 0:
            rows = rows[data.y[rows] != 1]  # the middle class, so columns must move
        fold = TrainingData(data.X.iloc[rows].reset_index(drop=True), data.y[rows],
                            data.features, data.classes)
        members.append(_fit("linear", Task.multiclass, fold))
    assert list(members[0].classes_) == [0, 2]
    _export_and_compare(tmp_path, BaggedModel(members, True, data.n_classes),
                        _meta(data, Task.multiclass, "linear"), Task.multiclass, data.X)


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.value)
def test_a_stack_converts_as_its_second_layer_over_its_bagged_bases(task, tmp_path):
    data = _data(task, n=180)
    folds = np.array_split(np.arange(180), 3)
    bases = []
    for name in ("linear", "lightgbm"):
        fitted = []
        for i in range(3):
            rows = np.concatenate([f for j, f in enumerate(folds) if j != i])
            fold = TrainingData(data.X.iloc[rows].reset_index(drop=True), data.y[rows],
                                data.features, data.classes)
            fitted.append(_fit(name, task, fold))
        bases.append(BaggedModel(fitted, task.is_classification, data.n_classes))
    classification = task.is_classification
    inputs = stacking.features(
        [predict_matrix(b, data.X, classification, data.n_classes) for b in bases],
        classification, data.n_classes)
    stacker = stacking.make_stacker(classification).fit(inputs, data.y)
    model = StackedModel(bases, stacker, classification, data.n_classes)
    _export_and_compare(tmp_path, model, _meta(data, task, "stack"), task, data.X)


@pytest.mark.parametrize("name", ["lightgbm", "xgboost"])
def test_a_category_of_many_values_reaches_the_booster_as_ranks_and_converts(name, tmp_path):
    """A category column with more than CODED_ABOVE values is handed to the boosters as its
    values' ranks in sorted order (preprocess.NativeFrame); the few-valued one stays a
    category. The ONNX graph computes the same ranks, unseen and missing values as NaN."""
    from modelyard.engine.training.preprocess import CODED_ABOVE

    def with_codes(data: TrainingData, seed: int) -> TrainingData:
        rng = np.random.default_rng(seed)
        frame = data.X.assign(code=[f"Z{v:03d}" for v in rng.integers(0, 80, len(data.y))])
        return TrainingData(frame, data.y, Features(["x1", "x2"], ["colour", "code"]),
                            data.classes)

    data = with_codes(_data(Task.binary, n=300), 0)
    assert data.X["code"].nunique() > CODED_ABOVE
    pipeline = _fit(name, Task.binary, data)
    prepare = pipeline.named_steps["prepare"]
    assert prepare.coded_ == ["code"]
    seen = prepare.transform(data.X)
    assert isinstance(seen["colour"].dtype, pd.CategoricalDtype)
    assert seen["code"].dtype == np.float64
    ranks = {v: i for i, v in enumerate(sorted(data.X["code"].unique()))}
    assert seen["code"].tolist() == [float(ranks[v]) for v in data.X["code"]]

    folder = _bundle(tmp_path, pipeline, _meta(data, Task.binary, name))
    report = write_onnx(folder, Predictor.load(folder), data.X)
    assert report["converted"], report.get("message")
    rows = with_codes(TrainingData(_new_rows(Task.binary), np.zeros(60, np.int64),
                                   data.features), 7).X
    rows.loc[2, "code"] = "Z999"  # never seen
    rows.loc[3, "code"] = None
    assert np.isnan(prepare.transform(rows.iloc[2:4])["code"]).all()
    got = np.asarray(_fresh_predict(folder / "onnx" / "model.onnx", rows,
                                    tmp_path)["probabilities"])
    want = Predictor.load(folder).predict_frame(rows)[["proba_class_0", "proba_class_1"]]
    assert np.abs(got - want.to_numpy()).max() <= TOLERANCE
