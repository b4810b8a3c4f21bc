"""Rename and delete data sets and Runs, see what uses the disk, clear old checkpoints.

The folders are the truth: every change is made there, then the catalog follows (`sync`).
Deleting moves the folder out of the way first (one rename), so an interrupted delete
never leaves a half-deleted data set or Run in the lists.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.engine.errors import BadInputError, NotFoundError
from modelyard.engine.results.words import plural
from modelyard.schemas import RunRecord
from modelyard.storage import datasets as dataset_store
from modelyard.storage.catalog import Catalog
from modelyard.storage.files import read_json
from modelyard.storage.paths import Home
from modelyard.storage.runfolder import ACTIVE, TERMINAL, RunFolder
from modelyard.storage.sync import sync

# What a finished Run keeps only to continue its search (add time) or resume a killed
# trial; the model, its diagnostics and the journal stay. `bags` holds the fold models of
# the pool's trials (engine/training/bagging.py): the delivered model has its own copy in
# `model/`, and a Run continued without them refits what it delivers.
CHECKPOINT_DIRS = ("checkpoints", "oof", "bags")


@dataclass
class Deleted:
    what: str
    freed_bytes: int


def folder_bytes(path: Path) -> int:
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _run_records(home: Home) -> list[dict[str, Any]]:
    found = []
    for run_json in sorted(home.runs.glob("*/run.json")):
        try:
            found.append(read_json(run_json))
        except (OSError, ValueError):
            continue
    return found


def _check_name(name: str, taken: list[str], what: str) -> str:
    name = name.strip()
    if not name:
        raise BadInputError(f"A {what} needs a name.", "Type a name.")
    if name in taken:
        raise BadInputError(f"Another {what} is already called “{name}”.",
                            "Choose a name that is not taken, so it can be told apart.")
    return name


# -- rename ------------------------------------------------------------------------------
def rename_dataset(home: Home, catalog: Catalog, dataset_id: str, name: str) -> dict[str, Any]:
    if not (home.dataset_dir(dataset_id) / "dataset.json").exists():
        raise NotFoundError(f"There is no data set “{dataset_id}”.", "Pick one from the list.")
    taken = [read_json(p).get("name") for p in home.datasets.glob("*/dataset.json")
             if p.parent.name != dataset_id]
    meta = dataset_store.update_meta(home, dataset_id,
                                     {"name": _check_name(name, taken, "data set")})
    sync(catalog)
    return meta


def rename_run(home: Home, catalog: Catalog, run_id: str, name: str) -> RunRecord:
    folder = RunFolder(home.run_dir(run_id))
    if not folder.exists():
        raise NotFoundError(f"There is no run “{run_id}”.", "Pick one from the list.")
    taken = [r.get("name") for r in _run_records(home) if r.get("id") != run_id]
    record = folder.update(name=_check_name(name, taken, "run"))
    sync(catalog)
    return record


# -- delete ------------------------------------------------------------------------------
def dependents(home: Home, dataset_id: str) -> dict[str, list[dict[str, Any]]]:
    """What uses a data set: its Runs (with their models and predictions) and Plans."""
    runs = [{"id": r["id"], "name": r.get("name") or r["id"], "status": r.get("status")}
            for r in _run_records(home) if r.get("dataset_id") == dataset_id]
    plans = []
    for path in sorted(home.plans.glob("*.json")):
        try:
            doc = read_json(path)
        except (OSError, ValueError):
            continue
        if doc.get("dataset_id") == dataset_id:
            plans.append({"id": doc["id"], "version": doc.get("version")})
    return {"runs": runs, "plans": plans}


def _remove(home: Home, path: Path) -> int:
    """Move `path` out of the indexed folders, then delete it; returns the bytes freed."""
    size = folder_bytes(path)
    trash = home.root / ".trash"
    trash.mkdir(exist_ok=True)
    moved = trash / f"{time.time_ns()}-{path.name}"
    path.rename(moved)
    if moved.is_dir():
        shutil.rmtree(moved, ignore_errors=True)
    else:
        moved.unlink(missing_ok=True)
    return size


def delete_run(home: Home, catalog: Catalog, run_id: str) -> Deleted:
    """Delete a Run's folder: its model, predictions, reports and journal."""
    folder = RunFolder(home.run_dir(run_id))
    if not folder.exists():
        raise NotFoundError(f"There is no run “{run_id}”.", "Pick one from the list.")
    record = folder.read()
    name = record.get("name") or run_id
    if record.get("status") in ACTIVE:
        raise BadInputError(f"Run “{name}” is {record['status']}.",
                            "Cancel it first, then delete it.")
    # A prediction server started for this Run (the Model page) goes with its model.
    from modelyard.serve.process import stop as stop_server

    stop_server(folder.path)
    freed = _remove(home, folder.path)
    sync(catalog)
    return Deleted(f"run “{name}”", freed)


