"""A Model bundle as an MLflow model (pyfunc flavour), so that `mlflow models predict`
and `mlflow models serve` work on it, and a finished Run logged to a local MLflow
tracking folder.

Policy and its trade-offs:

- **The bundle travels whole.** The MLflow model's one artifact is the sealed bundle
  (`artifacts/bundle/`); `BundleModel` (mlflow_pyfunc.py) loads it with `Predictor.load`,
  so its manifest is checked before its pickle is opened, and predicts as `modelyard
  predict` does. The bundle's README, card and manifest stay inside.
- **Modelyard travels as code.** Modelyard is not on a package index, so the package
  itself is copied in (`code/modelyard`, MLflow's `code_paths`, about 2 MB) and the pip
  requirements name the rest (the bundle's `requirements.txt` without modelyard, plus
  pydantic). `--env-manager local` uses the Python it runs in.
- **No signature.** A signature makes MLflow enforce its own types before the bundle's
  column checks (which read numbers written as text, and name a missing column). The
  bundle's README lists the columns and their kinds instead.
- **mlflow-skinny** is enough (tracking client, pyfunc, `mlflow models predict/serve`):
  about 80 MB with what it pulled in here (mlflow 40, databricks-sdk 17, cryptography
  16); the full `mlflow` adds a tracking server and UI that an export does not need.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import modelyard
from modelyard.engine.errors import BadInputError

_EXTRA = ("pydantic",)
_SCRIPT = """from mlflow.models import set_model

from modelyard.engine.results.mlflow_pyfunc import BundleModel

set_model(BundleModel())
"""


def _requirements(bundle_dir: Path) -> list[str]:
    from importlib import metadata

    lines = (bundle_dir / "requirements.txt").read_text(encoding="utf-8").splitlines()
    found = [line.strip() for line in lines
             if line.strip() and not line.startswith("#") and not line.startswith("modelyard")]
    for name in _EXTRA:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(name)
    return found


def write_mlflow_model(bundle_dir: Path, out: Path) -> Path:
    """The MLflow model folder `out` (MLmodel at its top) wrapping the sealed bundle in
    `bundle_dir`. `out` must not exist."""
    import mlflow.pyfunc

    from modelyard.engine.training.bundle import read_metadata

    bundle_dir, out = Path(bundle_dir), Path(out)
    if read_metadata(bundle_dir).kind == "image":
        raise BadInputError("MLflow export is for table models; this is an image model.",
                            "Export the Model bundle instead (`modelyard export RUN --out "
                            "DIR`).")
    package = Path(modelyard.__file__).parent
    code = Path(tempfile.mkdtemp(prefix=".modelyard-code."))
    try:
        # The package without caches (they would only add bytes and stale pyc files).
        shutil.copytree(package, code / "modelyard",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        # A model from code (a script that names the class), not a cloudpickled object:
        # nothing of ours is pickled beyond the bundle, whose manifest is checked.
        script = code / "bundle_model.py"
        script.write_text(_SCRIPT, encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "add type hints": see mlflow_pyfunc
            mlflow.pyfunc.save_model(path=str(out), python_model=str(script),
                                     artifacts={"bundle": str(bundle_dir)},
                                     code_paths=[str(code / "modelyard")],
                                     pip_requirements=_requirements(bundle_dir))
    finally:
        shutil.rmtree(code, ignore_errors=True)
    return out


def tracking_uri(tracking: Path) -> str:
    """The tracking URI of a local tracking folder: its SQLite database."""
    return f"sqlite:///{Path(tracking) / 'mlflow.db'}"


def log_run(result: Any, tracking: Path, leaderboard: Any | None = None) -> str:
    """Log the finished Run `result` to the local MLflow tracking folder `tracking`
    (created if missing: `mlflow.db`, SQLite, and `artifacts/`; MLflow 3 keeps its file
    store for old folders only): the Plan's settings as params, the CV score as a metric,
    the leaderboard as an artifact. Returns the MLflow run id. Open it with
    `mlflow ui --backend-store-uri sqlite:///<tracking>/mlflow.db`."""
    import mlflow

    tracking = Path(tracking).expanduser().resolve()
    tracking.mkdir(parents=True, exist_ok=True)
    meta = result.meta
    plan = result.record.get("plan") or {}
    client = mlflow.MlflowClient(tracking_uri=tracking_uri(tracking))
    name = f"modelyard-{result.record.get('dataset_id', 'data')}"
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(
        name, artifact_location=(tracking / "artifacts").as_uri())
    run = client.create_run(experiment_id, run_name=result.name,
                            tags={"modelyard.run_id": result.run_id})
    params = {"target": meta.get("target"), "task": meta.get("task"),
              "metric": meta.get("metric"), "model": meta.get("model"),
              "family": meta.get("family"), "seed": plan.get("seed"),
              "budget_seconds": plan.get("budget_seconds")}
    for key, value in params.items():
        if value is not None:
            client.log_param(run.info.run_id, key, str(value)[:500])
    if meta.get("cv_score") is not None:
        client.log_metric(run.info.run_id, f"cv_{meta['metric']}", float(meta["cv_score"]))
    if leaderboard is not None and len(leaderboard):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "leaderboard.csv"
            leaderboard.to_csv(path, index=False)
            client.log_artifact(run.info.run_id, str(path))
    client.set_terminated(run.info.run_id)
    return run.info.run_id
