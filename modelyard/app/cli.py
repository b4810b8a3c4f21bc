"""`modelyard`: the same pipeline as the app, headless.

Exit codes: 0 success; 1 the run failed or an internal error; 2 bad input or usage;
130 cancelled or interrupted. Domain errors become one line on stderr here, and only here.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.app import cli_results, cli_serve
from modelyard.app.terminal import guard_streams
from modelyard.engine.disk import is_disk_full
from modelyard.engine.errors import BadInputError, ModelyardError, RunFailedError

if TYPE_CHECKING:  # the CLI starts without pydantic; commands import what they use
    from modelyard.schemas import RunRecord

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
LOCAL_ADDRESS = "127.0.0.1"


def _version() -> str:
    try:
        return metadata.version("modelyard")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2 with a next step
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"modelyard: {message}. See `modelyard --help`.\n")


def _budget(text: str) -> int:
    """A budget in whole seconds within the Plan's range, or a usage error naming it."""
    from modelyard.schemas import Plan

    field = Plan.model_fields["budget_seconds"]
    low, high = (next(getattr(m, k) for m in field.metadata if hasattr(m, k))
                 for k in ("ge", "le"))
    try:
        seconds = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None
    if not low <= seconds <= high:
        raise argparse.ArgumentTypeError(f"{seconds} s is outside {low} s to {high:,} s")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="modelyard", description="Local AutoML workbench.")
    p.add_argument("--version", action="version", version=f"modelyard {_version()}")
    p.add_argument("--home", help="data folder (default: $MODELYARD_HOME or ~/.modelyard)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    a = sub.add_parser("app", help="start the web app")
    a.add_argument("--port", type=int, default=8501)
    a.add_argument("--address", default=LOCAL_ADDRESS,
                   help="where to listen (default 127.0.0.1: this machine only); another "
                   "address lets other machines in, and is said as a warning")

    i = sub.add_parser("ingest", help="take in a table, folder or zip and profile it")
    i.add_argument("path", help="a table (CSV/TSV, Parquet, JSON, Excel, .gz), a folder "
                   "(competition layout, images per class) or a zip of either")
    i.add_argument("--name")
    i.add_argument("--target")
    i.add_argument("--test", help="a test table to predict later")
    _intake_options(i)
    i.add_argument("--progress", action="store_true",
                   help="show progress on stderr (shown anyway for big inputs)")
    i.add_argument("--json", action="store_true")

    pl = sub.add_parser("plan", help="propose a training plan for a data set")
    pl.add_argument("dataset")
    pl.add_argument("--target")
    pl.add_argument("--budget", type=_budget, default=300)
    _planner_options(pl)
    _forecast_options(pl)
    pl.add_argument("--json", action="store_true")

    r = sub.add_parser("run", help="ingest, plan, train and predict in one go")
    r.add_argument("train")
    r.add_argument("--target")
    r.add_argument("--test")
    _intake_options(r)
    r.add_argument("--plan", help="a plan JSON file to use instead of proposing one")
    r.add_argument("--budget", type=_budget, default=None, help="seconds for search and refit "
                   "(default 300)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--name")
    r.add_argument("--out", help="folder for plan.json, leaderboard.csv, predictions.csv")
    r.add_argument("--ignore", metavar="COLS", action="append", help="columns to leave out "
                   "of training, comma-separated (e.g. one the profile flags as giving the "
                   "answer away); may be given again")
    r.add_argument("--families", help="the model families to train, comma-separated, "
                   "instead of the proposed ones (e.g. lightgbm,fusion)")
    r.add_argument("--sample-submission", metavar="PATH", help="a competition's "
                   "sample_submission.csv: also write OUT/submission.csv in its format")
    r.add_argument("--accept-plan", action="store_true",
                   help="train on the proposed plan even when the planner chose another "
                   "target than --target (or, without it, the likely target): without this "
                   "flag such a plan stops the run before anything trains")
    r.add_argument("--storage", metavar="URL", help="share the search with workers on "
                   "other machines through this database (postgresql://USER@HOST/DB); "
                   "they join with `modelyard worker --join RUN` (default: "
                   "$MODELYARD_STUDY_STORAGE, else the saved setting, else none)")
    _planner_options(r)
    _forecast_options(r)
    r.add_argument("--json", action="store_true")

    for name, helptext in (("datasets", "list data sets"), ("runs", "list runs")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--json", action="store_true")
    s = sub.add_parser("show", help="show one run")
    s.add_argument("run")
    s.add_argument("--json", action="store_true")
    c = sub.add_parser("cancel", help="cancel a running run")
    c.add_argument("run")
    at = sub.add_parser("add-time", help="give a finished run more time: the search "
                        "continues where it stopped")
    at.add_argument("run")
    at.add_argument("seconds", type=int)
    at.add_argument("--wait", action="store_true", help="wait for it and print the result")
    cli_results.add_leaderboard_parser(sub)
    sub.add_parser("doctor", help="check versions, Ollama, GPU, disk")
    sub.add_parser("reindex", help="rebuild the catalog from the folders")
    cli_results.add_parsers(sub)
    cli_serve.add_parser(sub)
    _worker_parser(sub)
    return p


def _worker_parser(sub) -> None:
    w = sub.add_parser("worker", help="fit trials of a run on another machine: join its "
                       "search through its shared study storage")
    w.add_argument("--join", required=True, metavar="RUN", help="the run's id (printed by "
                   "`modelyard run --storage`, shown on the Runs and Settings pages)")
    w.add_argument("--storage", metavar="URL", help="the run's study storage (default: "
                   "$MODELYARD_STUDY_STORAGE, else the saved setting)")
    w.add_argument("--data", metavar="PATH", help="this machine's copy of the data set's "
                   "train.parquet (or its folder), checked against the run's SHA-256 "
                   "(default: the path on the run's machine, e.g. a shared folder)")
    w.add_argument("--threads", type=int, help="threads for training (default: all cores)")
    w.add_argument("--wait", type=float, default=60.0, metavar="SECONDS", help="how long to "
                   "wait for a run just launched to start its search (default 60)")


def _intake_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sheet", help="the Excel sheet to read (default: the first that holds "
                   "a table)")
    p.add_argument("--copy", action="store_true",
                   help="add the file as a new data set even if the same content was added "
                   "before (by default that data set is used)")
    p.add_argument("--reuse", action="store_true", help=argparse.SUPPRESS)  # the default now
    p.add_argument("--words-as-missing", action="store_true",
                   help="read cells such as None, NA or null in text columns as missing "
                   "(by default they are values; among numbers they are always missing)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _forecast_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("forecasting (asked for by --horizon or --time)")
    g.add_argument("--time", metavar="COL", help="the column of dates or times: forecast "
                   "the target's future values")
    g.add_argument("--series", metavar="COL", help="the column naming each series, when "
                   "the table holds several")
    g.add_argument("--horizon", type=_positive, metavar="N", help="how many steps ahead to "
                   "forecast (default: one season, such as 12 months)")
    g.add_argument("--windows", type=_positive, metavar="N", help="backtest windows "
                   "(default: up to 3, as the history allows)")
    g.add_argument("--frequency", metavar="F", help="the step between time stamps as a "
                   "pandas alias: D, W, MS, QS, YS, h (default: read from the data)")
    g.add_argument("--covariates", metavar="COLS", help="comma-separated columns known in "
                   "advance; their future values come in rows after the history")


def _wants_forecast(args: argparse.Namespace) -> bool:
    return any(getattr(args, k, None) for k in ("horizon", "time", "series", "windows",
                                                "frequency", "covariates"))


def _forecast_by_goal(ws, meta: dict[str, Any], args) -> bool:
    """--goal asks for a forecast of a table whose rows are a time series: forecast the
    column it names (said on stderr; --target or the forecasting flags choose otherwise)."""
    target = ws.forecast_asked(meta["id"], args.goal)
    if target is None:
        return False
    args.target = target
    _err(f"modelyard: note: “{args.goal}” asks for a forecast and the rows are a time "
         f"series: forecasting “{target}” (--horizon N sets how far ahead).")
    return True


def _propose_forecast(ws, dataset_id: str, args, budget: int, seed: int) -> dict[str, Any]:
    covariates = [c.strip() for c in (args.covariates or "").split(",") if c.strip()]
    return ws.propose_forecast_plan(
        dataset_id, target=args.target, time_column=args.time, series_column=args.series,
        horizon=args.horizon, windows=args.windows, frequency=args.frequency,
        covariates=covariates, budget_seconds=budget, seed=seed)


def _planner_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--goal", help="what you want to predict, in your own words")
    p.add_argument("--planner", choices=("auto", "ollama", "rules"), default=None,
                   help="auto (default): the language model if Ollama answers, else rules; "
                        "ollama: fail if Ollama cannot be reached")
    p.add_argument("--ollama-host", help="Ollama's address (default: $OLLAMA_HOST, else "
                   "the saved setting, else http://127.0.0.1:11434)")
    p.add_argument("--model", help="the Ollama model (default: the saved one, else the "
                   "first installed)")


def main(argv: list[str] | None = None, *, own_process: bool = False) -> int:
    """The command line. `own_process`: this process is the `modelyard` program itself
    (not a caller's, such as a test's), so `run` may hand it over to a small process that
    waits for the Run (follow.py) instead of waiting with everything loaded."""
    asked_at = time.time()  # a Run's budget counts from here (`_cmd_run`)
    args = build_parser().parse_args(argv)
    args.own_process, args.asked_at = own_process, asked_at
    return _guarded(args, lambda: _dispatch(args))


def program() -> None:
    """The `modelyard` program (`python -m modelyard.app.cli` alike)."""
    guard_streams()  # data printed is shown, not obeyed by the terminal (terminal.py)
    sys.exit(main(own_process=True))


def _guarded(args: argparse.Namespace, command: Callable[[], int | None]) -> int:
    """Run `command`, its errors said in one line each with the exit code they mean."""
    try:
        return int(command() or 0)
    except KeyboardInterrupt:
        print("modelyard: interrupted.", file=sys.stderr)
        return EXIT_CANCELLED
    except ModelyardError as exc:
        print(f"modelyard: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # an internal error: one line, and where the detail is
        if is_disk_full(exc):  # not internal: the machine's disk, said as such
            print(f"modelyard: {_disk_full(args)}", file=sys.stderr)
            return EXIT_FAILED
        print(f"modelyard: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _disk_full(args: argparse.Namespace) -> str:
    """The words for a full disk: the one holding `--out` if given, else the home's."""
    from modelyard.app.workspace import Workspace
    from modelyard.engine.disk import disk_full_reason

    where = getattr(args, "out", None) or args.home or Workspace.default_root()
    return disk_full_reason(Path(where).expanduser(), "free space and try again")


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in WITHOUT_WORKSPACE:
        return COMMANDS[args.command](args)
    return COMMANDS[args.command](_workspace(args), args)


def _workspace(args: argparse.Namespace):
    """The Workspace of `--home`, its catalog brought up to date (or said why not)."""
    from modelyard.app.workspace import Workspace

    ws = Workspace.at(args.home)
    try:
        ws.refresh()
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        # The folders are the truth: a command that reads them still works.
        _err(f"modelyard: warning: the catalog could not be brought up to date. "
             f"{_disk_full(args)}")
    if notice := ws.catalog_notice():
        _err(f"modelyard: note: {notice}")
    return ws


# -- commands -----------------------------------------------------------------------------
def streamlit_command(port: int, address: str = LOCAL_ADDRESS) -> list[str]:
    """The `streamlit run` command line for the app: the settings shipped in the package
    (local address, no usage statistics, headless, no links to online services) passed as
    flags, so they hold whatever the working directory and its `.streamlit/` say."""
    import tomllib
    from importlib import resources

    package = resources.files("modelyard.app")
    settings = tomllib.loads((package / "streamlit.toml").read_text())
    settings["server"].update(port=port, address=address)
    flags = [f"--{section}.{key}={str(value).lower() if isinstance(value, bool) else value}"
             for section, values in settings.items() for key, value in values.items()]
    return [sys.executable, "-m", "streamlit", "run", str(package / "main.py"), *flags]


def _app(args) -> int:
    import os
    import subprocess

    if args.address not in (LOCAL_ADDRESS, "localhost"):
        _err(f"modelyard: warning: the app will listen on {args.address}, not only on this "
             "machine: anyone who can reach that address can see and change your data.")
    env = {**os.environ, "MODELYARD_HOME": args.home} if args.home else None
    return subprocess.call(streamlit_command(args.port, args.address), env=env)


def _take_in(ws, args, path: str, *, name: str | None = None, progress=None
             ) -> dict[str, Any]:
    """The data set for `path`: the one of the same content if there is one (said on
    stderr) unless --copy, else a new one; with --words-as-missing, chosen so."""
    meta = ws.ingest(path, name=name, target=args.target, test_path=args.test,
                     sheet=args.sheet, reuse=not args.copy, progress=progress)
    if meta.get("reused"):
        _err(f"modelyard: {meta['reused']} Pass --copy to add it again.")
    if args.words_as_missing and not meta.get("missing_words"):
        profile = ws.profile_record(meta["id"])
        if any(w["values"] == "text" for w in profile.get("missing_words", [])):
            meta = {**ws.treat_words_as_missing(meta["id"]), "reused": meta.get("reused")}
            _err("modelyard: cells such as “None” or “NA” in text columns are read as "
                 "missing, as --words-as-missing asks.")
    return meta


def _cmd_ingest(ws, args) -> int:
    meta = _take_in(ws, args, args.path, name=args.name, progress=_ingest_progress(args))
    from modelyard.engine.intake.sizes import size_words

    profile = ws.profile_record(meta["id"])
    if args.json:
        _print_json({**meta, "profile": profile})
        return EXIT_OK
    print(meta["id"])
    print(f"  {meta['name']}: {size_words(meta, columns=True)}")
    target = profile.get("target")
    if target:
        print(f"  target guess: {target['column']} ({target['task']}, confidence "
              f"{target['confidence']:.0%}): {target['reason']}")
    for w in profile.get("warnings", []):
        print(f"  [{w['severity']}] {w['message']} {w['action']}")
        if w["code"] == "words_kept":
            print("    (pass --words-as-missing to read them as missing)")
    return EXIT_OK


BIG_INPUT_BYTES = 64 << 20


def _ingest_progress(args):
    """A progress printer for stderr, or None for small inputs."""
    path = Path(args.path).expanduser()
    try:
        size = path.stat().st_size if path.is_file() else 0
    except OSError:
        size = 0
    if not args.progress and size < BIG_INPUT_BYTES:
        return None
    interactive = sys.stderr.isatty()
    last = {"step": -1}

    def show(fraction: float, message: str) -> None:
        step = int(fraction * 100) // (1 if interactive else 10)
        if step == last["step"]:
            return
        last["step"] = step
        line = f"[{fraction:4.0%}] {message}"
        if interactive:
            sys.stderr.write("\r" + line.ljust(80) + ("\n" if fraction >= 1 else ""))
            sys.stderr.flush()
        else:
            _err(line)

    return show


def _propose(ws, dataset_id: str, args, budget: int, seed: int = 0) -> dict[str, Any]:
    """Propose a plan with progress on stderr; a fallback to rules is a warning there."""
    interactive = sys.stderr.isatty()

    def progress(p) -> None:
        sys.stderr.write("\r" + p.line()[:100].ljust(100))
        sys.stderr.flush()

    doc = ws.propose_plan(dataset_id, target=args.target, budget_seconds=budget, seed=seed,
                          goal=args.goal, planner=args.planner, host=args.ollama_host,
                          model=args.model, on_progress=progress if interactive else None)
    prov = doc["provenance"]
    if interactive and prov.get("requested_planner") != "rules":
        sys.stderr.write("\n")
    if prov.get("fallback_reason"):
        _err(f"modelyard: warning: {prov['fallback_reason']}")
    for mend in prov.get("mends") or [] if doc["planner"] == "ollama" else []:
        _err(f"modelyard: note: mended: {mend}")  # what the model got wrong, fixed in code
    return doc


def _approve_the_target(ws, doc: dict[str, Any], args) -> None:
    """Stop before anything trains when the planner chose a target the person did not
    name (the one rule: `target_needs_approval`), unless they pass --accept-plan."""
    change = ws.target_change(doc)
    if change is None:
        return
    read = doc["plan"].get("goal_reading") if doc["plan"].get("goal") else None
    if not args.accept_plan:
        raise BadInputError(f"{change.sentence()}{f' {read}' if read else ''} Nothing was "
                            f"trained (the proposed plan is {doc['id']}).", "Pass --target "
                            "COL to choose, or --accept-plan to take the planner's choice.")
    _err(f"modelyard: note: {change.sentence()} Taken, as --accept-plan says.")


def _cmd_plan(ws, args) -> int:
    from modelyard.engine.planning.explain import as_text, is_image_plan
    from modelyard.schemas import Plan

    dataset_id = ws.resolve_dataset(args.dataset)
    doc = (_propose_forecast(ws, dataset_id, args, args.budget, 0) if _wants_forecast(args)
           else _propose(ws, dataset_id, args, args.budget))
    prov = doc["provenance"]
    if (change := ws.target_change(doc)) is not None:
        _err(f"modelyard: warning: {change.sentence()} Check it before you run this plan.")
    if args.json:
        _print_json({"plan": doc["plan"], "plan_id": doc["id"], "version": doc["version"],
                     "planner": doc["planner"],
                     "model": prov.get("model") if doc["planner"] == "ollama" else None,
                     "fallback_reason": prov.get("fallback_reason"),
                     "latency_seconds": prov.get("latency_seconds"),
                     "repairs": prov.get("repairs"), "mends": prov.get("mends") or [],
                     "tries_seconds": [a.get("seconds") for a in prov.get("attempts") or []],
                     "prompt_tokens": prov.get("prompt_tokens")})
    else:
        made_by = (f"the language model {prov.get('model')}" if doc["planner"] == "ollama"
                   else "the rule planner")
        print(f"{doc['id']} (version {doc['version']}), proposed by {made_by}")
        if prov.get("planner_note"):
            print(prov["planner_note"])
        plan = Plan.model_validate(doc["plan"])
        sound = ws.profile_record(dataset_id).get("modality") == "audio"
        print(as_text(plan, ws.image_setup(plan) if is_image_plan(plan) and not sound
                      else None, unit="recording" if sound else None))
    return EXIT_OK


def _load_plan_file(path: str, dataset_id: str, budget: int | None):
    from pydantic import ValidationError

    from modelyard.schemas import Plan

    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"Cannot read the plan file {path}: {exc}.",
                            "Give a JSON file written by `modelyard plan --json`.") from exc
    raw = raw.get("plan", raw)  # accept a plan or a `plan --json` document
    raw["dataset_id"] = dataset_id
    if budget is not None:
        raw["budget_seconds"] = budget
    try:
        return Plan.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise BadInputError(f"The plan file is not a valid plan: {where}: {first['msg']}.",
                            "Fix that field and try again.") from exc


def _cmd_run(ws, args) -> int:
    from modelyard.engine.intake.sizes import size_words
    from modelyard.engine.results.words import metric_name
    from modelyard.schemas import Plan

    if args.storage:  # a bad URL fails now, not after the planning
        args.storage = ws.storage_url(args.storage)
    if args.sample_submission:  # a bad sample fails now, not after the training
        cli_results.check_sample(args.sample_submission)
    meta = _take_in(ws, args, args.train)
    profile = ws.profile_record(meta["id"])
    ignored = _ignored_columns(args.ignore, profile) if args.ignore else []
    if (target := (profile.get("target") or {}).get("column")) in ignored:
        raise BadInputError(f"--ignore names “{target}”, the target.", "Leave it out of "
                            "--ignore, or choose another --target.")
    by_goal = not args.target and bool(args.goal) and _forecast_by_goal(ws, meta, args)
    forecast = by_goal or _wants_forecast(args)
    _say_findings(profile, ignored, forecast=forecast)
    if args.sample_submission:
        cli_results.check_test_table(ws, meta)
    if args.plan:
        plan = _load_plan_file(args.plan, meta["id"], args.budget)
        based_on = None
    elif forecast:
        based_on = _propose_forecast(ws, meta["id"], args, args.budget or 300, args.seed)
        plan = Plan.model_validate(based_on["plan"])
    else:
        based_on = _propose(ws, meta["id"], args, args.budget or 300, args.seed)
        _approve_the_target(ws, based_on, args)
        plan = Plan.model_validate(based_on["plan"])
    if getattr(args, "families", None):
        plan = _chosen_families(plan, args.families)
    if ignored:
        plan = _ignoring(plan, ignored)
    approved = ws.approve_plan(plan, based_on=based_on)
    # The budget counts from the command's start: reading, profiling and planning are
    # inside the time asked for (up to a tenth of it, `schedule.clock_start`).
    folder, _ = ws.start_run(approved, name=args.name, storage=args.storage,
                             asked_at=args.asked_at)
    run_name = folder.read().get("name")
    if args.name and run_name != args.name:
        _err(f"modelyard: note: another run is named “{args.name}”; this one is "
             f"“{run_name}”.")
    _err(f"run {folder.id} (“{run_name}”): training on {meta['name']} ({size_words(meta)}), "
         f"budget {plan.budget_seconds} s")
    # What it predicts, said before the wait: without --target the planner chose it.
    said = plan.label_columns[:3] + ([f"{len(plan.label_columns) - 3} more labels"]
                                     if len(plan.label_columns) > 4 else plan.label_columns[3:])
    _err(f"  predicting {', '.join(said)} ({plan.task.value}, scored by "
         f"{metric_name(plan.metric)}) with {', '.join(f.family for f in plan.families)}")
    if plan.goal and plan.goal_reading:  # how --goal was read, right or wrong
        _err(f"  {plan.goal_reading}")
    if shared := folder.record().study_storage:
        _err(f"other machines join its search with: {ws.join_command(folder.id, shared)}")
    if args.out:
        args.out = str(Path(args.out).expanduser().resolve())
    # The rest needs little memory until the Run ends: this process is handed over to a
    # small one that waits (follow.py). Only where it cannot be does this one wait.
    from modelyard.app import follow

    if args.own_process:
        follow.hand_over(ws.home.root, folder.id, args)
    try:
        record = follow.wait(ws.home.root, folder.id)
    except KeyboardInterrupt:
        ws.cancel(folder.id)
        _err(f"\nrun {folder.id} cancelled.")
        return EXIT_CANCELLED
    return _finish(ws, folder, args, record)


def finish_run(args: argparse.Namespace, record: RunRecord) -> int:
    """`modelyard run` once its Run has ended, in the process that followed it
    (follow.py): `args` holds `home`, `run_id`, `out`, `json` and `sample_submission`."""
    args.command = "run"

    def finish() -> int:
        ws = _workspace(args)
        return _finish(ws, ws.run_folder(args.run_id), args, record)

    return _guarded(args, finish)


def _finish(ws, folder, args: argparse.Namespace, record: RunRecord) -> int:
    """The outputs of the ended Run in `folder`, and the exit code its status means."""
    from modelyard.schemas import Plan, RunStatus

    ws.refresh()
    plan = Plan.model_validate(record.plan)  # as the Run used it
    out = Path(args.out).expanduser().resolve() if args.out else folder.path
    status = record.status
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = _write_outputs(ws, folder, plan, out)
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        from modelyard.engine.disk import disk_full_reason

        raise RunFailedError(
            f"run {folder.id} {status}, but its outputs could not be written to {out}: "
            + disk_full_reason(out, "free space, then take them from the run: `modelyard "
                                    f"show {folder.id}`, `modelyard predict {folder.id} ...`"),
        ) from None
    if args.sample_submission and status is RunStatus.succeeded:
        paths["submission"] = cli_results.submission_for_run(ws, folder.id,
                                                             args.sample_submission, out)
    summary = {
        "run_id": folder.id, "status": status, "task": plan.task.value,
        "metric": plan.metric.value, "greater_is_better": plan.metric.greater_is_better,
        "best_model": record.best_model, "cv_score": record.best_score,
        "message": record.message, "paths": paths,
    }
    if args.json:
        _print_json(summary)
    elif status is RunStatus.succeeded:
        print(f"{folder.id}: {record.message}")
        for key, value in paths.items():
            print(f"  {key}: {value}")
    if status is RunStatus.succeeded:
        return EXIT_OK
    if status is RunStatus.cancelled:
        _err(f"modelyard: run {folder.id} was cancelled.")
        return EXIT_CANCELLED
    raise RunFailedError(f"run {folder.id} failed: {record.message}",
                         f"See {folder.log_path}.")


def _write_outputs(ws, folder, plan, out: Path) -> dict[str, str]:
    from modelyard.engine.disk import replacing, write_text_atomic
    from modelyard.engine.results.escape import copy_for_spreadsheets, safe_row

    paths = {}
    # Each file renamed into place whole: a full disk leaves the earlier file, or none,
    # never a 0-byte or torn one.
    plan_path = out / "plan.json"
    write_text_atomic(plan_path, plan.model_dump_json(indent=2))
    paths["plan"] = str(plan_path)
    board = ws.ranked_trials(run_id=folder.id)
    board_path = out / "leaderboard.csv"
    # CSVs for people: formula-like text neutralised (engine/results/escape.py).
    with replacing(board_path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["rank", "model", "family", "cv_score", "metric", "greater_is_better",
                         "fit_seconds", "params"])
        for row in board:
            writer.writerow(safe_row([
                row["rank"], row["model"], row["family"], row["cv_score"], row["metric"],
                row["greater_is_better"], round(row["fit_seconds"] or 0.0, 4),
                json.dumps(row["params"])]))
    paths["leaderboard"] = str(board_path)
    if folder.predictions_path.exists():
        target = out / "predictions.csv"
        if target.resolve() != folder.predictions_path.resolve():
            with replacing(target) as tmp:
                copied = copy_for_spreadsheets(folder.predictions_path, tmp)
            for line in copied.notes(target.name):
                _err(f"modelyard: note: {line}")
        paths["predictions"] = str(target)
    if folder.model_dir.exists():
        paths["model"] = str(folder.model_dir)
    return paths


def _cmd_datasets(ws, args) -> int:
    rows = ws.datasets()
    if args.json:
        _print_json(rows)
    else:
        _table(rows, ["id", "name", "n_rows", "n_cols", "target", "task"])
    return EXIT_OK


def _cmd_runs(ws, args) -> int:
    rows = ws.runs()
    if args.json:
        _print_json(rows)
    else:
        _table(rows, ["id", "name", "dataset", "status", "metric", "best_model", "best_score"])
    return EXIT_OK


def _cmd_show(ws, args) -> int:
    run_id = ws.resolve_run(args.run)
    run = ws.run(run_id)
    board = ws.ranked_trials(run_id=run_id)
    if args.json:
        _print_json({**run, "leaderboard": board})
        return EXIT_OK
    for key in ("id", "name", "dataset", "status", "task", "metric", "best_model",
                "best_score", "message", "folder"):
        print(f"{key:>12}: {_fmt(run.get(key))}")  # nothing prints as "None"
    _table(board[:10], ["rank", "model", "family", "cv_score", "fit_seconds"])
    return EXIT_OK


def _cmd_cancel(ws, args) -> int:
    run_id = ws.resolve_run(args.run)
    record = ws.cancel(run_id)
    print(f"{run_id}: {record.status}")
    return EXIT_OK


def _cmd_add_time(ws, args) -> int:
    from modelyard.schemas import RunStatus

    run_id = ws.resolve_run(args.run)
    record = ws.add_time(run_id, args.seconds)
    print(f"{run_id}: {args.seconds} s more, {record.status}")
    if not args.wait:
        return EXIT_OK
    from modelyard.app.follow import wait

    record = wait(ws.home.root, run_id)
    print(f"{run_id}: {record.status}: {record.message}")
    return EXIT_OK if record.status is RunStatus.succeeded else EXIT_FAILED


def _cmd_leaderboard(ws, args) -> int:
    return cli_results.leaderboard(ws, args)


def _cmd_doctor(ws, args) -> int:
    from modelyard.engine import system
    from modelyard.engine.training.bundle import package_versions

    info = {
        "modelyard": _version(),
        "home": str(ws.home.root),
        "catalog": str(ws.home.db_path),
        "disk_free_gb": system.disk_free_gb(ws.home.root),
        "ollama": system.ollama_status(ws.llm_options()["host"]),
        "hardware": system.hardware(),
        "versions": package_versions(),
    }
    for key in ("streamlit", "duckdb", "torch", "timm"):
        try:
            info["versions"][key] = metadata.version(key)
        except metadata.PackageNotFoundError:
            info["versions"][key] = "not installed" + (
                " (pip install 'modelyard[vision]')" if key in ("torch", "timm") else "")
    ollama = info["ollama"]
    print(f"modelyard {info['modelyard']}")
    print(f"home:      {info['home']} ({info['disk_free_gb']} GB free)")
    print(f"ollama:    {ollama['host']}: " + (f"reachable, version {ollama.get('version')}"
          if ollama["reachable"] else "not reachable — plans will come from the rule planner"))
    hw = info["hardware"]
    gpus = ", ".join(g["name"] for g in hw["gpus"]) or "none (training runs on the CPU)"
    print(f"hardware:  {hw['cpu_count']} CPU cores, {hw['ram_total_gb']} GB RAM; GPU: {gpus}")
    print("versions:  " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    return EXIT_OK


def _cmd_worker(args) -> int:
    """Join a Run's search from this machine until it ends (`engine/training/join.py`)."""

    from modelyard.app.workspace import Workspace

    ws = Workspace.at(args.home)  # its settings only: this machine's catalog is not used
    url = ws.storage_url(args.storage) if args.storage else ws.settings().study_storage
    if not url:
        raise BadInputError("No study storage to join through.", "Pass --storage URL (as "
                            "the run's machine shows it), or set MODELYARD_STUDY_STORAGE.")
    if args.threads is not None and args.threads < 1:
        raise BadInputError("--threads must be 1 or more.", "Leave it out to use every core.")
    from modelyard.engine.training.join import join

    done = join(args.join, url, data=args.data, threads=args.threads, say=_err,
                wait=max(0.0, args.wait))
    print(done.words())
    return EXIT_OK


def _cmd_reindex(ws, args) -> int:
    counts = ws.reindex()
    print("catalog rebuilt: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return EXIT_OK


# -- output helpers -------------------------------------------------------------------
def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.5g}"
    return "" if value is None else str(value)


# -- the command table: every subcommand of `build_parser` and its handler, in one place ---
# `app` starts the web app and takes only the arguments; the others get a refreshed
# Workspace too. tests/app/test_cli.py checks that this table and the parser agree.
WITHOUT_WORKSPACE = frozenset({"app", "worker"})
COMMANDS: dict[str, Callable[..., int]] = {
    "app": _app,
    "ingest": _cmd_ingest,
    "plan": _cmd_plan,
    "run": _cmd_run,
    "datasets": _cmd_datasets,
    "runs": _cmd_runs,
    "show": _cmd_show,
    "cancel": _cmd_cancel,
    "add-time": _cmd_add_time,
    "leaderboard": _cmd_leaderboard,
    "doctor": _cmd_doctor,
    "reindex": _cmd_reindex,
    "worker": _cmd_worker,
    **cli_results.HANDLERS,
    "serve": cli_serve.command,
}


# Findings `run` says as notes: how the file was read, and what else it could do.
READ_NOTES = ("sheet", "preamble", "words_kept", "words_in_numbers", "numbers_in_text")


def _say_findings(profile: dict[str, Any], ignored: list[str], *, forecast: bool) -> None:
    """The Profile's findings a headless run must not hide, on stderr: how the file was
    read (notes), and every error-level one (a column giving the answer away, a target
    that cannot be learnt) as a warning with its next step; a flagged column the person
    left out with --ignore is not warned of again."""
    import shlex

    from modelyard.engine.planning.mend import LEAK_CODES

    for w in profile.get("warnings", []):
        if w["code"] in READ_NOTES:
            _err(f"modelyard: note: {w['message']}")
            continue
        if w["code"] == "forecasting" and not forecast:  # with how to ask for one
            _err(f"modelyard: note: {w['message']} {w['action']}")
            continue
        if w["severity"] != "error" or w.get("column") and w["column"] in ignored:
            continue
        if forecast and w["code"] in LEAK_CODES:
            continue  # a forecast learns from the target's past (and named covariates)
        hint = (f" (--ignore {shlex.quote(w['column'])} leaves it out)"
                if w["code"] in LEAK_CODES and w.get("column") else "")
        _err(f"modelyard: warning: {w['message']} {w['action']}{hint}")


def _ignored_columns(values: list[str], profile: dict[str, Any]) -> list[str]:
    """The columns named by --ignore (each value a column, or columns separated by
    commas), checked against the data set's."""
    from modelyard.engine.errors import did_you_mean

    names = [c["name"] for c in profile.get("columns", [])]
    out: list[str] = []
    for value in values:
        for name in [value] if value in names else [v.strip() for v in value.split(",")]:
            if not name:
                continue
            if name not in names:
                raise BadInputError(f"--ignore names no column “{name}”.",
                                    did_you_mean(name, names)
                                    + "The columns are listed by `modelyard ingest`.")
            out.append(name)
    return list(dict.fromkeys(out))


def _ignoring(plan, columns: list[str]):
    """`plan` with `columns` left out of training (checked: the target cannot be)."""
    from modelyard.schemas import Plan

    if plan.target in columns or set(plan.label_columns) & set(columns):
        raise BadInputError(f"--ignore names “{plan.target}”, which is what the plan "
                            "predicts.", "Leave it out of --ignore, or choose another "
                            "--target.")
    excluded = list(dict.fromkeys([*plan.excluded_columns, *columns]))
    return Plan.model_validate({**plan.model_dump(), "excluded_columns": excluded})


def _chosen_families(plan, names: str):
    """`plan` training the families named in `--families` (the proposed reasons kept)."""
    from modelyard.engine.errors import did_you_mean
    from modelyard.engine.training import families
    from modelyard.schemas import FamilyChoice

    current = {c.family: c for c in plan.families}
    chosen = []
    for name in dict.fromkeys(n.strip() for n in names.split(",") if n.strip()):
        if not families.known(name):
            raise BadInputError(f"There is no model family “{name}”.",
                                did_you_mean(name, list(families.REGISTRY))
                                + f"Choose from: {', '.join(families.REGISTRY)}.")
        family = families.get(name)
        chosen.append(current.get(name) or FamilyChoice(
            family=name, max_trials=4 if family.modality == "mixed" else 50,
            reason=family.why, pros=list(family.pros)[:3], cons=list(family.cons)[:3]))
    if not chosen:
        raise BadInputError("--families names no family.", "Name one or more, e.g. "
                            "--families lightgbm,fusion.")
    return plan.model_copy(update={"families": chosen})


if __name__ == "__main__":
    program()
