"""One real trained Run shared by the result tests of every module (engine, CLI, pages,
browser): trained once per session through `modelyard run ... --sample-submission`.

The data: scikit-learn's wine sample (3 cultivars) with a `lot_code` id column in the
middle of the table; a test file without the target; and a sample submission whose id
column is called `Id` (the test file calls it `lot_code`), whose rows are shuffled and
whose class-probability columns are in an order of their own.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from modelyard.engine.intake.samples import write_sample

BUDGET = 6
SAMPLE_COLUMNS = ["Id", "cultivar_3", "cultivar_1", "cultivar_2"]
_CACHE: dict[str, SimpleNamespace] = {}


def _write_data(root: Path) -> dict[str, Path]:
    frame = pd.read_csv(write_sample("wine", root))
    frame.insert(3, "lot_code", [f"L{i:04d}" for i in range(len(frame))])
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    train, test = frame.iloc[:140], frame.iloc[140:].drop(columns="cultivar")
    paths = {"train": root / "train.csv", "test": root / "test.csv",
             "sample": root / "sample_submission.csv"}
    train.to_csv(paths["train"], index=False)
    test.to_csv(paths["test"], index=False)
    ids = test["lot_code"].sample(frac=1.0, random_state=5).to_numpy()
    sample = pd.DataFrame({"Id": ids, "cultivar_3": 1 / 3, "cultivar_1": 1 / 3,
                           "cultivar_2": 1 / 3})
    sample[SAMPLE_COLUMNS].to_csv(paths["sample"], index=False)
    return paths


def shared_run(tmp_path_factory, child_env) -> SimpleNamespace:
    """The trained Run (trained on first use in this session)."""
    return _trained(tmp_path_factory, child_env, "shared")


def single_model_run(tmp_path_factory, child_env) -> SimpleNamespace:
    """The same data trained with one LightGBM trial besides the baseline: its model is
    one bag of LightGBM fold models, never a blend or a stack (which ONNX cannot hold),
    for the tests of what a single model's exports hold."""
    return _trained(tmp_path_factory, child_env, "single", plan={
        "families": [{"family": "dummy", "max_trials": 1},
                     {"family": "lightgbm", "max_trials": 1}]})


def _trained(tmp_path_factory, child_env, name: str, plan: dict | None = None
             ) -> SimpleNamespace:
    key = f"{tmp_path_factory.getbasetemp()}:{name}"
    if key in _CACHE:
        return _CACHE[key]
    root = tmp_path_factory.mktemp(f"results-run-{name}")
    paths = _write_data(root)
    env = child_env(root / "home")
    out = root / "out"
    more: list = []
    if plan is not None:
        from modelyard.schemas import Metric, Plan, Task

        full = Plan(dataset_id="ds_x", target="cultivar", task=Task.multiclass,
                    metric=Metric.log_loss, budget_seconds=30, **plan)
        (root / "plan.json").write_text(full.model_dump_json())
        more = ["--plan", root / "plan.json"]
    result = subprocess.run(
        [sys.executable, "-m", "modelyard.app.cli", "run", paths["train"], "--target", "cultivar",
         "--test", paths["test"], "--sample-submission", paths["sample"], "--budget",
         str(BUDGET), "--out", out, "--json", *more],
        capture_output=True, text=True, env=env, cwd=root, timeout=240)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    found = SimpleNamespace(root=root, home=root / "home", env=env, out=out, summary=summary,
                            run_id=summary["run_id"], stderr=result.stderr, **paths)
    _CACHE[key] = found
    return found


def copy_home(source: Path, dest: Path) -> Path:
    """A copy of a home for a test that changes it: the folders without the catalog (the
    copy's catalog is rebuilt from them on first use) and without lock files."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(
        "modelyard.duckdb*", "*.lock", ".*.lock"))
    return dest


def same_predictions(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Exactly the same columns, labels and probabilities (bit for bit)."""
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if pd.api.types.is_float_dtype(a[col]):
            if not np.array_equal(x.astype(float), y.astype(float), equal_nan=True):
                return False
        elif not (x.astype(str) == y.astype(str)).all():
            return False
    return True
