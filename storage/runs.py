"""Runs, Trials and Events as the catalog indexes them: the leaderboard lives here."""

from __future__ import annotations

from typing import Any

from storage.catalog import Catalog, loads

_RUN_COLUMNS = (
    "r.id, r.name, r.dataset_id, d.name AS dataset, r.plan_id, r.status, r.created_at, "
    "r.started_at, r.finished_at, r.task, r.metric, r.greater_is_better, r.budget_seconds, "
    "r.best_model, r.best_score, r.message, r.folder"
)


def list_runs(catalog: Catalog, dataset_id: str | None = None) -> list[dict[str, Any]]:
    where, params = ("WHERE r.dataset_id = ?", [dataset_id]) if dataset_id else ("", [])
    return catalog.query(
        f"SELECT {_RUN_COLUMNS} FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id "
        f"{where} ORDER BY r.created_at DESC",
        params,
    )


def get_run(catalog: Catalog, run_id: str) -> dict[str, Any] | None:
    found = catalog.query(
        f"SELECT {_RUN_COLUMNS} FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id "
        "WHERE r.id = ?",
        [run_id],
    )
    return found[0] if found else None


def resolve(catalog: Catalog, ref: str) -> list[dict[str, Any]]:
    """Runs whose id is `ref`, else whose name is `ref`."""
    found = catalog.query("SELECT id, name FROM runs WHERE id = ?", [ref])
    return found or catalog.query(
        "SELECT id, name FROM runs WHERE name = ? ORDER BY created_at", [ref]
    )


def leaderboard(
    catalog: Catalog, *, run_id: str | None = None, dataset_id: str | None = None
) -> list[dict[str, Any]]:
    """Completed trials ranked by CV score within their Run (best first)."""
    filters, params = ["t.state = 'complete'"], []
    if run_id:
        filters.append("t.run_id = ?")
        params.append(run_id)
    if dataset_id:
        filters.append("r.dataset_id = ?")
        params.append(dataset_id)
    found = catalog.query(
        f"""
        SELECT rank() OVER (
                   PARTITION BY t.run_id
                   ORDER BY CASE WHEN r.greater_is_better THEN -t.cv_score
                                 ELSE t.cv_score END) AS rank,
               t.run_id, r.name AS run_name, d.name AS dataset, t.model, t.family,
               t.cv_score, t.cv_std, r.metric, r.greater_is_better, t.fit_seconds,
               t.params, t.fold_scores, t.finished_at
        FROM trials t
        JOIN runs r ON r.id = t.run_id
        LEFT JOIN datasets d ON d.id = r.dataset_id
        WHERE {" AND ".join(filters)}
        ORDER BY r.created_at DESC, t.run_id, rank, t.model
        """,
        params,
    )
    for row in found:
        row["params"] = loads(row["params"], {})
        row["fold_scores"] = loads(row["fold_scores"], [])
    return found


def trials(catalog: Catalog, run_id: str) -> list[dict[str, Any]]:
    found = catalog.query(
        "SELECT model, family, number, state, cv_score, cv_std, fit_seconds, params, message, "
        "finished_at FROM trials WHERE run_id = ? ORDER BY finished_at",
        [run_id],
    )
    for row in found:
        row["params"] = loads(row["params"], {})
    return found


def events(
    catalog: Catalog, run_id: str, kinds: tuple[str, ...] | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """The latest `limit` events of a Run, oldest first."""
    kind_filter = ""
    params: list[Any] = [run_id]
    if kinds:
        kind_filter = f"AND kind IN ({', '.join('?' for _ in kinds)})"
        params.extend(kinds)
    params.append(limit)
    found = catalog.query(
        f"SELECT seq, ts, kind, message, data FROM events WHERE run_id = ? {kind_filter} "
        "ORDER BY seq DESC LIMIT ?",
        params,
    )
    for row in found:
        row["data"] = loads(row["data"], {})
    return list(reversed(found))
