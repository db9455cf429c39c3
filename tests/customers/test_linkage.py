"""The linkage engine (issue 22): learned weights, clusters, explanations, stale suggestions."""

from datetime import date

import pytest
from django.test import override_settings

from customers.linkage.clusters import plan_clusters
from customers.linkage.comparisons import NAME_LEVELS, compare
from customers.linkage.model import DEFAULT_M, estimate
from customers.linkage.records import Record
from customers.linkage.scoring import score_records
from customers.models import Customer, DuplicateSuggestion, Merge
from customers.services.duplicates import DEFAULT_MERGE_ABOVE, find_duplicates

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


def test_em_learns_the_weights_from_the_data():
    # a base where every true pair's emails are one character apart: the
    # "close" email level must end up far likelier among true pairs than
    # the default says
    people = [
        Record.build(
            n,
            first_name=f"Person{chr(65 + n % 26)}{n}",
            last_name=f"Family{n}",
            email=f"p{n}-{copy}@example.com",
            birthday=date(1950 + n % 50, 1 + n % 12, 1 + n % 28),
        )
        for n in range(120)
        for copy in range(2)
    ]
    scored = score_records(people)
    assert scored.model.m["email"][1] > 3 * DEFAULT_M["email"][1]


def test_a_common_surname_counts_less_than_a_rare_one():
    records = [Record.build(n, first_name=f"X{n}", last_name="Müller") for n in range(30)]
    records += [
        Record.build(100, first_name="Jo", last_name="Quintanilla"),
        Record.build(101, first_name="Ja", last_name="Quintanilla"),
    ]
    model = estimate([]).finish(records)
    common, rare = records[0], records[-1]
    exact = compare(records[0], records[1])[1]
    assert (
        model.evidence((None, exact, None, None, None, None), rare)[1]
        > (model.evidence((None, exact, None, None, None, None), common)[1])
    )


def test_missing_values_are_neutral():
    a = Record.build(1, first_name="Ann", last_name="Lind", email="ann@example.com")
    b = Record.build(2, first_name="Ann", last_name="Lind")
    why = estimate([]).finish([a, b]).explain(compare(a, b), a)
    assert why["fields"]["email"] == {"level": "missing", "weight": 0.0}


def test_chains_through_a_middle_profile_are_not_followed():
    scores = {(1, 2): 0.99, (2, 3): 0.98, (1, 3): 0.001}
    plan = plan_clusters(
        [(0.99, 1, 2), (0.98, 2, 3)],
        cap=5,
        fits=lambda left, right: True,
        cross_score=lambda x, y: scores[(min(x, y), max(x, y))],
    )
    assert plan.groups == [[1, 2]]
    assert plan.held == [(0.98, 2, 3, "members_disagree")]


def test_a_cluster_larger_than_the_merge_cap_goes_to_review():
    sure = [(0.99, n, n + 1) for n in range(1, 5)]
    plan = plan_clusters(sure, cap=3, fits=lambda a, b: True, cross_score=lambda x, y: 0.9)
    assert plan.groups == [[1, 2, 3], [4, 5]]
    assert plan.held == [(0.99, 3, 4, "merge_cap")]


def make(**values):
    return Customer.objects.create(**{**ANN, **values})


def test_several_copies_of_one_person_end_as_one_profile(db):
    ann = make()
    make(first_name="Anabel", email="")
    make(last_name="Lindquist", phone="", email="a.lindqvist@example.org")
    make(first_name="Lindqvist", last_name="Annabel", email="", address_line1="Gartenweg 3")
    report = find_duplicates(merge_above=DEFAULT_MERGE_ABOVE)
    assert report.merged == 3
    assert list(Customer.objects.active().values_list("pk", flat=True)) == [ann.pk]
    for merge in Merge.objects.all():
        assert merge.detail["score"] >= DEFAULT_MERGE_ABOVE
        assert set(merge.detail["comparison"]["fields"]) == {
            "first_name",
            "last_name",
            "email",
            "phone",
            "birthday",
            "address",
        }


@override_settings(TRIBUTARY_MAX_MERGE_PROFILES=2)
def test_automatic_merges_respect_the_merge_cap(db):
    make()
    make(first_name="Anabel", email="")
    make(last_name="Lindquist", phone="")
    report = find_duplicates(merge_above=DEFAULT_MERGE_ABOVE)
    assert report.merged == 1
    assert Customer.objects.active().count() == 2
    assert DuplicateSuggestion.objects.filter(status="pending").exists()


def test_profiles_a_steward_called_two_people_never_share_a_cluster(db):
    ann = make()
    middle = make(first_name="Anabel", email="")
    other = make(last_name="Lindquist", phone="")
    DuplicateSuggestion.objects.create(
        customer_a=ann, customer_b=other, score=0.99, status="distinct"
    )
    find_duplicates(merge_above=DEFAULT_MERGE_ABOVE)
    assert middle.pk  # joins one of them, never both
    roots = set(
        Customer.objects.filter(pk__in=[ann.pk, other.pk]).values_list("merged_into", flat=True)
    )
    assert Customer.objects.active().filter(pk__in=[ann.pk, other.pk]).count() == 2 or roots


