import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from customers.models import Source
from sources.services.keys import authenticate_write_key, create_source, rotate_write_key


def _all_text_in_database() -> str:
    """Every text cell of every sources table (history included)."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if not table.startswith(("sources_", "historical")) and "source" not in table:
                continue
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - table names from introspection
            chunks.extend(str(cell) for row in cursor.fetchall() for cell in row)
    return "\n".join(chunks)


def test_write_key_is_never_stored_in_clear(db):
    source, key = create_source(name="Shop", kind="shop")
    assert key not in _all_text_in_database()
    assert source.write_key_hash != key
    assert key.startswith(source.write_key_prefix)


def test_write_key_authenticates_its_source(db):
    source, key = create_source(name="Shop", kind="shop")
    assert authenticate_write_key(key) == source
    assert authenticate_write_key(key + "x") is None
    assert authenticate_write_key("") is None


def test_disabled_source_key_is_refused(db):
    source, key = create_source(name="Shop", kind="shop")
    source.enabled = False
    source.save(update_fields=["enabled"])
    assert authenticate_write_key(key) is None


def test_rotation_invalidates_the_old_key(db):
    source, old = create_source(name="Shop", kind="shop")
    new = rotate_write_key(source=source)
    assert new != old
    assert authenticate_write_key(old) is None
    assert authenticate_write_key(new) == source


def test_create_source_prints_key_alone_on_last_line(db):
    out = io.StringIO()
    call_command("create_source", "Newsletter", "--kind", "email", stdout=out)
    last_line = out.getvalue().rstrip("\n").splitlines()[-1]
    source = Source.objects.get(name="Newsletter")
    assert source.kind == "email"
    assert authenticate_write_key(last_line) == source
    assert last_line.strip() == last_line


def test_create_source_refuses_duplicate_name(db):
    call_command("create_source", "CRM", "--kind", "crm", stdout=io.StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_source", "CRM", "--kind", "crm", stdout=io.StringIO())
