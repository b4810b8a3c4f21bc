"""Every table format and encoding a person brings, each from a file written here; and
the bad inputs, each with its one-line message and nothing left behind."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import polars as pl
import pytest

from modelyard.engine.errors import IntakeError
from modelyard.engine.intake import ingest
from modelyard.engine.intake.formats import MAX_COLUMNS, sniff
from modelyard.engine.intake.ingest import load_profile, preview
from tests.conftest import REPO


def frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.integers(18, 90, size=n),
        "city": rng.choice(["Zürich", "Málaga", "Köln", "Paris"], size=n),
        "income": rng.normal(50_000, 9_000, size=n).round(2),
        "churned": rng.choice(["yes", "no"], size=n),
    })


def assert_same_table(home, meta, expected: pd.DataFrame) -> pl.DataFrame:
    table = pl.read_parquet(home.dataset_dir(meta["id"]) / "train.parquet")
    assert table.columns == list(expected.columns)
    assert table.height == len(expected)
    for name in expected.columns:
        got = table[name].to_list()
        want = expected[name].tolist()
        if expected[name].dtype.kind == "f":
            assert got == pytest.approx(want), name
        else:
            assert [str(v) for v in got] == [str(v) for v in want], name
    return table


def nothing_left(home):
    assert list(home.datasets.iterdir()) == [], "a partial dataset folder was left behind"


# -- delimited text ----------------------------------------------------------------------
@pytest.mark.parametrize("sep", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"])
def test_delimiters_are_detected(home, tmp_path, sep):
    expected = frame()
    path = tmp_path / "data.txt"  # the name says nothing about the delimiter
    expected.to_csv(path, sep=sep, index=False)
    meta = ingest(home, path)
    assert_same_table(home, meta, expected)
    profile = load_profile(home, meta["id"])
    assert profile.source["delimiter"] == sep
    assert profile.source["header"] is True


@pytest.mark.parametrize(
    ("encoding", "shown"),
    [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 with BOM"), ("cp1252", "Windows-1252"),
     ("latin-1", "Windows-1252")],
)
def test_encodings_are_detected_and_shown(home, tmp_path, encoding, shown):
    expected = frame()
    # “€” exists only in cp1252; Latin-1 text without it reads the same as cp1252.
    if encoding == "cp1252":
        expected.loc[3, "city"] = "€-Town"
    path = tmp_path / f"{encoding}.csv"
    expected.to_csv(path, index=False, encoding=encoding)
    meta = ingest(home, path)
    assert_same_table(home, meta, expected)  # the accents survive
    source = load_profile(home, meta["id"]).source
    assert source["encoding_name"] == shown


def test_a_late_non_utf8_byte_is_found(home, tmp_path):
    """The sample looks like UTF-8; a Latin-1 byte far into the file still reads."""
    rows = ["id,name,score"] + [f"{i},plain,{i % 7}" for i in range(200_000)]
    rows.insert(150_000, "999999,caf\xe9,3")
    path = tmp_path / "late.csv"
    path.write_bytes("\n".join(rows).encode("latin-1") + b"\n")
    meta = ingest(home, path)
    table = pl.read_parquet(home.dataset_dir(meta["id"]) / "train.parquet")
    assert "café" in table["name"].to_list()
    assert meta["n_rows"] == 200_001


def test_quoted_fields_with_delimiters_and_newlines(home, tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('id,comment,label\n1,"hello, world",a\n2,"two\nlines",b\n'
                    '3,"say ""hi""",a\n4,plain,b\n', encoding="utf-8")
    meta = ingest(home, path, target="label")
    table = pl.read_parquet(home.dataset_dir(meta["id"]) / "train.parquet")
    assert table["comment"].to_list() == ["hello, world", "two\nlines", 'say "hi"', "plain"]


def test_no_header_row_is_recognised(home, tmp_path):
    path = tmp_path / "headless.csv"
    rng = np.random.default_rng(3)
    rows = [f"{rng.normal():.3f},{rng.integers(0, 9)},{rng.choice(['a', 'b'])}"
            for _ in range(40)]
    path.write_text("\n".join(rows) + "\n")
    meta = ingest(home, path)
    assert meta["n_rows"] == 40
    profile = load_profile(home, meta["id"])
    assert profile.column_names == ["column_1", "column_2", "column_3"]
    assert profile.source["header"] is False


