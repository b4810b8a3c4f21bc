"""Recognise a table file and write it as Parquet, streaming where the format allows.

`sniff` looks at the bytes (not only the name): Parquet, gzip, zip, Excel, JSON, NDJSON
or delimited text, and for text its encoding, delimiter and header. `to_parquet` then
writes the table with Polars: delimited text and NDJSON stream (`scan_*` →
`sink_parquet`), so a file bigger than memory never has to fit in it; gzip and non-UTF-8
text are first rewritten as plain UTF-8 next to the output, chunk by chunk.

Hostile or unusual bytes: only regular files are opened (`guards`); a .gz stream stops at
the unpack cap; cells may be long (up to MAX_CELL characters: real data holds whole
documents in a cell); text that is not all UTF-8 is read line by line, UTF-8 where a line
decodes and Windows-1252 (or Latin-1) where it does not, because files pasted together
from two systems mix them, and reading all of it as Windows-1252 would silently turn
every UTF-8 “Café” into “CafÃ©”. The lines read each way are counted in the source info
and a mix is reported as a warning.

Only empty cells are read as missing here; words such as "None" or "NA" are values until
`missing_words` says otherwise (among numbers they are gaps; in text, the person decides).
Numbers written with decimal commas, thousands separators, currency or percent signs are
read as numbers by `number_text`, which says which columns it read so.
A workbook is read from its first sheet that holds a table (`table_sheet`), not blindly
from its first sheet, which is often a cover page.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from modelyard.engine.errors import IntakeError
from modelyard.engine.intake import guards
from modelyard.engine.intake.missing_words import numbers_past_words
from modelyard.engine.intake.number_text import read_numbers

Progress = Callable[[float, str], None]
MAX_COLUMNS = 10_000
SAMPLE_BYTES = 4 << 20
SAMPLE_ROWS_CHECKED = 20_000  # rows whose field count is checked before converting
DELIMITERS = (",", "\t", ";", "|")
TABLE_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".dat", ".parquet", ".pq", ".json",
                  ".ndjson", ".jsonl", ".xlsx", ".xlsm", ".gz"}
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "utf-16": "UTF-16",
                  "cp1252": "Windows-1252", "latin-1": "Latin-1 (ISO-8859-1)"}
_CHUNK = 1 << 20
SINGLE_BYTE = ("cp1252", "latin-1")
MAX_CELL = 256 << 20
# The csv module refuses fields over 128 KiB by default; the limit is process-wide, so it
# is raised once here, for every reader of table text (sniffing, field counts, headers).
csv.field_size_limit(MAX_CELL)


def no_progress(fraction: float, message: str) -> None:
    """The progress callback used when nobody is watching."""


@dataclass
class Source:
    """How one table file is to be read, as far as the bytes tell."""

    path: Path
    format: str  # csv | parquet | json | ndjson | excel | zip
    compression: str | None = None  # gzip
    encoding: str = "utf-8"
    delimiter: str = ","
    header: bool = True
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)
    sheet_chosen: bool = False  # named by the person, not picked as the first table
    columns: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # as in the file -> as stored
    utf8_lines: int = 0  # lines with non-ASCII text read as UTF-8 (when transcoding)
    fallback_lines: int = 0  # lines read as `encoding` because they are not UTF-8
    # Columns of numbers (or dates) whose word cells ("NA", ...) were read as missing.
    words_read_as_missing: list[Any] = field(default_factory=list)
    # Text columns of numbers written with decimal commas, thousands separators, currency
    # or percent signs, read as numbers: column -> how they were written (`number_text`).
    numbers_in_text: dict[str, str] = field(default_factory=dict)
    # Lines before the table (a title, notes, `# comments`), skipped; and the first three
    # of them (as said to the person).
    skip_lines: int = 0
    preamble: list[str] = field(default_factory=list)
    header_short: bool = False  # one name short of the rows (see `_sniff_delimited`)

    @property
    def lines_before_rows(self) -> int:
        """Lines to skip before the first row is read: the preamble, and the header
        line itself when it is one name short (its names are in `columns`)."""
        return self.skip_lines + self.header_short

    def describe(self) -> dict[str, Any]:
        """What the person is shown about how the file was read."""
        info = {k: v for k, v in asdict(self).items()
                if k not in ("path", "columns", "utf8_lines", "fallback_lines",
                             "words_read_as_missing", "skip_lines", "header_short")}
        if self.skip_lines:
            info["lines_before_table"] = self.skip_lines
        info["file"] = self.path.name
        other = ENCODING_NAMES.get(self.encoding, self.encoding)
        if self.utf8_lines and self.fallback_lines:
            info["mixed_encoding"] = {"UTF-8": self.utf8_lines, other: self.fallback_lines}
        if self.format != "csv":
            for key in ("encoding", "delimiter", "header"):
                info.pop(key)
        elif "mixed_encoding" in info:
            info["encoding_name"] = (f"UTF-8, and {other} on the {self.fallback_lines:,} "
                                     "lines that are not UTF-8")
        else:
            info["encoding_name"] = other
        if self.format != "excel":
            info.pop("sheet"), info.pop("sheets"), info.pop("sheet_chosen")
        return {k: v for k, v in info.items() if v not in (None, {}, [])}


# -- sniffing ---------------------------------------------------------------------------
def kind_of(path: Path) -> str:
    """`parquet`, `gzip`, `zip`, `excel`, `xls` or `text`, from the first bytes (of a
    regular file only: anything else is refused before it is opened)."""
    guards.require_regular(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        import zipfile

        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                if "xl/workbook.xml" in names:  # a workbook is a zip: calamine unpacks it
                    guards.check_sizes(path.name, zf.infolist())
        except zipfile.BadZipFile as exc:
            if path.suffix.lower() in (".xlsx", ".xlsm"):
                raise IntakeError(f"{path.name} is not a valid Excel workbook (it is damaged "
                                  "or only named .xlsx).",
                                  "Save it again from Excel as .xlsx, or as CSV.") from exc
            raise IntakeError(f"{path.name} looks like a zip archive but is damaged.",
                              "Create the archive again and retry.") from exc
        return "excel" if "xl/workbook.xml" in names else "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    return "text"


def sniff(path: Path, *, sheet: str | None = None, header: bool | None = None) -> Source:
    """Recognise `path`; raise IntakeError for what cannot be a table."""
    kind = kind_of(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq") and kind != "parquet":
        raise IntakeError(f"{path.name} could not be read as a table: it is not a Parquet file "
                          "(it is damaged or only named .parquet).",
                          "Write it again as Parquet, or give the CSV it came from.")
    if suffix in (".xlsx", ".xlsm") and kind != "excel":
        raise IntakeError(f"{path.name} is not a valid Excel workbook (it is damaged or only "
                          "named .xlsx).", "Save it again from Excel as .xlsx, or as CSV.")
    if kind == "parquet":
        return Source(path, "parquet")
    if kind == "zip":
        return Source(path, "zip")
    if kind == "xls":
        raise IntakeError(f"{path.name} is an old-style Excel file (.xls).",
                          "Save it from Excel as .xlsx or CSV and add that.")
    if kind == "excel":
        return _sniff_excel(path, sheet)
    compression = "gzip" if kind == "gzip" else None
    sample = _head(path, compression)
    if not sample.strip():
        raise IntakeError(f"{path.name} is empty.", "Choose a file that has a header and rows.")
    if _looks_binary(sample):
        raise IntakeError(f"{path.name} does not look like a table: it holds binary data, "
                          "not text.", "Check that this is the file you meant (CSV, TSV, "
                          "JSON, Parquet, Excel or a zip).")
    encoding = _encoding(sample, path, compression)
    text = _decode(sample, encoding)
    if len(sample) >= SAMPLE_BYTES and not any(c in text for c in "\r\n"):
        raise _one_line(path, compression)
    stripped = text.lstrip("\ufeff \t\r\n")
    # An array of records, or records one per line; a header such as "[mm] length,y"
    # starts with a bracket too, and is a table.
    json_name = _table_suffix(path) in (".json", ".jsonl", ".ndjson")
    if stripped.startswith("[") and (json_name or re.match(r"\[\s*(\{|\]|$)", stripped)):
        return Source(path, "json", compression=compression, encoding=encoding)
    if stripped.startswith("{") and (json_name or re.match(r'\{\s*("|\}|$)', stripped)):
        return Source(path, "ndjson", compression=compression, encoding=encoding)
    return _sniff_delimited(path, text, compression, encoding, header)


def _head(path: Path, compression: str | None) -> bytes:
    opener = gzip.open if compression == "gzip" else open
    try:
        with opener(path, "rb") as fh:
            return fh.read(SAMPLE_BYTES)
    except (OSError, EOFError) as exc:
        raise IntakeError(f"{path.name} could not be decompressed: {exc}.",
                          "Check that the .gz file is complete.") from exc


def _looks_binary(sample: bytes) -> bool:
    head = sample[:65536]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 13, 12))
    return control > len(head) * 0.05


def _encoding(sample: bytes, path: Path, compression: str | None) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # The start, and for a big plain file its middle and end: a late "é" is common.
    chunks = [sample]
    if compression is None and path.stat().st_size > len(sample):
        size = path.stat().st_size
        with open(path, "rb") as fh:
            for at in (size // 2, max(0, size - _CHUNK)):
                fh.seek(at)
                chunks.append(fh.read(_CHUNK)[4:])  # drop a possibly cut character
    for chunk in chunks:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(chunk, final=False)
        except UnicodeDecodeError:
            return _single_byte_encoding(chunks)
    return "utf-8"


def _single_byte_encoding(chunks: list[bytes]) -> str:
    # Bytes cp1252 leaves undefined appear in Latin-1 text (as C1 controls) only.
    undefined = {0x81, 0x8D, 0x8F, 0x90, 0x9D}
    return "latin-1" if any(b in undefined for c in chunks for b in c) else "cp1252"


def _decode(sample: bytes, encoding: str) -> str:
    if encoding in SINGLE_BYTE:
        return decode_lines(sample, encoding)[0]
    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)


def decode_lines(data: bytes, fallback: str) -> tuple[str, int, int]:
    """`data` as text, line by line: UTF-8 where a line decodes, `fallback` where it does
    not; with the number of non-ASCII lines read as UTF-8 and of lines read as `fallback`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:  # the usual case, decoded at C speed
        utf8 = 0 if data.isascii() else sum(not ln.isascii() for ln in data.split(b"\n"))
        return text, utf8, 0
    parts, utf8, other = [], 0, 0
    for line in data.splitlines(keepends=True):
        try:
            parts.append(line.decode("utf-8"))
            utf8 += not line.isascii()
        except UnicodeDecodeError:
            parts.append(line.decode(fallback, errors="replace"))
            other += 1
    return "".join(parts), utf8, other


