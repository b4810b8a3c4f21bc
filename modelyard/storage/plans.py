"""Plan files (every version kept, `plans/<id>.json`) and their catalog rows."""

from __future__ import annotations

import time
from typing import Any

from modelyard.storage.catalog import Catalog, loads
from modelyard.storage.files import read_json, write_json_atomic
from modelyard.storage.paths import Home, new_id


def save_plan(
    home: Home,
    catalog: Catalog | None,
    *,
    dataset_id: str,
    plan: dict[str, Any],
    planner: str,
    approved: bool,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store a new version of a dataset's plan and return its document."""
    version = 1 + max(
        (d.get("version", 0) for d in _plan_docs(home) if d.get("dataset_id") == dataset_id),
        default=0,
    )
    doc = {
        "id": new_id("plan"),
        "dataset_id": dataset_id,
        "version": version,
        "created_at": time.time(),
        "planner": planner,
        "approved": approved,
        "plan": plan,
        "provenance": provenance or {},
    }
    write_json_atomic(home.plan_path(doc["id"]), doc)
    return doc


def read_plan(home: Home, plan_id: str) -> dict[str, Any]:
    return read_json(home.plan_path(plan_id))


def _plan_docs(home: Home) -> list[dict[str, Any]]:
    return [read_json(p) for p in home.plans.glob("*.json")]


def list_plans(catalog: Catalog, dataset_id: str) -> list[dict[str, Any]]:
    found = catalog.query(
        "SELECT id, dataset_id, version, created_at, planner, approved, plan, provenance "
        "FROM plans WHERE dataset_id = ? ORDER BY version DESC",
        [dataset_id],
    )
    for row in found:
        row["plan"] = loads(row["plan"], {})
        row["provenance"] = loads(row["provenance"], {})
    return found
