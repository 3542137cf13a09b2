"""Manufacturing lots made from received collections.

Genealogy is kept as data: a lot's donations (Lot.donations); the bags filled from a lot and
divided further are `divisions`, the batch record is `batch_record`. Every write to a lot,
or to its bags, locks the lot first (`bags.lookup.locked_lot`), so two people recording steps
in the same lot at once take distinct batch-step numbers; the unique constraints stay as the
last line of defence and a race that reaches them is a Conflict, not a crash.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text

from custody.domain import isbt128
from custody.domain.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from custody.extensions import db
from custody.models import (
    Disposition,
    Donation,
    Lot,
    User,
    lot_donations,
)
from custody.models.base import utcnow
from custody.services.collection.donations import CLOCK_SKEW, din_from
from custody.services.core.identifiers import take_dins
from custody.services.core.transactions import write
from custody.services.quality.specifications import current_specification

COLLECTION_TYPE = "V"  # volunteer allogeneic donation (ISBT 128 collection type)
MAX_DONATIONS = 20
_LOT_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
# PostgreSQL advisory lock key serialising generated lot numbers (SQLite writers are serial).
_LOT_NUMBER_LOCK = 0x4C4F54  # "LOT"


# --- lots ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LotRequest:
    donations: Sequence[str]
    product_description_code: str
    lot_number: str | None = None
    manufactured_at: datetime | None = None
    expires_at: datetime | None = None


def create_lot(user: User, request: LotRequest, fin: str) -> Lot:
    """A lot from one or more received collections, none already in another lot.

    A single-donation lot carries its donation's DIN; a pooled lot gets a new DIN, so each
    product identity names exactly one lot.
    """
    dins = _distinct_dins(request.donations)
    pdc = _product_description_code(request.product_description_code)
    if request.expires_at is not None and request.expires_at <= utcnow():
        raise ValidationFailed("The lot's expiry is already past.", field="expires_at")
    if request.manufactured_at is not None and request.manufactured_at > utcnow() + CLOCK_SKEW:
        raise ValidationFailed("The manufacturing date is in the future.", field="manufactured_at")
    race = "Another lot took this lot number or these collections at the same moment; look again."
    with write(user, "manufacturing lot created", race):
        donations = _usable_donations(dins)
        lot = Lot(
            lot_number=_lot_number(request.lot_number),
            din=donations[0].din if len(donations) == 1 else take_dins(fin, None, 1)[0],
            product_description_code=pdc,
            specification=current_specification(pdc),
            manufactured_at=request.manufactured_at,
            expires_at=request.expires_at,
        )
        lot.donations.extend(donations)
        db.session.add(lot)
    return lot


def _distinct_dins(raw: Sequence[str]) -> list[str]:
    if not raw:
        raise ValidationFailed("Name at least one collection (its DIN).", field="donations")
    if len(raw) > MAX_DONATIONS:
        raise ValidationFailed(
            f"A lot pools at most {MAX_DONATIONS} collections.", field="donations"
        )
    dins = [din_from(d, field="donations") for d in raw]
    twice = sorted({d for d in dins if dins.count(d) > 1})
    if twice:
        raise ValidationFailed(
            f"DIN {', '.join(twice)} is listed twice; name each collection once.",
            field="donations",
        )
    return dins


def _usable_donations(dins: list[str]) -> list[Donation]:
    """The donations, locked, each received at the lab and in no other lot."""
    found = db.session.scalars(
        select(Donation)
        .where(Donation.din.in_(dins))
        .order_by(Donation.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    by_din = {d.din: d for d in found}
    unknown = [d for d in dins if d not in by_din]
    if unknown:
        raise NotFound(
            f"No collection with DIN {', '.join(unknown)} is recorded here.", dins=unknown
        )
    not_received = [d for d in dins if by_din[d].received_at is None]
    if not_received:
        raise IllegalTransition(
            f"Collection {', '.join(not_received)} has not been received at the cell lab: "
            "scan it in at receipt (condition and temperature) before it goes into a lot.",
            dins=not_received,
            current_state="collected",
        )
    taken = db.session.execute(
        select(Donation.din, Lot.lot_number)
        .join(lot_donations, lot_donations.c.donation_id == Donation.id)
        .join(Lot, Lot.id == lot_donations.c.lot_id)
        .where(Donation.din.in_(dins))
    ).all()
    if taken:
        words = "; ".join(f"{din} is in lot {lot}" for din, lot in taken)
        raise Conflict(
            f"A collection goes into one lot only: {words}.",
            lots={din: lot for din, lot in taken},
        )
    return [by_din[d] for d in dins]


def _lot_number(requested: str | None) -> str:
    if requested:
        number = requested.strip().upper()
        if not _LOT_NUMBER.match(number):
            raise ValidationFailed(
                "A lot number is 1 to 32 letters, digits or dashes (e.g. L26-0042).",
                field="lot_number",
            )
        if db.session.scalar(select(Lot.id).where(Lot.lot_number == number)):
            raise Conflict(f"Lot {number} already exists; choose another number.", lot=number)
        return number
    return _next_lot_number()


def _next_lot_number() -> str:
    """L<yy>-<nnnn>: the next free number of this year."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOT_NUMBER_LOCK})
    prefix = f"L{utcnow().year % 100:02d}-"
    numbers = db.session.scalars(
        select(Lot.lot_number).where(
            Lot.lot_number.like(f"{prefix}%"), func.length(Lot.lot_number) == len(prefix) + 4
        )
    ).all()
    used = [int(n[len(prefix) :]) for n in numbers if n[len(prefix) :].isdigit()]
    following = max(used, default=0) + 1
    if following > 9999:
        raise ValidationFailed("This year's generated lot numbers are used up; give one.")
    return f"{prefix}{following:04d}"


def _product_description_code(pdc: str) -> str:
    pdc = pdc.strip().upper()
    if len(pdc) != 5:
        raise ValidationFailed(
            "A product description code has 5 characters (e.g. D0001).",
            field="product_description_code",
        )
    isbt128.encode_product_code(f"{pdc}{COLLECTION_TYPE}A0")  # says what is wrong, if anything
    return pdc


def in_quarantine(lot: Lot, doing: str) -> None:
    """Refuse `doing` once QA has given the lot its disposition."""
    if lot.disposition is not Disposition.QUARANTINE:
        raise IllegalTransition(
            f"Lot {lot.lot_number} is {lot.disposition.value.replace('_', ' ')}: {doing} only "
            "while the lot is in quarantine, before QA's disposition.",
            lot=lot.lot_number,
            lot_disposition=lot.disposition.value,
        )
