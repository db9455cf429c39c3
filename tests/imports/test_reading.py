from datetime import datetime

import pytest

from sources.imports.reading import ImportFileError, open_table
from tests.imports.conftest import csv_bytes, json_bytes, xlsx_bytes


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _rows(table):
    return [(row.number, row.values) for row in table.rows()]


def test_csv_with_semicolons_and_a_byte_order_mark(tmp_path):
    content = b"\xef\xbb\xbf" + csv_bytes([["Email", "Name"], ["a@x.io", "Ann"]], delimiter=";")
    table = open_table(_write(tmp_path, "a.csv", content))
    assert table.headers == ["Email", "Name"]
    assert _rows(table) == [(2, {"Email": "a@x.io", "Name": "Ann"})]


def test_csv_in_windows_1252_is_decoded(tmp_path):
    content = "Email,Name\na@x.io,Jürgen\n".encode("cp1252")
    table = open_table(_write(tmp_path, "a.csv", content))
    assert _rows(table) == [(2, {"Email": "a@x.io", "Name": "Jürgen"})]


def test_blank_lines_are_skipped_and_row_numbers_match_the_spreadsheet(tmp_path):
    content = b"Email,Name\na@x.io,Ann\n,\n\nb@x.io,Bob\n"
    table = open_table(_write(tmp_path, "a.csv", content))
    assert [n for n, _ in _rows(table)] == [2, 5]
    assert table.count_rows() == 2


def test_short_csv_lines_have_empty_values_and_long_ones_report_extra_cells(tmp_path):
    content = b"Email,Name\na@x.io\nb@x.io,Bob,surplus\n"
    rows = list(open_table(_write(tmp_path, "a.csv", content)).rows())
    assert rows[0].values == {"Email": "a@x.io", "Name": None}
    assert rows[1].extra_cells == ("surplus",)


def test_duplicate_and_blank_headers_get_unique_names(tmp_path):
    table = open_table(_write(tmp_path, "a.csv", b"Email,,Email\n"))
    assert table.headers == ["Email", "column_2", "Email_2"]


def test_xlsx_rows_are_read_with_numbers_and_dates_as_values(tmp_path):
    born = datetime(1990, 2, 3)  # noqa: DTZ001 - Excel cells carry no time zone
    content = xlsx_bytes([["Email", "Phone", "DOB"], ["a@x.io", 14155552671, born], [None] * 3])
    table = open_table(_write(tmp_path, "a.xlsx", content))
    assert table.headers == ["Email", "Phone", "DOB"]
    assert _rows(table) == [(2, {"Email": "a@x.io", "Phone": 14155552671, "DOB": born})]


def test_json_array_of_objects(tmp_path):
    content = json_bytes([{"email": "a@x.io", "tier": "gold"}, {"email": "b@x.io", "vip": True}])
    table = open_table(_write(tmp_path, "a.json", content))
    assert table.headers == ["email", "tier", "vip"]
    assert _rows(table) == [
        (1, {"email": "a@x.io", "tier": "gold", "vip": None}),
        (2, {"email": "b@x.io", "tier": None, "vip": True}),
    ]


def test_json_lines(tmp_path):
    content = b'{"email": "a@x.io"}\n{"email": "b@x.io"}\n'
    table = open_table(_write(tmp_path, "a.jsonl", content))
    assert _rows(table) == [(1, {"email": "a@x.io"}), (2, {"email": "b@x.io"})]


def test_json_larger_than_the_read_buffer_is_streamed(tmp_path):
    objects = [{"email": f"p{i}@x.io", "note": "x" * 200} for i in range(2000)]
    table = open_table(_write(tmp_path, "a.json", json_bytes(objects)))
    assert table.count_rows() == 2000


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("a.pdf", b"%PDF", "unsupported_format"),
        ("a.xlsx", b"not a zip file", "unreadable_file"),
        ("a.json", b'[{"email": "a@x.io"', "invalid_json"),
        ("a.json", b"[1, 2]", "invalid_json"),
        ("a.csv", b"", "no_header"),
        ("a.csv", b"\x00\x01\x02binary", "not_text"),
    ],
)
def test_unreadable_files_raise_a_file_error(tmp_path, name, content, code):
    with pytest.raises(ImportFileError) as error:
        open_table(_write(tmp_path, name, content))
    assert error.value.code == code


def test_a_missing_file_is_a_file_error(tmp_path):
    with pytest.raises(ImportFileError) as error:
        open_table(tmp_path / "nope.csv")
    assert error.value.code == "file_not_found"


def test_quoted_csv_cells_keep_commas_quotes_and_line_breaks(tmp_path):
    rows = [["Email", "Note"], ["a@x.io", 'said "hi", then\nleft']]
    table = open_table(_write(tmp_path, "a.csv", csv_bytes(rows)))
    assert _rows(table) == [(2, {"Email": "a@x.io", "Note": 'said "hi", then\nleft'})]
