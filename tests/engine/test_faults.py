"""Faults during a Run: a disk that fills, a worker killed at random points, a torn
journal tail, a write that fails half-way. Each case asserts the message, the exit code
where there is one, and that what was stored before is intact.

The full disk is real where the test may mount one: a small tmpfs (root only; skipped
with the reason elsewhere). The faults in single writes are made by patching the write.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from modelyard.app.cli import main
from modelyard.app.workspace import Workspace
from modelyard.engine.errors import BadInputError
from modelyard.engine.results.artifacts import open_run
from modelyard.engine.training import worker
from modelyard.schemas import Plan, RunStatus
from modelyard.storage import files
from modelyard.storage import runs as run_store
from modelyard.storage.catalog import Catalog
from modelyard.storage.files import (
    SpaceReserve,
    is_disk_full,
    read_json,
    write_json_atomic,
)
from modelyard.storage.runfolder import JournalWriter, RunFolder, read_events
from modelyard.storage.sync import sync
from tests.conftest import stop_workers
from tests.storage.test_catalog_sync import make_run

ENOSPC = OSError(errno.ENOSPC, "No space left on device")


# -- helpers ----------------------------------------------------------------------------
@pytest.fixture
def folder(home) -> RunFolder:
    f = RunFolder(home.run_dir("run_faults"))
    f.create({"id": "run_faults", "status": "running", "created_at": time.time()})
    return f


def journal_lines(path: Path) -> list[dict]:
    """Every line of a journal as JSON: fails on a torn or glued line."""
    raw = path.read_bytes()
    assert raw == b"" or raw.endswith(b"\n"), f"{path.name} ends in a torn line"
    return [json.loads(line) for line in raw.splitlines()]


def optuna_trials(path: Path) -> int:
    storage = JournalStorage(JournalFileBackend(str(path)))
    return sum(len(storage.get_all_trials(s._study_id)) for s in storage.get_all_studies())


def fill(where: Path) -> Path:
    """Fill the file system holding `where` to the last byte; the filler file."""
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (1 << 20, 64 << 10, 4 << 10, 256, 1):
            block = os.urandom(size)
            while True:
                try:
                    os.write(fd, block)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


class KeptFull:
    """The file system holding `where` filled to the last byte and kept full: space a run
    frees (a trial's scratch files) is taken again at once, as by another program writing.
    Without that, a run whose bags the disk allowance refused wrote and removed its trials'
    fold files in the room the last one had freed, and went on for its whole session."""

    live: list[KeptFull] = []  # stopped by `small_disk` after the test, however it ended

    def __init__(self, where: Path):
        KeptFull.live.append(self)
        self.where = where
        self.path = fill(where)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._top_up, daemon=True)
        self._thread.start()

    def _top_up(self) -> None:
        while not self._stop.wait(0.02):
            fill(self.where)

    def release(self) -> None:
        """Stop filling and give all the space back."""
        self._stop.set()
        self._thread.join()
        self.path.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path):
    """`small_disk(size)`: a fresh tmpfs of `size` mounted for this test, removed after."""
    mounts: list[Path] = []

    def make(size: str) -> Path:
        where = tmp_path / f"small-disk-{len(mounts)}"
        where.mkdir()
        try:
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                                   str(where)], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"cannot mount a small file system here: {exc}")
        if done.returncode != 0:
            pytest.skip("cannot mount a small file system here (needs root, or a "
                        f"container that allows mounts): {done.stderr.strip()}")
        mounts.append(where)
        return where

    yield make
    while KeptFull.live:
        KeptFull.live.pop().release()
    for where in mounts:
        stop_workers(where / "home")
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def start(ws: Workspace, path, *, budget: int, target: str = "churn"):
    meta = ws.ingest(path, target=target)
    proposed = ws.propose_plan(meta["id"], target=target, budget_seconds=budget)
    approved = ws.approve_plan(Plan.model_validate(proposed["plan"]), based_on=proposed)
    return ws.start_run(approved)


def explain(folder: RunFolder) -> str:
    return f"run.json: {folder.read()}\nworker.log:\n{folder.log_tail(30)}"


# -- a torn journal tail ------------------------------------------------------------------
def test_a_torn_event_tail_is_read_and_the_next_line_starts_fresh(home):
    folder = make_run(home, "run_torn", "ds_a", n_trials=2)
    before = journal_lines(folder.events_path)
    catalog = Catalog(home)
    with open(folder.events_path, "ab") as fh:  # a worker died mid-line
        fh.write(b'{"seq": 99, "ts": 1.0, "kind": "tri')

    assert [e.seq for e, _ in read_events(folder.events_path, 0)] == [e["seq"] for e in before]
    sync(catalog)
    assert len(run_store.events(catalog, "run_torn", limit=1000)) == len(before)

    journal = JournalWriter(folder)
    event = journal.emit("log", "the next session")
    journal.close()
    after = journal_lines(folder.events_path)  # no glued line
    assert after[:-1] == before
    assert event.seq == after[-1]["seq"] == before[-1]["seq"] + 1
    sync(catalog)
    assert [e["seq"] for e in run_store.events(catalog, "run_torn", limit=1000)] == \
        [e["seq"] for e in after]


def test_a_torn_optuna_tail_is_cut_before_optuna_appends(folder):
    path = str(folder.optuna_path)
    study = optuna.create_study(study_name="s", storage=JournalStorage(JournalFileBackend(path)))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    torn = b'{"op_code": 6, "worker_id": "w", "trial_id": 2, "sta'
    with open(path, "ab") as fh:
        fh.write(torn)
    before = Path(path).read_bytes()

    # What Optuna does by itself: reads past the tail, but glues its next record onto it
    # and then fails: a JSON error, or (the glued record lost) a missing trial.
    copy = folder.path / "copy.journal"
    shutil.copyfile(path, copy)
    glued = optuna.load_study(study_name="s",
                              storage=JournalStorage(JournalFileBackend(str(copy))))
    assert len(glued.trials) == 2
    with pytest.raises((ValueError, AttributeError)):
        glued.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)

    assert folder.repair() == {"optuna.journal": len(torn)}
    assert Path(path).read_bytes() == before[: -len(torn)]
    again = optuna.load_study(study_name="s", storage=JournalStorage(JournalFileBackend(path)))
    again.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert optuna_trials(folder.optuna_path) == 3
    assert journal_lines(folder.optuna_path)
    assert folder.repair() == {}  # nothing more to cut


def test_a_journal_line_cut_by_a_full_disk_is_undone(folder, monkeypatch):
    journal = JournalWriter(folder)
    journal.emit("log", "before")
    real_write = os.write
    calls = []

    def half_then_full(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise ENOSPC

    with monkeypatch.context() as m:
        m.setattr(os, "write", half_then_full)
        with pytest.raises(OSError) as info:
            journal.emit("trial", "lost", model="m_1", family="linear", number=1,
                         state="complete", cv_score=0.5)
    assert info.value.errno == errno.ENOSPC and len(calls) == 2
    assert [e["message"] for e in journal_lines(folder.events_path)] == ["before"]
    # Space again: the sequence goes on where it stood, on a fresh line.
    assert journal.emit("log", "after").seq == 2
    journal.close()
    assert [e["seq"] for e in journal_lines(folder.events_path)] == [1, 2]


# -- a write that fails half-way ---------------------------------------------------------
class _HalfThenFull:
    """A text file whose first write stores half its text, then the disk is full."""

    def __init__(self, fh):
        self.fh = fh

    def write(self, text: str) -> int:
        self.fh.write(text[: len(text) // 2])
        self.fh.flush()
        raise ENOSPC

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()


def test_a_write_that_fails_half_way_leaves_the_previous_plan_json(tmp_path, monkeypatch):
    path = tmp_path / "plan.json"
    write_json_atomic(path, {"version": 1})
    real_open = open
    monkeypatch.setattr(files, "open", lambda *a, **k: _HalfThenFull(real_open(*a, **k)),
                        raising=False)
    with pytest.raises(OSError) as info:
        write_json_atomic(path, {"version": 2, "padding": "x" * 10_000})
    assert is_disk_full(info.value)
    assert read_json(path) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"], "a temporary file was left"


def test_a_full_disk_is_told_apart_and_described(tmp_path):
    wrapped = RuntimeError("could not save the model")
    wrapped.__cause__ = OSError(errno.EDQUOT, "Disk quota exceeded")
    assert is_disk_full(ENOSPC) and is_disk_full(wrapped)
    assert is_disk_full(OSError("IO Error: No space left on device"))  # no errno
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(ValueError("no room for doubt"))
    reason = files.disk_full_reason(tmp_path)
    assert reason.startswith("The disk is full: ")
    assert f" MB free on {files.mount_point(tmp_path)}; free space and use Add time to " \
           "continue." in reason


def test_the_failure_is_recorded_with_the_space_held_back(folder, monkeypatch):
    """On a full disk run.json can be written only once the reserve is given back: the
    worker gives it back first, then records the reason."""
    reserve = SpaceReserve(folder.reserve_path, size=64 << 10)
    assert reserve.take() and folder.reserve_path.stat().st_size == 64 << 10
    real_write = files.write_json_atomic

    def only_with_room(path, data):
        if folder.reserve_path.exists():
            raise ENOSPC
        real_write(path, data)

    monkeypatch.setattr("modelyard.storage.runfolder.write_json_atomic", only_with_room)
    journal = JournalWriter(folder)
    try:
        raise RuntimeError("saving failed") from ENOSPC
    except RuntimeError as exc:
        worker._record_failure(folder, journal, exc, reserve)
    journal.close()
    record = folder.read()
    assert record["status"] == "failed"
    assert record["message"].startswith("The disk is full: ")
    assert record["message"].endswith("free space and use Add time to continue.")
    assert not folder.reserve_path.exists()
    last = journal_lines(folder.events_path)[-1]
    assert (last["kind"], last["message"]) == ("status", record["message"])


# -- a model finished before the failure ---------------------------------------------------
def _with_model(folder: RunFolder) -> None:
    with folder.writing_model() as staging:
        (staging / "metadata.json").write_text("{}")
        (staging / "pipeline.joblib").write_bytes(b"the finished model")


def test_a_run_that_failed_late_keeps_its_model_labelled(home):
    folder = make_run(home, "run_late", "ds_a", status="failed")
    reason = "The disk is full: 0 MB free on /data; free space and use Add time to continue."
    folder.update(message=reason)
    with pytest.raises(BadInputError, match="has no model: it is failed"):
        open_run(home, "run_late")  # failed before any model was finished: refused
    _with_model(folder)
    result = open_run(home, "run_late")
    assert result.note == ("This model is from a run that failed late: The disk is full: 0 MB "
                           "free on /data; free space and use Add time to continue; the best "
                           "model finished before that.")
    folder.update(force=True, status="cancelled", message="Cancelled by you.")
    assert open_run(home, "run_late").note.startswith(
        "This model is from a run that was cancelled: Cancelled by you;")
    folder.update(force=True, status="running")
    with pytest.raises(BadInputError, match="it is running"):
        open_run(home, "run_late")
    folder.update(force=True, status="succeeded")
    assert open_run(home, "run_late").note == ""


def test_a_bundle_that_fails_half_way_leaves_the_earlier_one(folder):
    _with_model(folder)
    before = {p.name: p.read_bytes() for p in folder.model_dir.iterdir()}
    with pytest.raises(OSError), folder.writing_model() as staging:
        (staging / "pipeline.joblib").write_bytes(b"half a new mod")
        raise ENOSPC
    assert {p.name: p.read_bytes() for p in folder.model_dir.iterdir()} == before
    assert sorted(p.name for p in folder.path.iterdir() if p.name.startswith("model")) == \
        ["model"]
    # A swap caught between its two renames is put back.
    os.replace(folder.model_dir, folder.path / "model.old")
    folder.repair()
    assert {p.name: p.read_bytes() for p in folder.model_dir.iterdir()} == before


# -- a real full disk ---------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_disk_that_fills_during_a_run(small_disk, monkeypatch, capsys, tmp_path,
                                        make_messy, wait):
    disk = small_disk("24m")
    root = disk / "home"
    monkeypatch.setenv("MODELYARD_HOME", str(root))
    data = tmp_path / "customers.csv"
    make_messy(n=300).to_csv(data, index=False)

    code = main(["run", str(data), "--target", "churn", "--budget", "6", "--planner", "rules",
                 "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    folder = RunFolder(root / "runs" / run_id)
    model = {p.name: p.read_bytes() for p in folder.model_dir.iterdir()}
    first = journal_lines(folder.events_path)

    # More time; once the new session has finished a trial, the disk fills up.
    assert main(["add-time", run_id, "60"]) == 0
    capsys.readouterr()
    wait(lambda: folder.read()["status"] == "running"
         and any(e.seq > first[-1]["seq"] and e.kind == "trial"
                 for e, _ in read_events(folder.events_path, 0)), 90,
         what="a trial of the second session")
    filler = KeptFull(disk)
    wait(lambda: folder.read()["status"] == "failed", 120, what="the run to fail")

    record = folder.read()
    assert record["message"].startswith("The disk is full: "), explain(folder)
    assert record["message"].endswith(f"MB free on {disk}; free space and use Add time to "
                                      "continue."), record["message"]
    assert not folder.reserve_path.exists()
    events = journal_lines(folder.events_path)  # every line whole, none glued
    assert events[: len(first)] == first
    assert (events[-1]["kind"], events[-1]["message"]) == ("status", record["message"])
    assert {p.name: p.read_bytes() for p in folder.model_dir.iterdir()} == model

    # The earlier model is still usable, said to come from a run that failed late; the
    # disk is still full (the catalog cannot be brought up to date: a warning).
    predictions = tmp_path / "predictions.csv"
    code = main(["predict", run_id, str(data), "--out", str(predictions)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "note: This model is from a run that failed late: The disk is full: " in err
    assert len(predictions.read_text().splitlines()) == 301

    # Space again: Add time continues the same studies and journals. (Enough time for a
    # trial after the start-up and the reserve for delivering the bags of the best.)
    filler.release()
    trials_before = optuna_trials(folder.optuna_path)
    code = main(["add-time", run_id, "15", "--wait"])
    out, err = capsys.readouterr()
    assert code == 0, err + explain(folder)
    assert folder.read()["status"] == "succeeded"
    events = journal_lines(folder.events_path)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert journal_lines(folder.optuna_path)  # the torn tail, if any, was cut
    assert optuna_trials(folder.optuna_path) > trials_before
    assert main(["predict", run_id, str(data), "--out", str(predictions)]) == 0
    assert "failed late" not in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_run_outputs_on_a_full_disk_leave_what_was_there(small_disk, capsys, tmp_path,
                                                         make_messy):
    out = small_disk("256k")
    (out / "plan.json").write_text("the plan of an earlier run")
    fill(out)
    data = tmp_path / "customers.csv"
    make_messy(n=200).to_csv(data, index=False)

    code = main(["run", str(data), "--target", "churn", "--budget", "5", "--planner", "rules",
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "succeeded, but its outputs could not be written to" in err, err
    assert f"The disk is full: 0 MB free on {out}; free space" in err
    assert "internal error" not in err
    assert (out / "plan.json").read_text() == "the plan of an earlier run"
    assert sorted(p.name for p in out.iterdir()) == ["filler", "plan.json"], \
        "a 0-byte or temporary file was left"


# Seed 1 in `make test`; more seeds in `make bench` (pytest -m bench), to keep the suite short.
SEEDS = [1, pytest.param(2, marks=pytest.mark.bench), pytest.param(3, marks=pytest.mark.bench)]


# -- a worker killed at random points ------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", SEEDS)
def test_a_worker_killed_at_a_random_point(ws, tmp_path, make_messy, wait, seed):
    rng = random.Random(seed)
    data = tmp_path / "customers.csv"
    make_messy(n=400, seed=seed).to_csv(data, index=False)
    folder, proc = start(ws, data, budget=10)
    dataset_dir = Path(folder.read()["dataset_dir"])
    stored = {p.name: p.read_bytes() for p in dataset_dir.iterdir() if p.is_file()}
    wait(lambda: folder.read()["status"] == "running" or proc.poll() is not None, 90,
         what="the worker to start")
    time.sleep(rng.uniform(0.0, 6.0))
    assert proc.poll() is None, explain(folder)
    os.killpg(folder.read()["pid"], signal.SIGKILL)
    proc.wait(timeout=10)

    assert ws.refresh() == [folder.id]
    record = folder.read()
    assert record["status"] == "failed"
    assert record["message"] == ("The run stopped unexpectedly: the worker process is gone "
                                 "(killed or crashed).")
    events = journal_lines(folder.events_path)
    trials = {e["model"] for e in events if e["kind"] == "trial"}

    # The catalog rebuilt from the folder says the same.
    ws.reindex()
    assert run_store.get_run(ws.catalog, folder.id)["status"] == "failed"
    assert {t["model"] for t in run_store.trials(ws.catalog, folder.id)} == trials
    assert [e["seq"] for e in run_store.events(ws.catalog, folder.id, limit=100_000)] == \
        [e["seq"] for e in events]

    # Add time: it continues and finishes, keeping the trials it had.
    ws.add_time(folder.id, 6)
    ws.refresh()
    wait(lambda: not RunStatus(folder.read()["status"]).is_active, 120,
         what="the added time to end")
    assert folder.read()["status"] == "succeeded", explain(folder)
    after = journal_lines(folder.events_path)
    assert after[: len(events)] == events
    assert trials <= {e["model"] for e in after if e["kind"] == "trial"}
    assert journal_lines(folder.optuna_path)
    assert open_run(ws.home, folder.id).note == ""
    assert {p.name: p.read_bytes() for p in dataset_dir.iterdir() if p.is_file()} == stored


# -- the app killed at random points ---------------------------------------------------------
# What the app does on every rerun of the Runs page, in a loop: find dead workers, index the
# journals into the catalog, read the run's view. Killed mid-way it may hold the catalog's
# lock or be inside a DuckDB write.
_APP = """
import sys
from modelyard.app.workspace import Workspace
from modelyard.storage.paths import Home
from pathlib import Path
ws = Workspace(Home(Path(sys.argv[1])))
print("ready", flush=True)
while True:
    ws.refresh()
    ws.runs()
    ws.run_view(sys.argv[2])
"""


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", SEEDS)
def test_the_app_killed_at_a_random_point_loses_nothing(ws, tmp_path, make_messy, wait, seed):
    rng = random.Random(seed)
    data = tmp_path / "customers.csv"
    make_messy(n=400, seed=seed).to_csv(data, index=False)
    folder, proc = start(ws, data, budget=8)
    app = subprocess.Popen([sys.executable, "-c", _APP, str(ws.home.root), folder.id],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        assert app.stdout.readline().strip() == "ready", app.stderr.read()
        time.sleep(rng.uniform(0.5, 6.0))
        assert app.poll() is None, app.stderr.read()
        os.killpg(app.pid, signal.SIGKILL)
        app.wait(timeout=10)
    finally:
        if app.poll() is None:
            os.killpg(app.pid, signal.SIGKILL)
            app.wait(timeout=10)

    # The worker never depended on the app: it finishes, and the next look indexes it all.
    wait(lambda: not RunStatus(folder.read()["status"]).is_active, 120,
         what="the run to end")
    assert folder.read()["status"] == "succeeded", explain(folder)
    assert ws.refresh() == []
    events = journal_lines(folder.events_path)
    trials = {e["model"] for e in events if e["kind"] == "trial"}
    assert run_store.get_run(ws.catalog, folder.id)["status"] == "succeeded"
    assert {t["model"] for t in run_store.trials(ws.catalog, folder.id)} == trials
    assert [e["seq"] for e in run_store.events(ws.catalog, folder.id, limit=100_000)] == \
        [e["seq"] for e in events]
    # And a catalog rebuilt from the folders says the same.
    ws.reindex()
    assert {t["model"] for t in run_store.trials(ws.catalog, folder.id)} == trials
    assert open_run(ws.home, folder.id).predictor is not None
