"""Where things are and every handoff between people and places: the chain of custody."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from custody.models.base import Base, enum_type, utcnow


class LocationKind(enum.StrEnum):
    SITE = "site"
    FREEZER = "freezer"
    RACK = "rack"
    BOX = "box"
    POSITION = "position"


class StorageLocation(Base):
    """A node of the storage tree (site → freezer → rack → box → position), barcoded."""

    __tablename__ = "storage_locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[LocationKind] = mapped_column(enum_type(LocationKind, "location_kind"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("storage_locations.id"), index=True)

    parent: Mapped[StorageLocation | None] = relationship(remote_side=[id])

    def audit_key(self) -> str:
        return self.code


class ShipmentStatus(enum.StrEnum):
    PACKING = "packing"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"


class Shipment(Base):
    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    destination_site: Mapped[str] = mapped_column(String(100))
    courier: Mapped[str] = mapped_column(String(100), default="")
    shipper_id: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[ShipmentStatus] = mapped_column(
        enum_type(ShipmentStatus, "shipment_status"), default=ShipmentStatus.PACKING
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def audit_key(self) -> str:
        return self.code


class CustodyEvent(Base):
    """One scan or handoff of a bag: who, when, where, from whom to whom, in what condition."""

    __tablename__ = "custody_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    bag_id: Mapped[int] = mapped_column(ForeignKey("bags.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("storage_locations.id"))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    from_party: Mapped[str | None] = mapped_column(String(200))
    to_party: Mapped[str | None] = mapped_column(String(200))
    raw_scan: Mapped[str | None] = mapped_column(String(500))
    condition: Mapped[str | None] = mapped_column(String(200))
    temperature_c: Mapped[float | None]
    notes: Mapped[str] = mapped_column(default="")

    bag: Mapped[Bag] = relationship()  # noqa: F821
    location: Mapped[StorageLocation | None] = relationship()

    __table_args__ = (Index("ix_custody_events_bag_time", "bag_id", "occurred_at"),)

    def audit_key(self) -> str:
        return f"custody event {self.id}"
