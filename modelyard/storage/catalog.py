"""The DuckDB catalog: short connections, one process at a time, behind a file lock.

DuckDB lets only one process hold the file (FACTS.md). Every opener here waits on
an inter-process lock instead of failing, opens with identical settings, does its work
and closes, so "database is locked" never reaches a person.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
from filelock import FileLock

from modelyard.storage.migrations import migrate
from modelyard.storage.paths import Home

_CONFIG = {"threads": 1}


class Catalog:
    """Index over the folders of one Home; rebuildable at any time by `reindex`."""

    def __init__(self, home: Home, lock_timeout: float = 120.0):
        self.home = home
        self._lock = FileLock(str(home.lock_path), timeout=lock_timeout)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A migrated connection held for the duration of the block only."""
        with self._lock:
            con = duckdb.connect(str(self.home.db_path), config=_CONFIG)
            try:
                # Cheap when up to date (one SELECT), and right even if the file was deleted.
                migrate(con)
                yield con
            finally:
                con.close()

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        with self.connect() as con:
            return rows(con.execute(sql, params or []))


def rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Fetch all rows of an executed statement as dicts."""
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def loads(value: str | None, default: Any = None) -> Any:
    return default if value in (None, "") else json.loads(value)
