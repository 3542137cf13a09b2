"""The batch record of a manufacturing lot: its steps, the materials used, and deviations."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from custody.models.base import Base, enum_type, utcnow


class MaterialKind(enum.StrEnum):
    REAGENT = "reagent"
    VECTOR = "vector"


class BatchStep(Base):
    """One step of the manufacturing process as performed: who, when, with what, what was seen."""

    __tablename__ = "batch_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    sequence: Mapped[int]
    step: Mapped[str] = mapped_column(String(100))
    operator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    equipment: Mapped[str] = mapped_column(String(200), default="")
    observations: Mapped[str] = mapped_column(default="")
    deviation: Mapped[bool] = mapped_column(default=False)
    deviation_reason: Mapped[str] = mapped_column(default="")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    lot: Mapped[Lot] = relationship(back_populates="steps")  # noqa: F821
    operator: Mapped[User] = relationship()  # noqa: F821
    materials: Mapped[list[BatchMaterial]] = relationship(back_populates="step")

    __table_args__ = (
        UniqueConstraint("lot_id", "sequence"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ends_after_start"),
        # A deviation without its reason is not a record a QA reviewer can act on.
        CheckConstraint(
            "NOT deviation OR length(deviation_reason) > 0", name="deviation_has_reason"
        ),
    )

    def audit_key(self) -> str:
        return f"{self.lot.lot_number if self.lot else self.lot_id} step {self.sequence}"


class BatchMaterial(Base):
    """A reagent or vector lot used in a step; indexed so a recall can find every lot it reached."""

    __tablename__ = "batch_materials"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("batch_steps.id"), index=True)
    kind: Mapped[MaterialKind] = mapped_column(enum_type(MaterialKind, "material_kind"))
    name: Mapped[str] = mapped_column(String(100))
    lot_number: Mapped[str] = mapped_column(String(64), index=True)

    step: Mapped[BatchStep] = relationship(back_populates="materials")

    def audit_key(self) -> str:
        return f"{self.kind} {self.name} lot {self.lot_number}"
