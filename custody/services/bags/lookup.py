"""Finding what a scan or a code names in the database (a bag, a lot, a storage position, a
shipment; locked when about to be written), and describing a bag's situation and whereabouts.

Read-only helpers shared by the services that change bags and by the pages that show them.
"""

from __future__ import annotations

from sqlalchemy import select

from custody.domain import isbt128
from custody.domain.bag_lifecycle import BagSituation
from custody.domain.errors import InvalidBarcode, NotFound
from custody.domain.scan_targets import ScanTarget, read_scan
from custody.extensions import db
from custody.models import Bag, CustodyEvent, Lot, Shipment, StorageLocation
from custody.models.base import utcnow
from custody.services.bags.recall_status import active_recall_codes


def bag_from_scan(raw: str, *, lock: bool = False) -> tuple[Bag, ScanTarget]:
    """The bag a scan names; with `lock`, its row is locked until the transaction ends."""
    target = read_scan(raw)
    if target.kind == "din":
        bags = db.session.scalars(select(Bag).where(Bag.din == target.din).limit(2)).all()
        if not bags:
            raise NotFound(
                f"No bag with DIN {isbt128.eye_readable_din(target.din)} is known here. Check "
                "that the label belongs to this lab; do not use an unknown bag.",
                din=target.din,
            )
        if len(bags) > 1:
            raise InvalidBarcode(
                f"DIN {isbt128.eye_readable_din(target.din)} alone does not say which bag: "
                "several bags share it. Scan the product code barcode too, the bag's 2-D code, "
                "or type the DIN, its check character and the product code.",
                din=target.din,
                rule="a bag is identified by DIN and product code",
            )
        target = ScanTarget(kind="bag", raw=raw, din=target.din, product_code=bags[0].product_code)
    if target.kind != "bag":
        raise InvalidBarcode(
            f"That barcode is a {target.kind} ({target.code}), not a bag. Scan the bag's label.",
            scanned=target.kind,
        )
    return bag_by_code(target.bag_code, lock=lock), target


def bag_by_code(code: str, *, lock: bool = False, load: tuple = ()) -> Bag:
    """The bag named `code` (NotFound, saying what to do, if none); `load`: loader options
    for what the caller reads next, so it comes in the same query."""
    query = select(Bag).where(Bag.code == code).options(*load)
    if lock:
        # Row lock on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers. Either
        # way the second of two racing scans reads the state the first one left.
        query = query.with_for_update().execution_options(populate_existing=True)
    bag = db.session.scalar(query)
    if bag is None:
        din, _, product = code.partition("-")
        raise NotFound(
            f"No bag with DIN {isbt128.eye_readable_din(din)} and product code {product} is "
            "known here. "
            "Check that the label belongs to this lab; do not use an unknown bag.",
            bag=code,
        )
    return bag


def locked_lot(lot_number: str) -> Lot:
    """The lot, row-locked: every write to a lot or its bags takes this lock first."""
    lot = db.session.scalar(
        select(Lot)
        .where(Lot.lot_number == lot_number)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if lot is None:
        raise NotFound(f"No lot {lot_number} is known here.", lot=lot_number)
    return lot


def location_from_scan(raw: str) -> StorageLocation:
    target = read_scan(raw)
    if target.kind != "location":
        raise InvalidBarcode(
            f"A storage location was expected, but that barcode is a {target.kind}. "
            "Scan the position's label (it starts with LOC-).",
            scanned=target.kind,
        )
    location = db.session.scalar(select(StorageLocation).where(StorageLocation.code == target.code))
    if location is None:
        raise NotFound(f"No storage location {target.code} is known here.", location=target.code)
    return location


def shipment_from_scan(raw: str, *, lock: bool = False) -> Shipment:
    target = read_scan(raw)
    if target.kind != "shipment":
        raise InvalidBarcode(
            f"A shipment was expected, but that barcode is a {target.kind}. "
            "Scan the shipper's label (it starts with SHP-).",
            scanned=target.kind,
        )
    return shipment_by_code(target.code, lock=lock)


def shipment_by_code(code: str, *, lock: bool = False) -> Shipment:
    query = select(Shipment).where(Shipment.code == code)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    shipment = db.session.scalar(query)
    if shipment is None:
        raise NotFound(f"No shipment {code} is known here.", shipment=code)
    return shipment


def situation(bag: Bag) -> BagSituation:
    """What the life-cycle rules need to know about `bag` now."""
    return BagSituation(
        status=bag.status.value,
        lot_disposition=bag.lot.disposition.value,
        expired=bag.expires_at is not None and bag.expires_at <= utcnow(),
        in_storage=bag.storage_position_id is not None,
        recall=active_recall_codes(bag.lot_id),
    )


def location_path(location: StorageLocation | None) -> str:
    """ "Cell therapy lab › LN2 freezer 1 › Rack 1 › Box 2 › Position 7"."""
    names = []
    while location is not None:
        names.append(location.name)
        location = location.parent
    return " › ".join(reversed(names))


def last_event(bag: Bag) -> CustodyEvent | None:
    return db.session.scalar(
        select(CustodyEvent)
        .where(CustodyEvent.bag_id == bag.id)
        .order_by(CustodyEvent.occurred_at.desc(), CustodyEvent.id.desc())
        .limit(1)
    )


def whereabouts(bag: Bag, event: CustodyEvent | None) -> str:
    """Where the bag is, in words: its storage position, its shipment, or where it was last
    seen (`event`: its last custody event, None if it has none)."""
    if bag.storage_position is not None:
        return location_path(bag.storage_position)
    if event is None:
        return "Not yet scanned"
    if event.shipment is not None and bag.status.value in ("shipped", "received"):
        shipment = event.shipment
        if bag.status.value == "shipped":
            return f"In shipment {shipment.code} to {shipment.destination_site}"
        return f"Received at {shipment.destination_site}"
    if event.location is not None:
        return f"Out of storage (last at {location_path(event.location)})"
    return f"Last scanned by {event.actor.full_name}: {event.action}"
