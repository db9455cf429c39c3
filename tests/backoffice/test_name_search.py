"""Finding people by a piece of their name, company or city (issue 26)."""

import pytest
from django.urls import reverse

from accounts.masking import mask_email
from backoffice import name_search
from backoffice.name_search import fold, words
from backoffice.search import search_customers
from customers.models import Customer


@pytest.fixture
def people(db):
    rows = [
        ("Sofía", "Rossi", "sofia.rossi@example.it", "Trattoria Bella", "Milano"),
        ("Lukas", "Schmidt", "lukas@example.de", "", "München"),
        ("Anna", "Schmitz", "anna.schmitz@example.de", "Schmitz & Söhne GmbH", "Köln"),
        ("François", "Dupont", "f.dupont@example.fr", "", "Paris"),
        ("Rossella", "Bianchi", "rb@example.it", "", "Roma"),
    ]
    return {
        last: Customer.objects.create(
            first_name=first, last_name=last, email=email, company=company, city=city
        )
        for first, last, email, company, city in rows
    }


def _names(results):
    return sorted(r.name for r in results)


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Sofía Müller", "sofia muller"), ("ÅSE", "ase"), ("François", "francois"), ("", "")],
)
def test_fold_lowers_and_removes_accents(text, folded):
    assert fold(text) == folded


def test_words_escape_like_wildcards_and_drop_single_letters():
    assert words("50% a_b x") == ["50\\%", "a\\_b"]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("Rossi", ["Sofía Rossi"]),
        ("sofia ross", ["Sofía Rossi"]),  # every word, in any field, no accent typed
        ("SOFÍA", ["Sofía Rossi"]),
        ("Schm", ["Anna Schmitz", "Lukas Schmidt"]),  # partial
        ("munchen", ["Lukas Schmidt"]),  # city, accent left out
        ("söhne", ["Anna Schmitz"]),  # company
        ("ross", ["Rossella Bianchi", "Sofía Rossi"]),
        ("francois dupont", ["François Dupont"]),
        ("nobody", []),
        ("100%", []),
    ],
)
def test_search_finds_people_by_partial_accent_free_names(people, admin_user, term, expected):
    assert _names(search_customers(term=term, user=admin_user)) == expected


def test_search_leaves_out_profiles_merged_away(people, admin_user):
    Customer.objects.filter(pk=people["Rossi"].pk).update(merged_into=people["Dupont"])
    assert _names(search_customers(term="rossi", user=admin_user)) == []


def test_global_search_by_name_lists_matches_with_masked_emails_for_viewers(people, role_client):
    response = role_client("viewer").post(reverse("backoffice-search"), {"q": "schm"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Lukas Schmidt" in body
    assert "Anna Schmitz" in body
    assert "anna.schmitz@example.de" not in body
    assert mask_email("anna.schmitz@example.de") in body


def test_global_search_with_one_name_match_opens_the_customer_page(people, role_client):
    response = role_client("marketer").post(reverse("backoffice-search"), {"q": "dupont"})
    assert response.status_code == 302
    assert response.url == reverse("admin:customers_customer_change", args=[people["Dupont"].pk])


def test_suggestions_list_matches_as_links(people, role_client):
    response = role_client("marketer").post(reverse("backoffice-suggest"), {"q": "sofia ro"})
    body = response.content.decode()
    assert response.status_code == 200
    assert reverse("admin:customers_customer_change", args=[people["Rossi"].pk]) in body
    assert "sofia.rossi@example.it" in body


def test_suggestions_refuse_an_email_for_a_viewer_without_looking_it_up(people, role_client):
    response = role_client("viewer").post(reverse("backoffice-suggest"), {"q": "lukas@example.de"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "may not search by email" in body
    assert "Schmidt" not in body


def test_suggestions_refuse_get(role_client):
    assert role_client("marketer").get(reverse("backoffice-suggest"), {"q": "x"}).status_code == 405


def test_customer_list_search_finds_accent_free_names(people, role_client):
    url = reverse("admin:customers_customer_changelist")
    body = role_client("marketer").get(url, {"q": "francois"}).content.decode()
    assert "François Dupont" in body or "Dupont" in body
    assert "Rossi" not in body


def _seen(first, last, days_ago, **fields):
    from datetime import UTC, datetime, timedelta

    at = datetime(2026, 11, 30, tzinfo=UTC) - timedelta(days=days_ago)
    return Customer.objects.create(first_name=first, last_name=last, last_seen=at, **fields)


@pytest.fixture
def small_bounds(monkeypatch):
    """A glance at the latest ``limit`` profiles; a rare term has at most 2
    matches; a common one is looked for in the latest 4."""
    monkeypatch.setattr(name_search, "GLANCE_PER_RESULT", 1)
    monkeypatch.setattr(name_search, "CANDIDATE_CAP", 2)
    monkeypatch.setattr(name_search, "RECENT_WINDOW", 4)


def test_a_common_name_lists_the_most_recently_active_first(db, small_bounds):
    recent = _seen("Recent", "Person", 1)
    webers = [_seen("Anna", "Weber", days) for days in (2, 3, 4, 5, 6, 7)]
    _seen("Old", "Other", 0, merged_into=recent)  # merged away: neither listed nor counted
    found = name_search.ranked_matches(Customer.objects.active(), "weber", limit=2)
    assert found == [webers[0].pk, webers[1].pk]


def test_a_rare_name_is_found_however_old(db, small_bounds):
    for days in range(5):
        _seen("Recent", "Person", days)
    old = _seen("Giulia", "Zanetti", 400)
    assert name_search.ranked_matches(Customer.objects.active(), "zanet", limit=8) == [old.pk]


def test_a_common_name_outside_the_recent_window_still_finds_real_matches(db, small_bounds):
    for days in range(4):
        _seen("Recent", "Person", days)
    webers = {_seen("Anna", "Weber", 100 + days).pk for days in range(5)}
    found = name_search.ranked_matches(Customer.objects.active(), "weber", limit=8)
    assert found
    assert set(found) <= webers


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("li", ["Li Wei"]),  # two letters: no trigram to look up
        ("wei li", ["Li Wei"]),
        ("a-b", ["Jo Kim"]),  # no three letters in a row
        ("x_y", []),  # an underscore is no wildcard
    ],
)
def test_terms_without_trigrams_are_searched_among_recent_profiles(
    db, small_bounds, admin_user, term, expected
):
    _seen("Li", "Wei", 1)
    _seen("Jo", "Kim", 2, company="A-B Logistics")
    _seen("Xay", "Moss", 3)
    assert _names(search_customers(term=term, user=admin_user)) == expected


def test_a_remembered_window_edge_still_lists_the_latest_first(db, small_bounds):
    webers = [_seen("Anna", "Weber", days) for days in (3, 4, 5, 6)]
    active = Customer.objects.active()
    assert name_search.ranked_matches(active, "weber", limit=2) == [w.pk for w in webers[:2]]
    newest = _seen("Karl", "Weber", 1)  # active since the edge was read
    assert name_search.ranked_matches(active, "weber", limit=2) == [newest.pk, webers[0].pk]


def test_searching_again_reuses_the_remembered_window_edges(people, admin_user):
    # fewer profiles than any window: the remembered answer is "all of them"
    for _ in range(2):
        assert _names(search_customers(term="schm", user=admin_user)) == [
            "Anna Schmitz",
            "Lukas Schmidt",
        ]
