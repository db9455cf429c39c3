"""core.mentions: the one rule for finding a person's identifiers in others' data."""

import codecs
import io
import zipfile

import pytest

from core import mentions as mentions_module
from core.mentions import ERASED, Mentions

ANN = Mentions(["ann.quist@example.com", "+14155550123", "user-ann-81723", "42"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Referred by Ann.Quist@Example.COM yesterday", "Referred by [erased] yesterday"),
        ("mailto:ann.quist@example.com", "mailto:[erased]"),
        ('{"to": "ann.quist@example.com"}', '{"to": "[erased]"}'),
        ("call +14155550123.", "call [erased]."),
        ("ids: user-ann-81723, other", "ids: [erased], other"),
        # not inside a longer email, id or number
        ("joann.quist@example.com", None),
        ("x.ann.quist@example.com", None),
        ("ann.quist@example.com.au", None),
        ("+141555501234", None),
        ("user-ann-817234 and xuser-ann-81723", None),
        # short values are not searched for in free text
        ("size 42, qty 42", None),
    ],
)
def test_mentions_are_whole_tokens_of_long_enough_values(text, expected):
    assert ANN.redact_text(text) == (text if expected is None else expected)
    assert ANN.found_in(text) is (expected is not None)


def test_json_is_redacted_in_values_and_keys_and_nothing_else_changes():
    value = {
        "referred_email": "ann.quist@example.com",
        "ann.quist@example.com": 3,
        "items": [{"note": "ping +14155550123"}, 42, None, True, 1.5],
        "size": "42",
    }
    assert ANN.redact(value) == {
        "referred_email": ERASED,
        ERASED: 3,
        "items": [{"note": f"ping {ERASED}"}, 42, None, True, 1.5],
        "size": "42",
    }


def test_database_fragments_include_the_json_escaped_form():
    accented = Mentions(["zoë.brandt@example.com"])
    assert accented.fragments() == ["zoë.brandt@example.com", "zo\\u00eb.brandt@example.com"]


def _zip(members: dict[str, str]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize(
    "content",
    [
        "Email;Name\r\nAnn.Quist@example.com;Ann\r\n".encode("cp1252"),
        codecs.BOM_UTF8 + "email,name\nann.quist@example.com,Zoë\n".encode(),
        codecs.BOM_UTF16_LE + "email\tname\r\nann.quist@example.com\tAnn\r\n".encode("utf-16-le"),
        b'[{"phone": "+14155550123"}]',
    ],
    ids=["cp1252-semicolons", "utf8-bom", "utf16-excel-tabs", "json"],
)
def test_files_in_any_common_encoding_are_scanned(content):
    assert ANN.found_in_file(io.BytesIO(content))
    assert not Mentions(["bo.brant@example.com"]).found_in_file(io.BytesIO(content))


def test_zip_members_are_scanned_inflated():
    xlsx_like = _zip(
        {
            "[Content_Types].xml": "<Types/>",
            "xl/sharedStrings.xml": "<sst><si><t>ann.quist@example.com</t></si></sst>",
        }
    )
    assert ANN.found_in_file(xlsx_like)
    assert not ANN.found_in_file(_zip({"xl/sharedStrings.xml": "<t>bo@example.com</t>"}))


def test_a_mention_split_across_read_chunks_is_found_and_a_false_one_is_not(monkeypatch):
    monkeypatch.setattr(mentions_module, "READ_CHUNK", 16)
    padding = "x" * 30 + ","
    assert ANN.found_in_file(io.BytesIO(f"{padding}ann.quist@example.com,".encode()))
    # ends exactly where a chunk ends, and continues in the next: another address
    boundary = "x" * 26 + ","  # 27 + 21 characters: the address ends at byte 48
    assert not ANN.found_in_file(io.BytesIO(f"{boundary}ann.quist@example.com.au".encode()))
    assert ANN.found_in_file(io.BytesIO(f"{boundary}ann.quist@example.com".encode()))
    assert not ANN.found_in_file(io.BytesIO(f"{padding}xann.quist@example.com".encode()))


def test_nothing_long_enough_finds_nothing(db):
    from customers.models import Event

    only_short = Mentions(["42", ""])
    assert not only_short
    assert not only_short.found_in_file(io.BytesIO(b"42"))
    assert list(only_short.candidates(Event.objects.all(), ["properties"])) == []
