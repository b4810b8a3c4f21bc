"""A Run's model written in the format a person asks for: the Model bundle (the
reference, always written), the bundle with an ONNX graph inside it, or an MLflow model
wrapping the bundle. One door for the CLI (`modelyard export --format`) and the Model
page (through the Workspace).

    bundle   out/                the Model bundle (export.py), and out.zip
    onnx     out/ + out/onnx/    the bundle with `onnx/model.onnx` checked against it
                                 (onnx_export.py), or `onnx/report.json` saying which
                                 part could not be converted and why
    mlflow   out/MLmodel ...     an MLflow model (pyfunc) whose artifact is the sealed
                                 bundle (mlflow_export.py)
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from modelyard.engine.errors import BadInputError
from modelyard.engine.results.artifacts import RunResult
from modelyard.engine.results.export import export_bundle, zip_folder

FORMATS = ("bundle", "onnx", "mlflow")
CHECK_ROWS = 2000  # rows of the training data the ONNX check predicts both ways


@dataclass
class FormatExport:
    """What an export wrote; `problem` is a readable message when a part of the model
    could not be written in the asked format (the bundle was still written)."""

    format: str
    folder: Path
    zip_path: Path | None
    files: list[str] = field(default_factory=list)
    onnx: dict[str, Any] | None = None
    problem: str | None = None


def check_sample(result: RunResult, rows: int = CHECK_ROWS) -> pd.DataFrame:
    """Up to `rows` rows of the Run's stored training data (a fixed random sample)."""
    from modelyard.engine.training.data import read_table

    path = result.dataset_dir / "train.parquet"
    if not path.exists():
        raise BadInputError(f"The training data of run {result.name} is gone ({path}), so "
                            "an ONNX model could not be checked against the bundle.",
                            "Export the Model bundle alone (--format bundle).")
    frame = read_table(path)
    features = [c for c in result.predictor.features if c in frame.columns]
    frame = frame[features]
    return frame.sample(n=min(rows, len(frame)), random_state=0) if len(frame) > rows \
        else frame


def export_as(result: RunResult, out: Path, fmt: str = "bundle", *, card: str | None = None,
              make_zip: bool = True, overwrite: bool = False) -> FormatExport:
    """Write `result`'s model to `out` in `fmt` (see the module docstring)."""
    if fmt not in FORMATS:
        raise BadInputError(f"Unknown export format {fmt!r}.",
                            f"Choose one of: {', '.join(FORMATS)}.")
    _require(fmt)
    out = Path(out).expanduser().resolve()
    if fmt == "mlflow":
        return _mlflow(result, out, card=card, make_zip=make_zip, overwrite=overwrite)
    # The rows the ONNX check predicts, read first: without them nothing is written.
    sample = check_sample(result) if fmt == "onnx" and not result.is_image else None
    done = export_bundle(result, out, make_zip=False, card=card, overwrite=overwrite)
    found = FormatExport(fmt, done.folder, None, list(done.files))
    if fmt == "onnx":
        from modelyard.engine.results.onnx_export import write_onnx

        if sample is None:
            report = write_onnx(done.folder, _ImageStub(result.meta), pd.DataFrame())
        else:
            report = write_onnx(done.folder, result.predictor, sample)
        found.onnx = report
        found.files += ["onnx/report.json"] + (["onnx/model.onnx"] if report["converted"]
                                               else [])
        found.problem = None if report["converted"] else report["message"]
    if make_zip:
        found.zip_path = zip_folder(done.folder)
    return found


_NEEDS = {"onnx": ("onnx", "onnxruntime", "skl2onnx", "onnxmltools"), "mlflow": ("mlflow",)}


def _require(fmt: str) -> None:
    """The packages a format needs, or a message naming the extra that brings them."""
    from importlib.util import find_spec

    missing = [m for m in _NEEDS.get(fmt, ()) if find_spec(m) is None]
    if missing:
        raise BadInputError(f"Exporting as {fmt} needs {', '.join(missing)}, which is not "
                            "installed.", "Install the export extra: pip install "
                            "'modelyard[export]' (the Model bundle needs none of it).")


@dataclass
class _ImageStub:
    """An image model's metadata where the ONNX writer expects a Predictor: it refuses
    image models before touching a pipeline."""

    meta: dict[str, Any]
    pipeline: Any = None


def _mlflow(result: RunResult, out: Path, *, card: str | None, make_zip: bool,
            overwrite: bool) -> FormatExport:
    from modelyard.engine.results.mlflow_export import write_mlflow_model

    if result.is_image:
        raise BadInputError("MLflow export is for table models; this is an image model.",
                            "Export the Model bundle instead (--format bundle).")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise BadInputError(f"{out} already exists and is not empty.",
                            "Choose a new folder, or pass --overwrite.")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        bundle = export_bundle(result, work / "bundle", make_zip=False, card=card)
        staged = write_mlflow_model(bundle.folder, work / "model")
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                   if p.is_file() and "/code/" not in f"/{p.relative_to(out).as_posix()}")
    return FormatExport("mlflow", out, zip_folder(out) if make_zip else None, files)