def test_blank_duplicate_unicode_and_dotted_names(home, tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("price,price, ,Größe (cm),a.b c,label\n"
                    + "".join(f"{i},{i * 2},{i % 3},{i / 10},{i % 5},{'xy'[i % 2]}\n"
                              for i in range(30)), encoding="utf-8")
    meta = ingest(home, path)
    profile = load_profile(home, meta["id"])
    assert profile.column_names == ["price", "price_2", "column_3", "Größe (cm)", "a.b c",
                                    "label"]
    renamed = [w for w in profile.warnings if w.code == "renamed"]
    assert renamed and "price_2" in renamed[0].message
    assert profile.target.column == "label"
    assert "a.b c" in preview(home, meta["id"]).columns


def test_gzip_and_zip_compressed_csv(home, tmp_path):
    expected = frame()
    gz = tmp_path / "data.csv.gz"
    with gzip.open(gz, "wt", encoding="cp1252", newline="") as fh:
        expected.to_csv(fh, index=False)
    meta = ingest(home, gz)
    assert_same_table(home, meta, expected)
    assert meta["name"] == "data"
    source = load_profile(home, meta["id"]).source
    assert source["compression"] == "gzip" and source["encoding_name"] == "Windows-1252"

    zipped = tmp_path / "bundle.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("export/data.csv", expected.to_csv(index=False))
        zf.writestr("__MACOSX/._data.csv", b"\x00\x05junk")
    meta = ingest(home, zipped)
    assert_same_table(home, meta, expected)
    assert meta["name"] == "bundle"


# -- other formats -----------------------------------------------------------------------
def test_parquet_json_and_ndjson(home, tmp_path):
    expected = frame()
    expected.to_parquet(tmp_path / "t.parquet", index=False)
    assert_same_table(home, ingest(home, tmp_path / "t.parquet"), expected)

    records = expected.to_dict(orient="records")
    (tmp_path / "t.json").write_text(json.dumps(records), encoding="utf-8")
    assert_same_table(home, ingest(home, tmp_path / "t.json"), expected)

    (tmp_path / "t.ndjson").write_text("\n".join(json.dumps(r) for r in records) + "\n",
                                       encoding="utf-8")
    meta = ingest(home, tmp_path / "t.ndjson")
    assert_same_table(home, meta, expected)
    assert load_profile(home, meta["id"]).source["format"] == "ndjson"


def test_a_header_starting_with_a_bracket_is_a_table_not_json(home, tmp_path):
    """"[mm] length" opens a CSV's header: by its look (no record follows the bracket)
    and its name it is delimited text; a .json file is read as JSON whatever follows."""
    (tmp_path / "m.csv").write_text("[mm] length,{unit} y\n" + "".join(
        f"{i},{'ab'[i % 2]}\n" for i in range(12)))
    meta = ingest(home, tmp_path / "m.csv")
    table = pl.read_parquet(home.dataset_dir(meta["id"]) / "train.parquet")
    assert table.columns == ["[mm] length", "{unit} y"] and table.height == 12
    (tmp_path / "n.json").write_text("[1, 2, 3]")
    with pytest.raises(IntakeError, match="is not a JSON array of records"):
        ingest(home, tmp_path / "n.json")


def test_nested_json_is_flattened(home, tmp_path):
    records = [{"id": i, "shop": {"city": "A" if i % 2 else "B", "size": i % 4},
                "tags": ["x", "y"][: 1 + i % 2], "bought": i % 3 == 0} for i in range(30)]
    (tmp_path / "nested.json").write_text(json.dumps(records))
    meta = ingest(home, tmp_path / "nested.json")
    profile = load_profile(home, meta["id"])
    assert profile.column_names == ["id", "shop.city", "shop.size", "tags", "bought"]
    table = pl.read_parquet(home.dataset_dir(meta["id"]) / "train.parquet")
    assert table["tags"].to_list()[:2] == ["x", "x|y"]


def test_excel_with_a_chosen_sheet(home, tmp_path):
    expected = frame()
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"note": ["cover sheet"]}).to_excel(writer, sheet_name="About",
                                                          index=False)
        expected.to_excel(writer, sheet_name="Data", index=False)
    assert sniff(path).sheets == ["About", "Data"]
    meta = ingest(home, path, sheet="Data")
    assert_same_table(home, meta, expected)
    source = load_profile(home, meta["id"]).source
    assert (source["format"], source["sheet"], meta["sheet"]) == ("excel", "Data", "Data")
    with pytest.raises(IntakeError, match=r"no sheet “Nope”.*About, Data"):
        ingest(home, path, sheet="Nope")
    # A sheet named is read, even a cover page: refused with its reason and the others.
    with pytest.raises(IntakeError, match=r"sheet “About” of book.xlsx has a single column"
                                          r".*Choose another sheet \(Data\)"):
        ingest(home, path, sheet="About")


