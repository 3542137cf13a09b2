"""Shipments to clinical sites: create, dispatch to a courier, logger data, receipt at the site.

Packing and unpacking single bags, and scanning each bag in at the site, are scans
(`scans`). This module holds the writes that concern the whole shipment; what the pages
and the API show of a shipment is read in `shipment_queries`. Each write is one transaction
under `acting_as`, and a refused request changes nothing.

Lock order is bags first, then the shipment, as a scan does: a dispatch and a scan of one of
its bags then queue behind each other instead of deadlocking.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from custody.domain import bag_lifecycle, excursions
from custody.domain.errors import (
    Conflict,
    InvalidBarcode,
    NotFound,
    ValidationFailed,
    WrongCheckCharacter,
)
from custody.extensions import db
from custody.models import (
    Bag,
    CustodyEvent,
    DiscrepancyKind,
    Shipment,
    ShipmentDiscrepancy,
    ShipmentItem,
    ShipmentStatus,
    ShipmentTemperature,
    User,
)
from custody.models.base import utcnow
from custody.services.bags.handoff_signature import sign_handoff
from custody.services.bags.lookup import bag_from_scan, shipment_by_code, situation
from custody.services.bags.shipment_actions import (
    arrival_blockers,
    dispatch_blockers,
    import_blockers,
    receipt_blockers,
    refuse_if_blocked,
    when,
)
from custody.services.core.signatures import reauthenticate
from custody.services.core.transactions import write

DEFAULT_STORAGE_LIMIT_C = -150.0
CODE_PREFIX = "SHP-"
# Attempts at a fresh shipment number when another request took the same one at once.
CODE_ATTEMPTS = 5


# --- create ---------------------------------------------------------------------------------


def create_shipment(
    user: User,
    destination_site: str,
    courier: str = "",
    shipper_id: str = "",
    storage_limit_c: float = DEFAULT_STORAGE_LIMIT_C,
    logger_id: str = "",
) -> Shipment:
    """A new, empty shipment in status packing, numbered SHP-<year>-<nnnn>.

    Two requests may pick the same next number; the unique code lets only one store it, and
    the other simply takes the following number.
    """
    if not destination_site.strip():
        raise ValidationFailed("Name the clinical site the shipment goes to.", field="destination")
    for _attempt in range(CODE_ATTEMPTS):
        try:
            with write(user, "shipment created"):
                shipment = Shipment(
                    code=_next_code(utcnow().year),
                    destination_site=destination_site.strip(),
                    courier=courier.strip(),
                    shipper_id=shipper_id.strip(),
                    logger_id=logger_id.strip(),
                    storage_limit_c=storage_limit_c,
                    created_by_id=user.id,
                )
                db.session.add(shipment)
            return shipment
        except IntegrityError:
            continue  # another request took this number: take the next one
    raise Conflict("Many shipments were created at the same moment; please try again.")


def _next_code(year: int) -> str:
    prefix = f"{CODE_PREFIX}{year}-"
    last = db.session.scalar(
        select(Shipment.code)
        .where(Shipment.code.like(f"{prefix}%"))
        .order_by(func.length(Shipment.code).desc(), Shipment.code.desc())
        .limit(1)
    )
    tail = last.removeprefix(prefix) if last else "0"
    number = int(tail) + 1 if tail.isdigit() else 1
    return f"{prefix}{number:04d}"


# --- dispatch -------------------------------------------------------------------------------


def dispatch(
    user: User,
    code: str,
    courier_person: str,
    courier: str | None = None,
    lab_name: str = "",
    condition: str | None = None,
    temperature_c: float | None = None,
    username: str | None = None,
    password: str | None = None,
) -> Shipment:
    """Hand the shipper to the courier: one 'handoff' custody event per bag, then in transit.

    Every bag must still be fit to travel (its lot released, in date): a lot rejected or put
    back in quarantine since packing stops the whole dispatch, naming the bags to unpack.
    With the handing person's user ID and password the handoff is also their electronic
    signature (the pages always sign; an API client without credentials records no signature).
    """
    person = courier_person.strip()
    if not person:
        raise ValidationFailed(
            "Name the courier's person who takes the shipper.", field="courier_person"
        )
    signing = username is not None or password is not None
    if signing:
        # Before the transaction: a wrong password is committed (counted) on its own.
        reauthenticate(user, username or "", password or "")
    with write(user, "shipment dispatched to courier"):
        shipment = _dispatch(user, code, person, courier, lab_name, condition, temperature_c)
        if signing:
            sign_handoff(user, shipment)
    return shipment


def _dispatch(user, code, person, courier, lab_name, condition, temperature_c) -> Shipment:
    bags = _lock_bags(shipment_by_code(code))
    shipment = shipment_by_code(code, lock=True)
    if shipment.status is ShipmentStatus.PACKING and {b.id for b in bags} != set(
        _item_bag_ids(shipment)
    ):
        raise Conflict(
            f"Bags were packed into or taken out of {shipment.code} while it was being "
            "dispatched. Check the manifest, then dispatch again.",
            shipment=shipment.code,
        )
    refuse_if_blocked(dispatch_blockers(shipment, bags))
    courier_name = (courier or "").strip() or shipment.courier
    if not courier_name:
        raise ValidationFailed("Name the courier company taking the shipper.", field="courier")
    now = utcnow()
    from_party = f"{lab_name}: {user.full_name}" if lab_name else user.full_name
    to_party = f"{courier_name} ({person})"
    for bag in bags:
        db.session.add(
            CustodyEvent(
                bag=bag,
                action="handoff",
                from_status=bag.status.value,
                to_status=bag_lifecycle.plan("handoff", situation(bag)),
                occurred_at=now,
                actor_id=user.id,
                shipment=shipment,
                from_party=from_party[:200],
                to_party=to_party[:200],
                condition=condition,
                temperature_c=temperature_c,
            )
        )
    shipment.courier = courier_name
    shipment.status = ShipmentStatus.IN_TRANSIT
    shipment.handed_over_at = now
    shipment.handed_over_to = to_party[:200]
    db.session.flush()
    return shipment


def _lock_bags(shipment: Shipment) -> list[Bag]:
    ids = _item_bag_ids(shipment)
    if not ids:
        return []
    query = select(Bag).where(Bag.id.in_(ids)).order_by(Bag.id).with_for_update()
    return list(db.session.scalars(query.execution_options(populate_existing=True)))


def _item_bag_ids(shipment: Shipment) -> list[int]:
    query = select(ShipmentItem.bag_id).where(ShipmentItem.shipment_id == shipment.id)
    return list(db.session.scalars(query.execution_options(populate_existing=True)))


# --- temperature logger ---------------------------------------------------------------------


def import_temperatures(user: User, code: str, csv_text: str) -> int:
    """Store the logger's readings for a dispatched shipment; returns how many.

    One import per shipment: the readings are the record of the trip, and replacing them
    would obscure what was first recorded. A wrong import is corrected through QA, not here.
    """
    with write(user, "temperature logger data imported"):
        shipment = shipment_by_code(code, lock=True)
        refuse_if_blocked(import_blockers(shipment))
        readings = excursions.parse_logger_csv(csv_text)
        db.session.add_all(
            ShipmentTemperature(
                shipment_id=shipment.id, recorded_at=r.recorded_at, temperature_c=r.temperature_c
            )
            for r in readings
        )
    return len(readings)


# --- receipt at the site --------------------------------------------------------------------


def record_discrepancy(
    user: User, code: str, kind: str, note: str, bag: str | None = None
) -> ShipmentDiscrepancy:
    """Record a manifest bag that did not arrive (missing) or a bag that should not be here
    (unexpected). `bag` is the bag's scan or code; for an unexpected item that is not a known
    bag, it is whatever the scanner read, kept as it was."""
    if not note.strip():
        raise ValidationFailed("Write a note: what was found, and what was done.", field="note")
    if not (bag or "").strip():
        raise ValidationFailed("Scan the bag (or type its code).", field="bag")
    if kind not in set(DiscrepancyKind):
        raise ValidationFailed("A discrepancy is 'missing' or 'unexpected'.", field="kind")
    kind = DiscrepancyKind(kind)
    with write(user, f"shipment discrepancy: {kind.value}"):
        shipment = _arriving(code, "discrepancies are recorded")
        found = (_missing if kind is DiscrepancyKind.MISSING else _unexpected)(shipment, bag)
        record = ShipmentDiscrepancy(
            shipment=shipment,
            kind=kind,
            bag=found,
            raw_scan=bag,
            note=note.strip(),
            recorded_at=utcnow(),
            recorded_by_id=user.id,
        )
        db.session.add(record)
    return record


def _arriving(code: str, what: str) -> Shipment:
    """The shipment, locked, if the site may still act on its receipt."""
    shipment = shipment_by_code(code, lock=True)
    refuse_if_blocked(arrival_blockers(shipment, what))
    return shipment


def _missing(shipment: Shipment, raw: str) -> Bag:
    bag, _ = bag_from_scan(raw)
    item = _item(shipment, bag)
    if item is None:
        raise Conflict(
            f"Bag {bag.code} is not on the manifest of {shipment.code}, so it cannot be "
            "missing from it. If it is here, record it as unexpected.",
            shipment=shipment.code,
            bag=bag.code,
        )
    if item.received_at is not None:
        raise Conflict(
            f"Bag {bag.code} was scanned in at {when(item.received_at)}: it is not missing.",
            shipment=shipment.code,
            bag=bag.code,
        )
    _refuse_repeat(shipment, bag, DiscrepancyKind.MISSING)
    return bag


def _unexpected(shipment: Shipment, raw: str) -> Bag | None:
    """The known bag the scan names, or None when it names no bag this system knows."""
    try:
        bag, _ = bag_from_scan(raw)
    except WrongCheckCharacter:
        raise  # a mistyped DIN: the person can type it again
    except (InvalidBarcode, NotFound):
        return None
    if _item(shipment, bag) is not None:
        raise Conflict(
            f"Bag {bag.code} is on the manifest of {shipment.code}: scan it in with "
            "'receive' instead of recording it as unexpected.",
            shipment=shipment.code,
            bag=bag.code,
        )
    _refuse_repeat(shipment, bag, DiscrepancyKind.UNEXPECTED)
    return bag


def _refuse_repeat(shipment: Shipment, bag: Bag, kind: DiscrepancyKind) -> None:
    earlier = db.session.scalar(
        select(ShipmentDiscrepancy.id).where(
            ShipmentDiscrepancy.shipment_id == shipment.id,
            ShipmentDiscrepancy.bag_id == bag.id,
            ShipmentDiscrepancy.kind == kind,
        )
    )
    if earlier is not None:
        raise Conflict(
            f"Bag {bag.code} is already recorded as {kind.value} for {shipment.code}.",
            shipment=shipment.code,
            bag=bag.code,
        )


def _item(shipment: Shipment, bag: Bag) -> ShipmentItem | None:
    return db.session.scalar(
        select(ShipmentItem).where(
            ShipmentItem.shipment_id == shipment.id, ShipmentItem.bag_id == bag.id
        )
    )


def complete_receipt(user: User, code: str) -> Shipment:
    """Close the receipt: every manifest bag scanned in or recorded missing, nothing silent."""
    with write(user, "shipment receipt completed"):
        shipment = shipment_by_code(code, lock=True)
        refuse_if_blocked(receipt_blockers(shipment))
        shipment.status = ShipmentStatus.RECEIVED
        shipment.received_at = utcnow()
        shipment.received_by_id = user.id
    return shipment
