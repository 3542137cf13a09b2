"""What the scan station shows for whatever was scanned: a bag, a location or a shipment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from custody.domain.scan_targets import read_scan
from custody.extensions import db
from custody.models import Bag, ShipmentItem, StorageLocation
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
    bag, _ = bag_from_scan(raw)
    return {"kind": "bag", "bag": bag_detail(bag.code)}


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
