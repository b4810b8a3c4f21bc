"""Formats other tools read, on the real trained Run of tests/results_run.py: the MLflow
model (loaded by MLflow in a fresh interpreter and by `mlflow models predict`), a Run
logged to a local MLflow tracking folder, `modelyard export --format onnx` from the
command line, and the Run's Optuna journal opened by optuna-dashboard as it is (its own
loader, and the command the Leaderboard page shows, started for real)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelyard.app.workspace import Workspace
from modelyard.storage.paths import Home
from tests.results_run import shared_run, single_model_run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def trained(tmp_path_factory, child_env):
    return shared_run(tmp_path_factory, child_env)


@pytest.fixture(scope="module")
def ws(trained):
    workspace = Workspace(Home(trained.home))
    workspace.refresh()
    return workspace


def _cli(trained, *args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelyard.app.cli", *map(str, args)],
                          capture_output=True, text=True, env=trained.env, cwd=cwd,
                          timeout=300)


def _bare_env(tmp: Path) -> dict[str, str]:
    """An environment that does not point at this source tree or the test's home."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "MODELYARD_HOME")}
    return env | {"HOME": str(tmp), "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


@pytest.fixture(scope="module")
def reference(trained, tmp_path_factory):
    """`modelyard predict` on the test file: what every other format must give."""
    tmp = tmp_path_factory.mktemp("reference")
    done = _cli(trained, "predict", trained.run_id, trained.test, "--out", tmp / "p.csv",
                cwd=tmp)
    assert done.returncode == 0, done.stderr
    return pd.read_csv(tmp / "p.csv")


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        if pd.api.types.is_float_dtype(a[col]):
            np.testing.assert_allclose(a[col].to_numpy(), b[col].to_numpy(), atol=1e-9)
        else:
            assert list(a[col].astype(str)) == list(b[col].astype(str)), col


@pytest.fixture(scope="module")
def mlflow_model(trained, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow")
    done = _cli(trained, "export", trained.run_id, "--format", "mlflow", "--out",
                tmp / "model", "--mlflow-tracking", tmp / "tracking", cwd=tmp)
    assert done.returncode == 0, done.stderr
    return tmp


def test_the_mlflow_model_loads_in_a_fresh_interpreter_and_predicts_as_modelyard_does(
        trained, mlflow_model, reference, tmp_path):
    model = mlflow_model / "model"
    assert (model / "MLmodel").exists()
    assert (model / "artifacts" / "bundle" / "manifest.json").exists()
    assert (model / "code" / "modelyard" / "engine" / "results" / "mlflow_pyfunc.py").exists()
    script = textwrap.dedent(f"""
        import mlflow.pyfunc, pandas as pd
        model = mlflow.pyfunc.load_model({str(model)!r})
        import modelyard
        print(modelyard.__file__)
        model.predict(pd.read_csv({str(trained.test)!r})).to_csv("out.csv", index=False)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, env=_bare_env(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr
    # Modelyard came with the model (its code path), not from this source tree.
    assert done.stdout.strip().startswith(str(model / "code"))
    _same(pd.read_csv(tmp_path / "out.csv"), reference)


def test_mlflow_models_predict_works_offline_with_the_local_environment(
        trained, mlflow_model, reference, tmp_path):
    done = subprocess.run(
        [str(BIN / "mlflow"), "models", "predict", "-m", str(mlflow_model / "model"), "-i",
         str(trained.test), "-t", "csv", "--env-manager", "local", "-o", "out.json"],
        capture_output=True, text=True, cwd=tmp_path, env=_bare_env(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "out.json").read_text())["predictions"]
    _same(pd.DataFrame(rows)[list(reference.columns)], reference)


def test_mlflow_models_serve_answers_with_the_bundles_predictions(
        trained, mlflow_model, reference, tmp_path):
    port = _free_port()
    # MLflow starts `uvicorn` by name: the environment's own bin folder comes first.
    env = _bare_env(tmp_path) | {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(
        [str(BIN / "mlflow"), "models", "serve", "-m", str(mlflow_model / "model"),
         "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path, env=env,
        start_new_session=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}/ping", proc)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=trained.test.read_bytes(),
            headers={"Content-Type": "text/csv"}, method="POST")
        with urllib.request.urlopen(request, timeout=60) as reply:
            rows = json.loads(reply.read())["predictions"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    _same(pd.DataFrame(rows)[list(reference.columns)], reference)


def _wait_for(url: str, proc: subprocess.Popen) -> bytes:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                return reply.read()
        except OSError:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.3)
    raise AssertionError(f"nothing answered at {url}")


def test_the_run_is_logged_to_the_local_tracking_folder(trained, mlflow_model, ws):
    from mlflow import MlflowClient

    from modelyard.engine.results.mlflow_export import tracking_uri

    client = MlflowClient(tracking_uri=tracking_uri(mlflow_model / "tracking"))
    runs = [r for e in client.search_experiments()
            for r in client.search_runs([e.experiment_id])]
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.tags["modelyard.run_id"] == trained.run_id
    assert run.data.params["target"] == "cultivar"
    leader = ws.run_leader(trained.run_id)
    metric = f"cv_{ws.open_result(trained.run_id).meta['metric']}"
    assert run.data.metrics[metric] == pytest.approx(leader["cv_score"])
    assert "leaderboard.csv" in [a.path for a in client.list_artifacts(run.info.run_id)]


@pytest.fixture(scope="module")
def single(tmp_path_factory, child_env):
    """A Run whose model is one bag of LightGBM fold models: what ONNX can hold."""
    return single_model_run(tmp_path_factory, child_env)


def test_export_as_onnx_from_the_command_line_writes_a_checked_sealed_graph(
        single, tmp_path):
    trained = single
    done = _cli(trained, "export", trained.run_id, "--format", "onnx", "--out",
                tmp_path / "b", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ONNX checked on 140 training rows" in done.stdout
    report = json.loads((tmp_path / "b" / "onnx" / "report.json").read_text())
    assert report["converted"] and report["check"]["rows_outside"] == 0
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        assert "b/onnx/model.onnx" in zf.namelist()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_optuna_journal_opens_in_optuna_dashboard_as_it_is(trained, ws):
    from optuna_dashboard._storage_url import get_storage

    command = ws.optuna_dashboard_command(trained.run_id)
    journal = Path(trained.home) / "runs" / trained.run_id / "optuna.journal"
    assert command == f"optuna-dashboard {shlex.quote(str(journal))}"
    # The dashboard's own loader (what its command line calls) finds every trial the
    # catalog lists, with the same score.
    storage = get_storage(str(journal))
    studies = {s.study_name: s._study_id for s in storage.get_all_studies()}
    for trial in ws.trials(trained.run_id):
        if trial["family"] in ("ensemble", "stack") or trial["state"] != "complete":
            continue
        values = [t.value for t in storage.get_all_trials(studies[trial["family"]])]
        assert any(v == pytest.approx(trial["cv_score"]) for v in values), trial["model"]

    # The command as the page shows it, started for real on a free port.
    port = _free_port()
    args = shlex.split(command)
    proc = subprocess.Popen([str(BIN / args[0]), *args[1:], "--port", str(port), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        found = json.loads(_wait_for(f"http://127.0.0.1:{port}/api/studies", proc))
        assert {s["study_name"] for s in found["study_summaries"]} == set(studies)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
