"""Clusters: sure pairs grouped transitively, without chaining strangers together.

Pairs are taken best first and join their two clusters (union-find) unless

- the joined cluster would hold more than ``cap`` profiles (the merge cap:
  no "mega profiles"): such a pair is left for review;
- ``fits`` says the joined profiles would break an identifier limit (two
  different user ids): left for review;
- some member of one cluster and some member of the other disagree
  strongly (``cross_score`` below ``CHAIN_FLOOR``): A~B and B~C are sure,
  but A and C are clearly two people, so the chain is not followed and the
  pair is left for review.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

CHAIN_FLOOR = 0.05
HELD_REASONS = ("merge_cap", "limit_conflict", "members_disagree")


@dataclass
class ClusterPlan:
    groups: list[list[int]] = field(default_factory=list)  # each of two or more ids
    joined: list[tuple[float, int, int]] = field(default_factory=list)
    held: list[tuple[float, int, int, str]] = field(default_factory=list)


def plan_clusters(
    sure: Iterable[tuple[float, int, int]],
    *,
    cap: int,
    fits: Callable[[list[int], list[int]], bool],
    cross_score: Callable[[int, int], float],
) -> ClusterPlan:
    """Group the ids of ``sure`` pairs ((score, a, b), best first)."""
    plan = ClusterPlan()
    members: dict[int, list[int]] = {}
    root: dict[int, int] = {}
    for value, a, b in sure:
        ra, rb = root.get(a, a), root.get(b, b)
        if ra == rb:
            plan.joined.append((value, a, b))
            continue
        left, right = members.get(ra, [a]), members.get(rb, [b])
        reason = ""
        if len(left) + len(right) > cap:
            reason = "merge_cap"
        elif not fits(left, right):
            reason = "limit_conflict"
        elif any(cross_score(x, y) < CHAIN_FLOOR for x in left for y in right if (x, y) != (a, b)):
            reason = "members_disagree"
        if reason:
            plan.held.append((value, a, b, reason))
            continue
        if len(left) < len(right):
            ra, rb, left, right = rb, ra, right, left
        left = left + right
        members[ra] = left
        members.pop(rb, None)
        for pk in left:
            root[pk] = ra
        plan.joined.append((value, a, b))
    plan.groups = sorted(sorted(group) for group in members.values() if len(group) > 1)
    return plan
