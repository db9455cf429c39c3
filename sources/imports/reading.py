"""Stream rows out of CSV, XLSX and JSON files without loading the file.

``open_table(path)`` returns a ``Table``: the header row and a fresh iterator
over ``(row number, values)`` each time ``rows()`` is called, so a file can be
counted in one pass and imported in the next while only one row is held in
memory. Row numbers are the ones a person sees in a spreadsheet (the header
is row 1); in JSON, row N is the Nth object. Fully empty rows are skipped.
A file that cannot be read at all raises ``ImportFileError`` — whatever the
parser underneath raised, and also when reading fails half-way through.

Hostile files (see SECURITY.md): an ``.xlsx`` whose zip members would
inflate past ``MAX_XLSX_INFLATED_BYTES`` is refused before any XML is parsed,
and its XML is parsed by defusedxml (no entity expansion, no external
entities); JSON is parsed incrementally (ijson) with a nesting limit, so a
huge string or a 100,000-deep document costs neither time nor memory; a CSV
field past the ``csv`` module's limit fails the file with its row number.
"""

from __future__ import annotations

import codecs
import csv
import json
import math
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from zipfile import BadZipFile, ZipFile

import defusedxml
import ijson

from core.errors import DomainError

FORMATS = ("csv", "xlsx", "json")
_JSON_HEADER_SAMPLE = 200
_CHUNK = 64 * 1024
_JSON_READ = 2**20
MAX_XLSX_INFLATED_BYTES = 200 * 1024 * 1024
MAX_COLUMNS = 1000
MAX_JSON_DEPTH = 32  # levels inside one row
MAX_CELL_CHARS = csv.field_size_limit()  # 131,072: one limit for every format
# What parsers raise on malformed input (xml's ParseError is a SyntaxError,
# defusedxml's refusals are ValueErrors); all mean "this file cannot be read".
_READ_ERRORS = (
    OSError,
    UnicodeError,
    csv.Error,
    BadZipFile,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    SyntaxError,
    EOFError,
    zlib.error,
    RecursionError,
    ijson.JSONError,
    defusedxml.DefusedXmlException,
)


class ImportFileError(DomainError):
    pass


@dataclass(frozen=True)
class Row:
    number: int
    values: dict[str, object]
    # cells beyond the header row (a ragged CSV line); reported, not imported
    extra_cells: tuple[object, ...] = ()
    # why the row could not be read as a record at all (e.g. a JSON non-object)
    problem: str = ""


class Table:
    def __init__(self, path: Path, file_format: str, headers: list[str]):
        self.path = path
        self.format = file_format
        self.headers = headers

    def rows(self) -> Iterator[Row]:
        """The rows; ImportFileError if the file turns out unreadable part-way."""
        reader = {"csv": _csv_rows, "xlsx": _xlsx_rows, "json": _json_rows}[self.format]
        last = 1
        try:
            for row in reader(self.path, self.headers):
                last = row.number
                if (
                    row.problem
                    or row.extra_cells
                    or any(v not in (None, "") for v in row.values.values())
                ):
                    yield row
        except ImportFileError:
            raise
        except _READ_ERRORS as exc:
            raise _read_error(exc, f"{self.path.name} cannot be read after row {last}") from exc

    def count_rows(self) -> int:
        return sum(1 for _ in self.rows())


def detect_format(name: str) -> str:
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix in ("csv", "txt", "tsv"):
        return "csv"
    if suffix in ("xlsx", "xlsm"):
        return "xlsx"
    if suffix in ("json", "jsonl", "ndjson"):
        return "json"
    raise ImportFileError(
        "unsupported_format", f"{Path(name).name}: use a .csv, .xlsx or .json file"
    )


def open_table(path: str | Path, file_format: str | None = None) -> Table:
    path = Path(path)
    file_format = file_format or detect_format(path.name)
    if not path.is_file():
        raise ImportFileError("file_not_found", f"{path} does not exist")
    try:
        headers = {"csv": _csv_headers, "xlsx": _xlsx_headers, "json": _json_headers}[file_format](
            path
        )
    except ImportFileError:
        raise
    except _READ_ERRORS as exc:
        raise _read_error(exc, f"{path.name} cannot be read") from exc
    headers = [str(h).strip() if h is not None else "" for h in headers]
    if not any(headers):
        raise ImportFileError("no_header", f"{path.name} has no header row")
    if len(headers) > MAX_COLUMNS:
        raise ImportFileError(
            "too_many_columns", f"{path.name} has {len(headers)} columns; at most {MAX_COLUMNS}"
        )
    return Table(path, file_format, _unique(headers))


