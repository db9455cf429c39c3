"""Stored computed traits: values an app above segments writes, usable in rules."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from customers.models import Customer
from customers.pointers import document_versions
from segments.compiler import compile_rule
from segments.models import ComputedTrait, SegmentMembership, StoredTraitValue
from segments.rules import InvalidRule, dependencies, validate_rule
from segments.selectors import builder_options, profile_computed_traits, stored_trait_values
from segments.services import recompute_segment, save_segment
from segments.stored import (
    StoredValue,
    TraitNameTaken,
    declare_stored_trait,
    delete_stored_values,
    replace_stored_traits,
    replace_stored_values,
    write_stored_values,
)
from tests.segments.conftest import NOW


@pytest.fixture
def people(make_customer):
    return [make_customer(first_name=name) for name in ("Ann", "Bob", "Cem", "Dee")]


@pytest.fixture
def stored(people):
    ann, bob, cem, _dee = people
    declare_stored_trait(name="rfm_segment", numeric=False, producer="insights")
    declare_stored_trait(name="rfm_recency", numeric=True, producer="insights")
    replace_stored_values(
        name="rfm_segment",
        values=[
            StoredValue(ann.pk, "Champions", {"rule": "R5 F4-5"}),
            StoredValue(bob.pk, "At risk"),
            StoredValue(cem.pk, None),
        ],
        computed_at=NOW,
    )
    replace_stored_values(
        name="rfm_recency",
        values=[StoredValue(ann.pk, 5), StoredValue(bob.pk, 1), StoredValue(cem.pk, 3)],
        computed_at=NOW,
    )
    return people


def matching(rule) -> set[str]:
    validate_rule(rule)
    query = Customer.objects.filter(compile_rule(rule, now=NOW))
    return set(query.values_list("first_name", flat=True))


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"computed_trait": "rfm_segment", "op": "eq", "value": "champions"}, {"Ann"}),
        (
            {
                "computed_trait": "rfm_segment",
                "op": "eq",
                "value": "champions",
                "case_sensitive": True,
            },
            set(),
        ),
        (
            {"computed_trait": "rfm_segment", "op": "neq", "value": "Champions"},
            {"Bob", "Cem", "Dee"},
        ),
        ({"computed_trait": "rfm_segment", "op": "in", "value": ["At risk", "New"]}, {"Bob"}),
        ({"computed_trait": "rfm_segment", "op": "is_set"}, {"Ann", "Bob"}),
        ({"computed_trait": "rfm_segment", "op": "is_not_set"}, {"Cem", "Dee"}),
        ({"computed_trait": "rfm_segment", "op": "starts_with", "value": "at"}, {"Bob"}),
        ({"computed_trait": "rfm_recency", "op": "gte", "value": 3}, {"Ann", "Cem"}),
        ({"computed_trait": "rfm_recency", "op": "eq", "value": 1}, {"Bob"}),
        ({"computed_trait": "rfm_recency", "op": "between", "value": [2, 5]}, {"Ann", "Cem"}),
        ({"computed_trait": "rfm_recency", "op": "neq", "value": 5}, {"Bob", "Cem", "Dee"}),
        ({"computed_trait": "rfm_recency", "op": "is_not_set"}, {"Dee"}),
    ],
)
def test_stored_trait_in_a_rule(stored, rule, expected):
    assert matching(rule) == expected


def test_stored_trait_is_typed_for_validation(stored):
    with pytest.raises(InvalidRule) as error:
        validate_rule({"computed_trait": "rfm_recency", "op": "contains", "value": "x"})
    assert error.value.errors[0].code == "bad_operator"


def test_stored_trait_dependency_is_the_trait_itself(stored):
    rule = {"computed_trait": "rfm_segment", "op": "eq", "value": "Champions"}
    assert dependencies(rule) == ["computed_trait:rfm_segment"]


def test_replacing_values_drops_profiles_left_out(stored):
    ann, bob, *_ = stored
    replace_stored_values(name="rfm_recency", values=[StoredValue(bob.pk, 4)], computed_at=NOW)
    assert dict(profile_computed_traits(ann.pk)) == {"rfm_segment": "Champions"}
    assert dict(profile_computed_traits(bob.pk)) == {"rfm_recency": 4, "rfm_segment": "At risk"}


def test_replacing_values_writes_only_what_changed(stored):
    ann, bob, _cem, dee = stored
    later = NOW + timedelta(days=1)
    replace_stored_values(
        name="rfm_recency",
        values=[StoredValue(ann.pk, 5), StoredValue(bob.pk, 2), StoredValue(dee.pk, 4)],
        computed_at=later,
    )
    rows = {
        row.customer_id: (row.number, row.value, row.computed_at)
        for row in StoredTraitValue.objects.filter(trait__name="rfm_recency")
    }
    # Ann unchanged (kept with the time it was computed), Bob changed, Cem gone, Dee new
    assert rows == {ann.pk: (5, 5, NOW), bob.pk: (2, 2, later), dee.pk: (4, 4, later)}
    replace_stored_values(
        name="rfm_segment",
        values=[StoredValue(ann.pk, "Champions", {"rule": "R5 F5"})],
        computed_at=later,
    )
    (row,) = StoredTraitValue.objects.filter(trait__name="rfm_segment")
    assert (row.explanation, row.computed_at) == ({"rule": "R5 F5"}, later)


def test_profile_reads_stored_values_with_their_explanation(stored):
    ann = stored[0]
    rows = stored_trait_values(ann.pk, names=["rfm_segment"])
    assert [(r.trait.name, r.value, r.explanation) for r in rows] == [
        ("rfm_segment", "Champions", {"rule": "R5 F4-5"})
    ]


def test_writing_one_profile_enters_its_segment_at_once(stored):
    _ann, bob, *_ = stored
    segment = save_segment(
        name="Champions", rule={"computed_trait": "rfm_segment", "op": "eq", "value": "Champions"}
    )
    recompute_segment(segment_id=segment.pk)
    write_stored_values(
        name="rfm_segment", values=[StoredValue(bob.pk, "Champions")], computed_at=NOW
    )
    members = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
    assert set(members.values_list("customer__first_name", flat=True)) == {"Ann", "Bob"}


def test_replacing_values_recomputes_dependent_segments(stored, django_capture_on_commit_callbacks):
    ann, bob, *_ = stored
    segment = save_segment(
        name="Recent", rule={"computed_trait": "rfm_recency", "op": "eq", "value": 5}
    )
    recompute_segment(segment_id=segment.pk)
    with django_capture_on_commit_callbacks(execute=True):
        replace_stored_values(
            name="rfm_recency",
            values=[StoredValue(ann.pk, 1), StoredValue(bob.pk, 5)],
            computed_at=NOW,
        )
    members = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
    assert set(members.values_list("customer__first_name", flat=True)) == {"Bob"}


def test_delete_stored_values_of_some_profiles(stored):
    ann, bob, *_ = stored
    assert delete_stored_values(customer_ids=[ann.pk], names=["rfm_segment"]) == 1
    assert dict(profile_computed_traits(ann.pk)) == {"rfm_recency": 5}
    assert delete_stored_values(customer_ids=[ann.pk, bob.pk]) == 3


def test_stored_and_on_read_traits_share_one_name_space(stored):
    ComputedTrait.objects.create(name="orders", kind="count", event="Order Completed")
    with pytest.raises(TraitNameTaken):
        declare_stored_trait(name="orders", numeric=True, producer="insights")
    with pytest.raises(TraitNameTaken):
        declare_stored_trait(name="rfm_segment", numeric=False, producer="someone_else")
    with pytest.raises(ValidationError):
        ComputedTrait(name="rfm_segment", kind="count", event="Order Completed").full_clean()


def test_builder_offers_stored_traits(stored):
    names = {(t["name"], t["numeric"]) for t in builder_options()["computed_traits"]}
    assert {("rfm_segment", False), ("rfm_recency", True)} <= names


def test_values_with_tabs_newlines_backslashes_and_accents_round_trip(people):
    ann = people[0]
    declare_stored_trait(name="note", numeric=False, producer="insights")
    text = 'Can\'t \\ lose\tthem\nçà "quoted"'
    explanation = {"rule": "a\\b\tc\nd", "ünïcode": ["é", 1.5, None]}
    replace_stored_values(
        name="note", values=[StoredValue(ann.pk, text, explanation)], computed_at=NOW
    )
    (row,) = stored_trait_values(ann.pk, names=["note"])
    assert (row.value, row.text, row.explanation) == (text, text, explanation)
    assert matching({"computed_trait": "note", "op": "eq", "value": text}) == {"Ann"}


def versions(people) -> list[int]:
    found = document_versions(p.pk for p in people)
    return [found[pk] for pk in sorted(found)]


def test_replacing_values_moves_only_the_versions_of_changed_profiles(stored):
    ann, bob, cem, dee = stored
    before = versions(stored)
    replace_stored_traits(
        traits={
            # Ann's and Cem's values unchanged; Bob changes in both traits; Dee gains one
            "rfm_recency": [(ann.pk, 5, "{}"), (bob.pk, 2, "{}"), (cem.pk, 3, "{}")],
            "rfm_segment": [
                (ann.pk, "Champions", '{"rule":"R5 F4-5"}'),
                (bob.pk, "Hibernating", "{}"),
                (cem.pk, None, "{}"),
                (dee.pk, "New", "{}"),
            ],
        },
        computed_at=NOW + timedelta(days=1),
    )
    assert versions(stored) == [before[0], before[1] + 1, before[2], before[3] + 1]
    # a new explanation alone is written, but documents show values: no new version
    replace_stored_traits(
        traits={"rfm_recency": [(ann.pk, 5, '{"days":2}'), (bob.pk, 2, "{}"), (cem.pk, 3, "{}")]},
        computed_at=NOW,
    )
    assert versions(stored) == [before[0], before[1] + 1, before[2], before[3] + 1]
    assert stored_trait_values(ann.pk, names=["rfm_recency"])[0].explanation == {"days": 2}
    replace_stored_traits(traits={"rfm_recency": [(bob.pk, 2, "{}")]}, computed_at=NOW)
    # Ann and Cem lost their value
    assert versions(stored) == [before[0] + 1, before[1] + 1, before[2] + 1, before[3] + 1]


@pytest.mark.parametrize(
    ("value", "number", "stored"),
    [
        (5, 5.0, 5),
        (0.1, 0.1, 0.1),
        (1e-05, 1e-05, 1e-05),
        (-0.0, -0.0, -0.0),
        (True, 1.0, 1.0),
        (Decimal("2.50"), 2.5, 2.5),
        (None, None, None),
    ],
)
def test_numeric_values_of_every_type_are_written_as_numbers(people, value, number, stored):
    ann = people[0]
    declare_stored_trait(name="score", numeric=True, producer="insights")
    replace_stored_traits(traits={"score": [(ann.pk, value, '{"why":1}')]}, computed_at=NOW)
    (row,) = stored_trait_values(ann.pk, names=["score"])
    assert (row.number, row.value, row.text, row.explanation) == (number, stored, "", {"why": 1})
    assert type(row.value) is type(stored)


@pytest.mark.postgres_only
def test_a_daily_replacement_rewrites_rows_in_place(make_customer):
    """Pages are kept half empty, so a replacement of every value writes each
    new row version beside the old one (a HOT update, no index entries)."""
    people = [make_customer() for _ in range(80)]
    declare_stored_trait(name="score", numeric=True, producer="insights")

    def replace(day: int) -> dict[int, int]:
        why = json.dumps({"day": day, "padding": "x" * 200})
        replace_stored_traits(
            traits={"score": [(p.pk, day, why) for p in people]},
            computed_at=NOW + timedelta(days=day),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT customer_id, (ctid::text::point)[0]::int FROM segments_storedtraitvalue"
            )
            return dict(cursor.fetchall())

    first = replace(1)
    assert len(set(first.values())) > 1  # several pages
    assert replace(2) == first
