"""Issuing Donation Identification Numbers: per FIN and nominal year, never twice.

The sequence row for (FIN, year) is locked while a number is taken (SELECT … FOR UPDATE on
PostgreSQL; SQLite's IMMEDIATE transactions serialise writers), so concurrent requests get
consecutive, distinct numbers. The row is created race-free with INSERT … ON CONFLICT DO NOTHING.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from custody.domain import isbt128
from custody.domain.errors import ValidationFailed
from custody.extensions import db
from custody.models.base import utcnow
from custody.models.donors import DinSequence
from custody.services.core.audit_trail import acting_as

MAX_SEQUENCE = 999_999


def next_din(actor: str, fin: str, year: int | None = None) -> str:
    """Take the next DIN for `fin` in nominal year `year` (two digits; default this year)."""
    with acting_as(actor, reason="DIN issued"):
        (din,) = take_dins(fin, year, 1)
        db.session.commit()
    return din


def take_dins(fin: str, year: int | None, count: int) -> list[str]:
    """Reserve `count` consecutive DINs inside the caller's transaction (caller commits)."""
    year = utcnow().year % 100 if year is None else year
    isbt128.format_din(fin, year, 1)  # validates the FIN and year before anything is locked
    sequence = _locked_sequence(fin, year)
    first = sequence.last_number + 1
    if sequence.last_number + count > MAX_SEQUENCE:
        raise ValidationFailed(
            f"The DINs of {fin} for year {year:02d} are used up; ask ICCBBA for another FIN.",
            fin=fin,
            year=year,
        )
    sequence.last_number += count
    return [isbt128.format_din(fin, year, n) for n in range(first, first + count)]


def _locked_sequence(fin: str, year: int) -> DinSequence:
    table = DinSequence.__table__
    conn = db.session.connection()
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        dialect_insert(table)
        .values(fin=fin, year=year, last_number=0)
        .on_conflict_do_nothing(index_elements=["fin", "year"])
    )
    return db.session.scalars(
        select(DinSequence)
        .where(DinSequence.fin == fin, DinSequence.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