def _read_error(exc: BaseException, what: str) -> ImportFileError:
    """The parser's own complaint (the innermost one: openpyxl wraps them in
    messages that name the server's file path), never a path."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    code = "invalid_json" if isinstance(exc, ijson.JSONError) else "unreadable_file"
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return ImportFileError(code, f"{what}: {type(exc).__name__}: {reason}"[:1000])


def cell_text(value: object) -> str:
    """A cell as text: spreadsheet numbers and dates lose their float/time noise."""
    if type(value) is str:  # every cell of a CSV file
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return (value.date() if value.time() == time(0) else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value).strip()


def _unique(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for index, header in enumerate(headers, start=1):
        name = header or f"column_{index}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        result.append(name)
    return result


# --- CSV --------------------------------------------------------------------


def _csv_encoding(path: Path) -> str:
    with path.open("rb") as handle:
        sample = handle.read(_CHUNK)
    if b"\x00" in sample:
        raise ImportFileError("not_text", f"{path.name} is not a text (CSV) file")
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8-sig"


def _csv_delimiter(path: Path, encoding: str) -> str:
    """The delimiter, sniffed from the header line; quoting stays Excel's (``""``)."""
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        first_line = handle.readline(_CHUNK)
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _csv_open(path: Path):
    encoding = _csv_encoding(path)
    delimiter = _csv_delimiter(path, encoding)
    handle = path.open(encoding=encoding, errors="replace", newline="")
    return handle, csv.reader(handle, csv.excel, delimiter=delimiter)


def _csv_headers(path: Path) -> list[str]:
    handle, reader = _csv_open(path)
    with handle:
        return next(reader, [])


def _csv_rows(path: Path, headers: list[str]) -> Iterator[Row]:
    handle, reader = _csv_open(path)
    width = len(headers)
    with handle:
        next(reader, None)
        for number, cells in enumerate(reader, start=2):
            values = {
                h: (cells[i].strip() if i < len(cells) else None) for i, h in enumerate(headers)
            }
            extra = tuple(c for c in cells[width:] if c.strip())
            yield Row(number=number, values=values, extra_cells=extra)


# --- XLSX -------------------------------------------------------------------