def test_a_workbook_is_read_from_its_first_table_sheet(home, tmp_path):
    """A cover page (one cell) and a notes sheet before the table: the table is read, and
    the profile says which sheet it was and names the others."""
    expected = frame()
    path = tmp_path / "report.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"Customer report 2026": []}).to_excel(writer, sheet_name="Cover",
                                                              index=False)
        pd.DataFrame({"note": ["a", "b", "c"]}).to_excel(writer, sheet_name="Notes",
                                                         index=False)
        expected.to_excel(writer, sheet_name="Customers", index=False)
        expected.head(5).to_excel(writer, sheet_name="More", index=False)
    meta = ingest(home, path)
    assert_same_table(home, meta, expected)
    profile = load_profile(home, meta["id"])
    assert (profile.source["sheet"], meta["sheet"]) == ("Customers", "Customers")
    said = [w for w in profile.warnings if w.code == "sheet"]
    assert [w.message for w in said] == [
        "Read the sheet “Customers” of report.xlsx (the first that holds a table); its "
        "other sheets are “Cover”, “Notes”, “More”."]
    # The same workbook with the sheet named: the same data, and the finding says so.
    named = load_profile(home, ingest(home, path, sheet="More")["id"])
    assert named.n_rows == 5
    assert "(as chosen)" in next(w.message for w in named.warnings if w.code == "sheet")
    # Naming the sheet that would be read anyway (as the Data page's picker does) is not
    # a choice that differs from it.
    same = load_profile(home, ingest(home, path, sheet="Customers")["id"])
    assert "(the first that holds a table)" in next(w.message for w in same.warnings
                                                     if w.code == "sheet")


# -- words that often mean "no value" -------------------------------------------------------
def test_words_stay_values_in_text_and_are_gaps_among_numbers(home, tmp_path):
    """"None" in a text column is a category (kept, and said); "NA", "nan" among numbers or
    dates are gaps (said too); an empty cell is missing as ever."""
    n = 2_000
    rows = ["id,internet_service,tenure,charges,signup,note"]
    for i in range(n):
        service = "None" if i % 5 == 0 else ("DSL" if i % 2 else "Fiber optic")
        tenure = "NA" if i % 100 == 3 else str(i % 70)
        charges = "nan" if i % 250 == 7 else f"{20 + i % 90}.5"
        signup = "NA" if i % 400 == 1 else f"2024-0{1 + i % 9}-1{i % 10}"
        note = "" if i % 10 == 9 else ("null" if i % 10 == 8 else "ok")
        rows.append(f"{i},{service},{tenure},{charges},{signup},{note}")
    path = tmp_path / "churn.csv"
    path.write_text("\n".join(rows) + "\n")
    meta = ingest(home, path)
    table = pl.read_parquet(home.dataset_dir(meta["id"]) / "train.parquet")
    assert table.schema["internet_service"] == pl.String
    assert table["internet_service"].null_count() == 0
    assert (table["internet_service"] == "None").sum() == 400
    assert (table.schema["tenure"], table["tenure"].null_count()) == (pl.Int64, 20)
    assert (table.schema["charges"], table["charges"].null_count()) == (pl.Float64, 8)
    assert (table.schema["signup"], table["signup"].null_count()) == (pl.Date, 5)
    assert table["note"].null_count() == 200 and (table["note"] == "null").sum() == 200
    profile = load_profile(home, meta["id"])
    assert profile.column("internet_service").n_missing == 0
    found = {w.column: (w.values, w.counts, w.as_missing) for w in profile.missing_words}
    assert found == {"tenure": ("numbers", {"NA": 20}, True),
                     "charges": ("numbers", {"nan": 8}, True),
                     "signup": ("dates", {"NA": 5}, True),
                     "internet_service": ("text", {"None": 400}, False),
                     "note": ("text", {"null": 200}, False)}
    words = {w.code: w.message for w in profile.warnings if w.code.startswith("words")}
    assert words["words_kept"].startswith(
        "2 columns have cells reading a word that often means “no value”: "
        "“internet_service”: 400 cells reading “None”; “note”: 200 cells reading “null”.")
    assert words["words_in_numbers"] == (
        "In columns of numbers or dates, these cells were read as missing: “tenure”: 20 "
        "cells reading “NA”; “charges”: 8 cells reading “nan”; “signup”: 5 cells reading "
        "“NA”.")


