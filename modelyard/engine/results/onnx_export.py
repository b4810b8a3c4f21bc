"""A Model bundle as one ONNX graph (`onnx/model.onnx`), checked against the bundle.

Policy and its trade-offs:

- **What converts.** The preparation (engine/training/preprocess.py: "native",
  "ordinal", "scaled" on numeric and categorical columns) is drawn by hand
  (onnx_prepare.py); the estimator by skl2onnx (scikit-learn's linear models, forests,
  histogram boosting, MLP, k-nearest neighbours, calibrated SVM), with onnxmltools'
  LightGBM and XGBoost converters registered into it. A weighted ensemble becomes one
  graph that averages its members' outputs with the ensemble's weights; any model that
  averages fitted pipelines (`members` and `weights`, as fold models kept by bagging would
  be) is drawn the same way; a fold model that never saw a rare class gets zero for it,
  as in the bundle. A stack draws each base that way, then its second layer
  (a logistic regression on their log-odds, a ridge on their values) over them.
  CONVERTED lists the families the tests convert.
- **What does not, and says so.** CatBoost (its own ONNX writer refuses categorical
  columns and writes probabilities as maps), the baseline (it reads no column), date and
  free-text columns (no date parsing or TF-IDF here), image models. The refusal names the
  part and why; the bundle stays the reference. Nothing is skipped silently.
- **Checked in the export.** Up to CHECK_ROWS rows of the stored training data are
  predicted by onnxruntime and by the bundle; every probability (or predicted value) must
  agree within TOLERANCE × max(1, |bundle's value|). ONNX computes in 32-bit floats
  (the bundle in 64), so a few parts in a million differ; a tree split that a 32-bit
  input lands on the other side of would show here as a failed check, and the export
  would refuse rather than ship it. The numbers checked go into `onnx/report.json` and
  the bundle's metadata (`onnx`).
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelyard.engine.results.onnx_prepare import (
    OPSET,
    Builder,
    NotConvertible,
    features,
    feeds,
    raw_inputs,
    refuse_own_text,
)

TOLERANCE = 1e-4
CHECK_ROWS = 2000
ONNX_DIR = "onnx"
CONVERTED = ("linear", "random_forest", "extra_trees", "hist_gradient_boosting", "lightgbm",
             "xgboost", "mlp", "knn", "svm", "ensemble (of these)", "stack (of these)")
NOT_CONVERTED = ("catboost", "dummy (the baseline)", "image models",
                 "any model reading date or free-text columns")
_REGISTERED = False


def _register() -> None:
    """LightGBM's and XGBoost's converters (onnxmltools) made known to skl2onnx, once."""
    global _REGISTERED
    if _REGISTERED:
        return
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    classifier = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    try:
        import lightgbm as lgb

        update_registered_converter(lgb.LGBMClassifier, "LightGbmLGBMClassifier",
                                    calculate_linear_classifier_output_shapes,
                                    convert_lightgbm, options=classifier)
        update_registered_converter(lgb.LGBMRegressor, "LightGbmLGBMRegressor",
                                    calculate_linear_regressor_output_shapes,
                                    convert_lightgbm, options={"split": None})
    except ImportError:  # not installed: no LightGBM model can be in the bundle either
        pass
    try:
        import xgboost as xgb

        update_registered_converter(xgb.XGBClassifier, "XGBoostXGBClassifier",
                                    calculate_linear_classifier_output_shapes,
                                    convert_xgboost, options=classifier)
        update_registered_converter(xgb.XGBRegressor, "XGBoostXGBRegressor",
                                    calculate_linear_regressor_output_shapes,
                                    convert_xgboost)
    except ImportError:
        pass
    _REGISTERED = True


def _is_stack(pipeline: Any) -> bool:
    from modelyard.engine.training.stacking import StackedModel

    return isinstance(pipeline, StackedModel)


def members(pipeline: Any) -> list[tuple[Any, float]]:
    """The fitted pipelines a model averages, with their weights summing to 1 (one, weight
    1, for a single pipeline). A blend of bags is flattened: each fold model of a member
    weighs the member's weight over its folds, so the graph averages exactly as the
    bundle does. A stack is not an average (see `_stacked`): NotConvertible."""
    if _is_stack(pipeline):
        raise NotConvertible("this stacked model", "a second layer is not an average of "
                             "its members")
    if hasattr(pipeline, "members") and hasattr(pipeline, "weights"):
        weights = np.asarray(pipeline.weights, float)
        return [(inner, w * v) for m, w in zip(pipeline.members, weights / weights.sum(),
                                               strict=True)
                for inner, v in members(m)]
    return [(pipeline, 1.0)]


def _estimator(model: Any, width: int, classification: bool, prefix: str,
               n_classes: int | None = None):
    """The fitted estimator as an ONNX model (input `<prefix>features`) and its output.
    With `n_classes`, a classifier may know only some of the bundle's class codes (a bag's
    fold that held no row of a rare class): its columns are placed after it
    (`_placement`)."""
    from onnx.compose import add_prefix
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    name = type(model).__name__
    if name.startswith("CatBoost"):
        raise NotConvertible(f"the model {name}", "CatBoost's own ONNX writer refuses "
                             "categorical columns and writes probabilities as maps; this "
                             "export does not convert CatBoost models")
    if classification and _placement(model, n_classes) is False:
        raise NotConvertible(f"the model {name}", "its classes "
                             f"{[str(c) for c in np.asarray(model.classes_)]} are not among "
                             "the bundle's class codes 0..k-1")
    _register()
    if hasattr(model, "get_booster"):
        # onnxmltools reads XGBoost's trees by feature index (f0, f1, ...): a copy without
        # the column names, which the graph no longer needs (it feeds a matrix).
        model = copy.deepcopy(model)
        model.get_booster().feature_names = None
    try:
        with _int_missing_flags(), warnings.catch_warnings():
            # skl2onnx reads attributes scikit-learn 1.9 marks deprecated (SVC's probA_).
            warnings.simplefilter("ignore", FutureWarning)
            onx = convert_sklearn(
                model, initial_types=[("features", FloatTensorType([None, width]))],
                target_opset=OPSET,
                options={id(model): {"zipmap": False}} if classification else None)
        _missing_sides(onx, model)
    except Exception as exc:  # skl2onnx raises many kinds; its words go into ours
        why = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise NotConvertible(f"the model {name}", f"skl2onnx could not convert it ({why})") \
            from exc
    wanted = "probabilities" if classification else "variable"
    outputs = [o.name for o in onx.graph.output]
    if wanted not in outputs:
        raise NotConvertible(f"the model {name}", f"its ONNX form has no {wanted} output")
    return add_prefix(onx, prefix), f"{prefix}{wanted}"


@contextmanager
def _int_missing_flags() -> Iterator[None]:
    """skl2onnx 1.20 hands a Python bool as a histogram-boosting leaf's missing-value
    flag, which protobuf 7 refuses in an integer list: the flag is passed as 0/1."""
    from skl2onnx.common import tree_ensemble

    original = tree_ensemble.add_node

    def add_node(*args, **kwargs):
        flag = kwargs.get("nodes_missing_value_tracks_true")
        if flag is not None:
            kwargs["nodes_missing_value_tracks_true"] = int(flag)
        return original(*args, **kwargs)

    tree_ensemble.add_node = add_node
    try:
        yield
    finally:
        tree_ensemble.add_node = original


def _missing_sides(onx: Any, model: Any) -> None:
    """scikit-learn's forests send a missing number down the side each split learnt
    (`missing_go_to_left`); skl2onnx 1.20 writes every split as sending it right. The
    flags are set from the fitted trees (left is the ONNX "true" branch of BRANCH_LEQ)."""
    trees = getattr(model, "estimators_", None)
    if trees is None or not all(hasattr(getattr(t, "tree_", None), "missing_go_to_left")
                                for t in trees):
        return
    for node in onx.graph.node:
        if not node.op_type.startswith("TreeEnsemble"):
            continue
        attrs = {a.name: a for a in node.attribute}
        tree_ids, node_ids = attrs["nodes_treeids"].ints, attrs["nodes_nodeids"].ints
        modes = [m.decode() for m in attrs["nodes_modes"].strings]
        flags = [0 if mode == "LEAF" else int(trees[t].tree_.missing_go_to_left[n])
                 for t, n, mode in zip(tree_ids, node_ids, modes, strict=True)]
        target = attrs.get("nodes_missing_value_tracks_true")
        if target is None:
            from onnx import helper

            node.attribute.append(helper.make_attribute("nodes_missing_value_tracks_true",
                                                        flags))
        else:
            del target.ints[:]
            target.ints.extend(flags)


class _Parts:
    """The nodes, constants and operator sets of the graph being drawn, in order."""

    def __init__(self):
        self.nodes: list = []
        self.inits: list = []
        self.opsets: dict[str, int] = dict(OPSET)

    def add(self, builder: Builder) -> None:
        self.nodes += builder.nodes
        self.inits += builder.inits

    def add_model(self, model: Any) -> None:
        self.nodes += list(model.graph.node)
        self.inits += list(model.graph.initializer)
        for op in model.opset_import:
            self.opsets[op.domain] = max(self.opsets.get(op.domain, 0), op.version)


def _placement(model: Any, n_classes: int | None) -> np.ndarray | bool | None:
    """None when a classifier's probability columns are the bundle's classes 0..k-1 as
    they are; a [known, n_classes] 0/1 matrix placing them when it knows only some of
    them (as `evaluate.predict_matrix` does: zero for a class it never saw); False when
    its classes are not class codes at all."""
    seen = np.asarray(model.classes_)
    if np.array_equal(seen, np.arange(len(seen))) and (n_classes in (None, len(seen))):
        return None
    if n_classes is None or seen.dtype.kind not in "iu" or len(seen) >= n_classes \
            or np.any(np.diff(seen) <= 0) or seen.min() < 0 or seen.max() >= n_classes:
        return False
    place = np.zeros((len(seen), n_classes), np.float32)
    place[np.arange(len(seen)), seen] = 1.0
    return place


def _averaged(pipeline: Any, meta: dict[str, Any], sample: pd.DataFrame,
              classification: bool, tag: str, parts: _Parts) -> str:
    """Draw `pipeline` (one pipeline, a bag, a blend) into `parts` as the weighted mean of
    its members' outputs (probabilities, or [rows, 1] values); the name of that mean.
    `tag` keeps the names of one model's nodes apart from another's."""
    post = Builder(f"{tag}out_")
    outs = []
    for i, (pipe, weight) in enumerate(members(pipeline)):
        steps = getattr(pipe, "named_steps", {})
        if "prepare" not in steps or "model" not in steps:
            raise NotConvertible(f"member {i + 1} ({type(pipe).__name__})",
                                 "it is not a preparation + model pipeline")
        prep = Builder(f"{tag}m{i}p_")
        feat = features(steps["prepare"], prep, meta)
        width = np.asarray(steps["prepare"].transform(sample.head(1))).shape[1]
        n_classes = len(meta.get("classes") or []) if classification else None
        est, out = _estimator(steps["model"], int(width), classification, f"{tag}m{i}_",
                              n_classes)
        prep.op("Identity", [feat], out=f"{tag}m{i}_features")
        parts.add(prep)
        parts.add_model(est)
        place = _placement(steps["model"], n_classes) if classification else None
        if place is not None:  # a fold that missed a rare class: zero for it
            out = post.op("MatMul", [out, post.const(place, "place")])
        outs.append(post.op("Mul", [out, post.const(np.array([weight], np.float32), "w")]))
    total = post.op("Sum", outs) if len(outs) > 1 else outs[0]
    parts.add(post)
    return total


def _stacked(model: Any, meta: dict[str, Any], sample: pd.DataFrame, classification: bool,
             parts: _Parts) -> str:
    """Draw a stack (engine/training/stacking.py) into `parts`: each base as the mean of
    its fold models, their log-odds (the last class's alone for two classes) or values
    side by side, and the second layer's regression over them; the name of its output."""
    from modelyard.engine.training.stacking import CLIP

    inputs = Builder("stack_")
    cols = []
    for j, base in enumerate(model.bases):
        out = _averaged(base, meta, sample, classification, f"b{j}", parts)
        if classification and model.n_classes == 2:
            out = inputs.op("Slice", [out, inputs.const(np.array([1], np.int64)),
                                      inputs.const(np.array([2], np.int64)),
                                      inputs.const(np.array([1], np.int64))])
        cols.append(out)
    x = inputs.concat(cols)
    width = len(cols) * (1 if not classification or model.n_classes == 2 else model.n_classes)
    if classification:
        p = inputs.op("Clip", [x, inputs.const(np.array(CLIP, np.float32)),
                               inputs.const(np.array(1 - CLIP, np.float32))])
        one = inputs.const(np.array(1.0, np.float32))
        x = inputs.op("Log", [inputs.op("Div", [p, inputs.op("Sub", [one, p])])])
    est, out = _estimator(model.stacker, width, classification, "st_")
    inputs.op("Identity", [x], out="st_features")
    parts.add(inputs)
    parts.add_model(est)
    return out


def to_onnx(pipeline: Any, meta: dict[str, Any], sample: pd.DataFrame):
    """The bundle's pipeline (or ensemble) and metadata as one ONNX model: raw columns in
    (onnx_prepare.py), `label` + `probabilities` or `prediction` out. NotConvertible
    names the part that has no ONNX form."""
    from onnx import TensorProto, checker, helper

    if meta.get("kind") == "image":
        raise NotConvertible("this image model", "image networks are not converted")
    if meta.get("text") and not meta.get("datetime"):
        bases = pipeline.bases if _is_stack(pipeline) else [pipeline]
        for pipe, _ in (m for base in bases for m in members(base)):
            # CatBoost's own text features: its own reason.
            refuse_own_text(getattr(pipe, "named_steps", {}).get("prepare"))
    if meta.get("datetime") or meta.get("text"):
        kind = "date" if meta.get("datetime") else "text"
        cols = meta.get("datetime") or meta.get("text")
        raise NotConvertible(f"the {kind} column(s) {', '.join(cols)}",
                             "ONNX has no date parsing or TF-IDF in this export")
    classes = meta.get("classes") or []
    parts = _Parts()
    if _is_stack(pipeline):
        total = _stacked(pipeline, meta, sample, bool(classes), parts)
    else:
        total = _averaged(pipeline, meta, sample, bool(classes), "", parts)
    nodes, inits, opsets = parts.nodes, parts.inits, parts.opsets
    post = Builder("final_")
    if classes:
        post.op("Identity", [total], out="probabilities")
        index = post.op("ArgMax", [total], axis=1, keepdims=0)
        names = post.const(np.array([str(c) for c in classes], dtype=object), "classes")
        post.op("Gather", [names, index], axis=0, out="label")
        outputs = [helper.make_tensor_value_info("label", TensorProto.STRING, [None]),
                   helper.make_tensor_value_info("probabilities", TensorProto.FLOAT,
                                                 [None, len(classes)])]
    else:
        post.op("Reshape", [total, post.const(np.array([-1], np.int64))], out="prediction")
        outputs = [helper.make_tensor_value_info("prediction", TensorProto.FLOAT, [None])]
    graph = helper.make_graph(nodes + post.nodes, "modelyard", raw_inputs(meta), outputs,
                              initializer=inits + post.inits)
    model = helper.make_model(graph, producer_name="modelyard", ir_version=8,
                              opset_imports=[helper.make_opsetid(d, v)
                                             for d, v in opsets.items()])
    helper.set_model_props(model, {"target": str(meta.get("target")),
                                   "classes": json.dumps([str(c) for c in classes]),
                                   "tolerance": str(TOLERANCE)})
    checker.check_model(model)
    return model


def compare(model_bytes: bytes, predictor: Any, sample: pd.DataFrame) -> dict[str, Any]:
    """Predict `sample` with onnxruntime and with the bundle; how far apart they are."""
    import onnxruntime as ort

    from modelyard.engine.training.bundle import blank_words

    meta = predictor.meta
    expected = predictor.predict_frame(sample)
    frame = blank_words(sample[predictor.features], meta.get("missing_words") or {})
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(None, feeds(meta, frame)), strict=True))
    classes = predictor.classes
    if classes:
        want = expected[[f"proba_{c}" for c in classes]].to_numpy(np.float64)
        have = np.asarray(got["probabilities"], np.float64)
    else:
        want = expected[meta["target"]].to_numpy(np.float64)
        have = np.asarray(got["prediction"], np.float64)
    gap = np.abs(have - want) / np.maximum(1.0, np.abs(want))
    gap = np.where(np.isnan(gap), np.inf, gap)
    worst_per_row = gap.max(axis=1) if gap.ndim == 2 else gap
    found = {"rows": len(sample), "tolerance": TOLERANCE,
             "tolerance_rule": "|onnx - bundle| <= tolerance * max(1, |bundle|), for every "
                               "probability or predicted value",
             "max_difference": float(worst_per_row.max()) if len(sample) else 0.0,
             "rows_outside": int((worst_per_row > TOLERANCE).sum())}
    if classes:
        found["labels_agree"] = int((np.asarray(got["label"]).astype(str)
                                     == expected[meta["target"]].astype(str).to_numpy()).sum())
    return found


