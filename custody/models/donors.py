"""Donors, their eligibility determination (21 CFR 1271 subpart C) and their donations."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from custody.models.base import Base, enum_type, utcnow


class Eligibility(enum.StrEnum):
    PENDING = "pending"
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    # Incomplete determination, used only under urgent medical need (21 CFR 1271.60(d)).
    INCOMPLETE = "incomplete"


class Donor(Base):
    __tablename__ = "donors"

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_code: Mapped[str] = mapped_column(String(32), unique=True)
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[date]
    eligibility: Mapped[Eligibility] = mapped_column(
        enum_type(Eligibility, "eligibility"), default=Eligibility.PENDING
    )
    eligibility_determined_at: Mapped[datetime | None]
    eligibility_determined_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    eligibility_notes: Mapped[str] = mapped_column(default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tests: Mapped[list[DonorTest]] = relationship(back_populates="donor")
    donations: Mapped[list[Donation]] = relationship(back_populates="donor")

    __table_args__ = (CheckConstraint("sex IN ('F', 'M', 'U')", name="sex"),)

    def audit_key(self) -> str:
        return self.donor_code


class DonorTest(Base):
    """An infectious-disease test result that the eligibility determination rests on."""

    __tablename__ = "donor_tests"

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donors.id"), index=True)
    test: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(32))
    sampled_on: Mapped[date]

    donor: Mapped[Donor] = relationship(back_populates="tests")


class DinSequence(Base):
    """The last DIN sequence number issued for one FIN and nominal year (ISBT 128 ST-001).

    One row per FIN and year, locked while a number is taken, so two requests never get the
    same DIN and a number once issued is never issued again.
    """

    __tablename__ = "din_sequences"

    fin: Mapped[str] = mapped_column(String(5), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        CheckConstraint("last_number BETWEEN 0 AND 999999", name="last_number_range"),
    )

    def audit_key(self) -> str:
        return f"{self.fin}/{self.year:02d}"


class Donation(Base):
    """One collection (apheresis) from a donor, identified by its DIN."""

    __tablename__ = "donations"

    id: Mapped[int] = mapped_column(primary_key=True)
    din: Mapped[str] = mapped_column(String(13), unique=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donors.id"), index=True)
    collected_at: Mapped[datetime]
    collection_timezone: Mapped[str] = mapped_column(String(64))
    facility: Mapped[str] = mapped_column(String(200))
    volume_ml: Mapped[float]
    total_nucleated_cells: Mapped[float | None]
    # CD56+ NK cells and viability as counted at collection: what manufacturing starts from.
    nk_cells: Mapped[float | None]
    viability_pct: Mapped[float | None]
    received_at: Mapped[datetime | None]
    received_condition: Mapped[str | None] = mapped_column(String(200))
    received_temperature_c: Mapped[float | None]
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    donor: Mapped[Donor] = relationship(back_populates="donations")

    __table_args__ = (
        CheckConstraint("length(din) = 13", name="din_length"),
        CheckConstraint("volume_ml > 0", name="volume_positive"),
    )

    def audit_key(self) -> str:
        return self.din
