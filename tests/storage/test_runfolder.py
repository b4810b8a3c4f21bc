"""run.json updates, the event journal and its reader."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from modelyard.schemas import RunStatus
from modelyard.storage.runfolder import ACTIVE, TERMINAL, JournalWriter, RunFolder, read_events


@pytest.fixture
def folder(home):
    f = RunFolder(home.run_dir("run_test"))
    f.create({"id": "run_test", "status": "queued"})
    return f


def test_create_refuses_an_existing_folder(folder):
    with pytest.raises(FileExistsError):
        folder.create({"id": "run_test", "status": "queued"})


def test_update_merges_and_stamps(folder):
    record = folder.update(status="running", pid=123)
    assert record.status is RunStatus.running and record.pid == 123
    assert record.updated_at is not None
    assert folder.record() == record
    assert folder.read() == {"id": "run_test", "status": "running", "pid": 123,
                             "updated_at": record.updated_at}
    assert not list(folder.path.glob(".run.json.*")), "a temporary file was left behind"


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_a_terminal_status_is_never_overwritten_without_force(folder, terminal):
    folder.update(status="running")
    folder.update(status=terminal, message="first word")
    for later in sorted((TERMINAL | ACTIVE) - {terminal}):
        record = folder.update(status=later, message="late writer")
        assert record.status == terminal
        assert folder.read()["status"] == terminal
        assert folder.read()["message"] == "first word"
    forced = folder.update(force=True, status="failed", message="forced")
    assert forced.status is RunStatus.failed and folder.read()["message"] == "forced"


def test_changes_without_a_status_still_apply_after_the_end(folder):
    folder.update(status="succeeded")
    folder.update(note="annotated later")
    assert folder.read()["status"] == "succeeded"
    assert folder.read()["note"] == "annotated later"


_RACER = textwrap.dedent(
    """
    import sys
    from modelyard.storage.runfolder import RunFolder
    f = RunFolder(sys.argv[1])
    for i in range(100):
        f.update(**{"count_" + sys.argv[2]: i})
    """
)


def test_concurrent_updates_from_processes_lose_nothing(folder):
    """Two processes updating run.json at once: the per-run lock keeps both writers' keys."""
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, str(folder.path), name])
             for name in ("a", "b")]
    for p in procs:
        assert p.wait(timeout=60) == 0
    record = folder.read()
    assert record["count_a"] == 99 and record["count_b"] == 99
    assert record["status"] == "queued"


def test_journal_numbers_events_and_continues_after_reopen(folder):
    journal = JournalWriter(folder)
    assert [journal.emit("log", str(i)).seq for i in range(3)] == [1, 2, 3]
    journal.close()
    assert folder.heartbeat_age() is not None and folder.heartbeat_age() < 60
    journal = JournalWriter(folder)
    assert journal.emit("log", "again").seq == 4
    journal.close()
    assert [e.seq for e, _ in read_events(folder.events_path, 0)] == [1, 2, 3, 4]


def test_journal_writes_numpy_values_as_plain_json(folder):
    np = pytest.importorskip("numpy")
    journal = JournalWriter(folder)
    journal.emit("trial", cv_score=np.float64(0.25), number=np.int64(3), where=folder.path)
    journal.close()
    event = json.loads(folder.events_path.read_text())
    assert event["cv_score"] == 0.25 and event["number"] == 3
    assert event["where"] == str(folder.path)


def test_read_events_skips_torn_lines_and_waits_for_a_partial_one(tmp_path):
    path = tmp_path / "events.jsonl"
    good1 = json.dumps({"seq": 1, "kind": "log"}) + "\n"
    torn = '{"seq": 2, "kind": "tr\n'  # a crash mid-write, then the writer went on
    good3 = json.dumps({"seq": 3, "kind": "log"}) + "\n"
    partial = '{"seq": 4, "kind": "lo'
    path.write_text(good1 + torn + good3 + partial)

    found = list(read_events(path, 0))
    assert [e.seq for e, _ in found] == [1, 3]
    end_of_complete = len((good1 + torn + good3).encode())
    assert found[-1][1] == end_of_complete

    # Resuming from the returned offset yields nothing until the line is finished.
    assert list(read_events(path, end_of_complete)) == []
    with open(path, "a") as fh:
        fh.write('g"}\n')
    resumed = list(read_events(path, end_of_complete))
    assert [(e.seq, e.kind) for e, _ in resumed] == [(4, "log")]
    assert resumed[-1][1] == path.stat().st_size


def test_read_events_of_a_missing_journal_is_empty(tmp_path):
    assert list(read_events(tmp_path / "nope.jsonl", 0)) == []


def test_log_tail_returns_the_last_lines(folder):
    folder.log_path.write_text("".join(f"line {i}\n" for i in range(100)))
    assert folder.log_tail(3).splitlines() == ["line 97", "line 98", "line 99"]
    assert RunFolder(folder.path.parent / "other").log_tail() == ""
