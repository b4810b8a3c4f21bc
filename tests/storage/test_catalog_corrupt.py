"""A damaged catalog is only an index: it is set aside (kept, renamed), said once, and
rebuilt from the folders, whatever command meets it; nothing stored in the folders changes.
A lock or permission error is never taken for damage."""

from __future__ import annotations

import json

import duckdb
import pytest

from modelyard.app.cli import main
from modelyard.storage.catalog import Catalog, is_corrupt
from modelyard.storage.runfolder import RunFolder
from modelyard.storage.sync import sync
from tests.storage.test_catalog_sync import populated, snapshot  # noqa: F401 (fixture)


def folder_files(home) -> dict[str, bytes]:
    """Every file under the home but the catalog and the lock files: what must stay."""
    return {str(p.relative_to(home.root)): p.read_bytes()
            for p in sorted(home.root.rglob("*"))
            if p.is_file() and not p.name.startswith(("modelyard.duckdb", "."))}


def overwrite(path, data: bytes) -> None:
    path.write_bytes(data)


def truncate(path, _data: bytes) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size // 3)


def scramble_a_block(path, _data: bytes) -> None:
    """Keep the header, ruin what follows: DuckDB finds a checksum that does not match."""
    with open(path, "r+b") as fh:
        fh.seek(8192)
        fh.write(b"\x01" * (path.stat().st_size - 8192))


DAMAGE = {
    "overwritten with junk": (overwrite, "not a valid DuckDB database file"),
    "emptied": (lambda p, _d: p.write_bytes(b""), "not a valid DuckDB database file"),
    "cut short": (truncate, "the file is cut short"),
    "a bad block": (scramble_a_block, "a block's checksum does not match"),
}


@pytest.mark.parametrize("how", list(DAMAGE))
def test_every_command_rebuilds_a_damaged_catalog_and_says_so_once(populated, capsys,  # noqa: F811
                                                                   how):
    home = populated
    catalog = Catalog(home)
    sync(catalog)
    before, files = snapshot(catalog), folder_files(home)
    damage, words = DAMAGE[how]
    junk = b"this is not a database " * 400
    damage(home.db_path, junk)
    damaged = home.db_path.read_bytes()

    code = main(["runs", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert {r["id"] for r in json.loads(out)} == {"run_one", "run_two"}
    kept = list(home.root.glob("modelyard.duckdb.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == damaged, "the damaged file is kept"
    assert err.count("modelyard: note:") == 1, err
    assert (f"The catalog modelyard.duckdb was damaged ({words}); it was set aside as "
            f"{kept[0].name} and rebuilt from the folders.") in err
    assert "internal error" not in err
    # Rebuilt whole, and the folders untouched.
    assert snapshot(Catalog(home)) == before
    assert folder_files(home) == files

    # Said once: the next command finds a sound catalog and says nothing.
    assert main(["datasets"]) == 0
    assert capsys.readouterr().err == ""
    assert len(list(home.root.glob("modelyard.duckdb.corrupt-*"))) == 1


def test_reindex_of_a_damaged_catalog(populated, capsys):  # noqa: F811
    home = populated
    sync(Catalog(home))
    home.db_path.write_bytes(b"\x00junk" * 1000)
    assert main(["reindex"]) == 0
    out, err = capsys.readouterr()
    assert "set aside as modelyard.duckdb.corrupt-" in err
    assert "catalog rebuilt: 2 datasets, 2 plans, 2 runs, 5 trials" in out


def test_damage_found_mid_query_is_set_aside_for_the_next_opener(populated):  # noqa: F811
    home = populated
    catalog = Catalog(home)
    sync(catalog)
    before = snapshot(catalog)
    with pytest.raises(duckdb.Error), catalog.connect():
        raise duckdb.Error("Corrupt database file: computed checksum 1 does not match "
                           "stored checksum 2 in block at location 8192")
    assert not home.db_path.exists()
    assert len(list(home.root.glob("modelyard.duckdb.corrupt-*"))) == 1
    sync(catalog)
    assert snapshot(catalog) == before
    assert "checksum" in catalog.damage_notice()
    assert catalog.damage_notice() is None


@pytest.mark.parametrize("message", [
    'IO Error: Could not set lock on file "/x/modelyard.duckdb": Conflicting lock is held',
    'IO Error: Cannot open file "/x/modelyard.duckdb": Permission denied',
    "IO Error: No space left on device",
])
def test_a_lock_permission_or_space_error_is_not_damage(message):
    assert not is_corrupt(duckdb.IOException(message))


def test_a_sound_catalog_is_never_set_aside(populated, capsys):  # noqa: F811
    home = populated
    sync(Catalog(home))
    for _ in range(3):
        assert main(["runs"]) == 0
    assert "note" not in capsys.readouterr().err
    assert not list(home.root.glob("modelyard.duckdb.corrupt-*"))
    assert RunFolder(home.run_dir("run_one")).record().status == "succeeded"


def test_the_app_rebuilds_a_damaged_catalog_and_says_so_once(populated, monkeypatch):  # noqa: F811
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import MAIN, REPO
    from tests.app.test_pages import shown

    monkeypatch.chdir(REPO)
    sync(Catalog(populated))
    populated.db_path.write_bytes(b"junk" * 1000)
    at = AppTest.from_file(str(MAIN), default_timeout=60)
    at.run()
    assert not at.exception
    said = [shown(t.value) for t in at.toast if "was damaged" in shown(t.value)]
    assert len(said) == 1
    assert said[0].startswith("The catalog modelyard.duckdb was damaged (not a valid DuckDB "
                              "database file); it was set aside as modelyard.duckdb.corrupt-")
    at.run()
    assert not [t for t in at.toast if "was damaged" in shown(t.value)]
    assert not at.error
