"""Run one command and measure its wall time and peak memory over its whole process tree.

Peak memory is the largest sum of resident memory (RSS) of the process and all its
descendants, sampled every SAMPLE_S seconds: AutoML systems fit in worker processes
(Modelyard's worker, AutoGluon's and FLAML's forks), so the parent's own RSS would miss
most of it. Summed RSS counts pages shared between processes once per process, so it is an
upper bound; a spike shorter than the sampling interval can be missed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

SAMPLE_S = 0.25


@dataclass
class Measured:
    """How one command ended: exit code, seconds, peak MiB, and the end of its log."""

    returncode: int
    wall_s: float
    peak_mib: float
    log_tail: str
    timed_out: bool


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:  # ended between listing and reading
            pass
    return total


def _kill_tree(proc: psutil.Process) -> None:
    try:
        members = [*proc.children(recursive=True), proc]
    except psutil.Error:
        members = [proc]
    for member in members:
        try:
            member.send_signal(signal.SIGKILL)
        except psutil.Error:
            pass


def run_measured(cmd: list[str], log: Path, timeout_s: float, cwd: Path | None = None,
                 env: dict | None = None) -> Measured:
    """Run `cmd` (stdout and stderr to `log`), killing its tree after `timeout_s`."""
    started = time.monotonic()
    peak = 0
    timed_out = False
    with open(log, "wb") as out:
        proc = psutil.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                            cwd=cwd, env={**os.environ, **(env or {})})
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc))
            if time.monotonic() - started > timeout_s:
                timed_out = True
                _kill_tree(proc)
                proc.wait()
                break
            time.sleep(SAMPLE_S)
    wall = time.monotonic() - started
    # Children a system left behind (it should leave none) must not outlive the measure.
    _kill_tree(proc)
    tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
    return Measured(proc.returncode, wall, peak / 2**20, tail, timed_out)