def test_a_number_column_with_na_past_the_inferred_rows(home, tmp_path):
    """"NA" only after the rows polars infers types from: still numbers, the cell a gap."""
    lines = ["x,y"] + [f"{i},{i % 2}" for i in range(12_000)] + ["NA,1", "7,0"]
    path = tmp_path / "late.csv"
    path.write_text("\n".join(lines) + "\n")
    meta = ingest(home, path)
    table = pl.read_parquet(home.dataset_dir(meta["id"]) / "train.parquet")
    assert (table.schema["x"], table["x"].null_count(), table["x"][-1]) == (pl.Int64, 1, 7)
    assert load_profile(home, meta["id"]).missing_words[0].counts == {"NA": 1}


def test_one_column_of_words_is_a_category(home, tmp_path):
    """A column whose only values are a word and blanks is not a number column."""
    path = tmp_path / "w.csv"
    path.write_text("a,b\n" + "".join(f"{'None' if i % 2 else ''},{i}\n" for i in range(20)))
    profile = load_profile(home, ingest(home, path)["id"])
    assert [(w.column, w.values) for w in profile.missing_words] == [("a", "text")]
    kept = next(w for w in profile.warnings if w.code == "words_kept")
    assert kept.message.startswith("“a” has 10 cells reading “None”: kept as")


def test_dates_with_month_names_are_dates(home, tmp_path):
    """"05-Jan-2024", "Jan 5, 2024", "5 January 2024 10:30" and "05-Jan-24" are dates, not
    categories with a value per day; a column of month names alone stays a category."""
    months = ["Jan", "Feb", "March", "Apr", "May", "June", "Jul", "Aug", "Sep", "Oct"]
    rows = ["short,us,long,two_digit,month,y"] + [
        f'{d:02d}-{m[:3]}-2024,"{m} {d}, 2023",{d} {m} 2022 10:{d:02d},{d:02d}-{m[:3]}-24,'
        f"{m},{d % 2}" for d, m in zip(range(1, 21), months * 2, strict=True)]
    path = tmp_path / "when.csv"
    path.write_text("\n".join(rows) + "\n")
    table = pl.read_parquet(home.dataset_dir(ingest(home, path)["id"]) / "train.parquet")
    assert {n: str(t) for n, t in table.schema.items()} == {
        "short": "Date", "us": "Date", "long": "Datetime(time_unit='us', time_zone=None)",
        "two_digit": "Date", "month": "String", "y": "Int64"}
    first = table.row(0, named=True)
    assert (str(first["short"]), str(first["us"]), str(first["long"]),
            str(first["two_digit"])) == ("2024-01-01", "2023-01-01", "2022-01-01 10:01:00",
                                         "2024-01-01")