def convert_and_check(predictor: Any, sample: pd.DataFrame) -> tuple[bytes, dict[str, Any]]:
    """The ONNX model's bytes and the check's numbers; NotConvertible when a part has no
    ONNX form or the converted model does not agree with the bundle."""
    import onnxruntime

    sample = sample.reset_index(drop=True)
    model = to_onnx(predictor.pipeline, predictor.meta, sample)
    data = model.SerializeToString()
    check = compare(data, predictor, sample)
    if check["rows_outside"]:
        raise NotConvertible(
            "the converted model", f"it differs from the bundle on {check['rows_outside']} "
            f"of {check['rows']} training rows (largest difference "
            f"{check['max_difference']:.3g}, tolerance {TOLERANCE:g})")
    check["onnxruntime"] = onnxruntime.__version__
    check["opsets"] = {d or "ai.onnx": v for d, v in OPSET.items()}
    return data, check


def readme_section(report: dict[str, Any]) -> str:
    """The ONNX part of a bundle's README.md: converted or why not, the check's numbers,
    the inputs and outputs, and the families that convert."""
    from modelyard.engine.results.escape import md_code, md_text

    lines = ["", "## ONNX (`onnx/`)", ""]
    if not report["converted"]:
        lines += [f"Not converted: {md_text(report['message'])}", ""]
    else:
        check = report["check"]
        lines += [
            "`onnx/model.onnx` computes what `pipeline.joblib` computes, for programs that "
            "read ONNX (onnxruntime in C++, C#, Java, JavaScript, Python). When it was "
            f"written, onnxruntime {md_text(check['onnxruntime'])} and the bundle predicted "
            f"{check['rows']:,} rows of the training data; the largest difference was "
            f"{check['max_difference']:.2g}, within the tolerance: |ONNX - bundle| <= "
            f"{TOLERANCE:g} x max(1, |bundle|) for every probability or value. ONNX "
            "computes in 32-bit floats, the bundle in 64.", "",
            "- Inputs: one per column, shape [rows, 1]: numbers as float32 (NaN when "
            "missing), categories as strings written as in the training data (\"\" when "
            "missing): " + ", ".join(md_code(c) for c in report["inputs"]),
            "- Outputs: " + ("`label` (the most likely class) and `probabilities` (float32, "
                             "one column per class in this order: "
                             + ", ".join(md_code(c) for c in report["classes"]) + ")"
                             if report["classes"] else "`prediction` (float32)"),
            "", "```python", "import numpy as np, onnxruntime as ort, pandas as pd", "",
            "rows = pd.read_csv('new_rows.csv')",
            "session = ort.InferenceSession('onnx/model.onnx')",
            "feeds = {}", "for i in session.get_inputs():",
            "    col = rows[i.name]",
            "    feeds[i.name] = (col.astype('float32').to_numpy() if i.type == "
            "'tensor(float)'",
            "                     else col.map(lambda v: '' if pd.isna(v) else str(v))"
            ".to_numpy(object)).reshape(-1, 1)",
            "outputs = session.run(None, feeds)", "```", ""]
    lines += ["Families this export converts: " + ", ".join(CONVERTED) + ". Not converted "
              "(the export says so and why): " + ", ".join(NOT_CONVERTED) + ".", ""]
    return "\n".join(lines)


