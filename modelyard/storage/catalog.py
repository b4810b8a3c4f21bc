"""The DuckDB catalog: short connections, one process at a time, behind a file lock.

DuckDB lets only one process hold the file (FACTS.md). Every opener here waits on
an inter-process lock instead of failing, opens with identical settings, does its work
and closes, so "database is locked" never reaches a person.

A damaged catalog (overwritten, truncated, a bad checksum) is only an index: the opener
that finds it renames it to `modelyard.duckdb.corrupt-<time>` (kept for a person to look
at, never deleted), starts an empty one, and says so once (`Catalog.set_aside`); the next
`sync` fills it from the folders, since an empty catalog has seen no file yet. Only
DuckDB's corruption errors count: a lock or a permission error is never mistaken for one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
from filelock import FileLock

from modelyard.storage.files import set_aside
from modelyard.storage.migrations import migrate
from modelyard.storage.paths import Home

_CONFIG = {"threads": 1}
# What DuckDB says of a file that is not, or no longer, a database it can read, and
# the same in words for a person.
_CORRUPT_WORDS = {"not a valid duckdb database file": "not a valid DuckDB database file",
                  "corrupt database file": "a block's checksum does not match",
                  "could not read enough bytes from file": "the file is cut short"}


def _damage(exc: BaseException) -> str | None:
    text = str(exc).lower()
    return next((words for key, words in _CORRUPT_WORDS.items() if key in text), None)


def is_corrupt(exc: BaseException) -> bool:
    """Whether a DuckDB error says the catalog file is damaged."""
    return isinstance(exc, duckdb.Error) and _damage(exc) is not None


class Catalog:
    """Index over the folders of one Home; rebuildable at any time by `reindex`."""

    def __init__(self, home: Home, lock_timeout: float = 120.0):
        self.home = home
        self._lock = FileLock(str(home.lock_path), timeout=lock_timeout)
        # Where this process put a damaged catalog; None when it found none.
        self.set_aside: Path | None = None
        self.damage: str = ""

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A migrated connection held for the duration of the block only."""
        with self._lock:
            con = self._open()
            try:
                yield con
            except duckdb.Error as exc:
                if is_corrupt(exc):  # found mid-query: the next opener starts afresh
                    con.close()
                    self._set_aside(exc)
                raise
            finally:
                con.close()

    def _open(self) -> duckdb.DuckDBPyConnection:
        try:
            return self._open_migrated()
        except duckdb.Error as exc:
            if not is_corrupt(exc):
                raise
            self._set_aside(exc)
            return self._open_migrated()

    def _open_migrated(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(self.home.db_path), config=_CONFIG)
        try:
            # Cheap when up to date (one SELECT), and right even if the file was deleted.
            migrate(con)
        except BaseException:
            con.close()
            raise
        return con

    def _set_aside(self, exc: BaseException) -> None:
        """Move the damaged catalog (and its write-ahead log) out of the way."""
        path = self.home.db_path
        if not path.exists():
            return
        wal = path.with_name(path.name + ".wal")
        self.set_aside = set_aside(path)
        if wal.exists():
            set_aside(wal)
        self.damage = _damage(exc) or type(exc).__name__

    def damage_notice(self) -> str | None:
        """Once, after this process set a damaged catalog aside: what happened, in words."""
        if self.set_aside is None:
            return None
        notice = (f"The catalog {self.home.db_path.name} was damaged ({self.damage}); it was "
                  f"set aside as {self.set_aside.name} and rebuilt from the folders.")
        self.set_aside = None
        return notice

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        with self.connect() as con:
            return rows(con.execute(sql, params or []))


def rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Fetch all rows of an executed statement as dicts."""
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def loads(value: str | None, default: Any = None) -> Any:
    return default if value in (None, "") else json.loads(value)
