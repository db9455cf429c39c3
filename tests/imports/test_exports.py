import pytest

from sources.exports.escaping import escape_formula


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("ann@example.com", "ann@example.com"),
        ("+4915112345678", "'+4915112345678"),
        ("plain", "plain"),
        ("", ""),
        (42, 42),
        (None, None),
    ],
)
def test_cells_that_a_spreadsheet_would_evaluate_are_prefixed_with_a_quote(value, escaped):
    assert escape_formula(value) == escaped
