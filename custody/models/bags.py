"""Bags: the final product containers, each with its own ISBT 128 identity."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from custody.models.base import Base, enum_type, utcnow


class BagStatus(enum.StrEnum):
    FILLED = "filled"
    QUARANTINED = "quarantined"
    STORED = "stored"
    RELEASED = "released"
    ALLOCATED = "allocated"
    SHIPPED = "shipped"
    RECEIVED = "received"
    THAWED = "thawed"
    VERIFIED = "verified"
    INFUSED = "infused"
    RETURNED = "returned"
    DISCARDED = "discarded"
    REJECTED = "rejected"


class Bag(Base):
    __tablename__ = "bags"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Public identifier used in URLs: DIN and product code (which ends in the division).
    code: Mapped[str] = mapped_column(String(22), unique=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    parent_bag_id: Mapped[int | None] = mapped_column(ForeignKey("bags.id"))
    din: Mapped[str] = mapped_column(String(13))
    product_code: Mapped[str] = mapped_column(String(8))
    volume_ml: Mapped[float]
    total_cells: Mapped[float]
    viable_car_nk_cells: Mapped[float]
    dose_level_id: Mapped[int | None] = mapped_column(ForeignKey("dose_levels.id"))
    status: Mapped[BagStatus] = mapped_column(
        enum_type(BagStatus, "bag_status"), default=BagStatus.FILLED, index=True
    )
    # A storage position holds at most one bag: the unique constraint makes that a fact.
    storage_position_id: Mapped[int | None] = mapped_column(
        ForeignKey("storage_locations.id"), unique=True
    )
    # Set when the bag leaves a storage position, cleared when it is stored again: the time out
    # of storage is then recorded on the store event (cryopreserved cells warm fast).
    removed_from_storage_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Optimistic lock: two scans racing on one bag cannot both win.
    version: Mapped[int] = mapped_column(default=1)

    lot: Mapped[Lot] = relationship(back_populates="bags")  # noqa: F821
    dose_level: Mapped[DoseLevel | None] = relationship()  # noqa: F821
    storage_position: Mapped[StorageLocation | None] = relationship()  # noqa: F821
    parent: Mapped[Bag | None] = relationship(remote_side=[id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("din", "product_code", name="uq_bags_identity"),
        CheckConstraint("length(din) = 13", name="din_length"),
        CheckConstraint("length(product_code) = 8", name="product_code_length"),
        CheckConstraint("volume_ml > 0", name="volume_positive"),
        Index("ix_bags_lot_status", "lot_id", "status"),
    )

    @property
    def division(self) -> str:
        """The `ds` characters that end the product code (`00` = not divided)."""
        return self.product_code[6:8]

    def audit_key(self) -> str:
        return self.code
