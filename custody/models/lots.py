"""Manufacturing lots: what one or more donations became, and the lot's disposition."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from custody.models.base import Base, enum_type, utcnow
from custody.models.donors import Donation


class Disposition(enum.StrEnum):
    QUARANTINE = "quarantine"
    RELEASED = "released"
    CONDITIONALLY_RELEASED = "conditionally_released"
    REJECTED = "rejected"


lot_donations = Table(
    "lot_donations",
    Base.metadata,
    Column("lot_id", ForeignKey("lots.id"), primary_key=True),
    Column("donation_id", ForeignKey("donations.id"), primary_key=True),
    # A donation goes into one lot only: the services lock for it, the database guarantees it.
    UniqueConstraint("donation_id"),
)


class Lot(Base):
    __tablename__ = "lots"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_number: Mapped[str] = mapped_column(String(32), unique=True)
    # The DIN the final product carries: the donation's, or a new one for a pooled product.
    din: Mapped[str] = mapped_column(String(13), index=True)
    product_description_code: Mapped[str] = mapped_column(String(5))
    specification_id: Mapped[int | None] = mapped_column(ForeignKey("qc_specifications.id"))
    disposition: Mapped[Disposition] = mapped_column(
        enum_type(Disposition, "disposition"), default=Disposition.QUARANTINE
    )
    manufactured_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    specification: Mapped[QcSpecification | None] = relationship()  # noqa: F821
    donations: Mapped[list[Donation]] = relationship(secondary=lot_donations)
    bags: Mapped[list[Bag]] = relationship(back_populates="lot", order_by="Bag.id")  # noqa: F821
    steps: Mapped[list[BatchStep]] = relationship(  # noqa: F821
        back_populates="lot", order_by="BatchStep.sequence"
    )

    def audit_key(self) -> str:
        return self.lot_number
