"""The trial as configuration, its recipients, allocations of bags to them, and infusions."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from custody.models.base import Base, enum_type, utcnow


class DoseBasis(enum.StrEnum):
    FLAT = "flat"
    PER_KG = "per_kg"


class DoseLevelStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    RECOMMENDED = "recommended"


class RecipientStatus(enum.StrEnum):
    SCREENING = "screening"
    ENROLLED = "enrolled"
    LYMPHODEPLETION = "lymphodepletion"
    INFUSED = "infused"
    FOLLOW_UP = "follow_up"
    LONG_TERM_FOLLOW_UP = "long_term_follow_up"
    OFF_STUDY = "off_study"
    WITHDRAWN = "withdrawn"
    DECEASED = "deceased"


class Trial(Base):
    __tablename__ = "trials"

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    product_name: Mapped[str] = mapped_column(String(100))
    # The phase now enrolling: 1 (dose escalation) or 2 (at the recommended dose).
    current_phase: Mapped[int] = mapped_column(default=1)
    # How long thawed product may wait for the infusion (a product setting: 30 min to 3 h).
    post_thaw_minutes: Mapped[int] = mapped_column(default=60)
    version: Mapped[int] = mapped_column(default=1)

    dose_levels: Mapped[list[DoseLevel]] = relationship(
        back_populates="trial", order_by="DoseLevel.id"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("current_phase IN (1, 2)", name="current_phase"),
        CheckConstraint(
            "post_thaw_minutes > 0 AND post_thaw_minutes <= 1440", name="post_thaw_minutes"
        ),
    )

    def audit_key(self) -> str:
        return self.protocol_id


class DoseLevel(Base):
    __tablename__ = "dose_levels"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"))
    code: Mapped[str] = mapped_column(String(16))
    phase: Mapped[int]
    basis: Mapped[DoseBasis] = mapped_column(enum_type(DoseBasis, "dose_basis"))
    # Viable CAR+ NK cells per infusion (flat) or per kg of recipient weight (per_kg).
    dose_cells: Mapped[float]
    tolerance_pct: Mapped[float] = mapped_column(default=20.0)
    status: Mapped[DoseLevelStatus] = mapped_column(
        enum_type(DoseLevelStatus, "dose_level_status"), default=DoseLevelStatus.OPEN
    )

    trial: Mapped[Trial] = relationship(back_populates="dose_levels")

    __table_args__ = (
        UniqueConstraint("trial_id", "code"),
        CheckConstraint("dose_cells > 0", name="dose_positive"),
        CheckConstraint("tolerance_pct >= 0 AND tolerance_pct < 100", name="tolerance_range"),
        CheckConstraint("phase IN (1, 2)", name="phase"),
    )

    def audit_key(self) -> str:
        return self.code


class Recipient(Base):
    __tablename__ = "recipients"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(32), unique=True)
    hospital_record_number: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date]
    weight_kg: Mapped[float]
    weight_measured_on: Mapped[date]
    site: Mapped[str] = mapped_column(String(100))
    phase: Mapped[int]
    dose_level_id: Mapped[int | None] = mapped_column(ForeignKey("dose_levels.id"))
    status: Mapped[RecipientStatus] = mapped_column(
        enum_type(RecipientStatus, "recipient_status"), default=RecipientStatus.SCREENING
    )
    day0: Mapped[date | None]
    # The investigator's order for the optional second infusion (day 7).
    second_infusion_ordered: Mapped[bool] = mapped_column(default=False)
    discharged_on: Mapped[date | None]
    transplant_on: Mapped[date | None]
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    dose_level: Mapped[DoseLevel | None] = relationship()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("weight_kg > 0", name="weight_positive"),
        CheckConstraint("phase IN (1, 2)", name="phase"),
    )

    def audit_key(self) -> str:
        return self.subject_id


class Allocation(Base):
    """A released bag assigned to one recipient for one infusion number."""

    __tablename__ = "allocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    bag_id: Mapped[int] = mapped_column(ForeignKey("bags.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), index=True)
    infusion_number: Mapped[int]
    volume_to_infuse_ml: Mapped[float | None]
    active: Mapped[bool] = mapped_column(default=True)
    allocated_at: Mapped[datetime] = mapped_column(default=utcnow)
    allocated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None]
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    end_reason: Mapped[str | None] = mapped_column(String(500))
    # The dose arithmetic as checked at allocation, kept for the record: the cells this bag
    # gives (all of it, or the part to infuse), the weight used, and its residual CD3+ per kg.
    planned_cells: Mapped[float | None]
    # The recipient's dose level the dose was checked against; the bedside re-checks it.
    dose_level_id: Mapped[int | None] = mapped_column(ForeignKey("dose_levels.id"))
    weight_kg_used: Mapped[float | None]
    residual_cd3_per_kg: Mapped[float | None]

    bag: Mapped[Bag] = relationship()  # noqa: F821
    recipient: Mapped[Recipient] = relationship()

    __table_args__ = (
        CheckConstraint("infusion_number IN (1, 2)", name="infusion_number"),
        # One active allocation per bag, enforced by the database on SQLite and PostgreSQL.
        Index(
            "uq_allocations_active_bag",
            "bag_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    def audit_key(self) -> str:
        return f"allocation {self.id}"


class Infusion(Base):
    __tablename__ = "infusions"

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), unique=True)
    # A bag is infused once, ever.
    bag_id: Mapped[int] = mapped_column(ForeignKey("bags.id"), unique=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), index=True)
    infusion_number: Mapped[int]
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    volume_ml: Mapped[float | None]
    reactions: Mapped[str] = mapped_column(default="")
    # Why the infusion was stopped before the bag was empty; None when it ran to its end.
    interruption_reason: Mapped[str | None] = mapped_column(Text)
    first_verifier_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    second_verifier_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The passed bedside verification this infusion followed (one infusion per verification).
    verification_id: Mapped[int | None] = mapped_column(
        ForeignKey("bedside_verifications.id"), unique=True
    )
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)

    allocation: Mapped[Allocation] = relationship()
    recipient: Mapped[Recipient] = relationship()

    __mapper_args__ = {"version_id_col": version}

    __table_args__ = (
        CheckConstraint("first_verifier_id <> second_verifier_id", name="two_people"),
    )

    def audit_key(self) -> str:
        return f"infusion {self.id}"
