"""What the stages pass along: one ``MessageState`` per message, in a ``Batch``."""

from __future__ import annotations

from dataclasses import dataclass, field

from customers.models import Customer, DataQualityIssue, IdentifierType
from customers.services.bulk import EventRecord
from customers.services.identity import IdentityRules
from customers.services.normalize import Issue
from customers.services.profiles import ProfileChanges
from sources.consent_capture import ConsentCapture
from sources.contracts import NormalizedMessage

Pair = tuple[str, str]  # (identifier type, normalized value)


@dataclass(frozen=True)
class ProcessResult:
    customer: Customer | None
    created_profile: bool
    event_created: bool
    # profiles this message merged into ``customer``
    merged_ids: tuple[int, ...] = ()
    # identifiers attached and profile fields/traits changed by this message
    new_identities: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    # values that could not be used (also recorded as data-quality issues)
    issues: tuple[Issue, ...] = ()
    # dropped: an identifier belongs to an erased person (counted per source)
    suppressed: bool = False
    # not applied: its (source, messageId) was stored already
    duplicate: bool = False
    # not applied: another transaction holds one of its person's identifiers
    # (only when ``apply_messages`` is told not to wait for them)
    postponed: bool = False


@dataclass(eq=False)
class MessageState:
    """One message and everything the stages learn about it, in stage order."""

    index: int  # its place in the batch: messages are resolved in this order
    message: NormalizedMessage
    # plan: its cleansed, unblocked identifiers (resolve adds an alias's
    # previousId) and the values that could not be used
    identifiers: list[Pair]
    issues: list[Issue]
    # plan: an alias's previousId as each type it may be known under (locked too)
    previous: list[Pair] = field(default_factory=list)
    # resolve: an alias's previousId when it is a former user id being renamed
    superseded: list[Pair] = field(default_factory=list)
    # lock / screen: why it is not applied
    postponed: bool = False  # another transaction holds its people
    duplicate: bool = False  # its (source, messageId) is stored already
    suppressed: bool = False  # it names an erased person
    # resolve: its profile, and what resolving did to profiles
    customer_id: int | None = None
    created: bool = False
    merged: tuple[int, ...] = ()
    attached: tuple[str, ...] = ()
    # apply: the profile instance it changed, and what changed
    customer: Customer | None = None
    changed: list[str] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return not (self.postponed or self.duplicate or self.suppressed)

    @property
    def locked(self) -> list[Pair]:
        return [*self.identifiers, *self.previous]

    def result(self) -> ProcessResult:
        return ProcessResult(
            customer=self.customer,
            created_profile=self.created,
            event_created=self.customer is not None,
            merged_ids=self.merged,
            new_identities=self.attached,
            changed=tuple(self.changed),
            # a suppressed message's issues are reported, a skipped one's are not
            issues=tuple(self.issues) if not (self.postponed or self.duplicate) else (),
            suppressed=self.suppressed,
            duplicate=self.duplicate,
            postponed=self.postponed,
        )


@dataclass(eq=False)
class Batch:
    """The messages of one ``apply_messages`` call and what they share."""

    states: list[MessageState]
    types: dict[str, IdentifierType]
    rules: IdentityRules
    # resolve: who holds each identifier the batch names (before it); the
    # profiles made in bulk (maybe not inserted yet) and those newly identified
    owners: dict[Pair, int] = field(default_factory=dict)
    made: list[Customer] = field(default_factory=list)
    identified: set[int] = field(default_factory=set)
    # apply: one instance per profile, and the writes gathered for persist
    customers: dict[int, Customer] = field(default_factory=dict)
    profiles: ProfileChanges = field(default_factory=ProfileChanges)
    consent: ConsentCapture = field(default_factory=ConsentCapture)
    events: list[EventRecord] = field(default_factory=list)
    quality: list[DataQualityIssue] = field(default_factory=list)

    @property
    def live(self) -> list[MessageState]:
        """The messages still to apply, in batch order."""
        return [state for state in self.states if state.live]


def components(states: list[MessageState], pairs_of) -> list[list[MessageState]]:
    """Messages grouped by shared identifiers (union-find), each group in batch order."""
    parent = list(range(len(states)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    holder: dict[Pair, int] = {}
    for i, state in enumerate(states):
        for pair in pairs_of(state):
            if pair in holder:
                parent[find(i)] = find(holder[pair])
            else:
                holder[pair] = i
    groups: dict[int, list[MessageState]] = {}
    for i, state in enumerate(states):
        groups.setdefault(find(i), []).append(state)
    return list(groups.values())
