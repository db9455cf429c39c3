"""Formula-injection protection for spreadsheet cells (OWASP CSV injection).

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is prefixed with a single quote, so Excel, LibreOffice and Google
Sheets show it as text instead of evaluating it. (django-import-export's own
``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT`` only handles a leading ``=``.)
"""

from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
