"""One Settings object: flag, then environment variable, then settings file, then default,
for every setting; and the settings a Run was launched with, recorded in its run.json."""

from __future__ import annotations

import psutil
import pytest

from modelyard.app.workspace import Workspace
from modelyard.engine import jobs, settings
from modelyard.engine.intake.samples import write_sample
from modelyard.engine.settings import SETTINGS, resolve
from modelyard.schemas import Plan
from modelyard.storage.runfolder import RunFolder

# For each setting, the (raw, resolved) value each layer gives; all four differ.
LAYERS = {
    "ollama_host": {"flag": ("flag-host:1", "http://flag-host:1"),
                    "env": ("http://env-host:2", "http://env-host:2"),
                    "settings": ("file-host", "http://file-host:11434"),
                    "default": "http://127.0.0.1:11434"},
    "ollama_model": {"flag": ("flag:1b", "flag:1b"), "env": ("env:2b", "env:2b"),
                     "settings": ("file:3b", "file:3b"), "default": None},
    "planner": {"flag": ("rules", "rules"), "env": ("ollama", "ollama"),
                "settings": ("rules", "rules"), "default": "auto"},
    "ollama_timeout": {"flag": (5, 5.0), "env": ("6.5", 6.5), "settings": (7, 7.0),
                       "default": 120.0},
    "max_parallel_runs": {"flag": (3, 3), "env": ("5", 5), "settings": (7, 7),
                          "default": settings.default_parallel_runs()},
    "memory_limit_gb": {"flag": (1.0, 1.0), "env": ("2.5", 2.5), "settings": (4, 4.0),
                        "default": 0.0},
    "guard_fits": {"flag": ("always", "always"), "env": ("never", "never"),
                   "settings": ("always", "always"), "default": "auto"},
    "max_unpacked_gb": {"flag": (1, 1.0), "env": ("2.5", 2.5), "settings": (4, 4.0),
                        "default": 20.0},
    "max_unpack_ratio": {"flag": (100, 100.0), "env": ("200", 200.0),
                         "settings": (300, 300.0), "default": 500.0},
    "serve_token": {"flag": ("flag-token", "flag-token"), "env": ("env-token", "env-token"),
                    "settings": ("file-token", "file-token"), "default": None},
    "serve_max_body_mb": {"flag": (1, 1.0), "env": ("0.5", 0.5), "settings": (8, 8.0),
                          "default": 16.0},
    "study_storage": {"flag": ("postgresql://a@f/d", "postgresql+psycopg://a@f/d"),
                      "env": ("postgresql://a@e/d", "postgresql+psycopg://a@e/d"),
                      "settings": ("sqlite:///s.db", "sqlite:///s.db"), "default": None},
}
ENV = {s.name: s.env for s in SETTINGS}


def test_every_setting_is_in_the_table():
    assert set(LAYERS) == set(ENV) == set(settings.Settings.model_fields) - {"sources"}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_flag_beats_env_beats_file_beats_default(name, home, monkeypatch):
    for variable in ENV.values():
        monkeypatch.delenv(variable, raising=False)
    layers = LAYERS[name]

    def now(**flags):
        found = resolve(home, flags)
        return getattr(found, name), found.sources[name]

    assert now() == (layers["default"], "default")
    settings.save(home, **{name: layers["settings"][0]})
    assert now() == (layers["settings"][1], "settings")
    monkeypatch.setenv(ENV[name], str(layers["env"][0]))
    assert now() == (layers["env"][1], ENV[name])
    assert resolve(home).fixed_by_env(name) == ENV[name]
    assert now(**{name: layers["flag"][0]}) == (layers["flag"][1], "flag")
    # A flag left out (None) hands the choice to the next layer.
    assert now(**{name: None}) == (layers["env"][1], ENV[name])


@pytest.mark.parametrize(("name", "bad"), [("planner", "sometimes"), ("guard_fits", "maybe"),
                                           ("max_parallel_runs", "many"),
                                           ("memory_limit_gb", "lots"),
                                           ("ollama_timeout", "soon"), ("ollama_host", " ")])
def test_an_unreadable_value_is_passed_over(name, bad, home, monkeypatch):
    settings.save(home, **{name: LAYERS[name]["settings"][0]})
    monkeypatch.setenv(ENV[name], bad)
    found = resolve(home)
    assert (getattr(found, name), found.sources[name]) == (LAYERS[name]["settings"][1],
                                                           "settings")


def test_without_a_home_there_is_no_file(home, monkeypatch):
    monkeypatch.delenv("MODELYARD_GUARD_FITS", raising=False)
    settings.save(home, guard_fits="never")
    assert resolve(None).guard_fits == "auto" and resolve(home).guard_fits == "never"


def test_an_unknown_setting_is_not_saved(home):
    with pytest.raises(KeyError, match="ollama_hots"):
        settings.save(home, ollama_hots="x")


def test_a_zero_limit_in_the_environment_lifts_the_saved_one(home, monkeypatch):
    settings.save(home, memory_limit_gb=3.0)
    monkeypatch.setenv("MODELYARD_MEMORY_LIMIT_GB", "0")
    assert jobs.memory_limit_gb(home) is None


def test_the_launch_records_the_settings_in_run_json(ws: Workspace, home, monkeypatch, tmp_path):
    monkeypatch.delenv("MODELYARD_GUARD_FITS", raising=False)
    monkeypatch.setenv("MODELYARD_MEMORY_LIMIT_GB", "6")
    ws.save_settings(guard_fits="never", planner="rules", memory_limit_gb=2.0)
    meta = ws.ingest(write_sample("wine", tmp_path), target="cultivar")
    plan = ws.propose_plan(meta["id"], budget_seconds=5)
    approved = ws.approve_plan(Plan.model_validate(plan["plan"]), based_on=plan)
    folder, proc = ws.start_run(approved)
    try:
        assert proc is not None
        record = RunFolder(folder.path).read()["settings"]
        assert record["values"] == resolve(home).record()["values"]
        assert record["values"]["guard_fits"] == "never"
        assert record["values"]["memory_limit_gb"] == 6.0
        assert record["values"]["planner"] == "rules"
        assert record["sources"] == {**record["sources"], "guard_fits": "settings",
                                     "memory_limit_gb": "MODELYARD_MEMORY_LIMIT_GB",
                                     "ollama_host": "OLLAMA_HOST",
                                     "max_parallel_runs": "MODELYARD_MAX_PARALLEL_RUNS",
                                     "ollama_timeout": "default"}
        # The worker reads no settings file: what the file said reaches it by variable.
        env = psutil.Process(proc.pid).environ()
        assert (env["MODELYARD_GUARD_FITS"], env["MODELYARD_MEMORY_LIMIT_GB"]) == ("never", "6")
    finally:
        ws.cancel(folder.id)


def test_the_serve_token_is_never_recorded(home, monkeypatch):
    monkeypatch.setenv("MODELYARD_SERVE_TOKEN", "s3cret")
    found = resolve(home)
    assert found.serve_token == "s3cret"
    assert "s3cret" not in str(found.record()) and "serve_token" not in found.record()["values"]
