"""A bundle's columns as a program sees them: kinds in plain words, the pydantic model of
one row (what OpenAPI documents), the model's metadata as served."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from modelyard.engine.training.bundle import Predictor

KIND_WORDS = {"number": "a number (null when unknown)",
              "category": "a text value, one of the categories seen in training (null when "
                          "unknown)",
              "date": "a date or time as text, e.g. 2024-05-31 (null when unknown)",
              "text": "free text (null or empty when there is none)"}


def column_kind(predictor: Predictor, column: str) -> str:
    """number, category, date or text: what the model reads `column` as."""
    meta = predictor.meta
    if column in meta.get("datetime", []):
        return "date"
    if column in meta.get("text", []):
        return "text"
    if column in meta.get("categorical", []):
        return "category"
    return "number"


def what_to_send(predictor: Predictor, column: str) -> str:
    return KIND_WORDS[column_kind(predictor, column)]


_TYPES: dict[str, Any] = {"number": float | None, "category": str | None, "date": str | None,
                          "text": str | None}


def row_model(predictor: Predictor, name: str) -> type[BaseModel]:
    """The pydantic model of one row: every model column with its type (the id column
    optional). Field names are aliases, so any column name works, even `model_config`."""
    fields: dict[str, Any] = {}
    for i, column in enumerate(predictor.features):
        kind = column_kind(predictor, column)
        extra = {"format": "date-time"} if kind == "date" else None
        fields[f"c{i}"] = (_TYPES[kind], Field(alias=column, description=KIND_WORDS[kind],
                                               json_schema_extra=extra))
    id_column = predictor.meta.get("id_column")
    if id_column and id_column not in predictor.features:
        fields["row_id"] = (str | int | None, Field(
            default=None, alias=id_column, description="the row's id: copied to the answer"))
    title = re.sub(r"\W+", "_", name).strip("_").title().replace("_", "") or "Model"
    return create_model(f"{title}Row", __config__=ConfigDict(extra="forbid"), **fields)


def answer_model(predictor: Predictor, name: str) -> type[BaseModel]:
    """The pydantic model of one predicted row: the id, the prediction, each probability."""
    meta = predictor.meta
    fields: dict[str, Any] = {}
    if meta.get("id_column"):
        fields["row_id"] = (str | int | None, Field(alias=meta["id_column"]))
    target = meta["target"]
    if predictor.classes:
        fields["label"] = (str | int | float | bool, Field(
            alias=target, description="the most likely class"))
        for i, cls in enumerate(predictor.classes):
            fields[f"p{i}"] = (float, Field(alias=f"proba_{cls}",
                                            description=f"the probability of {cls}"))
    else:
        fields["value"] = (float, Field(alias=target, description="the predicted value"))
    title = re.sub(r"\W+", "_", name).strip("_").title().replace("_", "") or "Model"
    row = create_model(f"{title}Prediction", **fields)
    return create_model(f"{title}Answer", model=(str, ...), rows=(int, ...),
                        predictions=(list[row], ...),
                        notes=(list[str], Field(default_factory=list, description=(
                            "what was done about column problems (with ?strict=false)"))))


def metadata(predictor: Predictor, name: str) -> dict[str, Any]:
    """What `/metadata` answers: the columns with their kinds, classes, metric, CV score,
    package versions."""
    meta = predictor.meta
    return {
        "name": name, "target": meta.get("target"), "task": meta.get("task"),
        "classes": predictor.classes or None,
        "features": [{"name": c, "type": column_kind(predictor, c)}
                     for c in predictor.features],
        "id_column": meta.get("id_column"), "metric": meta.get("metric"),
        "cv_score": meta.get("cv_score"), "model": meta.get("model"),
        "family": meta.get("family"), "run_id": meta.get("run_id"),
        "created_at": meta.get("created_at"), "bundle_format": meta.get("format"),
        "versions": meta.get("versions", {}),
    }
