from datetime import date

import pytest
from django.core.management import call_command

from customers.models import Customer, DuplicateSuggestion, IdentifierType, Identity, Merge
from customers.services.duplicates import (
    DEFAULT_MERGE_ABOVE,
    DEFAULT_SUGGEST_ABOVE,
    find_duplicates,
    reject_suggestion,
)
from customers.services.matching import Record, candidate_pairs, score
from customers.services.merging import unmerge

ANN = {
    "first_name": "Annabel",
    "last_name": "Lindqvist",
    "email": "annabel.lindqvist@example.com",
    "phone": "+4915123456789",
    "birthday": date(1988, 4, 12),
    "address_line1": "Hauptstraße 12",
    "postal_code": "10115",
    "city": "Berlin",
}


def record(pk, **changes):
    return Record.build(pk, **{**ANN, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"last_name": "Lindquist"},
        {"first_name": "Anabel", "email": ""},
        {"first_name": "Lindqvist", "last_name": "Annabel"},
        {"birthday": date(1988, 12, 4), "phone": ""},
        {"birthday": date(1988, 4, 21), "email": ""},
        {"email": "annabel.lindqvsit@example.com", "phone": ""},
        {"phone": "+4915123456798", "email": ""},
        {"address_line1": "Gartenweg 3", "postal_code": "20095", "city": "Hamburg", "email": ""},
        {"email": "", "phone": "", "address_line1": "", "postal_code": "", "city": ""},
    ],
)
def test_typo_and_transposition_duplicates_score_above_the_merge_threshold(changes):
    value, _ = score(record(1), record(2, **changes))
    assert value >= DEFAULT_MERGE_ABOVE


def test_nicknames_count_as_the_same_first_name():
    bill = Record.build(1, first_name="Bill", last_name="Turner", birthday=date(1970, 1, 2))
    william = Record.build(2, first_name="William", last_name="Turner", birthday=date(1970, 1, 2))
    _, outcomes = score(bill, william)
    assert outcomes["first_name"] == "agree"


def test_same_common_name_with_other_birthday_and_address_stays_apart():
    namesake = record(
        2,
        email="annabel.l@example.org",
        phone="+4917099887766",
        birthday=date(1975, 9, 30),
        address_line1="Bahnhofstraße 1",
        postal_code="80331",
        city="München",
    )
    value, _ = score(record(1), namesake)
    assert value < DEFAULT_SUGGEST_ABOVE


def test_relatives_sharing_address_and_phone_are_not_merged():
    relative = record(2, first_name="Jonas", email="jonas@example.com", birthday=date(1960, 1, 5))
    value, _ = score(record(1), relative)
    assert value < DEFAULT_MERGE_ABOVE


def test_blocking_compares_only_profiles_that_share_a_key():
    records = [
        record(1),
        record(2, last_name="Lindquist", email="", phone=""),
        Record.build(3, first_name="Otto", last_name="Weber", birthday=date(1950, 2, 2)),
        Record.build(4, first_name="Mia", last_name="Kurz", email="mia@example.com"),
    ]
    assert candidate_pairs(records) == {(0, 1)}


def make(**values):
    return Customer.objects.create(**{**ANN, **values})


def test_find_duplicates_queues_likely_pairs_for_review(db):
    ann = make()
    typo = make(last_name="Lindquist", email="", phone="")
    make(first_name="Otto", last_name="Weber", email="otto@example.com", phone="")
    report = find_duplicates()
    suggestion = DuplicateSuggestion.objects.get()
    assert (suggestion.customer_a_id, suggestion.customer_b_id, suggestion.status) == (
        ann.pk,
        typo.pk,
        "pending",
    )
    assert suggestion.comparison == {
        "first_name": "agree",
        "last_name": "agree",
        "email": None,
        "phone": None,
        "birthday": "agree",
        "address": "agree",
    }
    assert (report.profiles, report.suggested, report.merged) == (3, 1, 0)
    assert Customer.objects.active().count() == 3


def test_running_again_refreshes_instead_of_duplicating_suggestions(db):
    make()
    make(last_name="Lindquist")
    find_duplicates()
    find_duplicates()
    assert DuplicateSuggestion.objects.count() == 1


def test_merge_above_merges_sure_pairs_with_a_logged_undoable_merge(db):
    ann = make()
    typo = make(first_name="Anabel", email="")
    report = find_duplicates(merge_above=DEFAULT_MERGE_ABOVE)
    assert report.merged == 1
    merge = Merge.objects.get()
    assert (merge.survivor_id, merge.absorbed_id, merge.reason) == (ann.pk, typo.pk, "duplicate")
    assert merge.detail["score"] >= DEFAULT_MERGE_ABOVE
    assert DuplicateSuggestion.objects.get().status == "merged"
    unmerge(merge=merge)
    find_duplicates(merge_above=DEFAULT_MERGE_ABOVE)
    assert Customer.objects.active().count() == 2
    assert DuplicateSuggestion.objects.get().status == "distinct"


def test_not_the_same_person_is_remembered(db):
    make()
    make(last_name="Lindquist")
    find_duplicates()
    reject_suggestion(suggestion=DuplicateSuggestion.objects.get())
    report = find_duplicates(merge_above=0.5)
    assert (report.suggested, report.merged) == (0, 0)
    assert DuplicateSuggestion.objects.get().status == "distinct"


def test_pairs_with_two_different_user_ids_are_left_for_review(db):
    user_id = IdentifierType.objects.get(name="user_id")
    ann, other = make(), make(first_name="Anabel")
    Identity.objects.create(type=user_id, value="u-1", customer=ann)
    Identity.objects.create(type=user_id, value="u-2", customer=other)
    report = find_duplicates(merge_above=DEFAULT_MERGE_ABOVE)
    assert (report.merged, report.not_merged) == (0, 1)
    assert DuplicateSuggestion.objects.get().status == "pending"


def test_find_duplicates_command_prints_a_summary(db, capsys):
    make()
    make(first_name="Anabel")
    call_command("find_duplicates", "--merge-above", "0.9")
    out = capsys.readouterr().out
    assert out.strip() == ("profiles 2, pairs compared 1, suggested 1, merged 1, left for review 0")
