"""Print jobs by what people name: a bag, its tie-tag, a collection, a shipment, a location,
a whole lot; and a lot's label reconciliation (printed, applied, voided, still missing)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import defer

from custody.domain.errors import LabelCannotPrint, NotFound
from custody.extensions import db
from custody.models import Allocation, Bag, LabelPrint, LabelStatus, Lot, StorageLocation, User
from custody.services.bags.lookup import bag_by_code, shipment_by_code
from custody.services.bags.storage import location_by_code, location_paths
from custody.services.collection.donations import din_from, donation_by_din
from custody.services.labelling import contents, prints
from custody.services.labelling.prints import current_label, current_labels


def bag_label(user: User, code: str) -> LabelPrint:
    return current_label(user, lambda: contents.bag_label(bag_by_code(code)))


def tie_tag(user: User, code: str) -> LabelPrint:
    return current_label(user, lambda: contents.tie_tag(active_allocation(bag_by_code(code))))


def collection_label(user: User, din: str) -> LabelPrint:
    return current_label(user, lambda: contents.collection_label(donation_by_din(din_from(din))))


def shipper_label(user: User, code: str) -> LabelPrint:
    return current_label(user, lambda: contents.shipper_label(shipment_by_code(code)))


def location_labels(user: User, code: str, with_children: bool) -> list[LabelPrint]:
    def to_print():
        location = location_by_code(code)
        locations = [location]
        if with_children:
            locations += db.session.scalars(
                select(StorageLocation)
                .where(StorageLocation.parent_id == location.id)
                .order_by(StorageLocation.code)
            ).all()
        paths = location_paths(locations)
        return [contents.location_label(loc, paths[loc.id]) for loc in locations]

    return current_labels(user, to_print)


def lot_labels(user: User, lot_number: str) -> list[LabelPrint]:
    """Every bag's current label, issuing those missing, for one print job."""

    def to_print():
        lot = lot_by_number(lot_number)
        bags = [b for b in lot.bags if b.status not in contents.NO_LABEL]
        if not bags:
            raise LabelCannotPrint(f"Lot {lot_number} has no bag that needs a label.")
        release = contents.LotRelease.of(lot)
        return [contents.bag_label(bag, release) for bag in bags]

    return current_labels(user, to_print)


def reprint(user: User, label_id: int, reason: str) -> LabelPrint:
    return prints.reprint(user, label_id, reason, content_now)


def content_now(label: LabelPrint) -> contents.LabelContent:
    """What the label's subject calls for now, read from the records."""
    key = label.subject_key
    if label.subject_type == "bag":
        return contents.bag_label(bag_by_code(key))
    if label.subject_type == "allocation":
        return contents.tie_tag(db.session.get(Allocation, int(key)))
    if label.subject_type == "donation":
        return contents.collection_label(donation_by_din(key))
    if label.subject_type == "shipment":
        return contents.shipper_label(shipment_by_code(key))
    location = location_by_code(key)
    return contents.location_label(location, location_paths([location])[location.id])


def active_allocation(bag: Bag) -> Allocation:
    allocation = db.session.scalar(
        select(Allocation).where(Allocation.bag_id == bag.id, Allocation.active.is_(True))
    )
    if allocation is None:
        raise LabelCannotPrint(
            f"Bag {bag.code} is not allocated to a recipient, so it has no tie-tag. Allocate "
            "it first.",
            bag=bag.code,
        )
    return allocation


def lot_by_number(lot_number: str) -> Lot:
    lot = db.session.scalar(select(Lot).where(Lot.lot_number == lot_number))
    if lot is None:
        raise NotFound(f"No lot {lot_number} is known here.", lot=lot_number)
    return lot


def _label_needed(lot: Lot) -> tuple[str | None, str]:
    """The bag label the lot's status calls for, or none and why (a broken release signature:
    the counts are still reported, but no label is due until QA reviews the lot)."""
    if not lot.bags:
        return None, "The lot has no bags."
    try:
        return contents.LotRelease.of(lot).purpose, ""
    except LabelCannotPrint as refused:
        return None, refused.message


def reconciliation(lot_number: str) -> dict:
    """Labels printed against applied and voided, per purpose, and bags still without one."""
    lot = lot_by_number(lot_number)
    # Counting needs no label's bytes: leave the PDF and ZPL columns in the database.
    labels = db.session.scalars(
        select(LabelPrint)
        .where(LabelPrint.lot_id == lot.id)
        .options(defer(LabelPrint.pdf), defer(LabelPrint.zpl), defer(LabelPrint.values))
        .order_by(LabelPrint.id)
    ).all()
    by_purpose: dict[str, Counter] = {}
    for label in labels:
        counts = by_purpose.setdefault(label.purpose, Counter())
        counts["printed"] += 1
        counts["reprints"] += label.action == "reprint"
        counts[label.status.value] += 1
    needed, note = _label_needed(lot)
    labelled = {
        label.subject_key
        for label in labels
        if label.purpose == needed and label.status is not LabelStatus.VOIDED
    }
    missing = [
        bag.code
        for bag in lot.bags
        if needed and bag.status not in contents.NO_LABEL and bag.code not in labelled
    ]
    return {
        "lot": lot.lot_number,
        "disposition": lot.disposition.value,
        "label_needed": needed,
        "purposes": {
            purpose: {
                "printed": c["printed"],
                "reprints": c["reprints"],
                "applied": c[LabelStatus.APPLIED.value],
                "voided": c[LabelStatus.VOIDED.value],
                "issued_not_applied": c[LabelStatus.ISSUED.value],
            }
            for purpose, c in sorted(by_purpose.items())
        },
        "bags": len(lot.bags),
        "note": note,
        "bags_without_current_label": missing,
    }
