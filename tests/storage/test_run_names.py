"""Run names are unique within a home: the allocator reads every run folder (not only
what the catalog has indexed) and holds a lock until the run exists."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

from modelyard.storage.paths import Home
from modelyard.storage.runs import new_run_name


def _start(root: str, base: str, wanted: str | None, index: int) -> None:
    home = Home(Path(root))
    with new_run_name(home, base, wanted) as name:
        time.sleep(0.3)  # a run folder takes a moment to write: others start meanwhile
        folder = home.runs / f"run_{index}"
        folder.mkdir()
        (folder / "run.json").write_text(json.dumps({"name": name}))


def names(home: Home) -> list[str]:
    return sorted(json.loads(p.read_text())["name"] for p in home.runs.glob("run_?/run.json"))


def test_counters_and_wanted_names(tmp_path):
    home = Home(tmp_path)
    home.ensure()
    for i, wanted in enumerate([None, None, "nightly", "nightly", None]):
        _start(str(tmp_path), "churn", wanted, i)
    assert names(home) == ["churn #1", "churn #2", "churn #3", "nightly", "nightly #2"]
    # A damaged run.json names nothing; the counter goes on past the highest in use.
    (home.runs / "run_damaged").mkdir()
    (home.runs / "run_damaged" / "run.json").write_text("{not json")
    (home.runs / "run_0" / "run.json").unlink()
    _start(str(tmp_path), "churn", None, 5)
    assert names(home) == ["churn #2", "churn #3", "churn #4", "nightly", "nightly #2"]


def test_runs_started_at_once_get_different_names(tmp_path):
    home = Home(tmp_path)
    home.ensure()
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_start, args=(str(tmp_path), "churn", None, i))
             for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert names(home) == ["churn #1", "churn #2", "churn #3", "churn #4"]
