"""Collections (apheresis donations), their DINs, and their receipt at the cell lab.

A collection is recorded, and its DIN issued, before it reaches the lab; the lab then scans
it in. The donor's eligibility does not stop a collection, but travels with it as warnings
(custody.domain.eligibility). Each write is one transaction under `acting_as`, so the audit
trail says who and why.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from custody.domain import eligibility, isbt128
from custody.domain.errors import Conflict, InvalidBarcode, NotFound, ValidationFailed
from custody.domain.scan_targets import read_scan
from custody.extensions import db
from custody.models import CustodyEvent, Donation, Donor, User
from custody.models.base import utcnow
from custody.models.lots import Lot, lot_donations
from custody.services.collection.donors import donor_by_code, users_by_id
from custody.services.core.identifiers import take_dins
from custody.services.core.transactions import write

# A clock a few minutes fast at the apheresis unit must not make a real collection "future".
CLOCK_SKEW = timedelta(minutes=10)
CELL_LAB = "cell lab"


# --- collections ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectionRequest:
    donor_code: str
    collected_at: datetime
    collection_timezone: str
    facility: str
    volume_ml: float
    total_nucleated_cells: float | None = None
    nk_cells: float | None = None
    viability_pct: float | None = None


def record_collection(user: User, request: CollectionRequest, fin: str) -> Donation:
    """An apheresis collection, with a DIN issued here (never reused) in the same transaction."""
    _check_collection(request)
    race = "Someone recorded a collection at the same moment; record this one again."
    with write(user, "collection recorded", race):
        donor = donor_by_code(request.donor_code)
        (din,) = take_dins(fin, None, 1)
        donation = Donation(
            din=din,
            donor=donor,
            collected_at=request.collected_at,
            collection_timezone=request.collection_timezone,
            facility=request.facility.strip(),
            volume_ml=request.volume_ml,
            total_nucleated_cells=request.total_nucleated_cells,
            nk_cells=request.nk_cells,
            viability_pct=request.viability_pct,
        )
        db.session.add(donation)
    return donation


def _check_collection(request: CollectionRequest) -> None:
    if request.collected_at.tzinfo is None or request.collected_at.utcoffset() is None:
        raise ValidationFailed(
            "Give the collection time with its UTC offset (e.g. 2026-03-01T09:30:00-06:00).",
            field="collected_at",
        )
    if request.collected_at > utcnow() + CLOCK_SKEW:
        raise ValidationFailed(
            "The collection time is in the future; check the date, time and UTC offset.",
            field="collected_at",
        )
    if request.collection_timezone not in _time_zones():
        raise ValidationFailed(
            f"{request.collection_timezone!r} is not a known time zone; give its IANA name, "
            "e.g. America/Chicago or Europe/Berlin.",
            field="collection_timezone",
        )
    if not request.facility.strip():
        raise ValidationFailed("Name the facility that collected.", field="facility")
    if request.volume_ml <= 0:
        raise ValidationFailed("The collected volume must be above 0 mL.", field="volume_ml")
    nk, total = request.nk_cells, request.total_nucleated_cells
    if nk is not None and total is not None and nk > total:
        raise ValidationFailed(
            "The NK cell count cannot exceed the total nucleated cell count.", field="nk_cells"
        )


@functools.cache
def _time_zones() -> frozenset[str]:
    """The IANA names this system knows (a set lookup never touches the file system)."""
    return frozenset(zoneinfo.available_timezones())


@dataclass(frozen=True)
class ReceiptRequest:
    scan: str
    condition: str
    temperature_c: float | None
    station: str | None = None


def receive_collection(user: User, request: ReceiptRequest) -> CustodyEvent:
    """The cell lab scans a collection in: who, when, in what condition, at what temperature.

    The donation row is locked first, so of two people scanning the same collection at once
    one records the receipt and the other is told when and by whom it was received.
    """
    target = read_scan(request.scan)
    if target.kind != "din":
        kind = "bag label" if target.kind == "bag" else target.kind
        raise InvalidBarcode(
            f"That barcode is a {kind}, not a collection. Scan the DIN barcode on the "
            "collection bag (it starts with '='), or type the DIN and its check character.",
            scanned=target.kind,
        )
    if not request.condition.strip():
        raise ValidationFailed("Describe the condition on arrival.", field="condition")
    with write(user, "collection received at the cell lab", "Someone received it at once."):
        donation = donation_by_din(target.din, lock=True)
        if donation.received_at is not None:
            received_by = db.session.get(User, donation.received_by_id)
            raise Conflict(
                f"Collection {isbt128.eye_readable_din(donation.din)} was already received at "
                f"{donation.received_at:%Y-%m-%d %H:%M} UTC by "
                f"{received_by.full_name if received_by else 'unknown'}. Nothing was changed.",
                din=donation.din,
                received_at=donation.received_at.isoformat(),
                received_by=received_by.username if received_by else None,
            )
        now = utcnow()
        donation.received_at = now
        donation.received_by_id = user.id
        donation.received_condition = request.condition.strip()
        donation.received_temperature_c = request.temperature_c
        event = CustodyEvent(
            donation=donation,
            action="receive_collection",
            from_status="collected",
            to_status="received",
            occurred_at=now,
            actor_id=user.id,
            raw_scan=target.raw,
            condition=donation.received_condition,
            temperature_c=request.temperature_c,
            from_party=donation.facility,
            to_party=CELL_LAB,
            station=request.station,
        )
        db.session.add(event)
    return event


# --- reads ---------------------------------------------------------------------------------


def list_donations(
    donor: str | None = None, received: bool | None = None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    query = select(Donation).join(Donation.donor).options(selectinload(Donation.donor))
    if donor:
        query = query.where(Donor.donor_code == donor.strip().upper())
    if received is not None:
        query = query.where(
            Donation.received_at.is_not(None) if received else Donation.received_at.is_(None)
        )
    donations = db.session.scalars(query.order_by(Donation.id).limit(limit).offset(offset)).all()
    return _donation_summaries(donations)


def donation_detail(din: str) -> dict[str, Any]:
    """One collection, named by its DIN (13 characters, or typed with its check K)."""
    return _donation_summaries([donation_by_din(din_from(din))])[0]


def _donation_summaries(donations: Sequence[Donation]) -> list[dict[str, Any]]:
    ids = [d.id for d in donations]
    lots = dict(
        db.session.execute(
            select(lot_donations.c.donation_id, Lot.lot_number)
            .join(Lot, Lot.id == lot_donations.c.lot_id)
            .where(lot_donations.c.donation_id.in_(ids))
        ).all()
    )
    names = users_by_id(d.received_by_id for d in donations)
    return [donation_summary(d, lots.get(d.id), names.get(d.received_by_id)) for d in donations]


def donation_summary(donation: Donation, lot: str | None, receiver: User | None) -> dict:
    determination = donation.donor.eligibility.value
    zone = donation.collection_timezone
    local = donation.collected_at.astimezone(
        zoneinfo.ZoneInfo(zone if zone in _time_zones() else "UTC")
    )
    return {
        "din": donation.din,
        "check_character": isbt128.check_character(donation.din),
        "barcode": isbt128.encode_din(donation.din),
        "donor": donation.donor.donor_code,
        "donor_eligibility": determination,
        "warnings": eligibility.warnings_for(determination),
        "status": "in_lot" if lot else "received" if donation.received_at else "collected",
        "collected_at": donation.collected_at,
        "collected_at_local": local.isoformat(),
        "collection_timezone": donation.collection_timezone,
        "facility": donation.facility,
        "volume_ml": donation.volume_ml,
        "total_nucleated_cells": donation.total_nucleated_cells,
        "nk_cells": donation.nk_cells,
        "viability_pct": donation.viability_pct,
        "received_at": donation.received_at,
        "received_by": receiver.full_name if receiver else None,
        "received_condition": donation.received_condition,
        "received_temperature_c": donation.received_temperature_c,
        "lot": lot,
    }


# --- lookups -------------------------------------------------------------------------------


def donation_by_din(din: str, *, lock: bool = False) -> Donation:
    query = select(Donation).where(Donation.din == din)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    donation = db.session.scalar(query)
    if donation is None:
        raise NotFound(
            f"No collection with DIN {isbt128.eye_readable_din(din)} is recorded here. Check "
            "the label; a "
            "collection is recorded (and its DIN issued) before it reaches the lab.",
            din=din,
        )
    return donation


def din_from(raw: str, field: str = "din") -> str:
    """A DIN as scripts send it (13 characters) or as scanned or typed with its check K."""
    text = raw.strip().upper() if isinstance(raw, str) else ""
    if len(text) == 13:
        return isbt128.validate_din(text)
    target = read_scan(raw)
    if target.kind != "din":
        raise ValidationFailed(
            f"That is a {target.kind}, not a collection's DIN. Give the 13-character DIN, "
            "scan its barcode, or type it with its check character.",
            field=field,
        )
    return target.din
