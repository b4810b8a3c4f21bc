"""Bring the catalog up to date with the folders, idempotently; rebuild it from scratch.

Files are re-read only when their modification stamp changed; each run journal is read
from the byte offset where the previous sync stopped. Rows whose folder is gone are
dropped. Running `sync` twice in a row changes nothing the second time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from pydantic import ValidationError

from modelyard.schemas import Event, RunRecord, TrialResult
from modelyard.storage.catalog import Catalog, is_corrupt
from modelyard.storage.files import read_json
from modelyard.storage.runfolder import RunFolder, read_events


def sync(catalog: Catalog) -> None:
    """Index whatever changed in the folders since the last sync. A catalog found
    damaged on the way is set aside (`Catalog.connect`) and the sync done again into the
    fresh one, which rebuilds it whole."""
    try:
        _sync(catalog)
    except duckdb.Error as exc:
        if not is_corrupt(exc):
            raise
        _sync(catalog)


def _sync(catalog: Catalog) -> None:
    home = catalog.home
    with catalog.connect() as con:
        stamps = dict(con.execute("SELECT path, mtime_ns FROM file_stamps").fetchall())
        seen: set[str] = set()
        con.execute("BEGIN TRANSACTION")
        try:
            _sync_datasets(con, home.datasets, stamps, seen)
            _sync_plans(con, home.plans, stamps, seen)
            _sync_runs(con, home.runs, stamps, seen)
            gone = [p for p in stamps if p not in seen]
            if gone:
                _forget(con, gone, seen)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def reindex(catalog: Catalog) -> dict[str, int]:
    """Empty every catalog table and rebuild it from the folders."""
    with catalog.connect() as con:
        for table in ("datasets", "plans", "runs", "trials", "events", "journal_offsets",
                      "file_stamps"):
            con.execute(f"DELETE FROM {table}")
    sync(catalog)
    with catalog.connect() as con:
        return {
            table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("datasets", "plans", "runs", "trials", "events")
        }


def _changed(path: Path, stamps: dict[str, int], seen: set[str]) -> int | None:
    """The new stamp of `path` if it changed since the last sync, else None."""
    key = str(path)
    seen.add(key)
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        seen.discard(key)
        return None
    return None if stamps.get(key) == stamp else stamp


def _stamp(con: duckdb.DuckDBPyConnection, path: Path, stamp: int) -> None:
    con.execute("INSERT OR REPLACE INTO file_stamps VALUES (?, ?)", [str(path), stamp])


def _sync_datasets(con, root: Path, stamps, seen) -> None:
    for meta_path in sorted(root.glob("*/dataset.json")):
        stamp = _changed(meta_path, stamps, seen)
        if stamp is None:
            continue
        meta = read_json(meta_path)
        profile_path = meta_path.parent / "profile.json"
        profile = profile_path.read_text(encoding="utf-8") if profile_path.exists() else None
        con.execute(
            "INSERT OR REPLACE INTO datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                meta["id"], meta["name"], meta.get("created_at"), meta.get("source"),
                meta.get("content_hash"), meta.get("n_rows"), meta.get("n_cols"),
                meta.get("target"), meta.get("task"), meta.get("modality"),
                bool(meta.get("has_test")), str(meta_path.parent), profile,
            ],
        )
        _stamp(con, meta_path, stamp)


def _sync_plans(con, root: Path, stamps, seen) -> None:
    for plan_path in sorted(root.glob("*.json")):
        stamp = _changed(plan_path, stamps, seen)
        if stamp is None:
            continue
        doc = read_json(plan_path)
        con.execute(
            "INSERT OR REPLACE INTO plans VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                doc["id"], doc.get("dataset_id"), doc.get("version"), doc.get("created_at"),
                doc.get("planner"), bool(doc.get("approved")), json.dumps(doc["plan"]),
                json.dumps(doc.get("provenance") or {}),
            ],
        )
        _stamp(con, plan_path, stamp)


def _sync_runs(con, root: Path, stamps, seen) -> None:
    offsets = dict(con.execute("SELECT run_id, byte_offset FROM journal_offsets").fetchall())
    for run_json in sorted(root.glob("*/run.json")):
        folder = RunFolder(run_json.parent)
        stamp = _changed(run_json, stamps, seen)
        if stamp is not None:
            _upsert_run(con, folder.record(), folder.path)
            _stamp(con, run_json, stamp)
        _ingest_journal(con, folder, offsets.get(folder.id, 0))


def _run_row(rec: RunRecord, path: Path) -> dict[str, Any]:
    """The catalog's `runs` row of a RunRecord, by column name."""
    return {
        "id": rec.id, "name": rec.name, "dataset_id": rec.dataset_id, "plan_id": rec.plan_id,
        "status": rec.status.value, "created_at": rec.created_at,
        "started_at": rec.started_at, "finished_at": rec.finished_at,
        "task": rec.plan.get("task"), "metric": rec.plan.get("metric"),
        "greater_is_better": rec.greater_is_better, "budget_seconds": rec.budget_seconds,
        "best_model": rec.best_model, "best_score": rec.best_score, "message": rec.message,
        "folder": str(path),
    }


