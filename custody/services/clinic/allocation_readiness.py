"""Whether a recipient can be given bags for an infusion now, and a bag be taken back: asked
by the recipient's page before it offers the forms, and by the allocation service before it
writes, so the page never offers what the service refuses.

What the scanned bags themselves must be (released, in date, the right dose) can only be
judged once they are scanned; what the recipient must be (at the right step of the protocol,
on an open dose level, without bags already held for that infusion) is known before, and so
is whether a bag's state still lets it be de-allocated.
"""

from __future__ import annotations

from sqlalchemy import select

from custody.domain import bag_lifecycle
from custody.domain.errors import Conflict, DomainError, IllegalTransition
from custody.extensions import db
from custody.models import (
    Allocation,
    Bag,
    DoseLevelStatus,
    Infusion,
    Recipient,
    RecipientStatus,
)
from custody.services.bags.lookup import situation
from custody.services.clinic.allocation_checks import active_allocation

INFUSIONS = (1, 2)
FIRST_INFUSION_FROM = frozenset({RecipientStatus.ENROLLED, RecipientStatus.LYMPHODEPLETION})
SECOND_INFUSION_FROM = frozenset({RecipientStatus.INFUSED, RecipientStatus.FOLLOW_UP})


def infusion_refusals(recipient: Recipient, number: int) -> list[DomainError]:
    """Why no bag can be allocated to the recipient's infusion `number` now, whichever bags
    are scanned, in the order the service refuses them; none when the recipient is ready."""
    refusals = _second_infusion(recipient) if number == 2 else []
    allowed = FIRST_INFUSION_FROM if number == 1 else SECOND_INFUSION_FROM
    subject, level = recipient.subject_id, recipient.dose_level
    if recipient.status not in allowed:
        refusals.append(
            IllegalTransition(
                f"Recipient {subject} is {status_words(recipient.status)}: bags for infusion "
                f"{number} are allocated to a recipient who is "
                f"{' or '.join(sorted(map(status_words, allowed)))}.",
                recipient=subject,
                current_state=recipient.status.value,
            )
        )
    if level is None or level.status is DoseLevelStatus.CLOSED:
        state = "has no dose level" if level is None else f"is on dose level {level.code}, closed"
        refusals.append(
            IllegalTransition(
                f"Recipient {subject} {state}: the investigator must assign another dose level "
                "before bags are allocated.",
                recipient=subject,
                dose_level=level and level.code,
            )
        )
    return refusals + _bags_held(recipient, number)


def ready_infusions(recipient: Recipient) -> dict[int, list[DomainError]]:
    """For each infusion, why it cannot be given bags now (empty: the page offers it)."""
    return {number: infusion_refusals(recipient, number) for number in INFUSIONS}


def deallocation_refusal(bag: Bag) -> DomainError | None:
    """Why the bag cannot be de-allocated now (its state, its lot, no allocation), or None."""
    try:
        bag_lifecycle.plan("deallocate", situation(bag))
    except IllegalTransition as refused:
        return refused
    if active_allocation(bag) is None:
        return IllegalTransition(
            f"Bag {bag.code} is not allocated to anyone, so there is nothing to de-allocate.",
            bag=bag.code,
            current_state=bag.status.value,
        )
    return None


def status_words(status: RecipientStatus) -> str:
    """How a status reads after "is": "in lymphodepletion", "infused", "off study"."""
    if status in (RecipientStatus.LYMPHODEPLETION, RecipientStatus.FOLLOW_UP):
        return f"in {status.value.replace('_', '-')}"
    return status.value.replace("_", " ")


def _second_infusion(recipient: Recipient) -> list[DomainError]:
    subject = recipient.subject_id
    if not recipient.second_infusion_ordered:
        return [
            IllegalTransition(
                f"No second infusion is ordered for recipient {subject}: the investigator "
                "orders it first.",
                recipient=subject,
            )
        ]
    first = db.session.scalar(
        select(Infusion.id).where(
            Infusion.recipient_id == recipient.id, Infusion.infusion_number == 1
        )
    )
    if first is not None:
        return []
    return [
        IllegalTransition(
            f"Recipient {subject} has no first infusion recorded: bags for the second "
            "infusion are allocated after the first one is given and recorded.",
            recipient=subject,
        )
    ]


def _bags_held(recipient: Recipient, number: int) -> list[DomainError]:
    held = db.session.scalars(
        select(Allocation).where(
            Allocation.recipient_id == recipient.id,
            Allocation.infusion_number == number,
            Allocation.active.is_(True),
        )
    ).all()
    if not held:
        return []
    bags = ", ".join(sorted(a.bag.code for a in held))
    return [
        Conflict(
            f"Recipient {recipient.subject_id} already has bag(s) {bags} allocated for "
            f"infusion {number}. De-allocate them first (with a reason) to allocate other bags.",
            recipient=recipient.subject_id,
            infusion_number=number,
            allocated=bags,
        )
    ]
