"""Which value a profile keeps when two disagree: one rule for every write and merge.

A value's provenance is ``{"source": source id, "at": ISO time}``. The
offered value replaces the held one when:

1. its source is ranked (*Trait source priorities*) and the held one's is
   not — a ranked source beats an unranked one;
2. both are ranked differently — the lower rank wins;
3. otherwise (same rank, or neither ranked) it is newer — the later
   message ``timestamp`` wins. On an exact tie a write replaces the value
   (the message applied last wins, as in a batch); a merge keeps the
   survivor's (``on_tie=False``).

Provenance travels with the value. Values already stored are not decided
again when the ranks change; the rule applies to the next write or merge.
"""

from __future__ import annotations

from collections.abc import Mapping

from customers.models import TraitSourcePriority


def source_ranks() -> dict[int, int]:
    """Each ranked source's priority (lower wins)."""
    return dict(TraitSourcePriority.objects.values_list("source_id", "priority"))


def replaces(
    offered: Mapping | None,
    held: Mapping | None,
    ranks: Mapping[int, int],
    *,
    on_tie: bool = True,
) -> bool:
    """Whether a value with provenance ``offered`` replaces one with ``held``."""
    offered, held = offered or {}, held or {}
    offered_rank, held_rank = ranks.get(offered.get("source")), ranks.get(held.get("source"))
    if offered_rank != held_rank:
        if held_rank is None:
            return True
        if offered_rank is None:
            return False
        return offered_rank < held_rank
    offered_at, held_at = offered.get("at") or "", held.get("at") or ""
    return offered_at > held_at or (on_tie and offered_at == held_at)
