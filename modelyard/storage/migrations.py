"""Numbered catalog migrations, each applied once and recorded in `migrations`."""

from __future__ import annotations

import time

import duckdb

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "initial catalog",
        """
        CREATE TABLE datasets (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at DOUBLE,
            source TEXT,
            content_hash TEXT,
            n_rows BIGINT,
            n_cols INTEGER,
            target TEXT,
            task TEXT,
            modality TEXT,
            has_test BOOLEAN,
            folder TEXT,
            profile TEXT
        );
        CREATE TABLE plans (
            id TEXT PRIMARY KEY,
            dataset_id TEXT,
            version INTEGER,
            created_at DOUBLE,
            planner TEXT,
            approved BOOLEAN,
            plan TEXT,
            provenance TEXT
        );
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            name TEXT,
            dataset_id TEXT,
            plan_id TEXT,
            status TEXT,
            created_at DOUBLE,
            started_at DOUBLE,
            finished_at DOUBLE,
            task TEXT,
            metric TEXT,
            greater_is_better BOOLEAN,
            budget_seconds DOUBLE,
            best_model TEXT,
            best_score DOUBLE,
            message TEXT,
            folder TEXT
        );
        CREATE TABLE trials (
            run_id TEXT,
            model TEXT,
            family TEXT,
            number INTEGER,
            state TEXT,
            cv_score DOUBLE,
            cv_std DOUBLE,
            fold_scores TEXT,
            fit_seconds DOUBLE,
            params TEXT,
            message TEXT,
            finished_at DOUBLE,
            PRIMARY KEY (run_id, model)
        );
        CREATE TABLE events (
            run_id TEXT,
            seq BIGINT,
            ts DOUBLE,
            kind TEXT,
            message TEXT,
            data TEXT,
            PRIMARY KEY (run_id, seq)
        );
        CREATE TABLE journal_offsets (
            run_id TEXT PRIMARY KEY,
            byte_offset BIGINT
        );
        CREATE TABLE file_stamps (
            path TEXT PRIMARY KEY,
            mtime_ns BIGINT
        );
        """,
    ),
    (
        2,
        "trial predict time",
        # Filled from the trial events already indexed, so no reindex is needed.
        """
        ALTER TABLE trials ADD COLUMN predict_seconds DOUBLE;
        UPDATE trials SET predict_seconds = p.seconds FROM (
            SELECT run_id, json_extract_string(data, '$.model') AS model,
                   arg_max(TRY_CAST(json_extract_string(data, '$.predict_seconds') AS DOUBLE),
                           seq) AS seconds
            FROM events WHERE kind = 'trial' GROUP BY ALL) p
        WHERE p.run_id = trials.run_id AND p.model = trials.model;
        """,
    ),
    (
        3,
        "trial train score",
        # The metric on rows the model was fitted on, next to its CV score: the gap tells
        # overfitting from underfitting. Filled from the trial events already indexed, so
        # no reindex is needed; journals written before workers recorded it stay NULL.
        """
        ALTER TABLE trials ADD COLUMN train_score DOUBLE;
        UPDATE trials SET train_score = p.score FROM (
            SELECT run_id, json_extract_string(data, '$.model') AS model,
                   arg_max(TRY_CAST(json_extract_string(data, '$.train_score') AS DOUBLE),
                           seq) AS score
            FROM events WHERE kind = 'trial' GROUP BY ALL) p
        WHERE p.run_id = trials.run_id AND p.model = trials.model;
        """,
    ),
    (
        4,
        "trial worker",
        # Which worker fitted a trial ("host (pid N)"), for Runs whose search several
        # workers share. Journals written before record none: NULL.
        """
        ALTER TABLE trials ADD COLUMN worker TEXT;
        UPDATE trials SET worker = p.worker FROM (
            SELECT run_id, json_extract_string(data, '$.model') AS model,
                   arg_max(json_extract_string(data, '$.worker'), seq) AS worker
            FROM events WHERE kind = 'trial' GROUP BY ALL) p
        WHERE p.run_id = trials.run_id AND p.model = trials.model;
        """,
    ),
    (
        5,
        "trial layer",
        # Which layer a model is on: 1 fitted on the data, 2 fitted on the first layer's
        # out-of-fold predictions (a blend, a stack). Journals written before say none:
        # a blend is layer 2 all the same, every other trial layer 1.
        """
        ALTER TABLE trials ADD COLUMN layer INTEGER;
        UPDATE trials SET layer = CASE WHEN family IN ('ensemble', 'stack') THEN 2 ELSE 1 END;
        """,
    ),
]


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations this catalog lacks, each in its own transaction."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS migrations "
        "(id INTEGER PRIMARY KEY, name TEXT, applied_at DOUBLE)"
    )
    done = {row[0] for row in con.execute("SELECT id FROM migrations").fetchall()}
    applied = []
    for number, name, sql in MIGRATIONS:
        if number in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO migrations VALUES (?, ?, ?)", [number, name, time.time()])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(number)
    return applied


def latest() -> int:
    return MIGRATIONS[-1][0]
