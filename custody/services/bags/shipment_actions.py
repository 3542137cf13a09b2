"""What blocks each action on a shipment now: the one answer its services and its pages read.

A service refuses an action with the first blocker this module finds (inside its transaction,
on the locked rows); the shipment page and the scan station ask the same functions before they
offer the action, and show every blocker in words instead of a button the server would refuse.
Who may act (the role) is the permissions table's question, asked by the callers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from custody.domain import bag_lifecycle
from custody.domain.errors import Conflict, DomainError, IllegalTransition
from custody.domain.permissions import UseCase
from custody.extensions import db
from custody.models import (
    Bag,
    DiscrepancyKind,
    DiscrepancyResolution,
    Shipment,
    ShipmentDiscrepancy,
    ShipmentItem,
    ShipmentStatus,
    ShipmentTemperature,
)
from custody.services.bags.lookup import situation
from custody.services.bags.release_status import release_holds

# Each action on a shipment and the use case (the role rule) that starts it.
USE_CASES: Mapping[str, UseCase] = {
    "pack": UseCase.SCAN,
    "unpack": UseCase.SCAN,
    "dispatch": UseCase.DISPATCH_SHIPMENT,
    "import_temperatures": UseCase.IMPORT_TEMPERATURES,
    "receive": UseCase.SCAN,
    "record_discrepancy": UseCase.RECORD_DISCREPANCY,
    "complete_receipt": UseCase.RECEIVE_SHIPMENT,
}


@dataclass(frozen=True)
class Blocker:
    """One reason an action is refused now: its words, and the error a service raises."""

    message: str
    error: type[DomainError] = Conflict
    details: Mapping[str, Any] = field(default_factory=dict)

    def refusal(self) -> DomainError:
        return self.error(self.message, **self.details)


def refuse_if_blocked(found: list[Blocker]) -> None:
    """Raise the first blocker's error; nothing is written then."""
    if found:
        raise found[0].refusal()


def blockers(shipment: Shipment, action: str) -> list[Blocker]:
    """Everything that blocks `action` on `shipment` now (empty: the server accepts it)."""
    return _BY_ACTION[action](shipment)


# --- in the lab: packing and dispatch --------------------------------------------------------


def packing_blockers(shipment: Shipment) -> list[Blocker]:
    """Bags go into or out of a shipment only while it is being packed."""
    if shipment.status is ShipmentStatus.PACKING:
        return []
    return [
        Blocker(
            f"Shipment {shipment.code} has left the lab ({status_words(shipment)}): nothing can "
            "be packed into it or taken out of it now.",
            details={"shipment": shipment.code, "status": shipment.status.value},
        )
    ]


def dispatch_blockers(shipment: Shipment, bags: list[Bag] | None = None) -> list[Blocker]:
    """Dispatch needs a shipment being packed, at least one bag, and every bag fit to travel.

    `bags` are the packed bags the caller locked; without them they are read here."""
    if shipment.status is not ShipmentStatus.PACKING:
        return [
            Blocker(
                f"Shipment {shipment.code} was already handed to {shipment.handed_over_to} at "
                f"{when(shipment.handed_over_at)}; it is {status_words(shipment)}.",
                details={"shipment": shipment.code, "status": shipment.status.value},
            )
        ]
    bags = packed_bags(shipment) if bags is None else bags
    if not bags:
        return [
            Blocker(
                f"Shipment {shipment.code} is empty: pack at least one bag (scan 'pack') before "
                "handing it to the courier.",
                details={"shipment": shipment.code},
            )
        ]
    releases: dict[int, tuple[bool, str]] = {}  # asked once per lot, not once per bag
    refused = {bag.code: why for bag in bags if (why := unfit(bag, releases))}
    if not refused:
        return []
    listed = "; ".join(f"{code}: {why}" for code, why in refused.items())
    return [
        Blocker(
            f"Shipment {shipment.code} cannot be handed to the courier. {listed}. Unpack these "
            "bags (scan 'unpack' with a reason), then dispatch again. Nothing was handed over.",
            IllegalTransition,
            {"shipment": shipment.code, "action": "handoff", "refused_bags": refused},
        )
    ]


def unfit(bag: Bag, releases: dict[int, tuple[bool, str]]) -> str | None:
    """Why `bag` may not leave with the courier now, or None."""
    here = situation(bag)
    try:
        bag_lifecycle.plan("handoff", here)
    except IllegalTransition as refused:
        return refused.message
    if here.lot_disposition not in bag_lifecycle.RELEASED_DISPOSITIONS:
        words = {"quarantine": "is back in quarantine", "rejected": "was rejected by QA"}
        return f"its lot {bag.lot.lot_number} {words.get(here.lot_disposition, 'is not released')}"
    if here.expired:
        return f"the product expired at {when(bag.expires_at)}"
    if bag.lot_id not in releases:
        releases[bag.lot_id] = release_holds(bag.lot)
    holds, why = releases[bag.lot_id]
    if not holds:
        return f"QA's release of its lot {bag.lot.lot_number} no longer holds ({why.rstrip('.')})"
    return None


def packed_bags(shipment: Shipment) -> list[Bag]:
    query = (
        select(Bag)
        .join(ShipmentItem, ShipmentItem.bag_id == Bag.id)
        .where(ShipmentItem.shipment_id == shipment.id)
        .order_by(Bag.id)
    )
    return list(db.session.scalars(query))


