"""Predicting with a text-to-text Model bundle: the input column in, the output text in
the target's column out. `Predictor.load` hands bundles of kind "text_to_text" here
after checking their manifest, so `modelyard predict`, the Predict page and the worker's
test predictions use it like any table model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from modelyard.engine.errors import BadInputError
from modelyard.engine.training.bundle import Predictor

KIND = "text_to_text"


def load_text_model(folder: Path):
    """The text model saved in `folder` (`text_model.json` names its kind)."""
    from modelyard.engine.text_to_text.baselines import CopyInput, FrequentOutput

    kind = json.loads((Path(folder) / "text_model.json").read_text(encoding="utf-8"))["kind"]
    if kind == "char_transformer":
        from modelyard.engine.text_to_text.charformer import CharTransformer as cls
    elif kind == "t5_small":
        from modelyard.engine.text_to_text.t5 import T5Model as cls
    else:
        cls = {"copy_input": CopyInput, "frequent_output": FrequentOutput}.get(kind)
    if cls is None:
        raise BadInputError(f"This text model is of an unknown kind “{kind}”.",
                            "Load it with the Modelyard version that trained it.")
    return cls.load(folder)


class TextPredictor(Predictor):
    """A loaded text-to-text bundle; the metadata names the input column as its one text
    feature, so the column checks of `engine/results/predict.py` apply unchanged."""

    def __init__(self, model: Any, meta: dict[str, Any]):
        super().__init__(model, meta)

    @property
    def input_column(self) -> str:
        return self.meta["input_column"]

    def predict_texts(self, texts: list[str]) -> list[str]:
        return self.pipeline.predict(texts)

    def predict_frame(self, table: pd.DataFrame) -> pd.DataFrame:
        """One row per input row: the id column first when there is one, the input, then
        the predicted text in the target's column."""
        source = self.input_column
        if source not in table.columns:
            raise BadInputError(f"The file has no column “{source}”, the text the model "
                                "rewrites.", f"Provide a file with a “{source}” column.")
        texts = ["" if pd.isna(v) else str(v) for v in table[source].tolist()]
        out = pd.DataFrame(index=table.index)
        id_column = self.meta.get("id_column")
        if id_column and id_column in table.columns:
            out[id_column] = table[id_column].to_numpy()
        out[source] = texts
        out[self.meta["target"]] = self.predict_texts(texts)
        return out.reset_index(drop=True)


def load(model_dir: Path, meta: dict[str, Any]) -> TextPredictor:
    """The bundle in `model_dir`, whose manifest the caller has checked."""
    return TextPredictor(load_text_model(model_dir), meta)