def _one_line(path: Path, compression: str | None) -> IntakeError:
    size = "" if compression else f" ({path.stat().st_size / 2**20:,.0f} MB in all)"
    return IntakeError(f"{path.name} has no line break in its first {SAMPLE_BYTES >> 20} MB"
                       f"{size}: it does not look like a table, which has a header line "
                       "and then one line per row.",
                       "Check that this is the file you meant; if it is a table saved with "
                       "unusual line endings, open it in a spreadsheet and save it as CSV.")


def _sniff_delimited(path: Path, text: str, compression: str | None, encoding: str,
                     header: bool | None) -> Source:
    raw = text.lstrip("\ufeff").splitlines()[:200]
    if text and not text.endswith(("\n", "\r")) and len(text.encode()) >= SAMPLE_BYTES - 8:
        raw = raw[:-1]  # cut mid-line by the sample
    lines = [ln for ln in raw if ln.strip()]
    suffix = _table_suffix(path)
    delimiter = "\t" if suffix in (".tsv", ".tab") else _delimiter(lines)
    skip = _preamble(raw, delimiter)
    if skip:
        lines = [ln for ln in raw[skip:] if ln.strip()]
    try:
        rows = list(csv.reader(lines, delimiter=delimiter))
    except csv.Error as exc:
        raise IntakeError(f"{path.name} could not be read as delimited text: {exc}.",
                          "Check that it is a valid CSV or TSV file.") from exc
    first = rows[0] if rows else []
    has_header = _has_header(rows) if header is None else header
    # A header one name short of rows one field wider: the rows end with a delimiter (an
    # empty last field), or the first column has no name (row names, as R writes them).
    body = rows[1:51]
    short = bool(has_header and len(body) >= 2
                 and all(len(r) == len(first) + 1 for r in body))
    trailing = short and all(not r[-1].strip() for r in body)
    if short:
        columns, renamed = clean_names([*first, ""] if trailing else ["", *first])
    elif has_header:
        columns, renamed = clean_names(first)
    else:
        columns, renamed = [f"column_{i + 1}" for i in range(len(first))], {}
    if len(columns) > MAX_COLUMNS:
        raise IntakeError(f"{path.name} has {len(columns):,} columns; Modelyard handles at "
                          f"most {MAX_COLUMNS:,}.",
                          "Keep the columns you need (or transpose the table) and retry.")
    return Source(path, "csv", compression=compression, encoding=encoding,
                  delimiter=delimiter, header=has_header, columns=columns, renamed=renamed,
                  skip_lines=skip, preamble=[ln.strip()[:200] for ln in raw[:skip]
                                             if ln.strip()][:3],
                  header_short=short)


