"""Where things are and every handoff between people and places: the chain of custody."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from custody.domain.shipment_discrepancies import ResolutionOutcome
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
    """A dry shipper on its way from the lab to a clinical site, with the bags packed in it."""

    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    destination_site: Mapped[str] = mapped_column(String(100))
    courier: Mapped[str] = mapped_column(String(100), default="")
    shipper_id: Mapped[str] = mapped_column(String(40), default="")
    # The temperature logger travelling in the shipper, whose file is imported after the trip.
    logger_id: Mapped[str] = mapped_column(String(40), default="", server_default="")
    status: Mapped[ShipmentStatus] = mapped_column(
        enum_type(ShipmentStatus, "shipment_status"), default=ShipmentStatus.PACKING
    )
    # Warmest temperature the product may see in transit; logger readings above it are excursions.
    storage_limit_c: Mapped[float] = mapped_column(default=-150.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handed_over_at: Mapped[datetime | None]
    handed_over_to: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime | None]
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Optimistic lock: closing a shipment and packing into it cannot both win.
    version: Mapped[int] = mapped_column(default=1)

    items: Mapped[list[ShipmentItem]] = relationship(back_populates="shipment")
    discrepancies: Mapped[list[ShipmentDiscrepancy]] = relationship(back_populates="shipment")

    __mapper_args__ = {"version_id_col": version}

    def audit_key(self) -> str:
        return self.code


class ShipmentItem(Base):
    """A bag packed into a shipment, and whether the site has scanned it in on receipt."""

    __tablename__ = "shipment_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"))
    bag_id: Mapped[int] = mapped_column(ForeignKey("bags.id"), index=True)
    packed_at: Mapped[datetime] = mapped_column(default=utcnow)
    packed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The bag's state before packing, restored if it is taken out again before dispatch.
    status_before: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime | None]
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    shipment: Mapped[Shipment] = relationship(back_populates="items")
    bag: Mapped[Bag] = relationship()  # noqa: F821

    __table_args__ = (UniqueConstraint("shipment_id", "bag_id"),)

    def audit_key(self) -> str:
        return f"{self.shipment.code if self.shipment else self.shipment_id}/{self.bag_id}"


class DiscrepancyKind(enum.StrEnum):
    MISSING = "missing"
    UNEXPECTED = "unexpected"


class ShipmentDiscrepancy(Base):
    """A bag that should have arrived and did not, or arrived and was not on the manifest."""

    __tablename__ = "shipment_discrepancies"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    kind: Mapped[DiscrepancyKind] = mapped_column(enum_type(DiscrepancyKind, "discrepancy_kind"))
    bag_id: Mapped[int | None] = mapped_column(ForeignKey("bags.id"))
    raw_scan: Mapped[str] = mapped_column(String(500), default="")
    note: Mapped[str]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    shipment: Mapped[Shipment] = relationship(back_populates="discrepancies")
    bag: Mapped[Bag | None] = relationship()  # noqa: F821
    resolution: Mapped[DiscrepancyResolution | None] = relationship(back_populates="discrepancy")

    __table_args__ = (CheckConstraint("length(note) > 0", name="note_required"),)

    def audit_key(self) -> str:
        return f"{self.shipment.code if self.shipment else self.shipment_id} {self.kind}"


class DiscrepancyResolution(Base):
    """How a discrepancy was closed: the outcome, who recorded it, when, and why.

    A record of its own, not a state read off the bag: one per discrepancy (a unique key), so
    a second resolution is refused rather than overwriting the first.
    """

    __tablename__ = "discrepancy_resolutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    discrepancy_id: Mapped[int] = mapped_column(
        ForeignKey("shipment_discrepancies.id"), unique=True
    )
    outcome: Mapped[ResolutionOutcome] = mapped_column(
        enum_type(ResolutionOutcome, "resolution_outcome")
    )
    reason: Mapped[str]
    resolved_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    discrepancy: Mapped[ShipmentDiscrepancy] = relationship(back_populates="resolution")

    __table_args__ = (CheckConstraint("length(reason) > 0", name="reason_required"),)

    def audit_key(self) -> str:
        return f"resolution of discrepancy {self.discrepancy_id}: {self.outcome}"


class ShipmentTemperature(Base):
    """One reading of the shipper's temperature logger, imported from its CSV."""

    __tablename__ = "shipment_temperatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"))
    recorded_at: Mapped[datetime]
    temperature_c: Mapped[float]

    __table_args__ = (UniqueConstraint("shipment_id", "recorded_at"),)


class CustodyEvent(Base):
    """One scan or handoff of a bag or a collection: who, when, where, from whom to whom, how."""

    __tablename__ = "custody_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    bag_id: Mapped[int | None] = mapped_column(ForeignKey("bags.id"))
    # Collections are in custody before any bag exists: their receipt is an event too.
    donation_id: Mapped[int | None] = mapped_column(ForeignKey("donations.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("storage_locations.id"))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"), index=True)
    from_party: Mapped[str | None] = mapped_column(String(200))
    to_party: Mapped[str | None] = mapped_column(String(200))
    raw_scan: Mapped[str | None] = mapped_column(String(500))
    condition: Mapped[str | None] = mapped_column(String(200))
    temperature_c: Mapped[float | None]
    # Which scan station sent the scan (21 CFR 11.10(h) device checks), when it says.
    station: Mapped[str | None] = mapped_column(String(64))
    # Recorded when a bag goes back into storage: how long it was out.
    out_of_storage_s: Mapped[float | None]
    notes: Mapped[str] = mapped_column(default="")

    bag: Mapped[Bag | None] = relationship()  # noqa: F821
    donation: Mapped[Donation | None] = relationship()  # noqa: F821
    location: Mapped[StorageLocation | None] = relationship()
    shipment: Mapped[Shipment | None] = relationship()
    actor: Mapped[User] = relationship()  # noqa: F821

    __table_args__ = (
        Index("ix_custody_events_bag_time", "bag_id", "occurred_at"),
        # A station's log of the day reads its own events only.
        Index("ix_custody_events_station_time", "station", "occurred_at"),
        CheckConstraint("bag_id IS NOT NULL OR donation_id IS NOT NULL", name="bag_or_donation"),
    )

    def audit_key(self) -> str:
        return f"custody event {self.id}"
