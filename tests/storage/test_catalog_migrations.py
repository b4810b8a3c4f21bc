"""The catalog file: migrations applied once, and one process at a time behind the lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from modelyard.storage.catalog import Catalog
from modelyard.storage.migrations import MIGRATIONS, latest, migrate

TABLES = {"datasets", "plans", "runs", "trials", "events", "journal_offsets", "file_stamps",
          "migrations"}


def _tables(con) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()}


def test_first_connect_creates_every_table_and_records_each_migration(home):
    assert not home.db_path.exists()
    catalog = Catalog(home)
    with catalog.connect() as con:
        assert _tables(con) == TABLES
        recorded = con.execute("SELECT id, name, applied_at FROM migrations ORDER BY id").fetchall()
    assert home.db_path.exists()
    assert [r[0] for r in recorded] == [m[0] for m in MIGRATIONS]
    assert recorded[-1][0] == latest()

    # Re-opening is a no-op: nothing applied again, the record is untouched.
    with catalog.connect() as con:
        assert migrate(con) == []
        again = con.execute("SELECT id, name, applied_at FROM migrations ORDER BY id").fetchall()
    assert again == recorded


def test_migrate_reports_what_it_applied_once(tmp_path):
    con = duckdb.connect(str(tmp_path / "raw.duckdb"))
    try:
        assert migrate(con) == [m[0] for m in MIGRATIONS]
        assert migrate(con) == []
        assert con.execute("SELECT count(*) FROM migrations").fetchone()[0] == len(MIGRATIONS)
    finally:
        con.close()


def test_data_survives_reconnect(home):
    catalog = Catalog(home)
    with catalog.connect() as con:
        con.execute("INSERT INTO datasets (id, name) VALUES ('ds_1', 'one')")
    assert catalog.query("SELECT id, name FROM datasets") == [{"id": "ds_1", "name": "one"}]


def test_catalog_recreated_after_the_file_is_deleted(home):
    catalog = Catalog(home)
    catalog.query("SELECT 1")
    home.db_path.unlink()
    # A fresh, migrated catalog: no error, empty tables.
    assert catalog.query("SELECT count(*) AS n FROM runs") == [{"n": 0}]


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from modelyard.storage.catalog import Catalog
    from modelyard.storage.paths import Home

    catalog = Catalog(Home.from_env())
    with catalog.connect() as con:
        con.execute("INSERT INTO datasets (id, name) VALUES ('ds_child', 'written by child')")
        print("held", flush=True)
        time.sleep(float(sys.argv[1]))
    print("released", flush=True)
    """
)


def test_connect_waits_while_another_process_holds_the_catalog(home):
    Catalog(home).query("SELECT 1")  # the file exists and is migrated
    hold = 2.0
    child = subprocess.Popen([sys.executable, "-c", _HOLDER, str(hold)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held", child.stderr.read()
        held_at = time.monotonic()

        # Proof that the other process really holds the DuckDB file right now: a
        # connection that skipped the lock would fail.
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(home.db_path), read_only=True)

        # Through the catalog we wait instead, and then see what the other process wrote.
        found = Catalog(home).query("SELECT id, name FROM datasets")
        waited = time.monotonic() - held_at
    finally:
        out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert waited >= hold * 0.5, f"returned after {waited:.2f} s: it did not wait"
    assert found == [{"id": "ds_child", "name": "written by child"}]
    assert "released" in out


def test_the_lock_is_between_processes_and_its_timeout_is_honoured(home):
    """While this process holds the catalog lock, another process told to wait briefly
    gives up with filelock's Timeout, never with a DuckDB error."""
    from filelock import FileLock

    with FileLock(str(home.lock_path)):
        child = subprocess.run(
            [sys.executable, "-c",
             "from modelyard.storage.catalog import Catalog\n"
             "from modelyard.storage.paths import Home\n"
             "from filelock import Timeout\n"
             "try:\n    Catalog(Home.from_env(), lock_timeout=0.3).query('SELECT 1')\n"
             "except Timeout:\n    print('timeout')\n"],
            capture_output=True, text=True, timeout=60)
    assert child.stdout.strip() == "timeout", child.stderr