MAX_PREAMBLE = 30


def _preamble(raw: list[str], delimiter: str) -> int:
    """How many lines come before the table: a title, notes or `# comment` lines with
    fewer fields than the table's rows, then blank lines, before a header that the lines
    after it agree with. 0 when the file starts with its table."""
    counts = []
    for line in raw[:MAX_PREAMBLE + 60]:
        try:
            counts.append(len(next(csv.reader([line], delimiter=delimiter))) if line.strip()
                          else 0)
        except (csv.Error, StopIteration):
            return 0
    table = [c for c in counts if c]
    if len(table) < 3:
        return 0
    mode = max(set(table), key=table.count)
    start = next((i for i, c in enumerate(counts) if c == mode), 0)
    if mode < 2 or start == 0 or start > MAX_PREAMBLE or not any(counts[:start]):
        return 0
    if any(c > mode for c in counts[:start]):
        return 0  # wider lines above: not a preamble but ragged rows, said elsewhere
    if counts[start - 1] >= 2 and not raw[start - 1].lstrip().startswith("#"):
        return 0  # right above the table with fields of its own: a header short of one
    after = [c for c in counts[start:start + 50] if c]
    return start if after.count(mode) >= 0.9 * len(after) else 0


def _table_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".gzip") and len(suffixes) > 1:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def _delimiter(lines: list[str]) -> str:
    """The candidate splitting the sample lines into the most consistent field count."""
    best, best_key = ",", (-1.0, 0)
    for delim in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines[:100], delimiter=delim)]
        except csv.Error:
            continue
        if not counts or max(counts) < 2:
            continue
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        key = (counts.count(mode) / len(counts), mode)
        if key > best_key:
            best, best_key = delim, key
    return best