# -- lines before the table ---------------------------------------------------------------------
@pytest.mark.parametrize("preamble, said", [
    ("# Exported by ShopSystem 3.1, build 7\n# 2024-05-01\n",
     "The first 2 lines of the file come before the table's header and were skipped "
     "(“# Exported by ShopSystem 3.1, build 7”, “# 2024-05-01”)."),
    ("Sales report, March\n\n",
     "The first 2 lines of the file come before the table's header and were skipped "
     "(“Sales report, March”)."),
    ("Sales\n", "The first line of the file comes before the table's header and was "
                 "skipped (“Sales”)."),
])
def test_a_title_or_comments_above_the_header_are_skipped_and_said(home, tmp_path,
                                                                   preamble, said):
    rows = "".join(f"{'ns'[i % 2]},{i},{'ab'[i % 2]}\n" for i in range(30))
    path = tmp_path / "report.csv"
    path.write_text(preamble + "region,amount,y\n" + rows)
    meta = ingest(home, path)
    table = pl.read_parquet(home.dataset_dir(meta["id"]) / "train.parquet")
    assert table.columns == ["region", "amount", "y"] and table.height == 30
    assert table["amount"].to_list() == list(range(30))
    profile = load_profile(home, meta["id"])
    assert next(w.message for w in profile.warnings if w.code == "preamble").startswith(said)


def test_a_header_short_of_one_name_names_all_but_the_first_column(home, tmp_path):
    """"a,b" above rows of three fields (R's row names): not a title line to skip, nor
    ragged rows, but a first column without a name, said as renamed."""
    path = tmp_path / "short.csv"
    path.write_text("a,b\n" + "".join(f"car {i},{i * 2},{'xy'[i % 2]}\n" for i in range(10)))
    meta = ingest(home, path)
    table = pl.read_parquet(home.dataset_dir(meta["id"]) / "train.parquet")
    assert table.columns == ["column_1", "a", "b"] and table.height == 10
    assert table.row(0) == ("car 0", 0, "x")
    profile = load_profile(home, meta["id"])
    assert "(blank, column 1) → column_1" in next(w.message for w in profile.warnings
                                                  if w.code == "renamed")
    assert "preamble" not in {w.code for w in profile.warnings}


def test_rows_ending_in_a_delimiter_keep_their_columns_in_place(home, tmp_path):
    """"1,2," under "a,b": the empty last field is an unnamed empty column at the end,
    not a reason to shift every value one column over."""
    path = tmp_path / "trail.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i * 2},\n" for i in range(10)))
    table = pl.read_parquet(home.dataset_dir(ingest(home, path)["id"]) / "train.parquet")
    assert table.columns == ["a", "b", "column_3"]
    assert table.row(3)[:2] == (3, 6) and table["column_3"].null_count() == 10


# -- numbers written as text (engine/intake/number_text.py) -----------------------------------
def _number_table(home, tmp_path, name: str, text: str, encoding: str = "utf-8"):
    path = tmp_path / name
    if text:  # else the file is there already
        path.write_bytes(text.encode(encoding))
    meta = ingest(home, path)
    table = pl.read_parquet(home.dataset_dir(meta["id"]) / "train.parquet")
    return table, load_profile(home, meta["id"])


def test_decimal_commas_in_a_semicolon_file_are_numbers(home, tmp_path):
    """A German export (semicolons, decimal commas, points grouping thousands, Latin-1):
    the amount is a number, not an identifier, and the Profile says how it was read."""
    rows = ["Betrag;Stadt;Kauf"] + [
        f"{f'{i * 37.25:,.2f}'.translate(str.maketrans(',.', '.,'))};"
        f"{'Köln' if i % 2 else 'Zürich'};{'ja' if i > 30 else 'nein'}" for i in range(60)]
    table, profile = _number_table(home, tmp_path, "kauf.csv", "\n".join(rows) + "\n",
                                   "latin-1")
    assert table.schema["Betrag"] == pl.Float64
    assert table["Betrag"].to_list()[:3] == [0.0, 37.25, 74.5]
    assert table["Betrag"][40] == 1490.0  # written "1.490,00"
    assert table["Stadt"][1] == "Köln"
    column = profile.column("Betrag")
    assert column.kind.value == "numeric" and column.role is None
    said = next(w for w in profile.warnings if w.code == "numbers_in_text")
    assert said.message == ("Numbers written as text were read as numbers: “Betrag”: a "
                            "decimal comma, thousands separators, for example “1.005,75”.")
    assert said.column == "Betrag"


