import pytest

from segments.models import Segment
from segments.rules import InvalidRule, dependencies, validate_rule
from segments.services import save_segment


def errors(rule, **kwargs) -> list[tuple[str, str]]:
    with pytest.raises(InvalidRule) as caught:
        validate_rule(rule, **kwargs)
    return [(e.path, e.code) for e in caught.value.errors]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ([], [("$", "not_a_node")]),
        ({"all": []}, [("$.all", "empty_group")]),
        (
            {"all": [{"field": "shoe_size", "op": "eq", "value": "9"}]},
            [("$.all[0].field", "unknown_field")],
        ),
        ({"field": "country", "op": "gt", "value": 3}, [("$.op", "bad_operator")]),
        ({"field": "country", "op": "eq", "value": 3}, [("$.value", "bad_value")]),
        ({"field": "country", "op": "eq"}, [("$.value", "missing_value")]),
        ({"field": "email", "op": "is_set", "value": 1}, [("$.value", "unexpected_value")]),
        ({"field": "birthday", "op": "before", "value": "05/01/1990"}, [("$.value", "bad_value")]),
        ({"trait": "ltv", "op": "between", "value": [10, 5]}, [("$.value", "bad_value")]),
        ({"trait": "plan", "op": "in", "value": []}, [("$.value", "bad_value")]),
        ({"trait": 'we"ird', "op": "is_set"}, [("$.trait", "bad_name")]),
        (
            {"trait": "plan", "op": "gt", "value": 1, "case_sensitive": True},
            [("$.case_sensitive", "bad_value")],
        ),
        ({"trait": "plan", "op": "eq", "value": "x", "colour": 1}, [("$.colour", "unknown_key")]),
        ({"colour": "red"}, [("$", "unknown_node")]),
        (
            {"any": [{"not": {"event": "Order Completed", "count": {"more_than": 2}}}]},
            [("$.any[0].not.count", "bad_count")],
        ),
        (
            {"event": "Order Completed", "performed": False, "count": {"at_least": 2}},
            [("$.count", "conflict")],
        ),
        (
            {"event": "Order Completed", "within_days": 0, "between": ["2026-01-01", "2026-01-02"]},
            [("$.between", "conflict"), ("$.within_days", "bad_value")],
        ),
        (
            {"event": "X", "where": [{"property": "total", "op": "gte", "value": "ten"}]},
            [("$.where[0].value", "bad_value")],
        ),
        ({"event": "X", "first": {"op": "is_set"}}, [("$.first.op", "bad_operator")]),
        ({"has_identifier": "fax"}, [("$.has_identifier", "unknown_identifier")]),
        ({"source": 999999}, [("$.source", "unknown_source")]),
        ({"segment": 999999}, [("$.segment", "unknown_segment")]),
        ({"consent": "no_such_purpose"}, [("$.consent", "unknown_purpose")]),
        (
            {"computed_trait": "nope", "op": "gt", "value": 1},
            [("$.computed_trait", "unknown_computed_trait")],
        ),
    ],
)
def test_validation_points_at_the_offending_node(db, rule, expected):
    assert errors(rule) == expected


def test_validation_reports_every_problem_at_once(db):
    rule = {
        "all": [
            {"field": "country", "op": "eq", "value": "DE"},
            {"field": "nope", "op": "eq", "value": "x"},
            {"any": [{"trait": "plan", "op": "contains", "value": ""}]},
        ]
    }
    assert errors(rule) == [
        ("$.all[1].field", "unknown_field"),
        ("$.all[2].any[0].value", "bad_value"),
    ]


def test_segment_referring_to_itself_is_refused(db):
    segment = save_segment(name="A", rule={"field": "country", "op": "eq", "value": "DE"})
    assert errors({"segment": segment.pk}, segment_id=segment.pk) == [("$.segment", "cycle")]


def test_indirect_cycle_through_another_segment_is_refused(db):
    a = save_segment(name="A", rule={"field": "country", "op": "eq", "value": "DE"})
    b = save_segment(name="B", rule={"not": {"segment": a.pk}})
    with pytest.raises(InvalidRule) as caught:
        save_segment(segment=a, name="A", rule={"any": [{"segment": b.pk}]})
    assert [(e.path, e.code) for e in caught.value.errors] == [("$.any[0].segment", "cycle")]
    a.refresh_from_db()
    assert a.rule == {"field": "country", "op": "eq", "value": "DE"}


def test_dependencies_name_what_a_change_must_touch(db):
    base = save_segment(name="Base", rule={"trait": "plan", "op": "is_set"})
    rule = {
        "all": [
            {"field": "country", "op": "eq", "value": "DE"},
            {"field": "last_seen", "op": "within_last_days", "value": 3},
            {"event": "Order Completed"},
            {"has_identifier": "email"},
            {"not": {"segment": base.pk}},
        ]
    }
    assert dependencies(rule) == [
        "event:*",
        "event:Order Completed",
        "field:country",
        "identity:email",
        f"segment:{base.pk}",
        "trait:plan",
    ]


def test_static_segment_needs_no_rule(db):
    segment = save_segment(name="Hand-picked", kind=Segment.Kind.STATIC, rule={"junk": 1})
    assert segment.rule == {}
    assert segment.dependencies == []
