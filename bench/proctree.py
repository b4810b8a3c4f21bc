"""Run one command and measure its wall time and peak memory over its whole process tree.

Peak memory is the largest sum over the process and all its descendants, sampled every
SAMPLE_S seconds: AutoML systems fit in worker processes (Modelyard's worker and fit
children, AutoGluon's and FLAML's forks), so the parent's own memory would miss most of it.
Two sums are kept:

- resident memory (RSS): a page shared between processes (a forked child's inherited
  libraries and data, the libraries every Python loads) counts once per process, so the
  sum is an upper bound that grows with the number of processes, not with the memory used;
- proportional set size (PSS, Linux): each shared page split among the processes sharing
  it, so the sum is the physical memory the tree really holds.

A spike shorter than the sampling interval can be missed.
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
    peak_mib: float  # summed RSS
    log_tail: str
    timed_out: bool
    peak_pss_mib: float | None = None  # summed PSS; None where the system has none


def _tree_memory(proc: psutil.Process) -> tuple[int, int | None]:
    """The tree's summed RSS and summed PSS (None if PSS cannot be read) in bytes."""
    rss, pss = 0, 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, None
    for member in members:
        try:
            info = member.memory_full_info()
        except psutil.AccessDenied:
            pss = None
            continue
        except psutil.Error:  # ended between listing and reading
            continue
        rss += info.rss
        if pss is not None:
            pss = pss + info.pss if hasattr(info, "pss") else None
    return rss, pss


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
    peak, peak_pss = 0, 0
    timed_out = False
    with open(log, "wb") as out:
        proc = psutil.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                            cwd=cwd, env={**os.environ, **(env or {})})
        while proc.poll() is None:
            rss, pss = _tree_memory(proc)
            peak = max(peak, rss)
            peak_pss = None if pss is None or peak_pss is None else max(peak_pss, pss)
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
    return Measured(proc.returncode, wall, peak / 2**20, tail, timed_out,
                    None if peak_pss is None else peak_pss / 2**20)
