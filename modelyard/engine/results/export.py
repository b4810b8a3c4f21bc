"""The Model bundle as a folder (and a zip of it) that someone else can use:

    metadata.json     features with their kinds and dtypes, classes, metric, CV score, the
                      Plan, package versions, the bundle format
    pipeline.joblib   the fitted scikit-learn pipeline (tables), or
    weights.pt        the network's state dict + config.json (images)
    native/           boosters in their own file formats (LightGBM .txt, XGBoost .json)
                      and the category lists they were fitted with
    README.md         how to load it and predict, the columns in and out
    MODEL_CARD.md     the Run's report (intended use, limitations, diagnostics)
    requirements.txt  the packages, pinned to the versions it was trained with
    manifest.json     every file above with its size and SHA-256, written last

It loads with `Predictor.load(folder)` (or `modelyard predict folder rows.csv`) in any
Python that has these packages: no app, no catalog. Loading it runs its code (a pickle),
so it is checked against its manifest first (engine/training/manifest.py). Names and
values from the data reach README.md and MODEL_CARD.md only through `escape.md_text` and
`escape.md_code`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from modelyard.engine.errors import BadInputError
from modelyard.engine.results.artifacts import RunResult
from modelyard.engine.results.escape import md_code, md_text
from modelyard.engine.training import families as registry
from modelyard.engine.training.bagging import BaggedModel
from modelyard.engine.training.bundle import (
    BUNDLE_FORMAT,
    METADATA_FILE,
    package_versions,
    seal,
    write_metadata,
)
from modelyard.engine.training.ensemble import WeightedEnsemble
from modelyard.engine.training.manifest import MANIFEST_FILE, check_bundle
from modelyard.engine.training.preprocess import NativeFrame
from modelyard.engine.training.stacking import StackedModel
from modelyard.schemas import BundleMetadata

# Which pip package each recorded version belongs to, and when it is needed.
_ALWAYS = ("modelyard", "scikit-learn", "numpy", "pandas", "polars", "pyarrow", "joblib")
_IMAGE = ("modelyard", "torch", "timm", "numpy", "pandas", "pillow")


@dataclass
class Exported:
    folder: Path
    zip_path: Path | None
    files: list[str]


def _families(meta: dict[str, Any]) -> set[str]:
    if meta.get("family") in ("ensemble", "stack"):
        return {m["family"] for m in meta.get("params", {}).get("members", [])}
    return {meta.get("family", "")}


def requirements(meta: dict[str, Any]) -> str:
    """requirements.txt: the packages the bundle needs, at the versions that made it."""
    versions = {**package_versions(), **(meta.get("versions") or {})}
    if meta.get("kind") == "image":
        names = list(_IMAGE)
    elif meta.get("kind") == "audio":  # a network or a table model, on decoded sound
        names = list(dict.fromkeys([*_ALWAYS, *_IMAGE, "soundfile", "soxr"]))
    else:
        extra = {p for f in _families(meta) if registry.known(f) for p in registry.get(f).packages}
        names = list(_ALWAYS) + sorted(extra)
    lines = [f"# Python {versions.get('python', '3.11')}; versions as trained. modelyard "
             "provides the preprocessing classes inside the pipeline."]
    for name in names:
        version = versions.get(name) or _installed(name)
        lines.append(f"{name}=={version}" if version else name)
    return "\n".join(lines) + "\n"


def _installed(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _dtypes(result: RunResult, features: list[str]) -> dict[str, str]:
    path = result.dataset_dir / "train.parquet"
    if not path.exists():
        return {}
    schema = pl.read_parquet_schema(path)
    return {c: str(schema[c]) for c in features if c in schema}


def _native(pipeline: Any, meta: dict[str, Any], folder: Path) -> list[str]:
    """Boosters in their own formats, with the category lists of their inputs. A bagged
    model's fold models are written each (`<model>.fold<i>.*`: average their outputs,
    as README.md says); a stack's second layer has no such format, so a stack writes
    none (never its first layer alone, which predicts something else)."""
    if isinstance(pipeline, StackedModel):
        return []
    if isinstance(pipeline, WeightedEnsemble):
        members = meta.get("params", {}).get("members", [])
        named = [(m["model"], p) for m, p in zip(members, pipeline.members, strict=True)]
    else:
        named = [(meta.get("model", "model"), pipeline)]
    named = [(f"{name}.fold{i}" if isinstance(pipe, BaggedModel) else name, fold)
             for name, pipe in named
             for i, fold in enumerate(pipe.members if isinstance(pipe, BaggedModel)
                                      else [pipe])]
    written = []
    for name, pipe in named:
        model = pipe.named_steps["model"]
        prepare = pipe.named_steps["prepare"]
        inner = prepare.named_steps.get("features", prepare) \
            if hasattr(prepare, "named_steps") else prepare
        if hasattr(model, "booster_"):  # LightGBM
            path = folder / f"{name}.lightgbm.txt"
            model.booster_.save_model(str(path))
        elif hasattr(model, "get_booster"):  # XGBoost
            path = folder / f"{name}.xgboost.json"
            model.get_booster().save_model(str(path))
        else:
            continue
        written.append(path.name)
        if isinstance(inner, NativeFrame):
            prep = folder / f"{name}.inputs.json"
            ranked = getattr(inner, "coded_", [])
            prep.write_text(json.dumps({
                "columns": [inner.names_[c] for c in inner.numeric + inner.categorical],
                "renamed_from": {v: k for k, v in inner.names_.items() if v != k},
                "categorical": {inner.names_[c]: inner.categories_[c]
                                for c in inner.categorical if c not in ranked},
                "ranked": {inner.names_[c]: inner.categories_[c] for c in ranked},
                "note": "Categorical inputs are pandas categoricals with exactly these "
                        "categories (others are missing). A ranked input is a number: the "
                        "value's position in its list, counted from 0 (others are "
                        "missing). Date columns are first split into <column>__year, "
                        "__month, __day, __dayofweek, __hour, __epoch_days.",
            }, indent=2, default=str), encoding="utf-8")
            written.append(prep.name)
    return written


_TRUST = [
    "## Loading it runs its code", "",
    "`pipeline.joblib` is a Python pickle: loading it runs whatever code it holds, with "
    "your rights. Load only bundles you trust: ones you made, or got from someone you "
    "trust. `manifest.json` lists every file with its SHA-256, and Modelyard checks it "
    "before loading: a changed, missing or added file is refused. The manifest shows the "
    "bundle is the one that was made; it is not a signature, so it cannot tell you who "
    "made it.", ""]
_TRUST_IMAGE = [
    "## Loading it", "",
    "`weights.pt` holds the network's weights only and is read with "
    "`torch.load(weights_only=True)`. `manifest.json` lists every file with its SHA-256, "
    "and Modelyard checks it before loading: a changed, missing or added file is refused. "
    "Load only bundles you trust.", ""]


def usage_note(result: RunResult, meta: dict[str, Any]) -> str:
    """README.md of the bundle: what it predicts, how to use it, the columns in and out,
    and that loading it runs its code. Names and values from the data are escaped."""
    text, code = md_text, md_code
    target, classes = meta["target"], meta.get("classes") or []
    lines = [f"# Model bundle: {text(result.name)}", "",
             f"Predicts **{text(target)}** ({text(meta.get('task'))}). Best model "
             f"{code(meta.get('model'))}, {text(meta.get('metric'))} "
             f"{meta.get('cv_score'):.4g} in cross-validation. Made by Modelyard "
             f"{text(meta.get('versions', {}).get('modelyard', ''))} from run "
             f"{code(result.run_id)}; bundle format {meta['format']}.", ""]
    if meta.get("kind") == "audio":
        lines += ["## Use it", "", "```python",
                  "from modelyard.engine.audio.predict import AudioPredictor",
                  "model = AudioPredictor(Path('this/folder'))",
                  "predictions = model.predict_folder(Path('recordings/'))", "```", "",
                  *_TRUST_IMAGE]
        return "\n".join(lines)
    if meta.get("kind") == "image":
        lines += ["## Use it", "", "```python",
                  "from modelyard.engine.vision.predict import ImagePredictor",
                  "model = ImagePredictor(Path('this/folder'))",
                  "predictions = model.predict_folder(Path('images/'))", "```", "",
                  *_TRUST_IMAGE]
        return "\n".join(lines)
    lines += [
        "## Use it", "",
        "```sh", "pip install -r requirements.txt",
        "modelyard predict path/to/this/folder new_rows.csv --out predictions.csv", "```", "",
        "or in Python (no app, no database):", "",
        "```python", "import pandas as pd",
        "from modelyard.engine.training.bundle import Predictor", "",
        "model = Predictor.load('path/to/this/folder')",
        "predictions = model.predict_frame(pd.read_csv('new_rows.csv'))", "```", "",
        *_TRUST,
        "## Columns it reads", "", "| column | kind | type in training |", "|---|---|---|"]
    dtypes = meta.get("dtypes", {})
    for kind in ("numeric", "categorical", "datetime"):
        for col in meta.get(kind, []):
            lines.append(f"| {text(col)} | {kind} | {text(dtypes.get(col, ''))} |")
    lines += ["", "Other columns are ignored. A missing column counts as unknown in every row "
              "(less reliable predictions); `modelyard predict` names such columns first.", "",
              "## Columns it writes", ""]
    if meta.get("id_column"):
        lines.append(f"- {code(meta['id_column'])}: copied from the input, when present")
    if classes:
        lines.append(f"- {code(target)}: the most likely class "
                     f"({', '.join(text(c) for c in classes)})")
        lines += [f"- {code(f'proba_{c}')}: the probability of {text(c)}" for c in classes]
        if meta.get("threshold"):
            t = meta["threshold"]["threshold"]
            lines.append(f"\nFor yes/no decisions a cut-off of {t:.3f} on "
                         f"{code(f'proba_{classes[1]}')} gave the best F1 in validation "
                         "(the label above uses 0.5).")
    else:
        lines.append(f"- {code(target)}: the predicted value")
    lines += ["", "CSV files that Modelyard writes for people start text that a spreadsheet "
              "would run as a formula (=, +, -, @) with a ' (numbers are left as they are).",
              "", *_how_it_predicts(meta), "## Files", "",
              "- `pipeline.joblib`: the fitted pipeline (preparation + model), loaded by "
              "`Predictor.load`",
              "- `native/`: boosters in their own formats, for use without Python's pickle"
              + ("; a `.fold<i>` in a name is one fold model of a bag: average the fold "
                 "models' outputs (probabilities, or values) to predict as the bundle does"
                 if "bagged" in (meta.get("delivered") or "") or "average" in
                 (meta.get("delivered") or "") else ""),
              "- `metadata.json`, `MODEL_CARD.md` (what it is for and its limits), "
              "`requirements.txt`",
              "- `manifest.json`: every file with its size and SHA-256, checked on load", ""]
    return "\n".join(lines)


def _how_it_predicts(meta: dict[str, Any]) -> list[str]:
    """README lines saying how the model predicts, when it is more than one model."""
    delivered = meta.get("delivered")
    if not delivered or delivered.startswith("one model"):
        return []
    lines = ["## How it predicts", "", f"The model is {md_text(delivered)}."]
    if meta.get("family") == "stack":
        lines.append("Its second layer has no native booster format, so `native/` holds "
                     "none of it; `pipeline.joblib` and the ONNX graph (when exported) "
                     "predict with both layers.")
    return [*lines, ""]


def export_bundle(result: RunResult, out: Path, *, make_zip: bool = True,
                  card: str | None = None, overwrite: bool = False) -> Exported:
    """Write the bundle folder `out` (and `out`.zip). An existing non-empty `out` is
    refused unless `overwrite`; nothing is left half-written."""
    out = Path(out).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise BadInputError(f"{out} already exists and is not empty.",
                            "Choose a new folder, or pass --overwrite.")
    meta = dict(result.meta)
    if meta.get("fusion"):  # its network and image columns are outside what export writes
        raise BadInputError("This run's model is a late-fusion network (images and the "
                            "table's columns together); exporting it is not supported yet.",
                            "Predict with `modelyard predict RUN table.csv` (its images next "
                            "to it) or on the Predict page.")
    # The run's own model, checked against its manifest before its files are copied (one
    # made before manifests is this install's own: engine/training/manifest.py).
    check_bundle(result.model_dir, trust_unsigned=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        files = []
        for name in ("pipeline.joblib", "weights.pt", "config.json"):
            if (result.model_dir / name).exists():
                shutil.copy2(result.model_dir / name, staging / name)
                files.append(name)
        if not result.is_image:
            native = staging / "native"
            native.mkdir()
            files += [f"native/{n}" for n in _native(result.predictor.pipeline, meta, native)]
            if not any(native.iterdir()):
                native.rmdir()
            meta["dtypes"] = _dtypes(result, result.predictor.features)
        meta["bundle"] = {"exported_at": time.time(), "exported_by": package_versions().get(
            "modelyard"), "run_name": result.name, "format": BUNDLE_FORMAT}
        write_metadata(staging, BundleMetadata.model_validate(meta))
        (staging / "README.md").write_text(usage_note(result, meta), encoding="utf-8")
        (staging / "requirements.txt").write_text(requirements(meta), encoding="utf-8")
        files += [METADATA_FILE, "README.md", "requirements.txt"]
        if card:
            (staging / "MODEL_CARD.md").write_text(card, encoding="utf-8")
            files.append("MODEL_CARD.md")
        seal(staging)  # last: the manifest lists every file above
        files.append(MANIFEST_FILE)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Exported(out, zip_folder(out) if make_zip else None, sorted(files))


def zip_folder(out: Path) -> Path:
    """`out`.zip holding the folder `out`, written beside and moved in (never half a zip)."""
    built = shutil.make_archive(str(out.with_name(f".{out.name}.zip-partial")), "zip",
                                root_dir=out.parent, base_dir=out.name)
    zip_path = out.with_name(f"{out.name}.zip")
    Path(built).replace(zip_path)
    return zip_path
