"""How a shipment discrepancy was resolved: a record with who, when, why and the outcome.

A discrepancy is named by its number within its shipment (1 for the first recorded), the
public identifier the API's path and the page use. One resolution per discrepancy: the unique
key on the table makes a second one (even racing the first) a conflict, never an overwrite.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from custody.domain.errors import NotFound
from custody.domain.shipment_discrepancies import (
    OUTCOME_WORDS,
    OUTCOMES_BY_KIND,
    ResolutionOutcome,
    checked_reason,
    outcome_for,
)
from custody.extensions import db
from custody.models import (
    DiscrepancyResolution,
    Shipment,
    ShipmentDiscrepancy,
    ShipmentItem,
    User,
)
from custody.models.base import utcnow
from custody.services.bags.lookup import shipment_by_code
from custody.services.bags.shipment_actions import (
    Blocker,
    refuse_if_blocked,
    resolution_blockers,
)
from custody.services.core.transactions import write

# Beyond any shipment's discrepancies, and within every database's integer range.
MAX_NUMBER = 2**31 - 1


def resolve_discrepancy(
    user: User, code: str, number: int, outcome: str, reason: str
) -> DiscrepancyResolution:
    """Record how discrepancy `number` of shipment `code` was resolved (once)."""
    reason = checked_reason(reason)
    race = "Someone resolved this discrepancy at the same moment; look at the shipment again."
    with write(user, f"shipment discrepancy resolved: {outcome}", race, shipment=code):
        shipment = shipment_by_code(code, lock=True)
        discrepancy = discrepancy_by_number(shipment, number)
        chosen = outcome_for(discrepancy.kind.value, outcome)
        refuse_if_blocked(resolution_blockers(discrepancy))
        blocked = outcome_blocker(discrepancy, chosen)
        refuse_if_blocked([blocked] if blocked else [])
        resolution = DiscrepancyResolution(
            discrepancy_id=discrepancy.id,
            outcome=chosen,
            reason=reason,
            resolved_at=utcnow(),
            resolved_by_id=user.id,
        )
        db.session.add(resolution)
    return resolution


def discrepancy_by_number(shipment: Shipment, number: int) -> ShipmentDiscrepancy:
    """The shipment's `number`th discrepancy (1 = the first recorded), or NotFound."""
    found = None
    if 1 <= number <= MAX_NUMBER:
        found = db.session.scalar(
            select(ShipmentDiscrepancy)
            .where(ShipmentDiscrepancy.shipment_id == shipment.id)
            .order_by(ShipmentDiscrepancy.id)
            .offset(number - 1)
            .limit(1)
        )
    if found is None:
        raise NotFound(
            f"Shipment {shipment.code} has no discrepancy number {number}.",
            shipment=shipment.code,
            discrepancy=number,
        )
    return found


def discrepancy_number(record: ShipmentDiscrepancy) -> int:
    """The record's number within its shipment, in the order discrepancies were recorded."""
    return db.session.scalar(
        select(func.count()).where(
            ShipmentDiscrepancy.shipment_id == record.shipment_id,
            ShipmentDiscrepancy.id <= record.id,
        )
    )


def outcome_blocker(discrepancy: ShipmentDiscrepancy, outcome: ResolutionOutcome) -> Blocker | None:
    """What stops `outcome` now: a missing bag is 'found and received' only once it was
    scanned in, so the custody record says the same as the resolution."""
    if outcome is not ResolutionOutcome.FOUND_AND_RECEIVED or discrepancy.bag_id is None:
        return None
    received_at = db.session.scalar(
        select(ShipmentItem.received_at).where(
            ShipmentItem.shipment_id == discrepancy.shipment_id,
            ShipmentItem.bag_id == discrepancy.bag_id,
        )
    )
    if received_at is not None:
        return None
    return Blocker(
        f"Bag {discrepancy.bag.code} has not been scanned in: scan it in from its shipment "
        "('receive') while the shipment is in transit, then record it as found and received.",
        details={"bag": discrepancy.bag.code, "outcome": outcome.value},
    )


def outcome_choices(discrepancy: ShipmentDiscrepancy) -> list[dict[str, Any]]:
    """The outcomes this discrepancy may end in, each with what blocks it now (or None)."""
    choices = []
    for outcome in OUTCOMES_BY_KIND[discrepancy.kind.value]:
        blocked = outcome_blocker(discrepancy, outcome)
        choices.append(
            {
                "outcome": outcome.value,
                "words": OUTCOME_WORDS[outcome],
                "blocked": blocked.message if blocked else None,
            }
        )
    return choices


def resolution_line(
    resolution: DiscrepancyResolution | None, names: dict[int, str] | None = None
) -> dict[str, Any] | None:
    """A resolution as the page and the API show it; `names` maps user ids to full names."""
    if resolution is None:
        return None
    if names is None or resolution.resolved_by_id not in names:
        by = db.session.get(User, resolution.resolved_by_id)
        names = {resolution.resolved_by_id: by.full_name if by else None}
    return {
        "outcome": resolution.outcome.value,
        "outcome_words": OUTCOME_WORDS[resolution.outcome],
        "reason": resolution.reason,
        "resolved_at": resolution.resolved_at,
        "resolved_by": names[resolution.resolved_by_id],
    }
