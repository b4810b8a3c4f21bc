"""Hostile and awkward files at intake: each is read or refused with a message and exit
code 2, quickly, and leaves what was stored before intact (no partial folder, no temp file).

Every crafted file is made by the test itself: zip, gzip and workbook bombs, FIFOs and
other special files, long cells and lines, mixed encodings, markup in column names, and
random CSV bytes (Hypothesis)."""

from __future__ import annotations

import gzip
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from modelyard.app.cli import main
from modelyard.engine.errors import BadInputError, IntakeError
from modelyard.engine.intake import archives, guards
from modelyard.engine.intake.ingest import convert, ingest, load_profile
from modelyard.schemas import Profile
from modelyard.storage.datasets import list_datasets

REPO = Path(__file__).resolve().parents[2]
MiB = 1 << 20


# -- helpers ----------------------------------------------------------------------------
def run_cli(capsys, *args: str) -> tuple[int, str]:
    """`modelyard ingest ARGS` in this process: its exit code and what it wrote to stderr."""
    code = main(["ingest", *args])
    return code, capsys.readouterr().err


@pytest.fixture
def stored(ws, tmp_path):
    """A data set ingested before the hostile file comes."""
    path = tmp_path / "before.csv"
    path.write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(40)))
    return ws.ingest(path)


def assert_intact(ws, meta) -> None:
    """The earlier data set still loads, and nothing else is in the datasets folder."""
    home = ws.home
    assert [p.name for p in home.datasets.iterdir()] == [meta["id"]], "something was left"
    assert load_profile(home, meta["id"]).n_rows == 40
    table = pl.read_parquet(home.dataset_dir(meta["id"]) / "train.parquet")
    assert table["x"].to_list() == list(range(40))
    assert [r["id"] for r in list_datasets(ws.catalog)] == [meta["id"]]


