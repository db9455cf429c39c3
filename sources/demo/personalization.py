"""The personalization demo's settings: what the Website source's pages may show.

``/demo/personalize/`` toggles banners on the "Gold plan" segment and greets
by first name; ``seed_demo`` sets both up (idempotent).
"""

from __future__ import annotations

from customers.models import Source
from segments.models import Segment
from segments.services import save_segment

DEMO_SEGMENT = "Gold plan"
DEMO_TRAITS = ["first_name", "plan"]


def ensure_demo_personalization(website: Source) -> None:
    if not website.personalization_traits:
        website.personalization_traits = DEMO_TRAITS
        website.save(update_fields=["personalization_traits"])
    if not Segment.objects.filter(name=DEMO_SEGMENT).exists():
        save_segment(
            name=DEMO_SEGMENT,
            rule={"trait": "plan", "op": "eq", "value": "gold"},
            description="Visitors on the gold plan (the personalization demo's banner).",
            personalize=True,
        )