def test_thousands_currency_and_percent_signs_are_numbers(home, tmp_path):
    """Quoted "1,234" in a comma-separated file groups thousands; "$1,912.07" and "30%"
    are numbers too; "N/A" among them is a gap, said as such; a column of words and one
    of codes that only look like numbers in part stay text."""
    rows = ["price,discount,units,code,y"]
    for i in range(50):
        price = "N/A" if i == 7 else f"${i * 101.5:,.2f}"
        rows.append(f'"{price}",{i % 30}%,"{1000 + i * 50:,}",A-{i:03d},{i % 2}')
    table, profile = _number_table(home, tmp_path, "shop.csv", "\n".join(rows) + "\n")
    assert (table.schema["price"], table["price"][10], table["price"].null_count()) == (
        pl.Float64, 1015.0, 1)
    assert (table.schema["discount"], table["discount"][29]) == (pl.Int64, 29)
    assert (table.schema["units"], table["units"][49]) == (pl.Int64, 3450)
    assert table.schema["code"] == pl.String
    said = next(w for w in profile.warnings if w.code == "numbers_in_text").message
    assert "“price”: thousands separators, currency signs, for example “$1,015.00”" in said
    assert "“discount”: percent signs (read as written: 12 % is 12)" in said
    assert "“units”: thousands separators, for example “1,000”" in said
    assert "code" not in said
    found = {w.column: (w.values, w.counts) for w in profile.missing_words}
    assert found["price"] == ("numbers", {"N/A": 1})


def test_numbers_typed_as_text_in_a_workbook_are_numbers(home, tmp_path):
    """Excel cells holding text such as "1.234,50 €" or "$1,200" are read as the CSV
    ones are; a workbook has no delimiter, so "1,200" alone groups thousands."""
    frame = pd.DataFrame({"betrag": [f"{i * 1000 + 0.5:,.2f} €".translate(
                              str.maketrans(",.", ".,")) for i in range(20)],
                          "units": [f"{1000 + i:,}" for i in range(20)],
                          "y": ["a", "b"] * 10})
    path = tmp_path / "book.xlsx"
    frame.to_excel(path, index=False)
    table, profile = _number_table(home, tmp_path, "book.xlsx", "")
    assert table["betrag"].to_list()[:2] == [0.5, 1000.5]
    assert (table.schema["units"], table["units"][19]) == (pl.Int64, 1019)
    assert "“betrag”: a decimal comma, thousands separators, currency signs" in next(
        w.message for w in profile.warnings if w.code == "numbers_in_text")


@pytest.mark.parametrize("sep, expected", [(";", [1.5, 2.25]), ("\t", [1.5, 2.25])])
def test_a_lone_comma_is_a_decimal_mark_where_the_file_is_not_comma_separated(
        home, tmp_path, sep, expected):
    rows = [f"x{sep}y"] + [f"{v}{sep}{i % 2}" for i, v in
                           enumerate(["1,5", "2,25"] * 15)]
    table, _ = _number_table(home, tmp_path, "lone.csv", "\n".join(rows) + "\n")
    assert table["x"].to_list()[:2] == expected


def test_mixed_conventions_and_french_spaces(home, tmp_path):
    """Narrow no-break spaces group thousands in French ("70 093,54"); a column mixing
    "1.5" and "12,5" is not read as numbers in either convention, and stays text."""
    rows = ["montant;mixte;y"] + [
        f"{f'{i * 1234.5:,.2f}'.replace(',', chr(0x202f)).replace('.', ',')};"
        f"{'1.5' if i % 2 else '12,5'};{i % 2}" for i in range(40)]
    table, _ = _number_table(home, tmp_path, "fr.csv", "\n".join(rows) + "\n")
    assert table["montant"][39] == 48145.5
    assert table.schema["mixte"] == pl.String


