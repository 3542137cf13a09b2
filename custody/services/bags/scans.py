"""Scan-driven custody actions: a bag scanned into storage, a shipment, a thaw, a discard ...

`scan()` is the one entry point. In one transaction it locks the bag, asks the life-cycle table
whether the action is allowed, applies it (position, shipment, state), appends the custody event
and, through the audit listener, the audit entries; then commits. Two people scanning the same
bag at once: the second waits for the first and then sees the state the first left, so exactly
one wins, and the loser is told what happened (by whom, when) instead of a bare refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from custody.domain import bag_lifecycle
from custody.domain.errors import Conflict, IllegalTransition, ValidationFailed
from custody.extensions import db
from custody.models import (
    Bag,
    BagStatus,
    CustodyEvent,
    LocationKind,
    ShipmentItem,
    StorageLocation,
    User,
)
from custody.models.base import utcnow
from custody.services.bags import thawing
from custody.services.bags.lookup import (
    bag_from_scan,
    last_event,
    location_from_scan,
    location_path,
    shipment_from_scan,
    situation,
)
from custody.services.bags.release_status import release_holds
from custody.services.bags.shipment_actions import (
    packing_blockers,
    receive_blockers,
    refuse_if_blocked,
)
from custody.services.core.transactions import write

# Actions with their own use case elsewhere (allocation, bedside verification, infusion).
NOT_BY_SCAN = {
    "allocate": "Allocate a bag to a recipient from the recipient's allocation page.",
    "deallocate": "De-allocate a bag from the recipient's allocation page, with a reason.",
    "verify": "Bags are verified at the bedside by two people (bedside verification).",
    "infuse": "An infusion is recorded after bedside verification.",
    "handoff": "A courier handoff is recorded for the whole shipment when it is dispatched.",
}
SCAN_ACTIONS = tuple(a for a in bag_lifecycle.ACTIONS if a not in NOT_BY_SCAN)
NEEDS_REASON = frozenset({"reject", "discard", "return", "unpack"})


@dataclass(frozen=True)
class ScanRequest:
    """Everything a scan may carry besides the bag; each action uses what it needs."""

    action: str
    bag: str
    location: str | None = None
    shipment: str | None = None
    temperature_c: float | None = None
    condition: str | None = None
    from_party: str | None = None
    to_party: str | None = None
    reason: str = ""
    station: str | None = None
    # The bag version the scanning screen showed; if the bag changed since, the scan is refused.
    expected_version: int | None = None
    occurred_at: datetime | None = None


def scan(user: User, request: ScanRequest) -> CustodyEvent:
    """Perform one scan-driven action on a bag and return its custody event (committed)."""
    if request.action in NOT_BY_SCAN:
        raise ValidationFailed(
            f"'{request.action}' is not done by a scan. {NOT_BY_SCAN[request.action]}",
            action=request.action,
        )
    if request.action in NEEDS_REASON and not request.reason.strip():
        raise ValidationFailed(
            f"Give the reason for '{request.action}': it goes into the custody record.",
            field="reason",
        )
    # The locks make a lost race rare; if a constraint or version check catches one instead:
    race = (
        "Someone else's scan changed this bag or position at the same moment and was saved "
        "first. Nothing of yours was saved: scan again to see where things are now."
    )
    with write(user, request.reason or f"scan: {request.action}", race, bag=request.bag[:60]):
        event = _apply(user, request)
    return event


def _apply(user: User, request: ScanRequest) -> CustodyEvent:
    bag, target = bag_from_scan(request.bag, lock=True)
    _check_version(bag, request.expected_version)
    before = bag.status.value
    try:
        after = bag_lifecycle.plan(request.action, situation(bag))
    except IllegalTransition as refused:
        raise _with_last_event(refused, bag) from None
    check_release_holds(bag, request.action)
    event = CustodyEvent(
        bag=bag,
        action=request.action,
        from_status=before,
        occurred_at=request.occurred_at or utcnow(),
        actor_id=user.id,
        raw_scan=target.raw,
        condition=request.condition,
        temperature_c=request.temperature_c,
        from_party=request.from_party,
        to_party=request.to_party,
        station=request.station,
        notes=request.reason,
    )
    after = _HANDLERS.get(request.action, _no_side_effects)(bag, event, request, user) or after
    bag.status = BagStatus(after)
    event.to_status = after
    db.session.add(event)
    db.session.flush()
    return event


def check_release_holds(bag: Bag, action: str) -> None:
    """A step towards a patient (release, pack, hand-off, thaw) needs QA's release signature
    to hold, not only the lot to read released: a lot whose record changed after it was
    signed, even by an edit that bypassed the tracker, moves no bag until QA signs again."""
    if action not in bag_lifecycle.TOWARDS_PATIENT:
        return
    holds, why = release_holds(bag.lot)
    if not holds:
        raise IllegalTransition(
            f"'{action}' of bag {bag.code} is refused: QA's release of lot "
            f"{bag.lot.lot_number} no longer holds ({why.rstrip('.')}). Nothing was done; QA "
            "must review the lot and sign it again.",
            bag=bag.code,
            lot=bag.lot.lot_number,
            action=action,
            reason=why,
        )


def _check_version(bag: Bag, expected: int | None) -> None:
    if expected is not None and expected != bag.version:
        event = last_event(bag)
        raise Conflict(
            f"This bag changed after you scanned it: {_event_words(event)} It is now "
            f"{bag.status.value}. Scan it again to see what can be done.",
            bag=bag.code,
            current_state=bag.status.value,
        )


def _with_last_event(refused: IllegalTransition, bag: Bag) -> IllegalTransition:
    """Add what last happened to the bag, so a racing scanner learns who got there first."""
    event = last_event(bag)
    if event is None:
        return refused
    return IllegalTransition(
        f"{refused.message} Last scan: {_event_words(event)}",
        **refused.details,
        bag=bag.code,
        last_action=event.action,
        last_actor=event.actor.full_name,
        last_at=event.occurred_at.isoformat(),
    )


def _event_words(event: CustodyEvent | None) -> str:
    if event is None:
        return "no custody event recorded."
    when = event.occurred_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"{event.action} by {event.actor.full_name} at {when}."


def _no_side_effects(bag, event, request, user) -> None:
    return None


def _store(bag: Bag, event: CustodyEvent, request: ScanRequest, user: User) -> None:
    position = _empty_position(request)
    if bag.removed_from_storage_at is not None:
        out = (event.occurred_at - bag.removed_from_storage_at).total_seconds()
        event.out_of_storage_s = max(out, 0.0)
    bag.removed_from_storage_at = None
    bag.storage_position = position
    event.location = position


def _move(bag: Bag, event: CustodyEvent, request: ScanRequest, user: User) -> None:
    position = _empty_position(request)
    event.notes = event.notes or f"from {location_path(bag.storage_position)}"
    bag.storage_position = None
    db.session.flush()  # free the old position before taking the new one (unique position)
    bag.storage_position = position
    event.location = position


def _retrieve(bag: Bag, event: CustodyEvent, request: ScanRequest, user: User) -> None:
    _take_out_of_storage(bag, event)


def _take_out_of_storage(bag: Bag, event: CustodyEvent) -> None:
    if bag.storage_position is None:
        return
    event.location = bag.storage_position
    bag.storage_position = None
    bag.removed_from_storage_at = event.occurred_at


def _empty_position(request: ScanRequest):
    if not request.location:
        raise ValidationFailed(
            "Scan the storage position the bag goes into (its label starts with LOC-).",
            field="location",
        )
    position = location_from_scan(request.location)
    if position.kind is not LocationKind.POSITION:
        raise ValidationFailed(
            f"{position.code} is a {position.kind.value}, not a position: a bag goes into one "
            "position of a box. Scan the position's label.",
            location=position.code,
        )
    # Lock the position: of two bags racing for it, the second waits here, then sees the first.
    # Locks are always taken bag first, then position, so this cannot deadlock with a scan.
    db.session.execute(
        select(StorageLocation.id).where(StorageLocation.id == position.id).with_for_update()
    )
    holder = db.session.scalar(select(Bag).where(Bag.storage_position_id == position.id))
    if holder is not None:
        raise Conflict(
            f"Position {position.code} already holds bag {holder.code}. Choose an empty "
            "position, or retrieve that bag first.",
            location=position.code,
            occupied_by=holder.code,
        )
    return position


def _pack(bag: Bag, event: CustodyEvent, request: ScanRequest, user: User) -> None:
    shipment = _open_shipment(request)
    _take_out_of_storage(bag, event)
    event.shipment = shipment
    event.to_party = event.to_party or shipment.destination_site
    db.session.add(
        ShipmentItem(
            shipment=shipment,
            bag=bag,
            packed_at=event.occurred_at,
            packed_by_id=user.id,
            status_before=bag.status.value,
        )
    )


def _unpack(bag: Bag, event: CustodyEvent, request: ScanRequest, user: User) -> str:
    shipment = _open_shipment(request)
    item = _item(shipment, bag)
    event.shipment = shipment
    db.session.delete(item)
    bag.removed_from_storage_at = bag.removed_from_storage_at or event.occurred_at
    return item.status_before


def _receive(bag: Bag, event: CustodyEvent, request: ScanRequest, user: User) -> None:
    if not request.shipment:
        raise ValidationFailed("Scan the shipment the bag arrived in.", field="shipment")
    shipment = shipment_from_scan(request.shipment, lock=True)
    refuse_if_blocked(receive_blockers(shipment))
    item = _item(shipment, bag)
    item.received_at = event.occurred_at
    item.received_by_id = user.id
    event.shipment = shipment
    event.from_party = event.from_party or shipment.courier or None
    event.to_party = event.to_party or shipment.destination_site


def _open_shipment(request: ScanRequest):
    if not request.shipment:
        raise ValidationFailed("Scan the shipment (its label starts with SHP-).", field="shipment")
    shipment = shipment_from_scan(request.shipment, lock=True)
    refuse_if_blocked(packing_blockers(shipment))
    return shipment


def _item(shipment, bag: Bag) -> ShipmentItem:
    item = db.session.scalar(
        select(ShipmentItem).where(
            ShipmentItem.shipment_id == shipment.id, ShipmentItem.bag_id == bag.id
        )
    )
    if item is None:
        raise Conflict(
            f"Bag {bag.code} is not on the manifest of shipment {shipment.code}. Set it apart "
            "and record an unexpected-bag discrepancy for this shipment.",
            shipment=shipment.code,
            bag=bag.code,
            reason="not_on_manifest",
        )
    return item


_HANDLERS = {
    "store": _store,
    "move": _move,
    "retrieve": _retrieve,
    "pack": _pack,
    "unpack": _unpack,
    "receive": _receive,
    "discard": lambda bag, event, request, user: _take_out_of_storage(bag, event),
    "thaw_start": thawing.start_thaw,
    "thaw": thawing.end_thaw,
}
