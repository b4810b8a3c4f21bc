"""The `modelyard` commands that use results: predict, export, report, submission, and
housekeeping (rename, delete, du, clean). `app.cli` registers and dispatches them; domain
errors become one line there."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelyard.engine.errors import BadInputError
from modelyard.engine.results.words import plural
from modelyard.engine.training.manifest import loading_warning

EXIT_OK = 0


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "predict", help="predict new rows with a run's model or a bundle",
        description="Predict new rows with a run's model or a Model bundle. "
                    + loading_warning("load") + "; a bundle without a manifest is refused "
                    "unless it is in this Modelyard's own run folders or you pass "
                    "--trust-unsigned.")
    p.add_argument("model", help="a run id or name (looked up among your runs first), or a "
                                 "path to a run folder, a bundle folder or a zip: a path "
                                 "contains / or starts with . or ~ or ends in .zip "
                                 "(./NAME for a folder here)")
    p.add_argument("input", help="a table of rows to predict (or a folder of images)")
    p.add_argument("--out", required=True, help="the predictions file (.csv or .parquet)")
    p.add_argument("--strict", action="store_true",
                   help="refuse a file with missing or wrongly typed model columns")
    p.add_argument("--trust-unsigned", action="store_true",
                   help="load a bundle that has no manifest.json (made before Modelyard "
                        "checked bundles): only if you trust where it came from")
    p.add_argument("--json", action="store_true")

    e = sub.add_parser(
        "export", help="write a run's model as a bundle folder and zip (or ONNX, MLflow)",
        description="Write a run's model. bundle: the Model bundle (the reference). onnx: "
                    "the bundle with onnx/model.onnx inside, checked against the bundle on "
                    "the training rows; a model that cannot be converted is named with the "
                    "reason (exit code 2; the bundle is still written). mlflow: an MLflow "
                    "model (pyfunc) wrapping the bundle, for `mlflow models predict/serve`.")
    e.add_argument("run")
    e.add_argument("--out", required=True, help="the folder to create")
    e.add_argument("--format", default="bundle", choices=("bundle", "onnx", "mlflow"),
                   help="bundle (default), onnx or mlflow")
    e.add_argument("--mlflow-tracking", metavar="DIR",
                   help="also log the run (params, CV score, leaderboard) to this local "
                        "MLflow tracking folder")
    e.add_argument("--no-zip", action="store_true")
    e.add_argument("--overwrite", action="store_true")

    r = sub.add_parser("report", help="write a run's report (HTML, or Markdown for .md)")
    r.add_argument("run")
    r.add_argument("--out", required=True, help="report.html or report.md")

    s = sub.add_parser("submission", help="write submission.csv in a sample's format")
    s.add_argument("run")
    s.add_argument("--sample", required=True, help="the competition's sample_submission.csv")
    s.add_argument("--test", help="the test table (default: the run's data set's test table)")
    s.add_argument("--out", required=True)

    rn = sub.add_parser("rename", help="rename a data set or a run")
    rn.add_argument("kind", choices=("dataset", "run"))
    rn.add_argument("ref")
    rn.add_argument("name")

    d = sub.add_parser("delete", help="delete a data set or a run (says what depends on it)")
    d.add_argument("kind", choices=("dataset", "run"))
    d.add_argument("ref")
    d.add_argument("--with-runs", action="store_true",
                   help="delete a data set's runs with it")
    d.add_argument("--yes", action="store_true", help="really delete")

    sub.add_parser("du", help="disk use per data set and run")
    c = sub.add_parser("clean", help="remove old runs' checkpoints (their models stay)")
    c.add_argument("--older-than", type=float, default=7.0, metavar="DAYS")
    c.add_argument("--dry-run", action="store_true")


def add_leaderboard_parser(sub) -> None:
    lb = sub.add_parser(
        "leaderboard", help="the models of one data set, ranked by its metric",
        description="The models of one data set, each run's trials ranked by the data "
                    "set's metric; or one run's. Models of different data sets (or "
                    "metrics) are never ranked together.")
    lb.add_argument("ref", nargs="?", metavar="DATASET_OR_RUN",
                    help="a data set or a run (id or name); when left out, the data set "
                         "of the newest run (the first line says which)")
    lb.add_argument("--metric", help="of a data set whose runs use several metrics: which "
                                     "one ranks (default: the newest run's)")
    lb.add_argument("--json", action="store_true", help="the ranked rows as JSON (which "
                                                        "data set: on stderr)")


def leaderboard(ws, args) -> int:
    """`modelyard leaderboard [DATASET_OR_RUN]`: one data set's (or run's) ranked models,
    with a first line saying which data set and metric and how many trials."""
    from modelyard.engine.errors import NotFoundError
    from modelyard.engine.results.words import direction, metric_name

    run_id = dataset_id = None
    scopes = ws.leaderboard_scopes()
    if args.ref:
        try:
            dataset_id = ws.resolve_dataset(args.ref)
        except NotFoundError:
            try:
                run_id = ws.resolve_run(args.ref)
            except NotFoundError:
                raise NotFoundError(f"There is no run or data set “{args.ref}”.",
                                    "List them with `modelyard runs` or `modelyard datasets`."
                                    ) from None
    elif scopes:
        dataset_id = scopes[0]["dataset_id"]
    if not run_id and not dataset_id:  # nothing trained yet
        _print_rows([], args.json)
        return EXIT_OK
    if run_id:
        run = ws.run(run_id) or {}
        dataset_id, metric = run.get("dataset_id"), run.get("metric")
        rows = ws.ranked_trials(run_id=run_id)
        runs = [run_id]
    else:
        mine = [s for s in scopes if s["dataset_id"] == dataset_id]
        metrics = [s["metric"] for s in mine]
        metric = args.metric or (metrics[0] if metrics else None)
        if args.metric and args.metric not in metrics:
            raise BadInputError(f"No run of this data set is scored by “{args.metric}”.",
                                "Its metrics: " + (", ".join(metrics) or "none yet") + ".")
        rows = ws.ranked_trials(dataset_id=dataset_id, metric=metric)
        runs = list(dict.fromkeys(r["run_id"] for r in rows))
        if len(metrics) > 1:
            _err(f"modelyard: note: this data set's runs use {len(metrics)} metrics; "
                 f"ranked by {metric}. Others: --metric "
                 + ", --metric ".join(m for m in metrics if m != metric) + ".")
    counts = ws.trial_counts_of(runs)
    name = next((s["dataset"] for s in scopes if s["dataset_id"] == dataset_id), None) \
        or dataset_id
    what = f"run {run_id} of " if run_id else ""
    greater = rows[0]["greater_is_better"] if rows else True
    tried = sum(c.trials for c in counts.values())
    header = (f"{what}data set “{name}” ({dataset_id}), ranked by {metric_name(metric)} "
              f"({direction(greater)}) within each run: {plural(len(runs), 'run')}, "
              f"{plural(tried, 'trial')}")
    if not args.ref and len({s["dataset_id"] for s in scopes}) > 1:
        header += "; for another data set: modelyard leaderboard DATASET"
    if args.json:
        _err(f"modelyard: {header}")
        _print_rows(rows, True)
        return EXIT_OK
    print(header[:1].upper() + header[1:] + ".")
    _print_rows(rows, False)
    return EXIT_OK


def _print_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        print("(none)")
        return
    from modelyard.engine.results.words import family_name

    columns = ("rank", "run", "model", "family", "CV score", "fit (s)")
    cells = [(str(r["rank"]), r["run_name"] or r["run_id"], r["model"],
              family_name(r["family"]), f"{r['cv_score']:.4f}",
              "" if r["fit_seconds"] is None else f"{r['fit_seconds']:.2f}") for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _progress(fraction: float, message: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\r[{fraction:4.0%}] {message}".ljust(80)
                         + ("\n" if fraction >= 1 else ""))
        sys.stderr.flush()


def is_path(ref: str) -> bool:
    """Whether `ref` is clearly a path rather than a run's id or name: it contains a path
    separator, starts with `.` or `~`, or ends in `.zip`. A folder that merely happens to
    be called like a run never stands in for that run."""
    separators = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    return (any(s in ref for s in separators) or ref.startswith((".", "~"))
            or ref.lower().endswith(".zip"))


def _model(ws, ref: str, trust_unsigned: bool = False):
    """(predictor, run result or None) for a run id/name (the catalog first) or a path.
    Either is checked against its manifest before anything in it is unpickled."""
    from modelyard.engine.errors import NotFoundError
    from modelyard.engine.results.artifacts import load_model, open_run

    if is_path(ref):
        path = Path(ref).expanduser()
        # A run folder of this home was written by this install: it loads without a
        # manifest, as when it is named by its id (engine/training/manifest.py).
        own = path.resolve().is_relative_to(ws.home.runs.resolve())
        if trust_unsigned and not own:
            _err(f"modelyard: note: --trust-unsigned: {ref} loads even without a manifest; "
                 "loading a bundle runs its code")
        return load_model(path, trust_unsigned=trust_unsigned or own), None
    try:
        run_id = ws.resolve_run(ref)
    except NotFoundError as exc:
        if Path(ref).exists():
            raise NotFoundError(f"There is no run “{ref}”.",
                                f"To load the bundle “{ref}” here, write it as a path: "
                                f"./{ref} (loading a bundle runs its code: only one you "
                                "trust).") from exc
        raise
    result = open_run(ws.home, run_id)
    if result.note:  # a model from a run that failed late: usable, and said so
        _err(f"modelyard: note: {result.note}")
    return (result.image_predictor() if result.is_image else result.predictor), result


def _cmd_predict(ws, args) -> int:
    from modelyard.engine.results import predict
    from modelyard.engine.training.bundle import Predictor

    predictor, _ = _model(ws, args.model, args.trust_unsigned)
    out = Path(args.out).expanduser()
    if not isinstance(predictor, Predictor):  # an image model: a folder, zip or image
        from modelyard.engine.vision.predict import predict_images

        made = predict_images(predictor, [Path(args.input)], out.parent, on_progress=_progress)
        predict.write_table(made.frame, out)
        _spreadsheet_notes(made.frame, out)
        for skipped in made.skipped:
            _err(f"modelyard: note: left out {skipped}")
        print(out)
        return EXIT_OK
    if getattr(predictor, "networks", None) is not None:  # a table that points at images
        from modelyard.engine.mixed.predict import missing_note, mixed_input

        with mixed_input(Path(args.input)) as (table, base):
            predictor.base = base
            done = _predict_table(predictor, table, out, args)
        if note := missing_note(predictor):
            _err(f"modelyard: note: {note}")
        return done
    table = predict.read_input(Path(args.input))
    if predictor.is_forecast:  # the file is each series' history: extend it
        frame = predictor.predict_frame(table)
        predict.write_table(frame, out)
        _spreadsheet_notes(frame, out)
        print(json.dumps({"out": str(out), "rows": len(frame), "columns": list(frame.columns)},
                         indent=2) if args.json else
              f"{out}: {len(frame)} forecast rows ({predictor.meta['forecast']['horizon']} "
              "steps per series)")
        return EXIT_OK
    return _predict_table(predictor, table, out, args)


def _predict_table(predictor, table, out: Path, args) -> int:
    from modelyard.engine.results import predict

    check = predict.check_input(predictor, table)
    for line in check.lines():
        _err(f"modelyard: note: {line}")
    serious = [i for i in check.issues if i.problem in ("missing", "type")]
    if args.strict and serious:
        raise BadInputError(f"{plural(len(serious), 'column problem')}: "
                            + "; ".join(f"{i.column}: {i.detail}" for i in serious) + ".",
                            "Fix the file, or leave out --strict to predict anyway.")
    frame = predict.predict(predictor, table, on_progress=_progress)
    predict.write_table(frame, out)
    _spreadsheet_notes(frame, out)
    if args.json:
        print(json.dumps({"out": str(out), "rows": len(frame), "columns": list(frame.columns),
                          "issues": check.rows_for_display()}, indent=2))
    else:
        print(f"{out}: {len(frame)} rows")
    return EXIT_OK


def _spreadsheet_notes(frame, out: Path) -> None:
    """Say which cells of a CSV were neutralised (engine/results/escape.py)."""
    from modelyard.engine.results.escape import for_spreadsheets

    if out.suffix.lower() not in (".parquet", ".pq"):
        for line in for_spreadsheets(frame)[1].notes(out.name):
            _err(f"modelyard: note: {line}")


def _cmd_export(ws, args) -> int:
    done = ws.export_model(ws.resolve_run(args.run), Path(args.out), args.format,
                           make_zip=not args.no_zip, overwrite=args.overwrite)
    print(done.folder)
    if done.zip_path:
        print(done.zip_path)
    if args.mlflow_tracking:
        tracking = Path(args.mlflow_tracking).expanduser().resolve()
        logged = ws.log_to_mlflow(ws.resolve_run(args.run), tracking)
        print(f"logged to MLflow as run {logged} in {tracking}")
    if done.onnx and done.onnx.get("converted"):
        check = done.onnx["check"]
        print(f"ONNX checked on {check['rows']:,} training rows: largest difference "
              f"{check['max_difference']:.2g} (tolerance {check['tolerance']:g})")
    if done.problem:
        print(f"modelyard: {done.problem}", file=sys.stderr)
        return BadInputError.exit_code
    return EXIT_OK


def _cmd_report(ws, args) -> int:
    from modelyard.engine.results import report
    from modelyard.engine.results.artifacts import open_run

    result = open_run(ws.home, ws.resolve_run(args.run))
    built = report.build(result, ws.catalog)
    out = Path(args.out).expanduser()
    text = built.markdown() if out.suffix.lower() in (".md", ".markdown") else built.html()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(out)
    return EXIT_OK


def write_submission(ws, result, sample: Path, out: Path, test: Path | None = None):
    """Build, check and write a submission for a succeeded Run."""
    from modelyard.engine.results import predict, submission

    table = predict.read_input(test) if test else result.test_rows()
    if table is None:
        raise BadInputError(f"Run “{result.name}” has no test table to predict.",
                            "Pass --test with the competition's test file.")
    return submission.make_submission(result.predictor, sample, table, out,
                                      on_progress=_progress)


def check_sample(path: str) -> None:
    """Fail early (before a `run` trains) on a sample submission that cannot be read."""
    from modelyard.engine.results.submission import read_sample

    read_sample(Path(path))


def check_test_table(ws, meta: dict[str, Any]) -> None:
    if not (ws.home.dataset_dir(meta["id"]) / "test.parquet").exists():
        raise BadInputError("--sample-submission needs a test table to predict.",
                            "Pass --test with the competition's test file.")


def submission_for_run(ws, run_id: str, sample: str, out_dir: Path) -> str:
    """`modelyard run --sample-submission`: OUT/submission.csv, checked."""
    from modelyard.engine.results.artifacts import open_run

    made = write_submission(ws, open_run(ws.home, run_id), Path(sample),
                            Path(out_dir) / "submission.csv")
    for line in made.format.describe() + made.notes:
        _err(f"modelyard: submission: {line}")
    return str(made.path)


def _cmd_submission(ws, args) -> int:
    from modelyard.engine.results.artifacts import open_run

    result = open_run(ws.home, ws.resolve_run(args.run))
    made = write_submission(ws, result, Path(args.sample), Path(args.out),
                            Path(args.test) if args.test else None)
    for line in made.format.describe():
        _err(f"modelyard: {line}")
    for line in made.notes:
        _err(f"modelyard: note: {line}")
    print(f"{made.path}: {len(made.frame)} rows, checked against the test file")
    return EXIT_OK


# -- housekeeping ----------------------------------------------------------------------------
def _cmd_rename(ws, args) -> int:
    from modelyard.engine.results import housekeeping

    if args.kind == "dataset":
        meta = housekeeping.rename_dataset(ws.home, ws.catalog, ws.resolve_dataset(args.ref),
                                           args.name)
        print(f"{meta['id']}: {meta['name']}")
    else:
        record = housekeeping.rename_run(ws.home, ws.catalog, ws.resolve_run(args.ref),
                                         args.name)
        print(f"{record.id}: {record.name}")
    return EXIT_OK


def _cmd_delete(ws, args) -> int:
    from modelyard.engine.results import housekeeping

    if args.kind == "dataset":
        dataset_id = ws.resolve_dataset(args.ref)
        deps = housekeeping.dependents(ws.home, dataset_id)
        if not args.yes:
            runs = ", ".join(f"{r['id']} (“{r['name']}”)" for r in deps["runs"]) or "none"
            raise BadInputError(f"Deleting data set {dataset_id} also deletes "
                                f"{plural(len(deps['plans']), 'plan version')}; its runs: "
                                f"{runs}.",
                                "Pass --yes to delete" + (" and --with-runs to delete its "
                                                          "runs too." if deps["runs"] else "."))
        done = housekeeping.delete_dataset(ws.home, ws.catalog, dataset_id,
                                           with_runs=args.with_runs)
    else:
        run_id = ws.resolve_run(args.ref)
        if not args.yes:
            raise BadInputError(f"Deleting run {run_id} deletes its model, predictions and "
                                "reports.", "Pass --yes to delete it.")
        done = housekeeping.delete_run(ws.home, ws.catalog, run_id)
    print(f"deleted {done.what}: {housekeeping.human_bytes(done.freed_bytes)} freed")
    return EXIT_OK


def _cmd_du(ws, args) -> int:
    from modelyard.engine.results.housekeeping import disk_usage, human_bytes

    use = disk_usage(ws.home)
    rows: list[dict[str, Any]] = (
        [{"kind": "data set", "id": d["id"], "name": d["name"], "size": human_bytes(d["bytes"]),
          "checkpoints": ""} for d in use["datasets"]]
        + [{"kind": "run", "id": r["id"], "name": r["name"], "size": human_bytes(r["bytes"]),
            "checkpoints": human_bytes(r["checkpoint_bytes"])} for r in use["runs"]])
    widths = {k: max([len(k)] + [len(str(r[k])) for r in rows]) for k in
              ("kind", "id", "name", "size", "checkpoints")}
    print("  ".join(k.ljust(w) for k, w in widths.items()))
    for row in rows:
        print("  ".join(str(row[k]).ljust(w) for k, w in widths.items()))
    print(f"catalog {human_bytes(use['catalog_bytes'])}; total {human_bytes(use['total_bytes'])}")
    return EXIT_OK


def _cmd_clean(ws, args) -> int:
    from modelyard.engine.results.housekeeping import clean_checkpoints, human_bytes

    cleaned = clean_checkpoints(ws.home, older_than_days=args.older_than,
                                dry_run=args.dry_run)
    verb = "would free" if args.dry_run else "freed"
    for c in cleaned:
        print(f"{c['id']} (“{c['name']}”): {verb} {human_bytes(c['freed_bytes'])}")
    total = sum(c["freed_bytes"] for c in cleaned)
    print(f"{plural(len(cleaned), 'run')}, {verb} {human_bytes(total)}")
    return EXIT_OK


# `app.cli` puts these in its command table, by command name.
HANDLERS: dict[str, Callable[..., int]] = {
    "predict": _cmd_predict,
    "export": _cmd_export,
    "report": _cmd_report,
    "submission": _cmd_submission,
    "rename": _cmd_rename,
    "delete": _cmd_delete,
    "du": _cmd_du,
    "clean": _cmd_clean,
}
