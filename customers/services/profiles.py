"""Profile updates: core fields and traits, each with provenance."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from core.db.bulk import update_rows
from core.db.copy import insert_history, insert_rows, insert_values
from core.models import OutboxEntry
from core.outbox import Topic
from customers.models import ADDRESS_FIELDS, CORE_FIELDS, Customer
from customers.services.precedence import replaces, source_ranks
from customers.services.versions import mark_bumped


class ProfileChanges:
    """Profile edits gathered over a batch, written at the end in a few statements.

    Traits are set in memory, message by message, on the very instances the
    caller passes (one instance per profile, so later messages see earlier
    ones' values); ``save`` then writes every changed profile in one UPDATE,
    one history row per profile whose audited fields changed, and one
    ``profile.updated`` outbox entry per call that changed something.
    Profiles whose only change is ``last_seen`` get no history row (the
    field is not audited).
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._ranks: dict[int, int] | None = None  # read once per batch, when needed
        self._profiles: dict[int, Customer] = {}
        self._fields: set[str] = set()
        self._audited: set[int] = set()
        self._outbox: list[tuple[Customer, list[str]]] = []
        self._new: dict[int, Customer] = {}

    def created(self, customer: Customer) -> None:
        """A profile made in this batch without history: its first history
        row ("+") is written by ``save`` with the batch's final values, and its
        trait changes emit no ``profile.updated`` (``profile.created`` covers them).
        If it is not in the database yet (numbered only), ``save`` inserts it."""
        self._new[customer.pk] = customer

    def set_traits(
        self,
        *,
        customer: Customer,
        core: dict[str, object],
        traits: dict[str, object],
        source_id: int | None,
        observed_at: datetime,
        address_if_unset: dict[str, object] | None = None,
    ) -> list[str]:
        """Set already-cleansed core fields and custom traits; returns what changed.

        A value replaces the one held only as ``customers.services.precedence``
        says (a ranked source beats an unranked one, a lower rank a higher one,
        then the later time), so late-arriving messages cannot roll a profile
        back and an unranked source cannot overwrite a ranked one.
        ``address_if_unset`` (address fields guessed from a one-cell address)
        is set only when the profile holds no address field at all; ``core``'s
        own address fields win over it.
        """
        changed: list[str] = []
        provenance = dict(customer.trait_provenance)
        stamp = observed_at.isoformat()
        offered = {"source": source_id, "at": stamp}
        if self._ranks is None:
            self._ranks = source_ranks()
        ranks = self._ranks

        def newer(key: str) -> bool:
            return replaces(offered, provenance.get(key), ranks)

        if address_if_unset and not any(getattr(customer, f) for f in ADDRESS_FIELDS):
            core = {**address_if_unset, **core}
        for name, value in core.items():
            if name not in CORE_FIELDS:
                raise ValueError(f"{name} is not a core field")
            if getattr(customer, name) != value and newer(name):
                setattr(customer, name, value)
                provenance[name] = dict(offered)
                changed.append(name)
        new_traits = dict(customer.traits)
        for name, value in traits.items():
            if new_traits.get(name) != value and newer(f"traits.{name}"):
                new_traits[name] = value
                provenance[f"traits.{name}"] = dict(offered)
                changed.append(f"traits.{name}")
        if changed:
            customer.traits = new_traits
            customer.trait_provenance = provenance
            self._touch(
                customer, ["traits", "trait_provenance", *(c for c in changed if c in CORE_FIELDS)]
            )
            self._audited.add(customer.pk)
            self._outbox.append((customer, changed))
        self.seen(customer, observed_at)
        return changed

    def mark_identified(self, customer: Customer) -> None:
        if not customer.is_identified:
            customer.is_identified = True
            self._touch(customer, ["is_identified"])
            self._audited.add(customer.pk)

    def seen(self, customer: Customer, at: datetime) -> None:
        if at > customer.last_seen:
            customer.last_seen = at
            self._touch(customer, ["last_seen"])

    def _touch(self, customer: Customer, fields) -> None:
        self._profiles[customer.pk] = customer
        self._fields.update(fields)

    def save(self) -> None:
        now = timezone.now()
        unsaved = [c for c in self._new.values() if c._state.adding]
        # new profiles inserted before (where they cannot be only numbered)
        inserted = [c for c in self._new.values() if not c._state.adding]
        profiles = [c for c in self._profiles.values() if not c._state.adding]
        for customer in profiles:
            customer.updated_at = now
        # their "+" history rows from the very values inserted
        insert_rows(Customer, unsaved, history=True, date=now)
        # the version moves in the same statement (a second UPDATE would rewrite each row again)
        update_rows(
            Customer, profiles, sorted({*self._fields, "updated_at"}), increment=["version"]
        )
        mark_bumped(c.pk for c in profiles)
        insert_history(Customer, inserted, date=now)
        audited = [c for c in profiles if c.pk in self._audited and c.pk not in self._new]
        insert_history(Customer, audited, update=True, date=now)
        # plain values, no model instances: one entry per changing call
        insert_values(
            OutboxEntry,
            ("topic", "customer_id", "payload", "created_at"),
            [
                (
                    Topic.PROFILE_UPDATED,
                    customer.pk,
                    {"customer_id": customer.pk, "changed": changed},
                    now,
                )
                for customer, changed in self._outbox
                if customer.pk not in self._new
            ],
        )
        self._reset()