def _upsert_run(con, rec: RunRecord, path: Path) -> None:
    row = _run_row(rec, path)
    con.execute(
        f"INSERT OR REPLACE INTO runs ({', '.join(row)}) "
        f"VALUES ({', '.join('?' for _ in row)})",
        list(row.values()),
    )


def _ingest_journal(con, folder: RunFolder, offset: int) -> None:
    try:
        size = folder.events_path.stat().st_size
    except FileNotFoundError:
        return
    if size < offset:  # the journal was replaced: read it again from the start
        offset = 0
    if size == offset:
        return
    events, trials = [], []
    new_offset = offset
    for event, end in read_events(folder.events_path, offset):
        new_offset = end
        events.append((folder.id, event.seq, event.ts, event.kind, event.message,
                       json.dumps(event.data)))
        trial = _trial_of(event)
        if trial is not None:
            trials.append(_trial_row(folder.id, trial))
    if events:
        cols = list(zip(*events, strict=True))
        table = pa.table(
            {
                "run_id": pa.array(cols[0], pa.string()),
                "seq": pa.array(cols[1], pa.int64()),
                "ts": pa.array(cols[2], pa.float64()),
                "kind": pa.array(cols[3], pa.string()),
                "message": pa.array(cols[4], pa.string()),
                "data": pa.array(cols[5], pa.string()),
            }
        )
        con.register("_new_events", table)
        con.execute("INSERT OR IGNORE INTO events SELECT * FROM _new_events")
        con.unregister("_new_events")
    if trials:
        # One insert for the batch (row by row: ~20 minutes for 100,000 trials); a model
        # written twice (a Run given more time re-emits its ensemble) keeps its last line.
        latest = {row["model"]: row for row in trials}
        table = pa.table({name: pa.array([row[name] for row in latest.values()], kind)
                          for name, kind in _TRIAL_COLUMNS})
        con.register("_new_trials", table)
        names = ", ".join(name for name, _ in _TRIAL_COLUMNS)
        con.execute(f"INSERT OR REPLACE INTO trials ({names}) SELECT {names} FROM _new_trials")
        con.unregister("_new_trials")
    con.execute("INSERT OR REPLACE INTO journal_offsets VALUES (?, ?)", [folder.id, new_offset])


_TRIAL_COLUMNS = [
    ("run_id", pa.string()), ("model", pa.string()), ("family", pa.string()),
    ("number", pa.int32()), ("state", pa.string()), ("cv_score", pa.float64()),
    ("cv_std", pa.float64()), ("fold_scores", pa.string()), ("fit_seconds", pa.float64()),
    ("params", pa.string()), ("message", pa.string()), ("finished_at", pa.float64()),
    ("predict_seconds", pa.float64()), ("train_score", pa.float64()), ("worker", pa.string()),
    ("layer", pa.int32()),
]


def _trial_of(event: Event) -> TrialResult | None:
    """The trial an event records; None for other kinds and for a trial line too damaged
    to read (the event row keeps it)."""
    try:
        return event.trial
    except ValidationError:
        return None


def _trial_row(run_id: str, t: TrialResult) -> dict[str, Any]:
    """The catalog's `trials` row of a TrialResult, by column name."""
    return {
        "run_id": run_id, "model": t.model, "family": t.family, "number": t.number,
        "state": t.state.value, "cv_score": t.cv_score, "cv_std": t.cv_std,
        "fold_scores": json.dumps(t.fold_scores), "fit_seconds": t.fit_seconds,
        "params": json.dumps(t.params), "message": t.message, "finished_at": t.finished_at,
        "predict_seconds": t.predict_seconds, "train_score": t.train_score,
        "worker": t.worker,
        # Journals from before layers were recorded: a blend is on the second layer.
        "layer": t.layer or (2 if t.family in ("ensemble", "stack") else 1),
    }


def _identity(key: str) -> tuple[str, str]:
    """Which row a stamped file stands for: (kind, id)."""
    p = Path(key)
    if p.name in ("dataset.json", "run.json"):
        return p.name, p.parent.name
    return "plan", p.stem


def _forget(con, paths: list[str], seen: set[str]) -> None:
    """Drop the rows of folders and files that no longer exist.

    A stamp whose file is gone while a file for the same row was indexed in this sync
    (the home folder was moved or copied: same ids, new paths) only loses the stamp.
    """
    live = {_identity(key) for key in seen}
    for key in paths:
        p = Path(key)
        if _identity(key) in live:
            pass
        elif p.name == "dataset.json":
            con.execute("DELETE FROM datasets WHERE id = ?", [p.parent.name])
        elif p.name == "run.json":
            run_id = p.parent.name
            for table in ("runs", "trials", "events", "journal_offsets"):
                column = "id" if table == "runs" else "run_id"
                con.execute(f"DELETE FROM {table} WHERE {column} = ?", [run_id])
        elif p.parent.name == "plans":
            con.execute("DELETE FROM plans WHERE id = ?", [p.stem])
        con.execute("DELETE FROM file_stamps WHERE path = ?", [key])
