"""The preparation half of a bundle's pipeline (engine/training/preprocess.py) as ONNX
nodes: raw columns in, the float matrix the estimator was fitted on out.

Why by hand rather than through skl2onnx's parsers: our pipelines put our own steps
(`NativeFrame`, `AsObject`) before scikit-learn's imputers and encoders, and a missing
category is NaN there, which an ONNX string tensor cannot hold (skl2onnx's string imputer
wants a string marker). So each categorical column becomes a lookup: the fitted
preparation itself is asked how it encodes every category it knows, a missing value and
an unseen one, and the answers become a table the ONNX graph gathers rows from. Numbers go
through the same imputer fill values and scaler statistics the fitted steps hold. The
export then predicts real rows both ways and compares (onnx_export.py), so a step drawn
wrongly here is caught there, not shipped.

The ONNX inputs: one per column, shape [rows, 1]; numeric columns float32 (NaN for
missing), categorical ones strings exactly as `str(value)` of the training data, with
the empty string for missing. Dates and free text have no ONNX form here: refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelyard.engine.errors import BadInputError

OPSET = {"": 17, "ai.onnx.ml": 3}
UNSEEN = "\x00modelyard-unseen\x00"  # a category no training table holds


class NotConvertible(BadInputError):
    """A part of the model has no ONNX form; the message names the part and why."""

    def __init__(self, part: str, why: str):
        self.part, self.why = part, why
        super().__init__(f"Not converted to ONNX: {part}: {why}.",
                         "The Model bundle stays the reference: use it "
                         "(`Predictor.load` or `modelyard predict`) for this model.")


class Builder:
    """Nodes and constants of one graph; names carry a prefix so members never clash."""

    def __init__(self, prefix: str):
        self.prefix, self.nodes, self.inits, self._n = prefix, [], [], 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{self.prefix}{hint}_{self._n}"

    def const(self, array: Any, hint: str = "const") -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None,
           domain: str = "", out: str | None = None, **attrs: Any) -> str:
        from onnx import helper

        out = out or self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self.name(op_type),
                                           domain=domain or None, **attrs))
        return out

    def concat(self, parts: list[str]) -> str:
        return parts[0] if len(parts) == 1 else self.op("Concat", parts, axis=1)


def raw_inputs(meta: dict[str, Any]) -> list[Any]:
    """The ONNX graph inputs: one [rows, 1] tensor per model column."""
    from onnx import TensorProto, helper

    return ([helper.make_tensor_value_info(c, TensorProto.FLOAT, [None, 1])
             for c in meta["numeric"]]
            + [helper.make_tensor_value_info(c, TensorProto.STRING, [None, 1])
               for c in meta["categorical"]])


def feeds(meta: dict[str, Any], frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """`frame` as the ONNX model's inputs (see the module docstring for the convention)."""
    out = {}
    for col in meta["numeric"]:
        values = pd.to_numeric(frame[col], errors="coerce").astype("float64")
        out[col] = values.to_numpy(dtype=np.float32, na_value=np.nan).reshape(-1, 1)
    for col in meta["categorical"]:
        values = frame[col].astype(object)
        out[col] = np.array(["" if pd.isna(v) else str(v) for v in values],
                            dtype=object).reshape(-1, 1)
    return out


def refuse_own_text(prepare: Any) -> None:
    """Refuse a preparation that hands free text to its model as strings (CatBoost's
    own text features), naming the columns and why."""
    from modelyard.engine.training.preprocess import NativeTextFrame

    if isinstance(prepare, NativeTextFrame) and prepare.texts:
        raise NotConvertible(f"the text column(s) {', '.join(prepare.texts)}",
                             "CatBoost reads them with its own word dictionaries, and "
                             "CatBoost saves a model with text features only in its own "
                             "format (cbm), never as ONNX")


