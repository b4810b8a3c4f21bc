"""Optional parts installed from the app: real pip processes, a real local wheel, a
package index that cannot be reached (what offline looks like)."""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from modelyard.engine import extras

REPO = Path(__file__).resolve().parents[2]


def wait_done(folder: Path, extra: str, limit: float = 120) -> extras.InstallState:
    deadline = time.time() + limit
    while (state := extras.read(folder, extra)).running:
        assert time.time() < deadline, state
        time.sleep(0.3)
    return state


@pytest.fixture
def demo_extra(monkeypatch):
    """An extra `demo` holding one tiny package, `modelyard_demo_part`."""
    monkeypatch.setitem(extras.MODULES, "demo", ("modelyard_demo_part",))
    monkeypatch.setitem(extras.FALLBACK, "demo", ("modelyard-demo-part",))
    monkeypatch.setitem(extras.SIZE_WORDS, "demo", "a demo part, a few bytes")
    return "demo"


def build_wheel(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "modelyard_demo_part").mkdir(parents=True)
    (src / "modelyard_demo_part" / "__init__.py").write_text("VALUE = 42\n")
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "modelyard-demo-part"\nversion = "1.0"\n')
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), str(src)], check=True)
    return wheels


def test_the_vision_requirements_are_the_pyproject_extra():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())
    vision = declared["project"]["optional-dependencies"]["vision"]
    assert list(extras.FALLBACK["vision"]) == vision
    assert extras.requirements("vision") == vision
    assert extras.install_command("vision")[-len(vision):] == vision


def test_an_extra_that_is_there_reads_installed(tmp_path):
    state = extras.read(tmp_path, "vision")  # the test venv has torch and timm
    assert state.status == "succeeded" and not extras.missing("vision")


def test_a_missing_extra_installs_in_the_background_and_then_imports(
        tmp_path, demo_extra, monkeypatch):
    wheels = build_wheel(tmp_path)
    target = tmp_path / "site"
    monkeypatch.syspath_prepend(str(target))
    assert extras.missing(demo_extra) == ["modelyard_demo_part"]
    assert extras.read(tmp_path / "installs", demo_extra).status == "none"
    state = extras.start(tmp_path / "installs", demo_extra, env={
        "PIP_TARGET": str(target), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)})
    assert state.status in ("running", "succeeded")
    state = wait_done(tmp_path / "installs", demo_extra)
    assert state.status == "succeeded", (state.message, state.log_tail)
    assert extras.missing(demo_extra) == []


def test_offline_the_install_fails_in_plain_words_and_names_the_command(
        tmp_path, demo_extra):
    extras.start(tmp_path, demo_extra, env={
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0",
        "PIP_TIMEOUT": "1", "PIP_FIND_LINKS": "", "PIP_NO_INDEX": ""})
    state = wait_done(tmp_path, demo_extra)
    assert state.status == "failed"
    assert "cannot reach the package index" in state.message
    assert "pip install" in state.message and "modelyard-demo-part" in state.message
    assert state.log_tail  # pip's own last lines, for the technically minded
    # Pressing the button again starts a new try rather than showing the old failure.
    assert extras.start(tmp_path, demo_extra, env={
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0",
        "PIP_TIMEOUT": "1"}).status in ("running", "failed")


def test_an_image_run_without_torch_is_refused_before_a_worker_starts(tmp_path, monkeypatch):
    from modelyard.app.workspace import Workspace
    from modelyard.engine.errors import BadInputError
    from modelyard.engine.intake.ingest import load_profile
    from modelyard.engine.vision.plan import image_plan
    from modelyard.storage import plans as plan_store
    from tests.engine.test_vision import write_digits

    ws = Workspace.at(tmp_path / "home")
    write_digits(tmp_path, 40)
    meta = ws.ingest(tmp_path / "train")
    plan = image_plan(load_profile(ws.home, meta["id"]), meta["id"], budget_seconds=5)
    doc = plan_store.save_plan(ws.home, ws.catalog, dataset_id=meta["id"],
                               plan=plan.model_dump(mode="json"), planner="rules",
                               approved=True)
    monkeypatch.setitem(extras.MODULES, "vision", ("modelyard_no_such_module",))
    with pytest.raises(BadInputError) as refused:
        ws.start_run(doc)
    assert "need PyTorch" in str(refused.value) and "modelyard[vision]" in refused.value.hint
    assert not list(ws.home.runs.iterdir()) and ws.runs() == []
