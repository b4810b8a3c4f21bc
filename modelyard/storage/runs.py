"""Runs, Trials and Events as the catalog indexes them: the leaderboard lives here."""

from __future__ import annotations

import fcntl
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from modelyard.storage.catalog import Catalog, loads, rows
from modelyard.storage.paths import Home

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


@contextmanager
def new_run_name(home: Home, base: str, wanted: str | None = None) -> Iterator[str]:
    """A name no run in `home` has: `wanted` if it is free (else `wanted #2`, `#3`, ...),
    or `base #n` past the highest n in use. The names are read from every run folder
    (the truth, whatever the catalog has indexed yet), under a lock held until the block
    ends: create the run inside it, and two runs started at once get two names."""
    with open(home.root / ".run-names.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        taken = _run_names(home)
        if wanted and wanted not in taken:
            yield wanted
            return
        stem = wanted or base
        pattern = re.compile(re.escape(stem) + r" #(\d+)")
        used = [int(m.group(1)) for name in taken if (m := pattern.fullmatch(name))]
        start = max(used, default=1 if wanted else 0) + 1
        yield next(f"{stem} #{n}" for n in range(start, start + len(taken) + 2)
                   if f"{stem} #{n}" not in taken)


def _run_names(home: Home) -> set[str]:
    names = set()
    for run_json in home.runs.glob("*/run.json"):
        try:
            names.add(json.loads(run_json.read_text(encoding="utf-8")).get("name") or "")
        except (OSError, ValueError):  # a half-written or damaged run.json names nothing
            continue
    return names


def leaderboard(
    catalog: Catalog, *, run_id: str | None = None, dataset_id: str | None = None,
    metric: str | None = None
) -> list[dict[str, Any]]:
    """Completed trials ranked by CV score within their Run (best first). `train_score`
    is the metric on rows the model was fitted on (NULL for runs recorded before it was)."""
    filters, params = ["t.state = 'complete'"], []
    for column, value in (("t.run_id", run_id), ("r.dataset_id", dataset_id),
                          ("r.metric", metric)):
        if value:
            filters.append(f"{column} = ?")
            params.append(value)
    found = catalog.query(
        f"""
        SELECT row_number() OVER (
                   PARTITION BY t.run_id
                   -- Ties go to the model the run delivers, then by name: one first place.
                   ORDER BY CASE WHEN r.greater_is_better THEN -t.cv_score
                                 ELSE t.cv_score END,
                            t.model IS DISTINCT FROM r.best_model, t.model) AS rank,
               t.run_id, r.name AS run_name, d.name AS dataset, t.model, t.family,
               t.cv_score, t.cv_std, t.train_score, r.metric, r.greater_is_better,
               t.fit_seconds, t.params, t.fold_scores, t.finished_at
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
        "SELECT model, family, number, state, cv_score, cv_std, train_score, fit_seconds, "
        "params, message, finished_at, worker, layer FROM trials WHERE run_id = ? "
        "ORDER BY finished_at",
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


# -- the leaderboard page: aggregated and downsampled in SQL, so that a catalog of
# -- 100,000 trials answers in a fraction of a second and the page draws a few thousand
# -- points. Each function opens one connection; `overview` runs the page's tables in one.
_LOSS = "CASE WHEN r.greater_is_better THEN -t.cv_score ELSE t.cv_score END"
_FROM = "FROM trials t JOIN runs r ON r.id = t.run_id"
# Equal scores: the model the Run delivers first (as in `leaderboard`), then by name.
_TIE = "t.model IS DISTINCT FROM r.best_model, t.model"
SORTS = {"rank": "t.run_id, k.rank", "cv_score": "t.cv_score", "train_score": "t.train_score",
         "fit_seconds": "t.fit_seconds", "predict_seconds": "t.predict_seconds",
         "finished_at": "t.finished_at",
         "family": "t.family, t.run_id, k.rank", "model": "t.model"}


def _where(dataset_id=None, run_ids=None, families=None, states=("complete",), metric=None):
    filters, params = ["TRUE"], []
    for column, values in (("r.dataset_id", [dataset_id] if dataset_id else None),
                           ("r.metric", [metric] if metric else None),
                           ("t.run_id", run_ids), ("t.family", families), ("t.state", states)):
        if values:
            filters.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
    return " AND ".join(filters), params


def _parsed(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in found:
        for key, empty in (("params", {}), ("fold_scores", [])):
            if key in row:
                row[key] = loads(row[key], empty)
    return found


def _facets(con, dataset_id, metric=None) -> dict[str, Any]:
    where, params = _where(dataset_id, states=None, metric=metric)
    runs = rows(con.execute(
        f"SELECT t.run_id, any_value(r.name) AS run_name, any_value(r.created_at) AS created, "
        f"count(*) AS trials {_FROM} WHERE {where} GROUP BY t.run_id ORDER BY created DESC",
        params))
    families = [f for (f,) in con.execute(
        f"SELECT DISTINCT t.family {_FROM} WHERE {where} ORDER BY 1", params).fetchall()]
    states = dict(con.execute(
        f"SELECT t.state, count(*) {_FROM} WHERE {where} GROUP BY 1 ORDER BY 2 DESC",
        params).fetchall())
    return {"runs": runs, "families": families, "states": states,
            "trials": sum(states.values())}


def _leaders(con, where, params, top) -> list[dict[str, Any]]:
    # The `top` best keys per Run first (min_by), then their details: twice as fast as
    # ranking every trial with a window.
    return _parsed(rows(con.execute(
        f"""
        WITH best AS (
            SELECT t.run_id, count(*) AS complete_trials,
                   min_by(t.model, ({_LOSS}, {_TIE}), {int(top)}) AS models
            {_FROM} WHERE {where} GROUP BY t.run_id),
        keys AS (SELECT run_id, complete_trials, unnest(models) AS model,
                        generate_subscripts(models, 1) AS rank FROM best)
        SELECT k.rank, k.complete_trials, t.run_id, r.name AS run_name, d.name AS dataset,
               r.status, r.task, t.model, t.family, r.metric, r.greater_is_better, t.cv_score,
               t.cv_std, t.train_score, t.fold_scores, t.fit_seconds, t.predict_seconds,
               r.created_at
        FROM keys k JOIN trials t USING (run_id, model) JOIN runs r ON r.id = t.run_id
        LEFT JOIN datasets d ON d.id = r.dataset_id
        ORDER BY r.created_at DESC, t.run_id, k.rank
        """, params)))


def _page(con, where, params, sort, descending, limit, offset):
    order = SORTS[sort] + (" DESC" if descending else "")
    found = rows(con.execute(
        f"""
        WITH ranked AS (
            SELECT t.run_id, t.model,
                   rank() OVER (PARTITION BY t.run_id ORDER BY {_LOSS}, {_TIE}) AS rank
            {_FROM} WHERE {where} AND t.state = 'complete')
        SELECT k.rank, t.run_id, r.name AS run_name,
               d.name AS dataset, t.model, t.family, t.state, t.cv_score, t.cv_std,
               t.train_score, r.metric, t.fit_seconds, t.predict_seconds, t.params,
               t.finished_at, t.message, t.layer
        {_FROM} LEFT JOIN datasets d ON d.id = r.dataset_id
        LEFT JOIN ranked k ON k.run_id = t.run_id AND k.model = t.model
        WHERE {where}
        ORDER BY {order} NULLS LAST, t.model
        LIMIT ? OFFSET ?
        """, [*params, *params, int(limit), int(offset)]))
    total = con.execute(f"SELECT count(*) {_FROM} WHERE {where}", params).fetchone()[0]
    return _parsed(found), total


def _families(con, where, params) -> list[dict[str, Any]]:
    return rows(con.execute(
        f"""
        SELECT t.run_id, any_value(r.name) AS run_name, t.family, count(*) AS trials,
               count(*) FILTER (t.state = 'complete') AS complete,
               count(*) FILTER (t.state = 'pruned') AS stopped_early,
               count(*) FILTER (t.state = 'failed') AS failed,
               CASE WHEN any_value(r.greater_is_better)
                    THEN max(t.cv_score) FILTER (t.state = 'complete')
                    ELSE min(t.cv_score) FILTER (t.state = 'complete') END AS best_score,
               avg(t.fit_seconds) FILTER (t.state = 'complete') AS mean_fit_seconds,
               avg(t.predict_seconds) FILTER (t.state = 'complete') AS mean_predict_seconds
        {_FROM} WHERE {where}
        GROUP BY t.run_id, t.family
        ORDER BY any_value(r.created_at) DESC, t.run_id,
                 min({_LOSS}) FILTER (t.state = 'complete') NULLS LAST
        """, params))


def trial_facets(catalog: Catalog, dataset_id: str | None = None,
                 metric: str | None = None) -> dict[str, Any]:
    """What the filters can offer: Runs with trials, families, states, and the count (of
    one data set's Runs scored by one metric, or of all)."""
    with catalog.connect() as con:
        return _facets(con, dataset_id, metric)


def run_leaders(catalog: Catalog, *, dataset_id: str | None = None,
                run_ids: list[str] | None = None, families: list[str] | None = None,
                top: int = 2, metric: str | None = None) -> list[dict[str, Any]]:
    """The best `top` complete trials of each Run (rank 1 is its winner) with their fold
    scores, and how many complete trials each Run has; newest Run first."""
    where, params = _where(dataset_id, run_ids, families, metric=metric)
    with catalog.connect() as con:
        return _leaders(con, where, params, top)


def trial_page(catalog: Catalog, *, dataset_id: str | None = None,
               run_ids: list[str] | None = None, families: list[str] | None = None,
               states: tuple[str, ...] | list[str] | None = ("complete",), sort: str = "rank",
               descending: bool = False, limit: int = 200, offset: int = 0
               ) -> tuple[list[dict[str, Any]], int]:
    """One page of trials, filtered and sorted in SQL, and how many match in all.
    `rank` is the place of a complete trial within its Run (best first)."""
    where, params = _where(dataset_id, run_ids, families, states)
    with catalog.connect() as con:
        return _page(con, where, params, sort, descending, limit, offset)


def family_summary(catalog: Catalog, *, dataset_id: str | None = None,
                   run_ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Per Run and family: trials by state, the best score, mean fit and predict time."""
    where, params = _where(dataset_id, run_ids, states=None)
    with catalog.connect() as con:
        return _families(con, where, params)


def overview(catalog: Catalog, *, dataset_id: str | None = None,
             run_ids: list[str] | None = None, families: list[str] | None = None,
             states: tuple[str, ...] | list[str] | None = ("complete",), sort: str = "rank",
             descending: bool = False, limit: int = 200, offset: int = 0,
             metric: str | None = None) -> dict[str, Any]:
    """The Leaderboard page's tables in one connection: `leaders` (two best per Run),
    `page` + `total` (the trials table), `families` (per Run and family), `counts` (each
    Run's trials by family and state, as `trial_counts` gives them)."""
    with catalog.connect() as con:
        where, params = _where(dataset_id, run_ids, families, metric=metric)
        leaders = _leaders(con, where, params, 2)
        where, params = _where(dataset_id, run_ids, families, states, metric)
        page, total = _page(con, where, params, sort, descending, limit, offset)
        where, params = _where(dataset_id, run_ids, families, None, metric)
        summary = _families(con, where, params)
        counts = _counts(con, *_where(dataset_id, run_ids, None, None, metric))
    return {"leaders": leaders, "page": page, "total": total, "families": summary,
            "counts": counts}


def _counts(con, where, params) -> list[dict[str, Any]]:
    return rows(con.execute(
        f"""
        SELECT t.run_id, t.family IN ('ensemble', 'stack') AS blend, t.state, count(*) AS n
        {_FROM} WHERE {where} GROUP BY ALL ORDER BY ALL
        """, params))


def trial_counts(catalog: Catalog, run_ids: list[str] | None = None
                 ) -> list[dict[str, Any]]:
    """Per Run: how many trials (`blend`: the blend's record or the others) ended in each
    state; `engine.results.counts.TrialCounts` turns them into the one count shown."""
    with catalog.connect() as con:
        return _counts(con, *_where(run_ids=run_ids, states=None))


def scopes(catalog: Catalog) -> list[dict[str, Any]]:
    """What a leaderboard can rank: each data set and metric with scored trials, its Runs
    and its best score; the data set of the newest Run first."""
    return catalog.query(
        f"""
        SELECT r.dataset_id, any_value(d.name) AS dataset, r.metric,
               bool_or(r.greater_is_better) AS greater_is_better, any_value(r.task) AS task,
               count(DISTINCT r.id) AS runs, max(r.created_at) AS newest,
               arg_min(t.model, ({_LOSS}, {_TIE})) AS best_model,
               arg_min(r.name, ({_LOSS}, {_TIE})) AS best_run,
               arg_min(t.cv_score, ({_LOSS}, {_TIE})) AS best_score
        {_FROM} LEFT JOIN datasets d ON d.id = r.dataset_id
        WHERE t.state = 'complete' AND isfinite(t.cv_score)
        GROUP BY r.dataset_id, r.metric
        ORDER BY max(max(r.created_at)) OVER (PARTITION BY r.dataset_id) DESC,
                 r.dataset_id, newest DESC
        """)


def best_over_time(catalog: Catalog, run_ids: list[str]) -> list[dict[str, Any]]:
    """Each Run's best score so far, only where it improved (a step line needs no more),
    with the seconds since the Run started; `end_seconds`: when its search ended (the
    Run's end, or its last trial's while it runs), where the step line has to reach."""
    if not run_ids:
        return []
    where, params = _where(run_ids=run_ids)
    return catalog.query(
        f"""
        WITH timed AS (
            -- Seconds count from the worker's start; for a Run given more time (its worker
            -- started again after earlier trials), from its creation, as on the Runs page.
            SELECT t.*, r.name AS run_name, r.greater_is_better, r.finished_at AS run_end,
                   CASE WHEN min(t.finished_at) OVER (PARTITION BY t.run_id)
                             < coalesce(r.started_at, r.created_at)
                        THEN r.created_at ELSE coalesce(r.started_at, r.created_at)
                   END AS start
            {_FROM} WHERE {where} AND isfinite(t.cv_score)),
        running AS (
            SELECT run_id, run_name, model, cv_score, finished_at - start AS seconds,
                   greatest(max(finished_at) OVER (PARTITION BY run_id),
                            coalesce(run_end, 0)) - start AS end_seconds,
                   -- The worse end of the run's real models (the baseline left out): a
                   -- chart's score axis starts there, not at the baseline's first step.
                   CASE WHEN greater_is_better
                        THEN quantile_cont(cv_score, 0.1) FILTER (family <> 'dummy')
                                 OVER (PARTITION BY run_id)
                        ELSE quantile_cont(cv_score, 0.9) FILTER (family <> 'dummy')
                                 OVER (PARTITION BY run_id) END AS worse_end,
                   CASE WHEN greater_is_better
                        THEN max(cv_score) OVER w ELSE min(cv_score) OVER w END AS best
            FROM timed
            WINDOW w AS (PARTITION BY run_id ORDER BY finished_at, model
                         ROWS UNBOUNDED PRECEDING))
        SELECT run_id, run_name, seconds, best, model, end_seconds, worse_end FROM running
        QUALIFY best IS DISTINCT FROM lag(best) OVER (PARTITION BY run_id
                                                      ORDER BY seconds, model)
        ORDER BY run_id, seconds
        """, params)


def _thinning(con, run_id: str, max_points: int) -> tuple[int, int]:
    """A Run's scored trials, and every how-many-th to draw to stay near `max_points`."""
    total = con.execute("SELECT count(*) FROM trials WHERE run_id = ? AND state = "
                        "'complete' AND isfinite(cv_score)", [run_id]).fetchone()[0]
    return total, max(1, -(-total // max_points))


def history(catalog: Catalog, run_id: str, max_points: int = 2000) -> dict[str, Any]:
    """A Run's complete trials in the order they finished, with the best so far: every
    trial that improved the best, and an even sample of the others up to `max_points`."""
    with catalog.connect() as con:
        total, step = _thinning(con, run_id, max_points)
        found = rows(con.execute(
            f"""
            WITH ordered AS (
                SELECT row_number() OVER (ORDER BY t.finished_at, t.model) AS n, t.model,
                       t.family, t.cv_score,
                       t.finished_at - coalesce(r.started_at, r.created_at) AS seconds,
                       CASE WHEN r.greater_is_better THEN max(t.cv_score) OVER w
                            ELSE min(t.cv_score) OVER w END AS best
                {_FROM}
                WHERE t.run_id = ? AND t.state = 'complete' AND isfinite(t.cv_score)
                WINDOW w AS (ORDER BY t.finished_at, t.model ROWS UNBOUNDED PRECEDING))
            SELECT n, model, family, cv_score, seconds, best,
                   best IS DISTINCT FROM lag(best) OVER (ORDER BY n) AS improved
            FROM ordered
            QUALIFY improved OR n % ? = 0
            ORDER BY n
            """, [run_id, step]))
    return {"total": total, "points": found}


def speed_points(catalog: Catalog, run_id: str, max_points: int = 2000) -> dict[str, Any]:
    """Score against fit and predict time for a Run's complete trials. `fit_front` and
    `predict_front` mark the Pareto fronts (no faster trial scores as well); front trials
    are always kept, the others thinned to about `max_points`."""
    with catalog.connect() as con:
        total, step = _thinning(con, run_id, max_points)
        found = rows(con.execute(
            f"""
            WITH scored AS (
                SELECT t.model, t.family, t.cv_score, t.fit_seconds, t.predict_seconds,
                       {_LOSS} AS loss, row_number() OVER (ORDER BY t.model) AS n
                {_FROM}
                WHERE t.run_id = ? AND t.state = 'complete' AND isfinite(t.cv_score)),
            fronts AS (
                SELECT *,
                    loss < coalesce(min(loss) OVER (ORDER BY fit_seconds, loss, model
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 'inf'::DOUBLE)
                        AS fit_front,
                    predict_seconds IS NOT NULL AND loss < coalesce(min(loss) OVER (
                        ORDER BY predict_seconds, loss, model
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 'inf'::DOUBLE)
                        AS predict_front
                FROM scored)
            SELECT model, family, cv_score, fit_seconds, predict_seconds, fit_front,
                   predict_front
            FROM fronts WHERE fit_front OR predict_front OR n % ? = 0
            ORDER BY fit_seconds
            """, [run_id, step]))
    return {"total": total, "points": found}


def param_sample(catalog: Catalog, run_id: str, family: str,
                 limit: int = 500) -> list[dict[str, Any]]:
    """Settings and score of up to `limit` complete trials of one family in one Run (a
    repeatable sample when there are more): the input of importance and parallel plots."""
    return _parsed(catalog.query(
        f"""
        SELECT model, params, cv_score FROM (
            SELECT t.model, t.params, t.cv_score FROM trials t
            WHERE t.run_id = ? AND t.family = ? AND t.state = 'complete'
              AND isfinite(t.cv_score)
        ) USING SAMPLE reservoir({int(limit)} ROWS) REPEATABLE (7)
        ORDER BY model
        """, [run_id, family]))