def write_onnx(folder: Path, predictor: Any, sample: pd.DataFrame) -> dict[str, Any]:
    """Into the bundle folder `folder`: `onnx/model.onnx` and `onnx/report.json`, or, when
    a part cannot be converted, `onnx/report.json` naming it and why; an ONNX section in
    README.md and `onnx` in the metadata; then the manifest again. The report is returned."""
    from modelyard.engine.training.bundle import read_metadata, seal, write_metadata
    from modelyard.schemas import BundleMetadata

    folder = Path(folder)
    target = folder / ONNX_DIR
    target.mkdir(exist_ok=True)
    meta = predictor.meta
    report: dict[str, Any] = {
        "converted": False, "tolerance": TOLERANCE, "families_converted": list(CONVERTED),
        "inputs": list(meta.get("numeric") or []) + list(meta.get("categorical") or []),
        "classes": [str(c) for c in meta.get("classes") or []]}
    try:
        data, check = convert_and_check(predictor, sample)
    except NotConvertible as exc:
        report.update(part=exc.part, why=exc.why, message=str(exc))
    else:
        (target / "model.onnx").write_bytes(data)
        report.update(converted=True, file=f"{ONNX_DIR}/model.onnx", check=check)
    (target / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    with open(folder / "README.md", "a", encoding="utf-8") as fh:
        fh.write(readme_section(report))
    stored = read_metadata(folder).as_dict()
    stored["onnx"] = {k: report[k] for k in ("converted", "tolerance")} | (
        {"check": report["check"]} if report["converted"] else {"why": report["message"]})
    write_metadata(folder, BundleMetadata.model_validate(stored))
    seal(folder)  # the new files and the changed README are listed
    return report