# -- bad input -----------------------------------------------------------------------------
def _write(tmp_path, name, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


BAD = {
    "binary junk": ("junk.csv", bytes(range(256)) * 40,
                    r"junk\.csv does not look like a table: it holds binary data"),
    "whitespace only": ("blank.csv", b"\n\n   \n", r"blank\.csv is empty"),
    "ragged rows": ("ragged.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n",
                    r"different number of fields than the header \(3\): line 3 has 2, "
                    r"line 5 has 4"),
    "single column": ("one.csv", b"only\n1\n2\n3\n", r"single column \(“only”\)"),
    "old excel": ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100,
                  r"old-style Excel file"),
    "json object": ("obj.json", b'{"a": [1, 2], "b": {"c": 3}}\n{broken',
                    r"not JSON with one record per line"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_files_say_why_and_leave_nothing(home, tmp_path, case):
    name, content, message = BAD[case]
    with pytest.raises(IntakeError, match=message) as info:
        ingest(home, _write(tmp_path, name, content))
    assert info.value.hint and "\n" not in str(info.value)
    nothing_left(home)


def test_ragged_rows_past_the_sample_are_found(home, tmp_path):
    lines = ["a,b,c"] + [f"{i},{i},{i}" for i in range(30_000)] + ["1,2,3,4"]
    path = _write(tmp_path, "late-ragged.csv", ("\n".join(lines) + "\n").encode())
    with pytest.raises(IntakeError, match=r"line 30002 has 4"):
        ingest(home, path)
    nothing_left(home)


def test_all_missing_target(home, tmp_path):
    path = _write(tmp_path, "t.csv", b"x,y\n1,\n2,\n3,\n")
    with pytest.raises(IntakeError, match=r"target “y” is empty in every row"):
        ingest(home, path, target="y")
    nothing_left(home)


def test_too_many_columns(home, tmp_path):
    n = MAX_COLUMNS + 1
    header = ",".join(f"c{i}" for i in range(n))
    path = _write(tmp_path, "wide.csv", f"{header}\n{','.join(['1'] * n)}\n".encode())
    with pytest.raises(IntakeError, match=r"10,001 columns; Modelyard handles at most 10,000"):
        ingest(home, path)
    nothing_left(home)


# Root reads anything: the child drops to `nobody` once its modules are loaded (the
# interpreter itself may live where `nobody` cannot read).
_AS_NOBODY = """
import os, sys
import modelyard.app.cli, modelyard.app.workspace, modelyard.engine.intake.ingest
import modelyard.storage.paths, modelyard.storage.sync
if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
sys.exit(modelyard.app.cli.main(sys.argv[1:]))
"""


def test_a_file_this_process_cannot_read(tmp_path):
    path = _write(tmp_path, "secret.csv", b"a,b\n1,2\n")
    path.chmod(0)
    user_home = tmp_path / "mh"
    user_home.mkdir()
    for p in (tmp_path, *tmp_path.parents):
        if os.geteuid() == 0 and str(p).startswith("/tmp"):
            p.chmod(p.stat().st_mode | 0o111)  # let nobody walk to the file
    user_home.chmod(0o777)
    env = {**os.environ, "MODELYARD_HOME": str(user_home)}
    proc = subprocess.run([sys.executable, "-c", _AS_NOBODY, "ingest", str(path)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "secret.csv: this process may not read the file" in proc.stderr
    assert not list((user_home / "datasets").iterdir())


def test_progress_is_reported_while_converting(home, tmp_path):
    from bench.ingest_vs_pandas import generate

    path = tmp_path / "big.csv"
    generate(path, 60_000)  # ~11 MB: big enough for a size estimate and several polls
    seen: list[tuple[float, str]] = []
    meta = ingest(home, path, progress=lambda f, message: seen.append((f, message)))
    assert meta["n_rows"] == 60_000
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions), "progress went backwards"
    assert fractions[-1] == 1.0 and 0 < min(f for f in fractions if f > 0) < 0.6
    messages = {m for _, m in seen}
    assert "Converting big.csv to Parquet" in messages and "Profile ready" in messages
