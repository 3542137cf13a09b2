"""Read models of bags and lots for the API and the pages: what a bag is, where, and its story.

Lists are built with a few set-based queries (never one query per bag), so a page of bags costs
the same at 10^3 and at 10^6 custody events.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, literal, select, tuple_
from sqlalchemy.orm import joinedload, selectinload

from custody.domain import bag_lifecycle, eligibility, isbt128
from custody.domain.custody_timeline import HISTORY_PAGE
from custody.domain.errors import NotFound, ValidationFailed
from custody.domain.scan_targets import bag_scan_data
from custody.extensions import db
from custody.models import (
    Allocation,
    Bag,
    CustodyEvent,
    Donation,
    Donor,
    Lot,
    Recipient,
    lot_donations,
)
from custody.services.bags.lookup import bag_by_code, location_path, situation, whereabouts
from custody.services.core.facility import site_zone


def list_bags(
    status: str | None = None, lot: str | None = None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    query: Select = select(Bag).options(
        joinedload(Bag.lot), joinedload(Bag.dose_level), joinedload(Bag.storage_position)
    )
    if status:
        query = query.where(Bag.status == status)
    if lot:
        query = query.join(Bag.lot).where(Lot.lot_number == lot)
    bags = db.session.scalars(query.order_by(Bag.id).limit(limit).offset(offset)).unique().all()
    recipients = _recipients_of([b.id for b in bags])
    determinations = lot_determinations({b.lot_id for b in bags})
    return [bag_summary(b, recipients.get(b.id), determinations[b.lot_id]) for b in bags]


def bag_detail(code: str, history_limit: int = HISTORY_PAGE) -> dict[str, Any]:
    """A bag, where it is, and its newest `history_limit` custody events in the order they
    happened; `history_next` is the cursor for the events before them (None: none are)."""
    bag = bag_by_code(code, load=_DETAIL_LOAD)
    summary = bag_summary(
        bag, _recipients_of([bag.id]).get(bag.id), lot_determinations({bag.lot_id})[bag.lot_id]
    )
    events, summary["history_next"] = history_page(bag, history_limit)
    summary["history"] = [event_summary(e) for e in events]
    summary["location"] = whereabouts(bag, events[-1] if events else None)
    summary["parent"] = bag.parent.code if bag.parent else None
    return summary


_DETAIL_LOAD = (
    joinedload(Bag.lot),
    joinedload(Bag.dose_level),
    joinedload(Bag.storage_position),
    joinedload(Bag.parent),
)


def bag_history(code: str, before: str | None, limit: int) -> dict[str, Any]:
    """A page of the bag's custody events before the cursor `before` (None: the newest),
    oldest first, and the cursor for the page before it."""
    events, older = history_page(bag_by_code(code), limit, before)
    return {"items": [event_summary(e) for e in events], "next": older}


def history_page(
    bag: Bag, limit: int, before: str | None = None
) -> tuple[list[CustodyEvent], str | None]:
    """The `limit` events of `bag` just before the cursor (the newest if None), in the order
    they happened, and the cursor naming the oldest of them if older events remain."""
    query = (
        select(CustodyEvent)
        .where(CustodyEvent.bag_id == bag.id)
        .options(
            joinedload(CustodyEvent.actor),
            joinedload(CustodyEvent.location),
            joinedload(CustodyEvent.shipment),
        )
        .order_by(CustodyEvent.occurred_at.desc(), CustodyEvent.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        anchor = _history_anchor(bag, before)
        query = query.where(
            tuple_(CustodyEvent.occurred_at, CustodyEvent.id)
            < tuple_(literal(anchor.occurred_at), literal(anchor.id))
        )
    events = db.session.scalars(query).all()
    page = events[:limit]
    older = str(page[-1].id) if len(events) > limit else None
    return page[::-1], older


def _history_anchor(bag: Bag, cursor: str) -> CustodyEvent:
    event_id = int(cursor) if cursor.isdigit() and len(cursor) < 12 else None
    event = db.session.get(CustodyEvent, event_id) if event_id else None
    if event is None or event.bag_id != bag.id:
        raise ValidationFailed(
            f"'{cursor[:40]}' is not a history cursor of bag {bag.code}. Start from the bag's "
            "newest events (GET the bag) and follow each page's cursor.",
            field="before",
        )
    return event


def bag_summary(bag: Bag, recipient: str | None, determination: str) -> dict[str, Any]:
    return {
        "code": bag.code,
        "din": bag.din,
        "check_character": isbt128.check_character(bag.din),
        "product_code": bag.product_code,
        "division": bag.division,
        "status": bag.status.value,
        "lot": bag.lot.lot_number,
        "lot_status": bag.lot.disposition.value,
        "dose_level": bag.dose_level.code if bag.dose_level else None,
        "recipient": recipient,
        "scan": bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone()),
        "volume_ml": bag.volume_ml,
        "total_cells": bag.total_cells,
        "viable_car_nk_cells": bag.viable_car_nk_cells,
        "expires_at": bag.expires_at,
        "storage_position": bag.storage_position.code if bag.storage_position else None,
        "donor_eligibility": determination,
        "warnings": eligibility.warnings_for(determination),
        "allowed_actions": bag_lifecycle.allowed_actions(situation(bag)),
        "version": bag.version,
    }


def event_summary(event: CustodyEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "action": event.action,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "occurred_at": event.occurred_at,
        "actor": event.actor.full_name,
        "actor_username": event.actor.username,
        "location": event.location.code if event.location else None,
        "location_path": location_path(event.location) if event.location else None,
        "shipment": event.shipment.code if event.shipment else None,
        "from_party": event.from_party,
        "to_party": event.to_party,
        "raw_scan": event.raw_scan,
        "condition": event.condition,
        "temperature_c": event.temperature_c,
        "station": event.station,
        "out_of_storage_s": event.out_of_storage_s,
        "notes": event.notes,
    }


def list_lots(status: str | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
    query = select(Lot).options(selectinload(Lot.donations), selectinload(Lot.bags))
    if status:
        query = query.where(Lot.disposition == status)
    lots = db.session.scalars(query.order_by(Lot.id).limit(limit).offset(offset)).all()
    determinations = lot_determinations({lot.id for lot in lots})
    return [lot_summary(lot, determinations[lot.id]) for lot in lots]


def lot_detail(lot_number: str) -> dict[str, Any]:
    lot = db.session.scalar(select(Lot).where(Lot.lot_number == lot_number))
    if lot is None:
        raise NotFound(f"No lot {lot_number} is known here.", lot=lot_number)
    summary = lot_summary(lot, lot_determinations({lot.id})[lot.id])
    summary["donations"] = [
        {
            "din": d.din,
            "donor": d.donor.donor_code,
            "donor_eligibility": d.donor.eligibility.value,
            "collected_at": d.collected_at,
            "facility": d.facility,
        }
        for d in lot.donations
    ]
    summary["steps"] = [
        {
            "sequence": s.sequence,
            "step": s.step,
            "operator": s.operator.full_name,
            "started_at": s.started_at,
            "ended_at": s.ended_at,
            "equipment": s.equipment,
            "observations": s.observations,
            "deviation": s.deviation,
            "deviation_reason": s.deviation_reason,
            "materials": [
                {"kind": m.kind.value, "name": m.name, "lot_number": m.lot_number}
                for m in s.materials
            ],
        }
        for s in lot.steps
    ]
    return summary


def lot_summary(lot: Lot, determination: str) -> dict[str, Any]:
    return {
        "lot": lot.lot_number,
        "status": lot.disposition.value,
        "din": lot.din,
        "dins": sorted({d.din for d in lot.donations}),
        "product_description_code": lot.product_description_code,
        "manufactured_at": lot.manufactured_at,
        "expires_at": lot.expires_at,
        "donor_eligibility": determination,
        "warnings": eligibility.warnings_for(determination),
        "bags": [
            {"code": b.code, "status": b.status.value, "division": b.division}
            for b in sorted(lot.bags, key=lambda b: b.product_code)
        ],
    }


def lot_determinations(lot_ids: set[int]) -> dict[int, str]:
    """The worst donor eligibility behind each lot, in one query."""
    rows = db.session.execute(
        select(lot_donations.c.lot_id, Donor.eligibility)
        .join(Donation, Donation.id == lot_donations.c.donation_id)
        .join(Donor, Donor.id == Donation.donor_id)
        .where(lot_donations.c.lot_id.in_(lot_ids))
    ).all()
    found: dict[int, list[str]] = {lot_id: [] for lot_id in lot_ids}
    for lot_id, determination in rows:
        found[lot_id].append(determination.value)
    return {lot_id: eligibility.worst(values) for lot_id, values in found.items()}


def _recipients_of(bag_ids: list[int]) -> dict[int, str]:
    if not bag_ids:
        return {}
    rows = db.session.execute(
        select(Allocation.bag_id, Recipient.subject_id)
        .join(Recipient, Recipient.id == Allocation.recipient_id)
        .where(Allocation.bag_id.in_(bag_ids), Allocation.active)
    ).all()
    return dict(rows)
