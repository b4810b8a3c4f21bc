"""Following a started Run to its end from the command line: one updating progress line
(or a line per trial when stderr is not a terminal), then the run's outputs.

`modelyard run` reads the data, profiles it and plans with pandas, polars and DuckDB
loaded, then only waits while its worker trains: minutes to hours. So once the Run has
started, the command hands its process over to this module (`os.execv`, same process,
same terminal), which waits with the few modules it needs, and loads the rest only once
the Run has ended, to write the outputs (`cli.finish_run`). On the 245,509-row flights
table that waiting process held 134 MB (PSS; 224 MB resident) beside the worker; this one
holds about 20 MB.

    python -m modelyard.app.follow --home HOME RUN_ID [--out DIR] [--json]
        [--sample-submission FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from modelyard.engine import jobs
from modelyard.schemas import EventKind, RunRecord, RunStatus

EXIT_CANCELLED = 130


def wait(root: Path, run_id: str) -> RunRecord:
    """Wait for the Run to end, showing one updating progress line on stderr. While it
    waits in the queue, this process helps the queue along (the worker may be started
    by this CLI, the app or another worker)."""
    home = jobs.home_at(root)
    last, said_queued = "", False
    interactive = sys.stderr.isatty()
    for record, events in jobs.follow(home, run_id):
        if record.status is RunStatus.queued and not said_queued:
            said_queued = True
            _err(f"run {run_id}: queued behind other runs "
                 f"(at most {jobs.max_parallel_runs(home)} at a time)")
        for event in events:
            if event.kind in (EventKind.progress, EventKind.trial):
                last = event.message
            if not interactive and event.kind == EventKind.trial:
                # A log (a pipe, a file, CI) gets one line per finished trial instead of
                # the updating line, so a long run is not silent.
                elapsed = (event.ts or time.time()) - (record.launched_at or time.time())
                _err(f"[{elapsed:5.0f}s] {last}")
        elapsed = time.time() - (record.launched_at or time.time())
        line = f"[{elapsed:5.0f}s] {last or record.status}"[:120]
        if interactive:
            sys.stderr.write("\r" + line.ljust(120))
            sys.stderr.flush()
    if interactive:
        sys.stderr.write("\n")
    else:
        _err(f"run {run_id}: {record.status}")
    return record


def hand_over(root: Path, run_id: str, args: argparse.Namespace) -> None:
    """Replace this process by `python -m modelyard.app.follow` for the Run `run_id`
    (POSIX; returns only where that cannot be done, and the caller waits itself)."""
    if os.name != "posix" or not sys.executable:
        return
    argv = [sys.executable, "-m", "modelyard.app.follow", "--home", str(root), run_id]
    if args.out:
        argv += ["--out", str(args.out)]
    if args.json:
        argv.append("--json")
    if args.sample_submission:
        argv += ["--sample-submission", str(args.sample_submission)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="modelyard run", description=__doc__)
    parser.add_argument("--home", required=True)
    parser.add_argument("run_id")
    parser.add_argument("--out")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sample-submission")
    args = parser.parse_args(argv)
    try:
        record = wait(args.home, args.run_id)
    except KeyboardInterrupt:
        from modelyard.app.workspace import Workspace

        Workspace.at(args.home).cancel(args.run_id)
        _err(f"\nrun {args.run_id} cancelled.")
        return EXIT_CANCELLED
    from modelyard.app import cli

    return cli.finish_run(args, record)


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    from modelyard.app.terminal import guard_streams

    guard_streams()  # as `modelyard` itself: data printed is shown, not obeyed
    sys.exit(main())