def test_suggestions_not_found_again_turn_stale_and_come_back_explained(db):
    ann = make()
    typo = make(last_name="Lindquist", email="", phone="")
    old = DuplicateSuggestion.objects.create(
        customer_a=ann, customer_b=typo, score=1.0, comparison={"first_name": "agree"}
    )
    otto = Customer.objects.create(first_name="Otto", last_name="Weber", city="Bonn")
    gone = DuplicateSuggestion.objects.create(customer_a=typo, customer_b=otto, score=0.6)
    find_duplicates()
    old.refresh_from_db()
    gone.refresh_from_db()
    assert old.status == "pending"
    assert old.comparison["fields"]["last_name"]["level"] == "close"
    assert gone.status == "stale"


def test_namesakes_that_differ_on_everything_else_are_not_sure_matches(db):
    """The demo-data finding: same name, every other field different, was scored 100 %."""
    make()
    streets = ["Ringstraße", "Am Markt", "Lindenweg", "Schillerplatz", "Bahnhofstraße"]
    for n in range(20):
        make(
            email=f"{streets[n % 5][:4].lower()}.{n * 7919 % 1000}@example.net",
            phone=f"+4930{(n * 7919 * 31) % 10000000:07d}",
            birthday=None,
            address_line1=f"{streets[n % 5]} {n * 3 + 1}",
            postal_code=f"{80000 + n * 37}",
            city=["München", "Wien", "Graz", "Linz"][n % 4],
            country="AT",
        )
    find_duplicates()
    assert not DuplicateSuggestion.objects.filter(score__gte=DEFAULT_MERGE_ABOVE).exists()


@pytest.mark.parametrize("text", ["--merge-above", "--merge-above=0.95"])
def test_merge_above_without_a_value_means_the_default(db, text, capsys):
    from django.core.management import call_command

    make()
    make(first_name="Anabel", email="")
    call_command("find_duplicates", text)
    assert "merged 1" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_upgrade_marks_old_suggestions_stale_and_the_next_run_explains_them():
    from tests.migrations import migrate, migrate_to_latest

    old = migrate("customers", "0013_outbox_moves_to_core")
    customer = old.get_model("customers", "Customer")
    ann = customer.objects.create(**ANN)
    typo = customer.objects.create(**{**ANN, "last_name": "Lindquist", "email": "", "phone": ""})
    old.get_model("customers", "DuplicateSuggestion").objects.create(
        customer_a_id=ann.pk, customer_b_id=typo.pk, score=1.0, comparison={"email": "agree"}
    )
    migrate_to_latest()
    assert DuplicateSuggestion.objects.get().status == "stale"
    find_duplicates()
    suggestion = DuplicateSuggestion.objects.get()
    assert suggestion.status == "pending"
    assert suggestion.comparison["fields"]["email"] == {"level": "missing", "weight": 0.0}


@pytest.mark.parametrize(
    ("left", "right"), [("Rey", "Rcy"), ("Luz", "Lzu"), ("Mcmahon", "Mkmahon")]
)
def test_short_names_one_edit_apart_are_close(left, right):
    # Jaro-Winkler puts three-letter names one typo apart below 0.8
    # ("different", the strongest evidence against a match)
    a = Record.build(1, first_name="Anabel", last_name=left)
    b = Record.build(2, first_name="Anabel", last_name=right)
    assert NAME_LEVELS[compare(a, b)[1]] == "close"


def test_em_does_not_learn_households_as_one_person():
    # many households (relatives: one last name, address and landline,
    # their own first names and birthdays) and a few real duplicates: EM
    # must not make "same household" its match class
    first_names = ["Jonas", "Marta", "Ilse", "Pedro", "Sofie", "Karl", "Lucia", "Tove"]
    records = []
    for house in range(80):
        for member in range(3):
            records.append(
                Record.build(
                    len(records),
                    first_name=first_names[(house + member * 3) % len(first_names)],
                    last_name=f"Family{chr(65 + house % 26)}{house}",
                    phone=f"+49301234{house:04d}",
                    birthday=date(1940 + member * 20 + house % 15, 1 + member, 3 + house % 20),
                    address_line1=f"Hauptstraße {house + 1}",
                    postal_code=f"{10115 + house}",
                    city="Berlin",
                )
            )
    for n in range(20):
        values = {
            "first_name": f"Single{n}",
            "last_name": f"Person{n}",
            "birthday": date(1970, 1, 1 + n),
        }
        records.append(Record.build(len(records), **values, email=f"s{n}@example.com"))
        records.append(Record.build(len(records), **values))
    scored = score_records(records)
    household = [
        value
        for value, i, j, _ in scored.scores()
        if records[i].last == records[j].last and records[i].last.startswith("family")
    ]
    assert household
    assert max(household) < DEFAULT_MERGE_ABOVE
