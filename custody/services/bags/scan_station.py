"""What the scan station shows for whatever was scanned: a bag, a location or a shipment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from custody.domain import eligibility
from custody.domain.isbt128 import check_character
from custody.domain.scan_targets import read_scan
from custody.extensions import db
from custody.models import Donation, ShipmentItem
from custody.services.bags.lookup import (
    bag_from_scan,
    location_from_scan,
    shipment_from_scan,
)
from custody.services.bags.queries import bag_detail
from custody.services.bags.storage import location_detail


def describe_scan(raw: str) -> dict[str, Any]:
    target = read_scan(raw)
    if target.kind == "location":
        # One location's view, shared with the storage API: path, positions and their bags.
        return {"kind": "location", "location": location_detail(location_from_scan(raw).code)}
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
