"""The side-by-side harness: memory measured over the process tree, runs resumed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from bench.automl_vs_flaml import _commit, load_results
from bench.proctree import run_measured

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_peak_memory_counts_the_children(tmp_path):
    # The parent holds little; its child holds 300 MiB for a second.
    child = "b = bytearray(300 * 2**20); import time; time.sleep(1.5)"
    parent = textwrap.dedent(f"""
        import subprocess, sys
        subprocess.run([sys.executable, "-c", {child!r}], check=True)
        print("done")
    """)
    got = run_measured([sys.executable, "-c", parent], tmp_path / "log.txt", timeout_s=60)
    assert got.returncode == 0 and not got.timed_out
    assert "done" in got.log_tail
    assert got.peak_mib > 300
    assert 300 < got.peak_pss_mib <= got.peak_mib  # written pages are the child's alone


def test_shared_pages_count_once_in_the_proportional_sum(tmp_path):
    # The parent touches 300 MiB, then forks four children that only sleep: the pages are
    # shared, so RSS counts them five times and PSS once.
    code = textwrap.dedent("""
        import os, time
        b = bytearray(300 * 2**20)
        for i in range(0, len(b), 4096):
            b[i] = 1
        children = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                time.sleep(2)
                os._exit(0)
            children.append(pid)
        for pid in children:
            os.waitpid(pid, 0)
        print("done", flush=True)
    """)
    got = run_measured([sys.executable, "-c", code], tmp_path / "log.txt", timeout_s=60)
    assert got.returncode == 0 and not got.timed_out
    assert got.peak_mib > 3 * 300
    assert 300 < got.peak_pss_mib < 1.5 * 300, (got.peak_mib, got.peak_pss_mib)


def test_a_command_past_its_time_is_killed(tmp_path):
    got = run_measured([sys.executable, "-c", "import time; time.sleep(60)"],
                       tmp_path / "log.txt", timeout_s=1)
    assert got.timed_out and got.wall_s < 30


def test_a_line_cut_by_an_interruption_is_skipped_and_a_retry_supersedes(tmp_path):
    key = {"budget": 60, "table": "wine", "split": 0}
    lines = [{**key, "system": "flaml", "score": None}, {**key, "system": "modelyard",
             "score": 0.1}, {**key, "system": "flaml", "score": 0.2}]
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"budget": ',
                    encoding="utf-8")
    assert load_results(path) == lines[1:]


@pytest.mark.slow
def test_the_harness_scores_each_split_and_resumes_where_it_stopped(tmp_path):
    results = tmp_path / "r.jsonl"
    cmd = [sys.executable, "-m", "bench.automl_vs_flaml", "--systems", "lightgbm", "--only",
           "wine", "--budgets", "5", "--results", str(results), "--work", str(tmp_path)]
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    records = load_results(results)
    # Wine has 178 rows: three splits, each scored with its log loss.
    assert [r["split"] for r in records] == [0, 1, 2]
    assert all(0 < r["score"] < 1 and r["peak_mib"] > 50 for r in records), records
    summary = [json.loads(line) for line in first.stdout.splitlines()]
    assert summary[0]["dataset"] == "wine" and summary[0]["lightgbm"] > 0
    second = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert load_results(results) == records  # nothing ran twice


def test_a_record_names_the_commit_and_marks_changed_files_but_not_the_records(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "bench" / "records").mkdir(parents=True)
    (tmp_path / "bench" / "records" / "automl.jsonl").write_text("{}\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "first")
    (tmp_path / "bench" / "records" / "automl.jsonl").write_text("{}\n{}\n")
    assert not _commit(tmp_path).endswith("+")  # a record appended is not a change
    (tmp_path / "code.py").write_text("x = 2\n")
    assert _commit(tmp_path).endswith("+")


def test_make_bench_puts_its_tables_first_and_keeps_what_was_measured_before():
    from bench.run import BENCHES, with_section

    before = ("# Benchmark results\n\nA note.\n\n## Side by side, session 13\n\n"
              "| a |\n|---|\n| 1 |\n")
    after = with_section(before, "## `make bench` on 2026-12-02 06:00\n\n### Ingest\n\n| b |\n")
    assert after.startswith("# Benchmark results\n\n## `make bench` on 2026-12-02 06:00")
    assert after.index("### Ingest") < after.index("A note.") < after.index("session 13")
    assert after.endswith("| 1 |\n") and after.count("# Benchmark results") == 1
    # From nothing, the title comes first.
    assert with_section("", "## new\n").startswith("# Benchmark results\n\n## new\n")
    # The side-by-side records kept in the repository are not started over.
    automl = next(args for _, args in BENCHES if "bench.automl_vs_flaml" in args)
    assert automl[automl.index("--results") + 1].startswith("bench/.work/")