_NUMBER = re.compile(r"^\s*[-+]?(\d+([.,]\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


def _has_header(rows: list[list[str]]) -> bool:
    """A first row with a number in it, where the rows below have numbers too, is data."""
    if len(rows) < 2:
        return True
    first, rest = rows[0], rows[1:50]
    for i, value in enumerate(first):
        if _NUMBER.match(value) and any(i < len(r) and _NUMBER.match(r[i]) for r in rest):
            return False
    return True


def clean_names(raw: list[str]) -> tuple[list[str], dict[str, str]]:
    """Names as in the file, except blanks (`column_3`) and repeats (`price_2`)."""
    names, renamed, seen = [], {}, set()
    for i, name in enumerate(raw):
        new = name.lstrip("\ufeff").strip()
        if not new:
            new = f"column_{i + 1}"
        base, n = new, 2
        while new in seen:
            new, n = f"{base}_{n}", n + 1
        seen.add(new)
        names.append(new)
        if new != name:
            renamed[name if name.strip() else f"(blank, column {i + 1})"] = new
    return names, renamed


def _sniff_excel(path: Path, sheet: str | None) -> Source:
    sheets = excel_sheets(path)
    if not sheets:
        raise IntakeError(f"{path.name} has no worksheets.", "Choose a workbook with data.")
    if sheet is None:
        return Source(path, "excel", sheet=table_sheet(path), sheets=sheets)
    if sheet not in sheets:
        raise IntakeError(f"{path.name} has no sheet “{sheet}”.",
                          f"Its sheets are: {', '.join(sheets)}.")
    # A picker that starts on the table sheet names it too: "chosen" only when it differs.
    return Source(path, "excel", sheet=sheet, sheets=sheets,
                  sheet_chosen=sheet != table_sheet(path))


def table_sheet(path: Path) -> str:
    """The sheet a workbook is read from unless the person names one: the first with at
    least two columns and two rows under its header (a cover page or a notes sheet is
    not a table), else the first sheet."""
    return next(iter(table_sheets(path)), None) or excel_sheets(path)[0]


def table_sheets(path: Path) -> list[str]:
    """The sheets of a workbook that hold a table (two columns and two rows at least)."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(str(path))
    except Exception as exc:  # fastexcel raises its own tree and plain errors alike
        raise IntakeError(f"{path.name} could not be opened as an Excel workbook: "
                          f"{first_line(exc)}", "Save it again from Excel as .xlsx.") from exc
    found = []
    for name in reader.sheet_names:
        try:
            sheet = reader.load_sheet(name, n_rows=2)
        except Exception:  # an empty or odd sheet is not the table
            continue
        if sheet.width >= 2 and sheet.height >= 2:
            found.append(name)
    return found


def excel_sheets(path: Path) -> list[str]:
    """The worksheet names of an .xlsx file, in order."""
    import fastexcel

    try:
        return list(fastexcel.read_excel(str(path)).sheet_names)
    except Exception as exc:  # fastexcel raises its own tree and plain errors alike
        raise IntakeError(f"{path.name} could not be opened as an Excel workbook: "
                          f"{first_line(exc)}", "Save it again from Excel as .xlsx.") from exc


# -- writing Parquet ----------------------------------------------------------------------
def to_parquet(source: Source, dest: Path, workdir: Path,
               progress: Progress = no_progress) -> Source:
    """Write `source` as Parquet at `dest`; return `source` with its final columns."""
    try:
        if source.format == "parquet":
            _sink(_flatten(pl.scan_parquet(source.path)), dest, progress, source.path)
        elif source.format == "excel":
            _write_excel(source, dest)
        elif source.format in ("json", "ndjson"):
            _write_json(source, dest, workdir, progress)
        elif source.format == "csv":
            _write_csv(source, dest, workdir, progress)
        else:  # pragma: no cover - zip archives are unpacked before we get here
            raise ValueError(source.format)
        if source.format in ("csv", "excel"):  # typed formats (Parquet, JSON) say what is null
            source.numbers_in_text, among_numbers = read_numbers(
                dest, source.delimiter if source.format == "csv" else None)
            source.words_read_as_missing = among_numbers + numbers_past_words(dest)
    except IntakeError:
        raise
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise IntakeError(f"{source.path.name} could not be read as a table: "
                          f"{first_line(exc)}",
                          "Check that it is a valid CSV, JSON, Excel or Parquet file.") from exc
    schema = pl.read_parquet_schema(dest)
    source.columns = list(schema)
    return source


def _sink(lf: pl.LazyFrame, dest: Path, progress: Progress, src: Path,
          expected_bytes: float | None = None) -> None:
    """`sink_parquet` in a thread while this one reports progress by the output's size.

    Polars offers no progress callback; the output grows as row groups are written, and
    `expected_bytes` (from converting a sample) says roughly how big it will be.
    """
    failure: list[BaseException] = []

    def work() -> None:
        try:
            lf.sink_parquet(dest)
        except BaseException as exc:  # re-raised in the calling thread
            failure.append(exc)

    thread = threading.Thread(target=work, name="modelyard-sink", daemon=True)
    thread.start()
    label = f"Converting {src.name} to Parquet"
    while thread.is_alive():
        thread.join(0.1)
        if expected_bytes:
            try:
                done = dest.stat().st_size / expected_bytes
            except OSError:
                done = 0.0
            progress(min(0.99, done), label)
    if failure:
        raise failure[0]
    progress(1.0, label)


def _write_csv(source: Source, dest: Path, workdir: Path, progress: Progress) -> None:
    path = source.path
    if source.compression or source.encoding not in ("utf-8", "utf-8-sig"):
        path = _to_utf8(source, workdir / "source.utf8.csv", progress)
    if source.header:
        check_field_counts(path, source.delimiter, len(source.columns), source.path.name,
                           limit_rows=SAMPLE_ROWS_CHECKED, skip_lines=source.lines_before_rows)
    overrides: dict[str, Any] = {}
    expected = _expected_size(path, source, workdir)
    for _ in range(2 * min(50, len(source.columns)) + 1):
        # Types are inferred without date parsing (which made inference 4x slower);
        # dates are recognised on a sample below and parsed while streaming.
        lf = pl.scan_csv(path, separator=source.delimiter,
                         has_header=source.header and not source.header_short,
                         skip_lines=source.lines_before_rows,
                         new_columns=source.columns, infer_schema_length=10_000,
                         schema_overrides=overrides or None)
        try:
            _sink(parse_dates(lf), dest, progress, source.path, expected)
            return
        except pl.exceptions.ComputeError as exc:
            text = str(exc)
            bad = re.search(r"could not parse `(.*?)` as dtype `(\w+)` at column '(.+?)' "
                            r"\(column number", text)
            if bad and overrides.get(bad.group(3)) is not pl.String:
                # A value late in the file does not fit the type guessed from the start:
                # widen whole numbers to decimals, anything else to text, rather than fail.
                column, value = bad.group(3), bad.group(1)
                widen = bad.group(2).startswith(("i", "u")) and _NUMBER.match(value)
                overrides[column] = pl.Float64 if widen and column not in overrides \
                    else pl.String
                continue
            if "more fields than defined" in text or "fields" in text and "Schema" in text:
                check_field_counts(path, source.delimiter, len(source.columns),
                                   source.path.name, skip_lines=source.lines_before_rows)
            if "invalid utf-8" in text and source.encoding in ("utf-8", "utf-8-sig"):
                source.encoding = "cp1252"  # a stray byte past the sample
                path = _to_utf8(source, workdir / "source.utf8.csv", progress)
                continue
            raise
    raise IntakeError(f"{source.path.name}: too many columns change type part-way through.",
                      "Clean the file so each column holds one kind of value.")


def parse_dates(lf: pl.LazyFrame, rows: int = 2_000) -> pl.LazyFrame:
    """Text columns whose values (nearly) all read as dates or times become dates."""
    schema = lf.collect_schema()
    texts = [n for n, t in schema.items() if t == pl.String]
    if not texts:
        return lf
    head = lf.select(texts).head(rows).collect()
    casts = []
    for name in texts:
        values = head[name].drop_nulls()
        if values.len() < 5:
            continue
        if values.str.contains(_MONTH_NAMED).all():  # "05-Jan-2024", "Jan 5, 2024"
            formats, infer = _MONTH_FORMATS, False  # polars infers no month names
        elif values.str.contains(r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}").all():
            formats, infer = _DATE_FORMATS, True
        else:
            continue
        for to in (pl.Date, pl.Datetime):
            if infer:
                try:
                    parsed = (values.str.to_date(strict=False) if to == pl.Date
                              else values.str.to_datetime(strict=False))
                except pl.exceptions.PolarsError:
                    continue
                if parsed.null_count():
                    continue
            fmt = _format_of(values, to, formats)
            if fmt is None:
                continue
            expr = (pl.col(name).str.to_date(fmt, strict=False) if to == pl.Date
                    else pl.col(name).str.to_datetime(fmt, strict=False))
            if fmt.endswith("z"):
                # Times with a zone ("…Z", "+02:00") are kept as UTC wall time, the
                # form every reader downstream understands.
                expr = expr.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            casts.append(expr)
            break
    return lf.with_columns(casts) if casts else lf


_DATE_FORMATS = {pl.Date: ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y"),
                 pl.Datetime: ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                               "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f",
                               "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M",
                               # ISO 8601 with a zone: "2017-01-01T06:00:42Z", "…+02:00"
                               "%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z")}


# Dates with the month's English name or abbreviation (%B reads both): "05-Jan-2024",
# "5 January 2024", "Jan 5, 2024", "January 5 2024 14:30".
_MONTH_NAMED = r"^\s*(\d{1,2}[- ][A-Za-z]{3,9}\.?[- ]\d{2,4}|[A-Za-z]{3,9}\.? \d{1,2},? \d{4})"
_MONTH_FORMATS = {pl.Date: ("%d-%B-%y", "%d-%B-%Y", "%d %B %Y", "%B %d, %Y", "%B %d %Y"),
                  pl.Datetime: ("%d-%B-%Y %H:%M:%S", "%d-%B-%Y %H:%M", "%d %B %Y %H:%M:%S",
                                "%d %B %Y %H:%M", "%B %d, %Y %H:%M:%S", "%B %d, %Y %H:%M",
                                "%B %d %Y %H:%M")}


def _format_of(values: pl.Series, to, formats) -> str | None:
    """One explicit format reading every sampled value, so every row is read alike."""
    for fmt in formats[to]:
        parse = values.str.to_date if to == pl.Date else values.str.to_datetime
        try:
            if parse(fmt, strict=False).null_count() == 0:
                return fmt
        except pl.exceptions.PolarsError:
            continue
    return None


def _expected_size(path: Path, source: Source, workdir: Path) -> float | None:
    """Roughly how big the Parquet file will be: a sample's ratio times the file size."""
    size = path.stat().st_size
    if size < 8 << 20:
        return None
    with open(path, "rb") as fh:
        sample = fh.read(2 << 20)
    sample = sample[: sample.rfind(b"\n") + 1]
    try:
        frame = pl.read_csv(io.BytesIO(sample), separator=source.delimiter,
                            has_header=source.header and not source.header_short,
                            new_columns=source.columns, skip_lines=source.lines_before_rows,
                            infer_schema_length=5_000, truncate_ragged_lines=True)
        buf = io.BytesIO()
        frame.write_parquet(buf)
    except pl.exceptions.PolarsError:
        return None
    # Parquet compresses better over a whole file than over a sample: err low.
    return 0.8 * size * buf.tell() / max(1, len(sample))


def _to_utf8(source: Source, out: Path, progress: Progress) -> Path:
    """Decompress and/or transcode to a plain UTF-8 file, a chunk of whole lines at a time
    (line by line where the text is not all UTF-8). A .gz stream stops at the unpack cap;
    a failure leaves no partial `out` behind."""
    gz = source.compression == "gzip"
    opener = gzip.open if gz else open
    total = source.path.stat().st_size
    meter = guards.Meter(source.path.name) if gz else None
    fallback = source.encoding if source.encoding in SINGLE_BYTE else "cp1252"
    source.utf8_lines = source.fallback_lines = 0
    label = f"Reading {source.path.name}"
    try:
        with opener(source.path, "rb") as raw, \
                open(out, "w", encoding="utf-8", newline="") as dst:
            decoder = codecs.getincrementaldecoder(source.encoding)(errors="replace")

            def write(data: bytes, final: bool = False) -> None:
                if source.encoding == "utf-16":  # not line-based: one decoder throughout
                    text = decoder.decode(data, final=final)
                else:
                    text, utf8, other = decode_lines(data, fallback)
                    source.utf8_lines += utf8
                    source.fallback_lines += other
                dst.write(text.lstrip("\ufeff") if dst.tell() == 0 else text)

            carry = b""
            while block := raw.read(_CHUNK):
                position = raw.fileobj.tell() if gz else raw.tell()
                if meter is not None:
                    meter.add(len(block), position)
                data = carry + block
                # Whole lines only, so each is decoded as one; "\r" too (old Mac files).
                cut = (max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
                       if source.encoding != "utf-16" else len(data))
                data, carry = data[:cut], data[cut:]
                write(data)
                progress(min(0.99, position / max(1, total)), label)
            write(carry, final=True)
    except BaseException as exc:
        out.unlink(missing_ok=True)
        if isinstance(exc, EOFError | gzip.BadGzipFile):
            raise IntakeError(f"{source.path.name} could not be decompressed: {exc}.",
                              "Check that the .gz file is complete.") from exc
        raise
    return out


def check_field_counts(path: Path, delimiter: str, expected: int, shown: str,
                       limit_rows: int | None = None, skip_lines: int = 0) -> None:
    """Raise, naming the lines, when rows hold more or fewer fields than the header (the
    `skip_lines` before the table are not rows)."""
    bad: list[tuple[int, int]] = []
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        for _ in range(skip_lines):
            fh.readline()
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            for i, row in enumerate(reader):
                if limit_rows is not None and i > limit_rows:
                    break
                if row and len(row) != expected and not (len(row) == 1 and not row[0].strip()):
                    bad.append((reader.line_num + skip_lines, len(row)))
                    if len(bad) >= 5:
                        break
        except csv.Error as exc:  # a cell past MAX_CELL, or a stray NUL byte
            raise IntakeError(f"{shown}: line {reader.line_num + skip_lines} could not be "
                              f"read: {exc}.",
                              f"Cells may hold up to {MAX_CELL >> 20} MB of text; check "
                              "that line (often a quote that is never closed).") from exc
    if bad:
        where = ", ".join(f"line {line} has {n}" for line, n in bad)
        raise IntakeError(f"{shown}: some rows have a different number of fields than the "
                          f"header ({expected}): {where}.",
                          "Fix those lines (often an unquoted delimiter inside a value) and "
                          "retry.")


def _write_json(source: Source, dest: Path, workdir: Path, progress: Progress) -> None:
    path = source.path
    if source.compression or source.encoding not in ("utf-8", "utf-8-sig"):
        path = _to_utf8(source, workdir / "source.utf8.json", progress)
    if source.format == "ndjson":
        try:
            lf = pl.scan_ndjson(path, infer_schema_length=10_000)
            lf.collect_schema()
        except pl.exceptions.PolarsError as exc:
            raise IntakeError(f"{source.path.name} is not JSON with one record per line: "
                              f"{first_line(exc)}",
                              "Give an array of records ([{...}, {...}]) or one {...} "
                              "record per line.") from exc
        _sink(_flatten(lf), dest, progress, source.path)
        return
    try:
        frame = pl.read_json(path)
    except pl.exceptions.PolarsError as exc:
        raise IntakeError(f"{source.path.name} is not a JSON array of records: "
                          f"{first_line(exc)}",
                          "Give an array of records ([{...}, {...}]) or one {...} record per "
                          "line.") from exc
    _flatten(frame.lazy()).sink_parquet(dest)


def _write_excel(source: Source, dest: Path) -> None:
    try:
        frame = pl.read_excel(source.path, sheet_name=source.sheet, engine="calamine",
                              infer_schema_length=10_000)
    except pl.exceptions.NoDataError as exc:
        raise IntakeError(f"The sheet “{source.sheet}” of {source.path.name} is empty.",
                          f"Choose another sheet ({', '.join(source.sheets)}).") from exc
    names, renamed = clean_names([str(c) for c in frame.columns])
    source.renamed = renamed
    frame.columns = names
    frame.write_parquet(dest)


def _flatten(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Nested records become flat columns: `a.b` for a struct field, `x|y` for a list."""
    schema = lf.collect_schema()
    for _ in range(3):  # structs within structs, a few levels deep
        structs = [n for n, t in schema.items() if isinstance(t, pl.Struct)]
        if not structs:
            break
        lf = lf.with_columns(
            pl.col(n).struct.rename_fields([f"{n}.{f.name}" for f in schema[n].fields])
            for n in structs
        ).unnest(structs)
        schema = lf.collect_schema()
    lists = [n for n, t in schema.items() if isinstance(t, (pl.List, pl.Array))]
    if lists:
        lf = lf.with_columns(pl.col(n).cast(pl.List(pl.String)).list.join("|") for n in lists)
    return lf


def copy_file(src: Path, dest: Path) -> None:
    shutil.copyfile(src, dest)


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