def features(prepare: Any, b: Builder, meta: dict[str, Any]) -> str:
    """The tensor (float32, [rows, width]) that `prepare` hands its estimator."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from modelyard.engine.training.preprocess import DateParts, NativeFrame, TextComponents

    refuse_own_text(prepare)
    if isinstance(prepare, NativeFrame):
        return _native(prepare, b)
    if isinstance(prepare, ColumnTransformer):
        return _columns(prepare, b, meta)
    if isinstance(prepare, Pipeline):
        for _, step in prepare.steps:
            if isinstance(step, DateParts):
                raise NotConvertible(f"the date column(s) {', '.join(step.columns)}",
                                     "ONNX has no date parsing, and the model splits each "
                                     "date into year, month, day, weekday and hour")
            if isinstance(step, TextComponents):
                raise NotConvertible(f"the text column(s) {', '.join(step.columns)}",
                                     "their TF-IDF and SVD features are not converted")
    if isinstance(prepare, FunctionTransformer):
        raise NotConvertible("the baseline model", "it ignores its inputs and always "
                             "predicts the training average; there is nothing to convert")
    raise NotConvertible(f"the preparation step {type(prepare).__name__}",
                         "it has no ONNX converter")


def _native(step: Any, b: Builder) -> str:
    """NativeFrame: numbers as they are, categories as their code (NaN when missing or
    unseen), which is what LightGBM and XGBoost split on."""
    parts = [b.concat(list(step.numeric))] if step.numeric else []
    for col in step.categorical:
        cats = [str(c) for c in step.categories_[col]]
        if not cats:  # a column that was always missing: always NaN
            cats = [UNSEEN]
        parts.append(b.op("LabelEncoder", [col], domain="ai.onnx.ml", keys_strings=cats,
                          values_floats=[float(i) for i in range(len(cats))],
                          default_float=float("nan")))
    return b.concat(parts)


def _columns(ct: Any, b: Builder, meta: dict[str, Any]) -> str:
    from sklearn.pipeline import Pipeline

    from modelyard.engine.training.preprocess import AsObject, TextColumn

    parts = []
    for name, step, cols in ct.transformers_:
        cols = list(cols)
        if step == "drop" or not cols:
            continue
        if step == "passthrough" or _is_passthrough(step):
            _only(cols, meta["numeric"], name)
            parts.append(b.concat([b.op("Identity", [c]) for c in cols]))
            continue
        steps = step.steps if isinstance(step, Pipeline) else [(name, step)]
        first = steps[0][1]
        if isinstance(first, TextColumn):
            raise NotConvertible(f"the text column {cols[0]}",
                                 "its TF-IDF features are not converted")
        if isinstance(first, AsObject):
            _only(cols, meta["categorical"], name)
            parts.append(_lookup(step, cols, steps[-1][1], b))
        else:
            _only(cols, meta["numeric"], name)
            parts.append(_scaled(steps, cols, b))
    if not parts:
        raise NotConvertible("the preparation", "it reads no column")
    return b.concat(parts)


def _only(cols: list[str], allowed: list[str], part: str) -> None:
    odd = [c for c in cols if c not in allowed]
    if odd:
        raise NotConvertible(f"the {part} part of the preparation",
                             f"it reads {', '.join(odd)}, which the model's metadata does "
                             "not list with that kind")


def _scaled(steps: list[tuple[str, Any]], cols: list[str], b: Builder) -> str:
    """Numbers imputed (with missing-value indicators) and scaled, as the fitted steps do."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    x = b.concat(list(cols))
    for name, step in steps:
        if isinstance(step, SimpleImputer):
            # The fill values as the imputer applies them (an all-missing row shows them,
            # also for columns kept empty), then the indicators of the columns it flags.
            filled = step.transform(pd.DataFrame([[np.nan] * len(cols)], columns=cols))
            fill = np.asarray(filled, dtype=np.float64)[0, :len(cols)].astype(np.float32)
            isnan = b.op("IsNaN", [x])
            imputed = b.op("Where", [isnan, b.const(fill, "fill"), x])
            indicator = getattr(step, "indicator_", None)
            if indicator is not None and len(indicator.features_):
                picked = b.op("Gather", [isnan, b.const(np.asarray(indicator.features_,
                                                                   dtype=np.int64))], axis=1)
                flags = b.op("Cast", [picked], to=1)  # FLOAT
                imputed = b.concat([imputed, flags])
            x = imputed
        elif isinstance(step, StandardScaler):
            if step.mean_ is not None and step.with_mean:
                x = b.op("Sub", [x, b.const(step.mean_.astype(np.float32), "mean")])
            if step.scale_ is not None and step.with_std:
                x = b.op("Div", [x, b.const(step.scale_.astype(np.float32), "scale")])
        else:
            raise NotConvertible(f"the step {name} ({type(step).__name__})",
                                 "it has no ONNX form in this export")
    return x


def _lookup(step: Any, cols: list[str], encoder: Any, b: Builder) -> str:
    """Categorical columns through their fitted encoding, as a table per column: every
    known category, then missing, then unseen, each encoded by the fitted step itself."""
    known = []
    for i in range(len(cols)):
        cats = [str(c) for c in encoder.categories_[i] if not _isnan(c)]
        known.append([c for c in dict.fromkeys(cats) if c != ""])
    rows = max(len(k) for k in known) + 2
    probe = {}
    for col, cats in zip(cols, known, strict=True):
        values: list[Any] = [*cats, None, UNSEEN]
        probe[col] = values + [values[0]] * (rows - len(values))
    encoded = step.transform(pd.DataFrame(probe, dtype=object))
    encoded = np.asarray(encoded.toarray() if hasattr(encoded, "toarray") else encoded,
                         dtype=np.float64)
    widths = list(getattr(encoder, "_n_features_outs", None) or [1] * len(cols))
    if sum(widths) != encoded.shape[1]:
        raise NotConvertible(f"the encoder {type(encoder).__name__}",
                             "its output columns could not be matched to its input columns")
    parts, start = [], 0
    for col, cats, width in zip(cols, known, widths, strict=True):
        table = encoded[:len(cats) + 2, start:start + width].astype(np.float32)
        start += width
        missing, unseen = len(cats), len(cats) + 1
        index = b.op("LabelEncoder", [col], domain="ai.onnx.ml", keys_strings=[*cats, ""],
                     values_int64s=[*range(len(cats)), missing], default_int64=unseen)
        rows_ = b.op("Gather", [b.const(table, "table"), index], axis=0)  # [n, 1, width]
        parts.append(b.op("Reshape", [rows_, b.const(np.array([-1, width], np.int64))]))
    return b.concat(parts)


def _is_passthrough(step: Any) -> bool:
    """A fitted ColumnTransformer holds "passthrough" as a FunctionTransformer without a
    function."""
    from sklearn.preprocessing import FunctionTransformer

    return isinstance(step, FunctionTransformer) and step.func is None


def _isnan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