def _xlsx_open(path: Path):
    # imported here: openpyxl takes ~0.3-1 s to import and only Excel files need it
    import openpyxl

    if not openpyxl.DEFUSEDXML:  # set from the environment (OPENPYXL_DEFUSEDXML)
        raise ImportFileError(
            "unsafe_xml_parser", "Excel files are read only with defusedxml (set no OPENPYXL_*)"
        )
    _check_inflated_size(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except _READ_ERRORS as exc:
        raise _read_error(exc, f"{path.name} is not a readable Excel file") from exc
    return workbook, workbook.worksheets[0]


def _check_inflated_size(path: Path) -> None:
    """Refuse a zip bomb from its directory, before anything is inflated.

    The sizes are the ones the archive declares; ``zipfile`` never inflates a
    member past its declared size (it fails the CRC check instead).
    """
    try:
        with ZipFile(path) as archive:
            inflated = sum(member.file_size for member in archive.infolist())
    except (BadZipFile, OSError, ValueError) as exc:
        raise ImportFileError("unreadable_file", f"{path.name} is not an Excel file") from exc
    if inflated > MAX_XLSX_INFLATED_BYTES:
        raise ImportFileError(
            "file_too_large",
            f"{path.name} inflates to {inflated // 2**20} MB; at most "
            f"{MAX_XLSX_INFLATED_BYTES // 2**20} MB",
        )


def _xlsx_headers(path: Path) -> list[str]:
    workbook, sheet = _xlsx_open(path)
    try:
        first = next(sheet.iter_rows(max_row=1, values_only=True), ())
        return [cell_text(v) for v in first]
    finally:
        workbook.close()


def _xlsx_rows(path: Path, headers: list[str]) -> Iterator[Row]:
    workbook, sheet = _xlsx_open(path)
    width = len(headers)
    try:
        for number, cells in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
            values = {h: (cells[i] if i < len(cells) else None) for i, h in enumerate(headers)}
            extra = tuple(c for c in cells[width:] if c not in (None, ""))
            yield Row(number=number, values=values, extra_cells=extra)
    finally:
        workbook.close()


# --- JSON -------------------------------------------------------------------
# An array of objects (``[{...}, {...}]``) or one value per line (JSON Lines),
# parsed incrementally: ijson's C tokenizer, and rows built here so that the
# nesting is bounded before anything deep is built (ijson's own builders
# track a path per level, which a 100,000-deep document turns quadratic).


def _json_objects(path: Path) -> Iterator[tuple[object, str]]:
    """Each top-level row with its problem ("" when none): a value nested
    deeper than ``MAX_JSON_DEPTH``, a string over ``MAX_CELL_CHARS`` or a
    number beyond the double range makes the row unusable, not the file."""
    with path.open("rb") as handle:
        start = handle.read(_CHUNK).lstrip(b"\xef\xbb\xbf \t\r\n")
        handle.seek(0)
        if handle.read(3) != b"\xef\xbb\xbf":
            handle.seek(0)
        in_array = start[:1] == b"["
        # ijson's C parser re-joins a token that spans reads: 1 MB reads keep a
        # 20 MB string at 20 joins (64 KB reads made it 300, and seconds)
        events = ijson.basic_parse(handle, multiple_values=not in_array, buf_size=_JSON_READ)
        yield from _rows_from_events(events, base=1 if in_array else 0)


def _rows_from_events(events, *, base: int) -> Iterator[tuple[object, str]]:
    """Build the values at depth ``base`` from ijson events (depth 1: the
    elements of a top-level array; 0: the top-level values of JSON Lines).

    Once a row is unusable nothing more of it is built; its events are only
    counted until it closes. (The hot loop of JSON imports: checks in order
    of frequency.)
    """
    stack: list = []  # the containers of the row being built
    depth = 0
    key = None
    problem = ""
    for event, value in events:
        if event == "map_key":
            key = value
            continue
        if event == "start_map" or event == "start_array":
            depth += 1
            if depth <= base or problem:
                continue
            if depth - base > MAX_JSON_DEPTH:
                problem = f"row is nested deeper than {MAX_JSON_DEPTH} levels"
                stack.clear()
                continue
            value = {} if event == "start_map" else []
            if stack:
                top = stack[-1]
                if type(top) is dict:
                    top[key] = value
                else:
                    top.append(value)
            stack.append(value)
            continue
        if event == "end_map" or event == "end_array":
            depth -= 1
            if depth < base:
                continue  # the top-level array closes
            done = None if problem else stack.pop()
            if depth == base:
                yield done, problem
                problem = ""
            continue
        if event == "string":
            if len(value) > MAX_CELL_CHARS:
                problem = problem or f"a value is longer than {MAX_CELL_CHARS} characters"
                stack.clear()
                value = None
        elif event == "number":
            value = _json_number(value)
            if value is None:
                problem = problem or "a number is beyond the double range"
                stack.clear()
        if depth == base:
            yield value, problem
            problem = ""
        elif not problem:
            top = stack[-1]
            if type(top) is dict:
                top[key] = value
            else:
                top.append(value)


_LARGEST = int(sys.float_info.max)


def _json_number(value: int | Decimal) -> int | float | None:
    """A float for a decimal (as ``json`` gives), None beyond the double range."""
    if type(value) is int:
        return value if -_LARGEST <= value <= _LARGEST else None
    number = float(value)
    return number if math.isfinite(number) else None


def _json_headers(path: Path) -> list[str]:
    headers: dict[str, None] = {}
    objects = others = 0
    first_problem = ""
    for number, (obj, problem) in enumerate(_json_objects(path), start=1):
        if isinstance(obj, dict) and not problem:
            objects += 1
            headers.update(dict.fromkeys(str(k) for k in obj))
        else:
            others += 1
            first_problem = first_problem or f"row {number}: {problem or 'not a JSON object'}"
        if objects + others > _JSON_HEADER_SAMPLE:
            break
    if others and not objects:
        raise ImportFileError(
            "invalid_json", f"{path.name}: each row must be a JSON object ({first_problem})"
        )
    return list(headers)


def _json_rows(path: Path, headers: list[str]) -> Iterator[Row]:
    for number, (obj, problem) in enumerate(_json_objects(path), start=1):
        if problem:
            yield Row(number=number, values={}, problem=problem)
            continue
        if not isinstance(obj, dict):
            yield Row(number=number, values={}, problem="row is not a JSON object")
            continue
        values = {h: obj.get(h) for h in headers}
        values.update({str(k): v for k, v in obj.items() if str(k) not in values})
        yield Row(number=number, values=values)
