"""Stream rows out of CSV, XLSX and JSON files without loading the file.

``open_table(path)`` returns a ``Table``: the header row and a fresh iterator
over ``(row number, values)`` each time ``rows()`` is called, so a file can be
counted in one pass and imported in the next while only one row is held in
memory. Row numbers are the ones a person sees in a spreadsheet (the header
is row 1); in JSON, row N is the Nth object. Fully empty rows are skipped.
A file that cannot be read at all raises ``ImportFileError``.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from zipfile import BadZipFile

FORMATS = ("csv", "xlsx", "json")
_JSON_HEADER_SAMPLE = 200
_CHUNK = 64 * 1024


class ImportFileError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


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
        reader = {"csv": _csv_rows, "xlsx": _xlsx_rows, "json": _json_rows}[self.format]
        for row in reader(self.path, self.headers):
            if (
                row.problem
                or row.extra_cells
                or any(v not in (None, "") for v in row.values.values())
            ):
                yield row

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
    except (OSError, UnicodeError, csv.Error, BadZipFile, KeyError, ValueError) as exc:
        raise ImportFileError("unreadable_file", f"{path.name} cannot be read: {exc}") from exc
    headers = [str(h).strip() if h is not None else "" for h in headers]
    if not any(headers):
        raise ImportFileError("no_header", f"{path.name} has no header row")
    return Table(path, file_format, _unique(headers))


def cell_text(value: object) -> str:
    """A cell as text: spreadsheet numbers and dates lose their float/time noise."""
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
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError("unreadable_file", f"{path.name} is not an Excel file") from exc
    return workbook, workbook.worksheets[0]


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
# An array of objects (``[{...}, {...}]``) or one object per line (JSON Lines),
# decoded object by object from a buffered reader.


def _json_objects(path: Path) -> Iterator[object]:
    decoder = json.JSONDecoder()
    with path.open(encoding="utf-8-sig") as handle:
        buffer = handle.read(_CHUNK)
        position = 0
        in_array = False
        started = False
        while True:
            while True:
                while position < len(buffer) and buffer[position] in " \t\r\n,":
                    position += 1
                if position < len(buffer):
                    break
                more = handle.read(_CHUNK)
                if not more:
                    return
                buffer, position = more, 0
            char = buffer[position]
            if not started:
                started = True
                if char == "[":
                    in_array = True
                    position += 1
                    continue
            if in_array and char == "]":
                return
            while True:
                try:
                    obj, end = decoder.raw_decode(buffer, position)
                    break
                except json.JSONDecodeError:
                    more = handle.read(_CHUNK)
                    if not more:
                        raise ImportFileError(
                            "invalid_json", f"{path.name}: invalid JSON near offset {position}"
                        ) from None
                    buffer = buffer[position:] + more
                    position = 0
            yield obj
            position = end
            if len(buffer) - position < _CHUNK // 4:
                buffer = buffer[position:] + handle.read(_CHUNK)
                position = 0


def _json_headers(path: Path) -> list[str]:
    headers: dict[str, None] = {}
    objects = others = 0
    for obj in _json_objects(path):
        if isinstance(obj, dict):
            objects += 1
            headers.update(dict.fromkeys(str(k) for k in obj))
        else:
            others += 1
        if objects + others > _JSON_HEADER_SAMPLE:
            break
    if others and not objects:
        raise ImportFileError("invalid_json", f"{path.name}: each row must be a JSON object")
    return list(headers)


def _json_rows(path: Path, headers: list[str]) -> Iterator[Row]:
    for number, obj in enumerate(_json_objects(path), start=1):
        if not isinstance(obj, dict):
            yield Row(number=number, values={}, problem="row is not a JSON object")
            continue
        values = {h: obj.get(h) for h in headers}
        values.update({str(k): v for k, v in obj.items() if str(k) not in values})
        yield Row(number=number, values=values)
