"""personalize.js in Chromium, on the demo page `make run` serves: a visitor
tracked by the page sees the gold banner only while consent and segment say so.

The endpoint's rules are tested in tests/personalization; this checks what only
a browser shows: the script reads analytics.js's stored anonymous id, sends the
write key as Basic auth, follows the answer (hidden/shown elements, trait text)
and asks again with If-None-Match."""

import pytest

from sources.demo.personalization import ensure_demo_personalization
from sources.services.keys import create_source
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e

GOLD = '[data-tributary-segment="Gold plan"]'
PITCH = '[data-tributary-segment-not="Gold plan"]'


@pytest.fixture
def website_key(e2e_db) -> str:
    source, key = create_source(name="Maison Tributary (web)", kind="website")
    ensure_demo_personalization(source)
    return key


def _answer(page) -> dict | None:
    return page.evaluate("() => window.tributary.answer")


def test_a_visitor_sees_the_banner_their_segment_and_consent_allow(page, website_key):
    page.goto("/demo/personalize/")
    page.fill("#key", website_key)
    page.dispatch_event("#key", "change")
    page.wait_for_function("() => window.tributary.answer && window.tributary.answer.known")
    # known, but no personalization consent yet: no segments, the pitch shows
    assert _answer(page)["segments"] == []
    assert page.is_visible(PITCH)
    assert page.is_hidden(GOLD)

    page.click("#consent")
    page.wait_for_function("() => window.tributary.answer.consent.personalization === true")
    page.click("#signup")
    page.wait_for_selector(GOLD, state="visible")
    assert page.is_hidden(PITCH)
    assert page.inner_text(f'{GOLD} [data-tributary-trait="first_name"]') == "Zoé"
    screenshot(page, "personalize-gold-member")

    page.click("#downgrade")
    page.wait_for_selector(GOLD, state="hidden")
    assert page.is_visible(PITCH)

    page.click("#signup")
    page.wait_for_selector(GOLD, state="visible")
    page.click("#withdraw")  # consent withdrawn: the next answer shows nothing personal
    page.wait_for_selector(GOLD, state="hidden")
    answer = _answer(page)
    assert (answer["consent"]["personalization"], answer["segments"], answer["traits"]) == (
        False,
        [],
        {},
    )


def test_an_unchanged_answer_is_revalidated_not_resent(page, website_key):
    page.goto("/demo/personalize/")
    page.fill("#key", website_key)
    page.dispatch_event("#key", "change")
    page.wait_for_function("() => window.tributary.answer && window.tributary.answer.known")
    statuses = []
    page.on(
        "response",
        lambda response: "/v1/personalize" in response.url and statuses.append(response.status),
    )
    page.evaluate("() => window.tributary.refresh()")
    page.wait_for_timeout(300)
    assert statuses == [304]
    assert _answer(page)["known"] is True


def test_a_wrong_write_key_leaves_the_page_unpersonalized(page, website_key):
    page.goto("/demo/personalize/")
    page.fill("#key", "wk_not_a_key")
    page.dispatch_event("#key", "change")
    page.wait_for_timeout(800)
    assert _answer(page) is None
    assert page.is_hidden(GOLD)
    assert page.is_hidden(PITCH)
