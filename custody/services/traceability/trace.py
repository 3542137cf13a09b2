"""The chain of identity as queries: which lots and bags a donor, donation, lot or reagent lot
reached.

Lookback (reading) and recall (blocking) both start here, so what a recall blocks is exactly
what a lookback shows. Each scope is resolved to lot ids with one indexed query, then to bags
with one more; an unknown starting point is a NotFound that says what was looked for, never an
empty answer that could be read as "nothing affected".
"""

from __future__ import annotations

from sqlalchemy import select

from custody.domain.errors import NotFound, ValidationFailed
from custody.domain.trace_scopes import SCOPE_WORDS, SCOPES
from custody.extensions import db
from custody.models import Bag, BatchMaterial, BatchStep, Donation, Donor, Lot
from custody.models.lots import lot_donations
from custody.services.collection.donations import din_from

# What a trace can start from, in the words the API and the recall form use.


def normalised(scope: str, value: str) -> str:
    """The identifier as stored: upper-case codes, a DIN without its check character."""
    if scope not in SCOPES:
        raise ValidationFailed(
            f"'{scope}' is not something to trace from. Use one of: {', '.join(SCOPES)}.",
            field="scope",
        )
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationFailed(f"Give the {SCOPE_WORDS[scope]} to trace from.", field=scope)
    if scope == "din":
        return din_from(text, field="din")
    return text.upper() if scope in ("donor", "lot") else text


def lot_ids_from(scope: str, value: str) -> list[int]:
    """Every lot reached from the starting point, or NotFound if it is unknown here."""
    value = normalised(scope, value)
    query = _LOT_QUERIES[scope](value)
    lot_ids = sorted(set(db.session.scalars(query)))
    if not lot_ids and not _exists(scope, value):
        raise NotFound(
            f"No {SCOPE_WORDS[scope]} {value} is recorded here. Check the identifier.",
            **{scope: value},
        )
    return lot_ids


def bag_ids_of_lots(lot_ids: list[int]) -> list[int]:
    if not lot_ids:
        return []
    return list(db.session.scalars(select(Bag.id).where(Bag.lot_id.in_(lot_ids)).order_by(Bag.id)))


def bag_ids_from(scope: str, value: str) -> list[int]:
    """Every bag (divisions included: they carry their lot) reached from the starting point."""
    return bag_ids_of_lots(lot_ids_from(scope, value))


def _lots_of_donor(code: str):
    return (
        select(lot_donations.c.lot_id)
        .join(Donation, Donation.id == lot_donations.c.donation_id)
        .join(Donor, Donor.id == Donation.donor_id)
        .where(Donor.donor_code == code)
    )


def _lots_of_din(din: str):
    pooled = (
        select(lot_donations.c.lot_id)
        .join(Donation, Donation.id == lot_donations.c.donation_id)
        .where(Donation.din == din)
    )
    return pooled.union(select(Lot.id).where(Lot.din == din))


def _lots_of_lot(number: str):
    return select(Lot.id).where(Lot.lot_number == number)


def _lots_of_reagent(number: str):
    return (
        select(BatchStep.lot_id)
        .join(BatchMaterial, BatchMaterial.step_id == BatchStep.id)
        .where(BatchMaterial.lot_number == number)
    )


_LOT_QUERIES = {
    "donor": _lots_of_donor,
    "din": _lots_of_din,
    "lot": _lots_of_lot,
    "reagent_lot": _lots_of_reagent,
}


def _exists(scope: str, value: str) -> bool:
    """A known starting point that reached no lot yet (a donor not yet collected) is not an
    error: the answer is then truly empty."""
    column = {
        "donor": Donor.donor_code,
        "din": Donation.din,
        "lot": Lot.lot_number,
        "reagent_lot": BatchMaterial.lot_number,
    }[scope]
    return db.session.scalar(select(column).where(column == value).limit(1)) is not None