def delete_dataset(home: Home, catalog: Catalog, dataset_id: str, *,
                   with_runs: bool = False) -> Deleted:
    """Delete a data set with its Plans; its Runs too when `with_runs`, else refuse while
    any Run uses it (they are named)."""
    folder = home.dataset_dir(dataset_id)
    if not (folder / "dataset.json").exists():
        raise NotFoundError(f"There is no data set “{dataset_id}”.", "Pick one from the list.")
    name = read_json(folder / "dataset.json").get("name") or dataset_id
    deps = dependents(home, dataset_id)
    active = [r for r in deps["runs"] if r["status"] in ACTIVE]
    if active:
        raise BadInputError(f"Data set “{name}” is being trained on by "
                            f"{', '.join(r['name'] for r in active)}.",
                            "Cancel those runs first.")
    if deps["runs"] and not with_runs:
        listed = ", ".join(f"“{r['name']}”" for r in deps["runs"][:10])
        raise BadInputError(
            f"Data set “{name}” has {plural(len(deps['runs']), 'run')} with "
            f"{'its model' if len(deps['runs']) == 1 else 'their models'}: {listed}.",
            "Delete those runs first, or delete the data set together with its runs.")
    freed = sum(_remove(home, home.run_dir(r["id"])) for r in deps["runs"])
    freed += sum(_remove(home, home.plan_path(p["id"])) for p in deps["plans"])
    freed += _remove(home, folder)
    sync(catalog)
    extra = f" with {plural(len(deps['runs']), 'run')}" if deps["runs"] else ""
    return Deleted(f"data set “{name}”{extra} and {plural(len(deps['plans']), 'plan version')}",
                   freed)


# -- disk ----------------------------------------------------------------------------------
def disk_usage(home: Home) -> dict[str, Any]:
    """Bytes per data set and per Run (with its model and its checkpoints apart)."""
    datasets = []
    for meta_path in sorted(home.datasets.glob("*/dataset.json")):
        meta = read_json(meta_path)
        datasets.append({"id": meta["id"], "name": meta.get("name"),
                         "bytes": folder_bytes(meta_path.parent)})
    runs = []
    for record in _run_records(home):
        path = home.run_dir(record["id"])
        runs.append({
            "id": record["id"], "name": record.get("name"), "dataset_id": record.get("dataset_id"),
            "status": record.get("status"), "finished_at": record.get("finished_at"),
            "bytes": folder_bytes(path), "model_bytes": folder_bytes(path / "model"),
            "checkpoint_bytes": sum(folder_bytes(path / d) for d in CHECKPOINT_DIRS)})
    catalog_bytes = folder_bytes(home.db_path) + folder_bytes(
        home.db_path.with_name(home.db_path.name + ".wal"))
    total = sum(d["bytes"] for d in datasets) + sum(r["bytes"] for r in runs) + catalog_bytes
    return {"datasets": datasets, "runs": runs, "catalog_bytes": catalog_bytes,
            "total_bytes": total}


def clean_checkpoints(home: Home, *, older_than_days: float = 7.0,
                      dry_run: bool = False) -> list[dict[str, Any]]:
    """Remove the checkpoints of Runs that ended more than `older_than_days` ago. Their
    models stay usable; only giving them more time starts the search's pool afresh."""
    cutoff = time.time() - older_than_days * 86400
    cleaned = []
    for record in _run_records(home):
        finished = record.get("finished_at") or 0
        if record.get("status") not in TERMINAL or finished > cutoff:
            continue
        paths = [home.run_dir(record["id"]) / d for d in CHECKPOINT_DIRS]
        freed = sum(folder_bytes(p) for p in paths)
        if not freed:
            continue
        if not dry_run:
            for p in paths:
                if p.exists():
                    _remove(home, p)
        cleaned.append({"id": record["id"], "name": record.get("name"), "freed_bytes": freed})
    return cleaned


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
