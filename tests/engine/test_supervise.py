"""The supervisor's judgement of worker liveness, on stand-in processes (fast)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import optuna
import psutil
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from modelyard.engine import jobs
from modelyard.engine.errors import NotFoundError
from modelyard.schemas import RunStatus
from modelyard.storage.runfolder import RunFolder


def make_folder(home, run_id: str, **record) -> RunFolder:
    folder = RunFolder(home.run_dir(run_id))
    folder.create({"id": run_id, "created_at": time.time(), **record})
    folder.touch_heartbeat()
    return folder


def sleeper() -> subprocess.Popen:
    """A stand-in worker: its own process group, like a launched one."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                            start_new_session=True)


def started(proc: subprocess.Popen) -> dict:
    return {"pid": proc.pid, "pid_create_time": psutil.Process(proc.pid).create_time()}


@pytest.fixture
def procs():
    running: list[subprocess.Popen] = []
    yield running
    for p in running:
        if p.poll() is None:
            p.kill()
        p.wait()


def test_a_queued_run_is_left_alone(home):
    folder = make_folder(home, "run_q", status="queued")
    assert jobs.supervise(home) == []
    assert folder.read()["status"] == "queued"


def test_a_live_worker_with_a_fresh_heartbeat_stays_running(home, procs):
    procs.append(p := sleeper())
    folder = make_folder(home, "run_live", status="running", **started(p))
    assert jobs.supervise(home) == []
    assert folder.read()["status"] == "running"
    assert p.poll() is None


def test_a_vanished_worker_fails_the_run(home):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    record = started(gone)  # readable until reaped, even once it has exited
    gone.wait()
    folder = make_folder(home, "run_gone", status="running", **record)
    assert jobs.supervise(home) == ["run_gone"]
    after = folder.read()
    assert after["status"] == "failed" and after["finished_at"]
    assert after["message"] == ("The run stopped unexpectedly: the worker process is gone "
                                "(killed or crashed).")


def test_an_unreaped_dead_worker_counts_as_dead(home, procs):
    procs.append(p := subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True))
    record = started(p)
    deadline = time.time() + 10
    while psutil.Process(p.pid).status() != psutil.STATUS_ZOMBIE:  # exited, not reaped
        assert time.time() < deadline
        time.sleep(0.05)
    folder = make_folder(home, "run_zombie", status="running", **record)
    assert jobs.supervise(home) == ["run_zombie"]
    assert "exited without finishing" in folder.read()["message"]


def test_a_reused_pid_is_not_mistaken_for_the_worker(home, procs):
    procs.append(p := sleeper())
    record = started(p)
    record["pid_create_time"] -= 3600  # the worker was a different, older process
    folder = make_folder(home, "run_reused", status="running", **record)
    assert jobs.supervise(home) == ["run_reused"]
    assert "process id was reused" in folder.read()["message"]


def test_a_silent_worker_is_failed_and_its_group_killed(home, procs):
    procs.append(p := sleeper())
    folder = make_folder(home, "run_hung", status="running", **started(p))
    old = time.time() - jobs.HEARTBEAT_STALE_SECONDS - 60
    os.utime(folder.heartbeat_path, (old, old))
    assert jobs.supervise(home) == ["run_hung"]
    assert "stopped responding" in folder.read()["message"]
    assert p.wait(timeout=10) == -9


# Above Linux's largest possible pid (2**22): no process can have it.
NO_SUCH_PID = 2**22 + 7


def test_a_finished_run_is_never_revisited(home):
    folder = make_folder(home, "run_done", status="succeeded", pid=NO_SUCH_PID)
    assert jobs.supervise(home) == []
    assert folder.read()["status"] == "succeeded"


def test_supervise_closes_running_optuna_trials(home):
    folder = make_folder(home, "run_optuna", status="running", pid=NO_SUCH_PID)
    storage = JournalStorage(JournalFileBackend(str(folder.optuna_path)))
    study = optuna.create_study(study_name="linear", storage=storage)
    study.tell(study.ask(), 1.0)
    study.ask()  # left RUNNING, as by a killed worker
    study.ask()
    assert jobs.supervise(home) == ["run_optuna"]
    fresh = JournalStorage(JournalFileBackend(str(folder.optuna_path)))
    states = [t.state for t in fresh.get_all_trials(fresh.get_all_studies()[0]._study_id)]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.FAIL]


def test_cancel_of_an_unknown_run(home):
    with pytest.raises(NotFoundError, match="no run “run_nope”"):
        jobs.cancel(home, "run_nope")


def test_cancel_of_a_finished_run_changes_nothing(home):
    folder = make_folder(home, "run_old", status="failed", message="it broke")
    assert jobs.cancel(home, "run_old").status is RunStatus.failed
    assert folder.read()["message"] == "it broke"


def test_cancel_of_a_queued_run(home):
    folder = make_folder(home, "run_wait", status="queued")
    assert jobs.cancel(home, "run_wait").status is RunStatus.cancelled
    assert folder.read()["status"] == "cancelled"
