"""The MLflow `python_model` of an exported Model bundle: loads the bundle (checked
against its manifest) and predicts as `modelyard predict` does. Imported only by the
MLflow export and by MLflow when it loads such a model (it imports mlflow)."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pandas as pd


class BundleModel(mlflow.pyfunc.PythonModel):
    """A Model bundle behind MLflow's pyfunc face: a table in, the bundle's predictions
    out (the id column when given, the target, `proba_<class>` for classifiers)."""

    def load_context(self, context):
        from modelyard.engine.training.bundle import Predictor

        self.predictor = Predictor.load(Path(context.artifacts["bundle"]))

    # No type hints on purpose: MLflow 3 would read them as a schema and enforce it,
    # before the bundle's own column checks (which read numbers written as text).
    def predict(self, context, model_input, params=None):  # noqa: ARG002 - MLflow's API
        from modelyard.engine.results.predict import check_input, predict

        frame = model_input if isinstance(model_input, pd.DataFrame) \
            else pd.DataFrame(model_input)
        check_input(self.predictor, frame)  # refuses a table with none of the columns
        return predict(self.predictor, frame)
