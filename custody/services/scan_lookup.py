"""What the scan station shows for whatever was scanned: a bag, a location or a shipment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from custody.domain import eligibility
from custody.domain.isbt128 import check_character
from custody.domain.scan_targets import read_scan
from custody.extensions import db
from custody.models import Bag, Donation, ShipmentItem, StorageLocation
from custody.services.bag_lookup import (
    bag_from_scan,
    location_from_scan,
    location_path,
    shipment_from_scan,
)
from custody.services.bag_queries import bag_detail


def describe_scan(raw: str) -> dict[str, Any]:
    target = read_scan(raw)
    if target.kind == "location":
        return {"kind": "location", "location": describe_location(location_from_scan(raw))}
    if target.kind == "shipment":
        return {"kind": "shipment", "shipment": describe_shipment(shipment_from_scan(raw))}
    if target.kind == "din":
        donation = db.session.scalar(select(Donation).where(Donation.din == target.din))
        if donation is not None:
            return {"kind": "donation", "donation": describe_donation(donation)}
    bag, _ = bag_from_scan(raw)
    return {"kind": "bag", "bag": bag_detail(bag.code)}


def describe_donation(donation: Donation) -> dict[str, Any]:
    """A collection as the lab receives it: DIN with K, donor eligibility and receipt."""
    determination = donation.donor.eligibility.value
    return {
        "din": donation.din,
        "check_character": check_character(donation.din),
        "donor": donation.donor.donor_code,
        "donor_eligibility": determination,
        "warnings": eligibility.warnings_for(determination),
        "collected_at": donation.collected_at.isoformat(),
        "facility": donation.facility,
        "volume_ml": donation.volume_ml,
        "received_at": donation.received_at.isoformat() if donation.received_at else None,
    }


def describe_location(location: StorageLocation) -> dict[str, Any]:
    holder = db.session.scalar(select(Bag).where(Bag.storage_position_id == location.id))
    children = db.session.scalars(
        select(StorageLocation)
        .where(StorageLocation.parent_id == location.id)
        .order_by(StorageLocation.code)
    ).all()
    held = dict(
        db.session.execute(
            select(Bag.storage_position_id, Bag.code).where(
                Bag.storage_position_id.in_([c.id for c in children])
            )
        ).all()
    )
    return {
        "code": location.code,
        "name": location.name,
        "kind": location.kind.value,
        "path": location_path(location),
        "bag": holder.code if holder else None,
        "children": [
            {"code": c.code, "name": c.name, "kind": c.kind.value, "bag": held.get(c.id)}
            for c in children
        ],
    }


def describe_shipment(shipment) -> dict[str, Any]:
    packed = db.session.scalar(
        select(func.count())
        .select_from(ShipmentItem)
        .where(ShipmentItem.shipment_id == shipment.id)
    )
    return {
        "code": shipment.code,
        "status": shipment.status.value,
        "destination_site": shipment.destination_site,
        "courier": shipment.courier,
        "bags": packed,
    }
