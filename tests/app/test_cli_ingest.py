"""`modelyard ingest` with folders, zips, Excel sheets, progress and the "already have
this" notice: real subprocesses on files written here."""

from __future__ import annotations

import zipfile

import pandas as pd

from tests.app.test_cli import as_json, cli, one_line_error
from tests.engine.test_images import class_folders


def test_ingest_a_zip_of_image_folders(modelyard_home, tmp_path):
    root = class_folders(tmp_path / "animals", {"cat": 3, "dog": 3})
    archive = tmp_path / "animals.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(root.rglob("*")):
            zf.write(f, f.relative_to(tmp_path).as_posix())
    doc = as_json(cli("ingest", archive, "--json"))
    assert (doc["modality"], doc["target"], doc["n_rows"]) == ("image", "label", 6)
    assert doc["profile"]["images"]["n_classes"] == 2


def test_ingest_an_excel_sheet(modelyard_home, tmp_path, make_messy):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"a": [1]}).to_excel(writer, sheet_name="Cover", index=False)
        make_messy(n=80).to_excel(writer, sheet_name="Customers", index=False)
    doc = as_json(cli("ingest", path, "--sheet", "Customers", "--json"))
    assert (doc["n_rows"], doc["target"], doc["sheet"]) == (80, "churn", "Customers")
    one_line_error(cli("ingest", path, "--sheet", "Nope"), 2, "no sheet “Nope”",
                   "Cover, Customers")


def test_same_content_twice_is_reused_unless_a_copy_is_asked(modelyard_home, messy_csv,
                                                              tmp_path):
    first = as_json(cli("ingest", messy_csv, "--json"))
    copy = tmp_path / "copy-of-customers.csv"
    copy.write_bytes(messy_csv.read_bytes())
    again = cli("ingest", copy, "--json")
    assert as_json(again)["id"] == first["id"]
    assert again.stderr.startswith("modelyard: Using data set “customers” (same content, "
                                   "added 20")
    assert "Pass --copy to add it again." in again.stderr
    assert as_json(cli("ingest", copy, "--reuse", "--json"))["id"] == first["id"]  # as before
    copied = cli("ingest", copy, "--copy", "--json")
    assert as_json(copied)["id"] != first["id"] and "Using" not in copied.stderr
    assert len(as_json(cli("datasets", "--json"))) == 2


def test_a_workbook_with_a_cover_page(modelyard_home, tmp_path, make_messy):
    """No --sheet: the first sheet holding a table is read, and the output says so."""
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"Churn, 2026": []}).to_excel(writer, sheet_name="Cover", index=False)
        make_messy(n=80).to_excel(writer, sheet_name="Customers", index=False)
    result = cli("ingest", path)
    assert result.returncode == 0, result.stderr
    assert "80 rows × 6 columns" in result.stdout
    assert ("Read the sheet “Customers” of book.xlsx (the first that holds a table); its "
            "other sheets are “Cover”.") in result.stdout


def test_words_kept_are_said_and_can_be_read_as_missing(modelyard_home, tmp_path):
    path = tmp_path / "churn.csv"
    path.write_text("internet_service,tenure,churn\n" + "".join(
        f"{'None' if i % 5 == 0 else 'DSL'},{i},{'yes' if i % 3 else 'no'}\n"
        for i in range(50)))
    shown = cli("ingest", path)
    assert "“internet_service” has 10 cells reading “None”: kept as a category." in \
        shown.stdout and "--words-as-missing" in shown.stdout
    chosen = cli("ingest", path, "--words-as-missing", "--json")
    doc = as_json(chosen)
    assert doc["missing_words"] == {"internet_service": ["None"]}
    assert "Using data set “churn”" in chosen.stderr and "read as missing" in chosen.stderr
    column = next(c for c in doc["profile"]["columns"] if c["name"] == "internet_service")
    assert column["n_missing"] == 10


def test_progress_on_stderr(modelyard_home, messy_csv):
    result = cli("ingest", messy_csv, "--progress")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("[100%]")
    assert any("Counting values" in line or "Converting" in line for line in lines)


def test_unsafe_zip_is_one_line_error(modelyard_home, tmp_path):
    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../outside.csv", "a,b\n1,2\n")
    one_line_error(cli("ingest", archive), 2, "climbs out of the archive")
    assert list((modelyard_home / "datasets").iterdir()) == []
