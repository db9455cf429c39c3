from datetime import UTC, date, datetime

import pytest
from django.core.management import call_command
from faker import Faker

from customers.linkage.blocking import WINDOW, candidate_pairs
from customers.linkage.records import Record
from customers.linkage.scoring import score_pair as score
from customers.models import Customer, DuplicateSuggestion, IdentifierType, Identity, Merge
from customers.services.duplicates import (
    DEFAULT_MERGE_ABOVE,
    DEFAULT_SUGGEST_ABOVE,
    find_duplicates,
    reject_suggestion,
)
from customers.services.merging import unmerge
from customers.services.normalize import cleanse_core

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
    _, why = score(bill, william)
    assert why["fields"]["first_name"] == {
        "level": "exact",
        "weight": why["fields"]["first_name"]["weight"],
    }
    assert why["fields"]["first_name"]["weight"] > 0


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


@pytest.mark.parametrize(
    "changes",
    [
        {"last_name": "Lindquist", "email": "", "phone": ""},
        {"first_name": "Lindqvist", "last_name": "Annabel", "email": "", "phone": ""},
        {"first_name": "A.", "email": "", "phone": "", "postal_code": ""},
        {"first_name": "Anabel", "last_name": "Lindkvist", "email": "", "birthday": None},
        {"birthday": None, "phone": "", "postal_code": "", "last_name": "Lindqvlst"},
    ],
)
def test_blocking_survives_corruption_of_any_single_field(changes):
    others = [
        Record.build(10 + n, first_name=first, last_name=last, birthday=date(1950 + n, 2, 2))
        for n, (first, last) in enumerate(
            [("Otto", "Weber"), ("Mia", "Kurz"), ("Zoe", "Adams"), ("Lars", "Berg")]
        )
    ]
    records = [record(1), *others, record(2, **changes)]
    assert (0, len(records) - 1) in candidate_pairs(records)


FILLERS = [("Otto", "Weber"), ("Mia", "Kurz"), ("Paul", "Davis"), ("Lea", "Davies")]
FILLERS += [("Ida", "Davila"), ("Tim", "Davin"), ("Eva", "Dawes"), ("Ole", "Rasmussen")]
FILLERS += [("Ulla", "Petersen"), ("Sven", "Nilsson"), ("Vera", "Schulz")]


@pytest.mark.parametrize(
    "pair",
    [
        # one letter off in a way Soundex does not forgive (v -> w), first
        # name reduced to an initial, no birthday, moved, other email
        (
            {"first_name": "Norman", "last_name": "Davidson", "birthday": date(1987, 10, 11)},
            {"first_name": "N.", "last_name": "Dawidson", "postal_code": "56843"},
        ),
        # a first name cleansing refused (an OCR digit), other mailbox number
        (
            {"first_name": "Miroslawa", "last_name": "Zorbach", "email": "zorbachmi975@yahoo.com"},
            {"last_name": "Zorbach", "email": "zorbachmi384@gmx.de", "postal_code": "44793"},
        ),
    ],
)
def test_blocking_finds_names_one_letter_off_and_records_with_one_name(pair):
    others = [
        Record.build(10 + n, first_name=first, last_name=last, birthday=date(1950 + n, 2, 2))
        for n, (first, last) in enumerate(FILLERS)
    ]
    records = [Record.build(1, **pair[0]), *others, Record.build(2, **pair[1])]
    assert (0, len(records) - 1) in candidate_pairs(records)


def test_blocking_does_not_compare_everyone():
    # realistic distinct people (names one typo apart are candidates on
    # purpose, so "Name001" / "Name002" would all be compared)
    fake = Faker(["de_DE", "fr_FR", "en_US"])
    fake.seed_instance(3)
    records = [
        Record.build(
            n,
            first_name=fake.first_name(),
            last_name=fake.last_name(),
            birthday=fake.date_of_birth(),
            postal_code=fake.postcode(),
        )
        for n in range(2000)
    ]
    assert len(candidate_pairs(records)) < 2000 * WINDOW


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
    levels = {name: item["level"] for name, item in suggestion.comparison["fields"].items()}
    assert levels == {
        "first_name": "exact",
        "last_name": "close",
        "email": "missing",
        "phone": "missing",
        "birthday": "exact",
        "address": "same street",
    }
    weights = {name: item["weight"] for name, item in suggestion.comparison["fields"].items()}
    assert weights["email"] == weights["phone"] == 0.0
    assert weights["first_name"] > 0
    assert weights["birthday"] > 0
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


def test_a_scanned_name_with_an_ocr_digit_still_finds_its_duplicate(db):
    # cleansing used to refuse "B1anchet" and leave the last name empty, so
    # the copy shared no name key with the original and was never compared
    values = {**ANN, "first_name": "Élodie", "last_name": "Blanchet"}
    original = Customer.objects.create(**values)
    scanned, issues = cleanse_core(
        {
            **values,
            "first_name": "É.",
            "last_name": "B1anchet",
            "email": "",
            "phone": "+33 1 42 68 53 00",
            "birthday": "1988-04-12",
        }
    )
    assert issues == []
    copy = Customer.objects.create(**scanned)
    report = find_duplicates(merge_above=DEFAULT_MERGE_ABOVE)
    assert report.merged == 1
    assert list(Customer.objects.active().values_list("pk", flat=True)) == [original.pk]
    assert Customer.objects.get(pk=copy.pk).merged_into_id == original.pk


def test_automatic_merges_keep_the_profile_the_merge_rule_keeps(db):
    # the one survivor rule (merging.choose_survivor): an identified profile
    # before an anonymous one, even an older anonymous one
    older = make(email="", first_seen=datetime(2020, 1, 1, tzinfo=UTC))
    identified = make(first_name="Anabel", is_identified=True)
    find_duplicates(merge_above=DEFAULT_MERGE_ABOVE)
    merge = Merge.objects.get()
    assert (merge.survivor_id, merge.absorbed_id) == (identified.pk, older.pk)


def test_merged_suggestions_link_the_merge_that_absorbed_one_of_their_profiles(db):
    make()
    make(first_name="Anabel", email="")
    make(last_name="Lindquist", phone="", email="a.lindqvist@example.org")
    make(first_name="Lindqvist", last_name="Annabel", email="")
    report = find_duplicates(merge_above=DEFAULT_MERGE_ABOVE)
    merged = DuplicateSuggestion.objects.filter(status="merged").select_related("merge")
    assert report.merged == 3
    assert merged.count() >= 3
    for suggestion in merged:
        absorbed = suggestion.merge.absorbed_id
        assert absorbed in (suggestion.customer_a_id, suggestion.customer_b_id)
        assert suggestion.decided_at is not None


def test_each_automatic_merge_names_its_suggestion_which_is_stored_merged_with_it(db):
    make()
    make(first_name="Anabel", email="")
    make(last_name="Lindquist", phone="", email="a.lindqvist@example.org")
    find_duplicates(merge_above=DEFAULT_MERGE_ABOVE)
    merges = list(Merge.objects.all())
    assert len(merges) == 2
    for merge in merges:
        suggestion = DuplicateSuggestion.objects.get(pk=merge.detail["suggestion_id"])
        assert sorted(merge.detail["pair"]) == [suggestion.customer_a_id, suggestion.customer_b_id]
        assert suggestion.status == "merged"
        assert suggestion.merge.absorbed_id in merge.detail["pair"]
        assert suggestion.comparison == merge.detail["comparison"]
        assert suggestion.decided_at is not None