def offered_bag_actions(bag: Bag, actions: list[str]) -> list[str]:
    """`actions` less those the bag's shipment refuses now: a bag in a shipment still being
    packed is not received, one that left the lab is not unpacked."""
    if not {"receive", "unpack"} & set(actions):
        return actions
    shipment = db.session.scalar(
        select(Shipment)
        .join(ShipmentItem, ShipmentItem.shipment_id == Shipment.id)
        .where(ShipmentItem.bag_id == bag.id)
        .order_by(ShipmentItem.packed_at.desc(), ShipmentItem.id.desc())
        .limit(1)
    )
    if shipment is None:
        return actions
    refused = {a for a in ("receive", "unpack") if blockers(shipment, a)}
    return [a for a in actions if a not in refused]


# --- the trip's logger file -----------------------------------------------------------------


def import_blockers(shipment: Shipment) -> list[Blocker]:
    """One logger file per shipment, after dispatch: the first record of the trip stands."""
    if shipment.status is ShipmentStatus.PACKING:
        return [
            Blocker(
                f"Shipment {shipment.code} has not left the lab yet: import the logger's data "
                "once the trip is over (after dispatch).",
                details={"shipment": shipment.code},
            )
        ]
    if reading_count(shipment):
        return [
            Blocker(
                f"Logger data for {shipment.code} was already imported; the first import stands "
                "and cannot be replaced. Ask QA if it was the wrong file.",
                details={"shipment": shipment.code},
            )
        ]
    return []


def reading_count(shipment: Shipment) -> int:
    query = select(func.count()).where(ShipmentTemperature.shipment_id == shipment.id)
    return db.session.scalar(query) or 0


# --- at the site: receipt -------------------------------------------------------------------


def arrival_blockers(shipment: Shipment, what: str = "bags are received") -> list[Blocker]:
    """The site acts on a shipment's receipt only while it is in transit; `what` names the act."""
    if shipment.status is ShipmentStatus.IN_TRANSIT:
        return []
    return [
        Blocker(
            f"Shipment {shipment.code} is {status_words(shipment)}: {what} only while it is in "
            "transit (after dispatch, before its receipt is completed).",
            details={"shipment": shipment.code, "status": shipment.status.value},
        )
    ]


def receive_blockers(shipment: Shipment) -> list[Blocker]:
    """A bag is scanned in from a shipment the courier has taken and the site has not closed."""
    if shipment.status is ShipmentStatus.IN_TRANSIT:
        return []
    if shipment.status is ShipmentStatus.PACKING:
        words = (
            f"Shipment {shipment.code} is still being packed: it has not left the lab, so no "
            "bag can be received from it. Scan the shipment the bags arrived in."
        )
    else:
        words = (
            f"Shipment {shipment.code} was already received: no bag can be received from it again."
        )
    return [Blocker(words, details={"shipment": shipment.code, "status": shipment.status.value})]


def receipt_blockers(shipment: Shipment) -> list[Blocker]:
    """Receipt closes when every manifest bag was scanned in or recorded missing."""
    found = arrival_blockers(shipment, "receipt is completed")
    if found:
        return found
    open_bags = unaccounted_bags(shipment)
    if not open_bags:
        return []
    many = len(open_bags) > 1
    return [
        Blocker(
            f"Receipt of {shipment.code} cannot be completed: {len(open_bags)} "
            f"bag{'s are' if many else ' is'} neither scanned in nor recorded missing: "
            f"{', '.join(open_bags)}. Scan each one in ('receive'), or record a 'missing' "
            "discrepancy with a note.",
            details={"shipment": shipment.code, "unaccounted_bags": open_bags},
        )
    ]


def unaccounted_bags(shipment: Shipment) -> list[str]:
    """Codes of manifest bags neither received nor recorded missing."""
    missing = select(ShipmentDiscrepancy.bag_id).where(
        ShipmentDiscrepancy.shipment_id == shipment.id,
        ShipmentDiscrepancy.kind == DiscrepancyKind.MISSING,
        ShipmentDiscrepancy.bag_id.is_not(None),
    )
    query = (
        select(Bag.code)
        .join(ShipmentItem, ShipmentItem.bag_id == Bag.id)
        .where(
            ShipmentItem.shipment_id == shipment.id,
            ShipmentItem.received_at.is_(None),
            Bag.id.not_in(missing),
        )
        .order_by(Bag.code)
    )
    return list(db.session.scalars(query))


# --- after the fact: a discrepancy's resolution ---------------------------------------------


def resolution_blockers(discrepancy: ShipmentDiscrepancy) -> list[Blocker]:
    """A discrepancy is resolved once: the first resolution stands."""
    done = db.session.scalar(
        select(DiscrepancyResolution).where(DiscrepancyResolution.discrepancy_id == discrepancy.id)
    )
    if done is None:
        return []
    return [
        Blocker(
            f"This discrepancy was already resolved ({done.outcome.value.replace('_', ' ')}) "
            f"at {when(done.resolved_at)}; a resolution is recorded once and is not replaced.",
            details={"outcome": done.outcome.value},
        )
    ]


def status_words(shipment: Shipment) -> str:
    return shipment.status.value.replace("_", " ")


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "an unrecorded time"


_BY_ACTION = {
    "pack": packing_blockers,
    "unpack": packing_blockers,
    "dispatch": dispatch_blockers,
    "import_temperatures": import_blockers,
    "receive": receive_blockers,
    "record_discrepancy": lambda s: arrival_blockers(s, "discrepancies are recorded"),
    "complete_receipt": receipt_blockers,
}
