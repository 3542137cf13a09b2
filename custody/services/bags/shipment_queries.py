"""Read models of shipments for the API and pages.

Nothing here writes: these functions turn stored shipments, their manifest, discrepancies and
logger readings into the plain structures the shipment page and the API show.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from custody.config import settings
from custody.domain import excursions
from custody.extensions import db
from custody.models import (
    Bag,
    DiscrepancyKind,
    Shipment,
    ShipmentDiscrepancy,
    ShipmentItem,
    ShipmentTemperature,
    User,
)
from custody.services.bags.discrepancy_resolutions import discrepancy_number, resolution_line
from custody.services.bags.handoff_signature import handoff_signature
from custody.services.bags.lookup import shipment_by_code


def list_shipments(
    status: str | None = None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    """Shipments, newest first, each with how many bags it holds."""
    query = select(Shipment).order_by(Shipment.created_at.desc(), Shipment.id.desc())
    if status:
        query = query.where(Shipment.status == status)
    shipments = db.session.scalars(query.limit(limit).offset(offset)).all()
    counts = dict(
        db.session.execute(
            select(ShipmentItem.shipment_id, func.count())
            .where(ShipmentItem.shipment_id.in_([s.id for s in shipments]))
            .group_by(ShipmentItem.shipment_id)
        ).all()
    )
    return [{"shipment": s, "bag_count": counts.get(s.id, 0)} for s in shipments]


def known_destinations(limit: int = 50) -> list[str]:
    """The sites shipments went to, most used first: the create form's suggestions."""
    query = (
        select(Shipment.destination_site)
        .group_by(Shipment.destination_site)
        .order_by(func.count().desc(), Shipment.destination_site)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def shipment_detail(code: str, gap: timedelta | None = None) -> dict[str, Any]:
    """Everything the shipment's page and API show: manifest, handoff, discrepancies, logger."""
    shipment = shipment_by_code(code)
    items = db.session.scalars(
        select(ShipmentItem)
        .where(ShipmentItem.shipment_id == shipment.id)
        .options(joinedload(ShipmentItem.bag).joinedload(Bag.lot))
        .order_by(ShipmentItem.packed_at, ShipmentItem.id)
    ).all()
    found = db.session.scalars(
        select(ShipmentDiscrepancy)
        .where(ShipmentDiscrepancy.shipment_id == shipment.id)
        .options(joinedload(ShipmentDiscrepancy.bag), joinedload(ShipmentDiscrepancy.resolution))
        .order_by(ShipmentDiscrepancy.id)  # their numbers: 1 for the first recorded
    ).all()
    names = _names(
        {shipment.created_by_id, shipment.received_by_id}
        | {i.packed_by_id for i in items}
        | {i.received_by_id for i in items}
        | {d.recorded_by_id for d in found}
        | {d.resolution.resolved_by_id for d in found if d.resolution}
    )
    missing = {d.bag_id for d in found if d.kind is DiscrepancyKind.MISSING}
    return {
        "shipment": shipment,
        "bag_count": len(items),
        "created_by": names.get(shipment.created_by_id),
        "received_by": names.get(shipment.received_by_id),
        "manifest": [_manifest_line(i, names, i.bag_id in missing) for i in items],
        "discrepancies": [discrepancy_line(d, names, n) for n, d in enumerate(found, 1)],
        "unaccounted_bags": [
            i.bag.code for i in items if i.received_at is None and i.bag_id not in missing
        ],
        "temperatures": temperature_report(shipment, gap),
        "handoff_signature": handoff_signature(shipment),
    }


def _names(ids: set[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = db.session.execute(select(User.id, User.full_name).where(User.id.in_(wanted)))
    return dict(rows.all())


def _manifest_line(item: ShipmentItem, names: dict[int, str], missing: bool) -> dict[str, Any]:
    return {
        "bag": item.bag.code,
        "status": item.bag.status.value,
        "lot": item.bag.lot.lot_number,
        "lot_status": item.bag.lot.disposition.value,
        "packed_at": item.packed_at,
        "packed_by": names.get(item.packed_by_id),
        "received": item.received_at is not None,
        "received_at": item.received_at,
        "received_by": names.get(item.received_by_id),
        "missing": missing,
    }


def discrepancy_line(
    record: ShipmentDiscrepancy, names: dict[int, str] | None = None, number: int | None = None
) -> dict[str, Any]:
    """A discrepancy as the page and the API show it, with its resolution (None while open)."""
    names = names if names is not None else _names({record.recorded_by_id})
    return {
        "number": number or discrepancy_number(record),
        "kind": record.kind.value,
        "bag": record.bag.code if record.bag else None,
        "raw_scan": record.raw_scan,
        "note": record.note,
        "recorded_at": record.recorded_at,
        "recorded_by": names.get(record.recorded_by_id),
        "resolution": resolution_line(record.resolution, names),
    }


def temperature_report(shipment: Shipment, gap: timedelta | None = None) -> dict[str, Any]:
    """The logger's readings with the excursions above the shipment's limit and the gaps
    (stretches without readings longer than `gap`, the site's setting unless given)."""
    gap = gap or settings().logger_gap
    readings = readings_of(shipment)
    return {
        "storage_limit_c": shipment.storage_limit_c,
        "gap_limit_s": gap.total_seconds(),
        "readings": readings,
        "excursions": excursions.find_excursions(readings, shipment.storage_limit_c),
        "gaps": excursions.find_gaps(readings, gap),
    }


def readings_of(shipment: Shipment) -> list[excursions.Reading]:
    rows = db.session.execute(
        select(ShipmentTemperature.recorded_at, ShipmentTemperature.temperature_c)
        .where(ShipmentTemperature.shipment_id == shipment.id)
        .order_by(ShipmentTemperature.recorded_at)
    )
    return [excursions.Reading(at, c) for at, c in rows]