def zeros_zip(path: Path, members: dict[str, int], extra: dict[str, bytes] | None = None):
    """A zip whose members are `size` bytes of zeros each, deflated (~1000:1)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
        for name, size in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as out:
                block = bytes(MiB)
                for _ in range(size // MiB):
                    out.write(block)
    return path


def random_csv(rows: int, seed: int = 0) -> bytes:
    """A table of random numbers: it compresses about 2:1, like real data."""
    rng = random.Random(seed)
    lines = ["a,b,c"] + [f"{rng.random()},{rng.randint(0, 10**9)},{rng.random()}"
                         for _ in range(rows)]
    return ("\n".join(lines) + "\n").encode()


# -- 4. zip bombs ---------------------------------------------------------------------------
@pytest.mark.parametrize("member", ["data.csv", "competition/train.csv", "images/cat/1.png"])
def test_a_zip_bomb_is_refused_before_anything_is_unpacked(ws, stored, tmp_path, capsys,
                                                            member):
    bomb = zeros_zip(tmp_path / "bomb.zip", {member: 64 * MiB},
                     extra={"competition/test.csv": b"a\n1\n"})
    assert bomb.stat().st_size < MiB
    started = time.perf_counter()
    code, err = run_cli(capsys, str(bomb))
    took = time.perf_counter() - started
    assert code == 2
    assert "bomb.zip" in err and member in err and "zip bomb" in err
    assert "500:1" in err and "MODELYARD_MAX_UNPACK_RATIO" in err and "internal" not in err
    assert took < 5, f"refusing took {took:.1f}s"
    assert_intact(ws, stored)


def test_a_zip_past_the_cap_is_refused_naming_the_cap_and_how_to_raise_it(
        ws, stored, tmp_path, capsys, monkeypatch):
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.csv", random_csv(60_000))  # ~2.7 MiB, compresses ~2:1
    monkeypatch.setenv("MODELYARD_MAX_UNPACKED_GB", "0.001")
    code, err = run_cli(capsys, str(archive))
    assert code == 2
    assert "past the 1.0 MiB Modelyard unpacks at most" in err
    assert "set MODELYARD_MAX_UNPACKED_GB higher (now 0.001)" in err
    assert_intact(ws, stored)
    # The next step the message names works.
    monkeypatch.setenv("MODELYARD_MAX_UNPACKED_GB", "1")
    code, err = run_cli(capsys, str(archive))
    assert code == 0, err
    assert len(list_datasets(ws.catalog)) == 2


def test_unpacking_stops_at_the_cap_even_when_declared_sizes_lie(tmp_path, monkeypatch):
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(3):
            zf.writestr(f"part{i}.csv", random_csv(30_000, seed=i))  # ~1.3 MiB each
    monkeypatch.setenv("MODELYARD_MAX_UNPACKED_GB", str(2 / 1024))  # 2 MiB
    # As if the archive declared tiny sizes: only the count while unpacking is left.
    monkeypatch.setattr(guards, "check_sizes", lambda shown, members: 1)
    dest = tmp_path / "out" / "unzipped"
    with pytest.raises(IntakeError, match=r"liar.zip unpacks to more than 2.0 MiB"):
        archives.extract_zip(archive, dest)
    assert not dest.exists(), "a partly unpacked folder was left behind"


def test_an_unreadable_cap_setting_is_passed_over_like_any_setting(ws, tmp_path, monkeypatch,
                                                                    capsys):
    # One resolver, one policy (engine/settings.py): a typo never stops Modelyard; the
    # default applies, and a refusal names the cap in force.
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.csv", "x,y\n1,2\n")
    monkeypatch.setenv("MODELYARD_MAX_UNPACKED_GB", "lots")
    assert guards.unpack_cap() == 20 * 2**30
    code, err = run_cli(capsys, str(archive))
    assert code == 0, err


def test_a_gzip_bomb_stops_while_decompressing(ws, stored, tmp_path, capsys):
    path = tmp_path / "rows.csv.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b"a,b\n")
        block = b"0,0\n" * (MiB // 4)
        for _ in range(256):  # 256 MiB of text in well under 1 MiB
            out.write(block)
    assert path.stat().st_size < MiB
    started = time.perf_counter()
    code, err = run_cli(capsys, str(path))
    took = time.perf_counter() - started
    assert code == 2 and "rows.csv.gz unpacks to" in err and "zip bomb" in err, err
    assert took < 5, f"refusing took {took:.1f}s"
    assert_intact(ws, stored)


def test_a_gzip_table_past_the_cap_stops_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "in" / "big.csv.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(random_csv(60_000)))
    monkeypatch.setenv("MODELYARD_MAX_UNPACKED_GB", "0.001")
    out = tmp_path / "out"
    out.mkdir()
    # `convert` (used by predict) writes its temporary UTF-8 copy next to the output.
    with pytest.raises(IntakeError, match=r"big.csv.gz unpacks to more than 1.0 MiB"):
        convert(path, out / "big.parquet")
    assert list(out.iterdir()) == []


def test_a_workbook_bomb_is_refused_before_it_is_opened(ws, stored, tmp_path, capsys):
    book = zeros_zip(tmp_path / "book.xlsx", {"xl/worksheets/sheet1.xml": 64 * MiB},
                     extra={"xl/workbook.xml": b"<workbook/>"})
    code, err = run_cli(capsys, str(book))
    assert code == 2 and "book.xlsx (xl/worksheets/sheet1.xml)" in err and "zip bomb" in err
    assert_intact(ws, stored)


def test_the_ratio_refuses_zeros_but_not_a_sparse_table():
    """Deflated zeros come out ~1030:1; a one-hot table at level 9 ~250:1 (measured)."""
    def member(size, packed):
        info = zipfile.ZipInfo("m.csv")
        info.file_size, info.compress_size = size, packed
        return info

    size = 64 * MiB
    assert guards.check_sizes("sparse.zip", [member(size, size // 255)]) == size
    assert guards.check_sizes("small.zip", [member(4 * MiB, 1)]) == 4 * MiB  # under 8 MiB
    with pytest.raises(IntakeError, match="1,030 times its compressed size"):
        guards.check_sizes("zeros.zip", [member(size, size // 1030)])
    meter = guards.Meter("stream.gz")
    meter.add(16 * MiB, packed=16 * MiB // 255)
    with pytest.raises(IntakeError, match="stream.gz unpacks to"):
        meter.add(MiB, packed=17 * MiB // 1030)


def test_an_ordinary_zip_still_ingests(ws, tmp_path):
    archive = tmp_path / "table.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("table/data.csv", random_csv(2_000))
    meta = ws.ingest(archive)
    assert meta["n_rows"] == 2_000


@pytest.mark.bench  # 2 GiB written to disk first; the small bombs above are in `make test`
def test_a_two_gib_bomb_through_the_cli_is_refused_in_seconds(tmp_path, child_env):
    bomb = zeros_zip(tmp_path / "bomb.zip", {"data.csv": 2 << 30})
    home = tmp_path / "cli-home"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "modelyard.app.cli", "ingest", str(bomb)],
                          env={**child_env(home), "PYTHONPATH": str(REPO)}, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    took = time.perf_counter() - started
    assert done.returncode == 2, done.stderr
    assert "times its compressed size (2.0 GiB from" in done.stderr
    assert list((home / "datasets").iterdir()) == []
    print(f"2 GiB bomb ({bomb.stat().st_size / MiB:.1f} MiB zip) refused by the CLI in "
          f"{took:.1f}s")


# -- 6. FIFOs, sockets, devices ---------------------------------------------------------------
@pytest.mark.timeout(120)
def test_a_fifo_is_refused_without_opening_it(tmp_path, child_env):
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    home = tmp_path / "cli-home"
    # A real CLI process: were the FIFO opened, it would wait for a writer for ever.
    done = subprocess.run([sys.executable, "-m", "modelyard.app.cli", "ingest", str(fifo)],
                          env={**child_env(home), "PYTHONPATH": str(REPO)}, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "data.csv is a named pipe (FIFO), not a file Modelyard can read" in done.stderr
    assert list((home / "datasets").iterdir()) == []


@pytest.mark.timeout(60)
def test_a_fifo_inside_a_folder_or_as_the_test_file_is_refused(ws, stored, tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "train.csv").write_text("x,y\n1,0\n2,1\n3,0\n")
    os.mkfifo(folder / "test.csv")
    code, err = run_cli(capsys, str(folder))
    assert code == 2 and "test.csv in data is a named pipe (FIFO)" in err
    os.mkfifo(tmp_path / "pipe.csv")
    code, err = run_cli(capsys, str(folder / "train.csv"), "--test", str(tmp_path / "pipe.csv"))
    assert code == 2 and "pipe.csv is a named pipe (FIFO)" in err
    assert_intact(ws, stored)


def test_a_device_and_a_socket_are_refused(ws, stored, capsys):
    code, err = run_cli(capsys, "/dev/zero")
    assert code == 2 and "/dev/zero is a device" in err
    folder = Path(tempfile.mkdtemp(prefix="my", dir="/tmp"))  # a socket path must be short
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(folder / "s.csv"))
            code, err = run_cli(capsys, str(folder / "s.csv"))
        assert code == 2 and "s.csv is a socket" in err
    finally:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()
    assert_intact(ws, stored)


# -- 7 and 8. long cells, long lines, mixed encodings ------------------------------------------
@pytest.mark.parametrize("cell_bytes", [150_000, 5_000_000])
def test_a_long_text_cell_is_read_whole(ws, tmp_path, capsys, cell_bytes):
    # Commas, quotes and line breaks inside, as in a real pasted document.
    long = ('He said "yes", then\nleft. ' * (cell_bytes // 25))[:cell_bytes]
    frame = pl.DataFrame({"id": list(range(30)), "label": [i % 2 for i in range(30)],
                          "text": [long if i == 7 else f"short {i}" for i in range(30)]})
    path = tmp_path / "docs.csv"
    frame.write_csv(path)
    started = time.perf_counter()
    code, err = run_cli(capsys, str(path), "--target", "label")
    took = time.perf_counter() - started
    assert code == 0, err
    (meta,) = list_datasets(ws.catalog)
    table = pl.read_parquet(ws.home.dataset_dir(meta["id"]) / "train.parquet")
    assert table["text"][7] == long and table["text"][8] == "short 8"
    profile = load_profile(ws.home, meta["id"])
    assert all(len(w.message) < 2_000 for w in profile.warnings)
    print(f"{cell_bytes:,}-byte cell ingested in {took:.1f}s")


def test_one_long_line_is_called_what_it_is(ws, stored, tmp_path, capsys):
    path = tmp_path / "blob.csv"
    path.write_bytes(b"a," * (25 * MiB))  # 50 MB, no line break
    code, err = run_cli(capsys, str(path))
    assert code == 2
    assert "blob.csv has no line break in its first 4 MB (50 MB in all): it does not look " \
           "like a table" in err
    assert "save it as CSV" in err and "header (0)" not in err
    assert_intact(ws, stored)


def _mixed_rows() -> tuple[bytes, list[str]]:
    names, data = [], b"name,city,y\n"
    for i in range(100):
        name, city = ("Café", "Zürich") if i % 3 else ("Crème brûlée", "€ 5")
        names.append(name)
        line = f"{name},{city},{i % 2}\n"
        data += line.encode("utf-8" if i % 2 else "cp1252")
    return data, names


def test_mixed_utf8_and_cp1252_lines_are_each_read_in_their_own_encoding(ws, tmp_path):
    data, names = _mixed_rows()
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    meta = ws.ingest(path)
    table = pl.read_parquet(ws.home.dataset_dir(meta["id"]) / "train.parquet")
    assert table["name"].to_list() == names  # no “CafÃ©”
    assert set(table["city"]) == {"Zürich", "€ 5"}
    profile = load_profile(ws.home, meta["id"])
    assert profile.source["mixed_encoding"] == {"UTF-8": 50, "Windows-1252": 50}
    assert profile.source["encoding_name"].startswith("UTF-8, and Windows-1252 on the 50")
    (warning,) = [w for w in profile.warnings if w.code == "mixed_encoding"]
    assert "50 in UTF-8 and 50 in Windows-1252" in warning.message


def test_a_stray_cp1252_line_deep_in_a_big_utf8_file(ws, tmp_path):
    rows = [f"Zoë {i},{i % 2}\n" for i in range(400_000)]  # ~5 MB: past the sniffed sample
    path = tmp_path / "big.csv.gz"
    body = ("who,y\n" + "".join(rows[:300_000])).encode() + "Zoë,1\n".encode("cp1252") \
        + "".join(rows[300_000:]).encode()
    path.write_bytes(gzip.compress(body))
    meta = ws.ingest(path)
    table = pl.read_parquet(ws.home.dataset_dir(meta["id"]) / "train.parquet")
    assert table["who"][300_000] == "Zoë" and table["who"][0] == "Zoë 0"
    assert table["who"].str.contains("Ã").sum() == 0
    mixed = load_profile(ws.home, meta["id"]).source["mixed_encoding"]
    assert mixed == {"UTF-8": 400_000, "Windows-1252": 1}


def test_a_plain_cp1252_file_is_still_just_cp1252(ws, tmp_path):
    path = tmp_path / "old.csv"
    path.write_bytes("name,y\n".encode() + "".join(f"Café {i},{i % 2}\n" for i in range(50))
                     .encode("cp1252"))
    meta = ws.ingest(path)
    profile = load_profile(ws.home, meta["id"])
    assert profile.source["encoding_name"] == "Windows-1252"
    assert "mixed_encoding" not in profile.source
    assert not [w for w in profile.warnings if w.code == "mixed_encoding"]


# -- markup in names ----------------------------------------------------------------------------
def test_markup_in_column_names_goes_through_intact(ws, tmp_path, capsys):
    names = ["<script>alert('x')</script>", '<img src=x onerror="alert(1)">', "a&b;</td>",
             "y"]
    frame = pl.DataFrame({n: [f"<b>{i}</b>" if j < 3 else i % 2 for i in range(40)]
                          for j, n in enumerate(names)})
    path = tmp_path / "markup.csv"
    frame.write_csv(path)
    code = main(["ingest", str(path), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    shown = json.loads(out)
    assert [c["name"] for c in shown["profile"]["columns"]] == names
    profile = Profile.model_validate(shown["profile"])
    assert profile.column_names == names
    table = pl.read_parquet(ws.home.dataset_dir(shown["id"]) / "train.parquet")
    assert table.columns == names and table[names[0]][3] == "<b>3</b>"


# -- fuzzing the table readers -----------------------------------------------------------------
CELL = st.text(alphabet=st.sampled_from(list("ab1 2.-é€\"',;\t|\n\r") + ["ü", "\u00a0"]),
               max_size=8)
ENCODINGS = ["utf-8", "utf-8-sig", "cp1252", "utf-16", "latin-1"]


@st.composite
def csv_bytes(draw) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    width = draw(st.integers(1, 5))
    rows = draw(st.lists(st.lists(CELL, min_size=width, max_size=width), min_size=1,
                         max_size=12))
    quote = draw(st.booleans())
    lines = []
    for row in rows:
        cells = ['"' + c.replace('"', '""') + '"' if quote else c for c in row]
        lines.append(delimiter.join(cells))
        if draw(st.booleans()) and draw(st.booleans()):
            lines.append("")  # a blank line
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    encoding = draw(st.sampled_from(ENCODINGS))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 9)) == 0:  # now and then, raw noise spliced in
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=16)) + data[at:]
    return data


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=csv_bytes(), suffix=st.sampled_from([".csv", ".tsv", ".txt", ".csv.gz"]))
def test_random_csv_bytes_ingest_or_are_refused_with_a_message(home, data, suffix):
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        path = folder / f"t{suffix}"
        path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
        try:
            meta = ingest(home, path)
        except (IntakeError, BadInputError) as exc:
            assert str(exc).strip()
            event("refused: " + " ".join(str(exc).split()[1:4]))
        else:
            event("ingested")
            Profile.model_validate(json.loads(
                (home.dataset_dir(meta["id"]) / "profile.json").read_text()))
            assert pl.read_parquet(home.dataset_dir(meta["id"]) / meta["table"]).height \
                == meta["n_rows"]
        assert not [p for p in home.datasets.iterdir() if p.name.startswith(".")]
        assert sorted(p.name for p in folder.iterdir()) == [path.name]
    finally:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()
