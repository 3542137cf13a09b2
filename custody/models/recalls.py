"""Recalls: QA's signed order that stops every bag behind a donor, donation, lot or reagent lot.

A recall is resolved to lots when it is signed (`recall_lots`), and a bag is blocked while any
active recall covers its lot. Holding the lots rather than a list of bags means a bag divided
from a recalled bag afterwards is blocked too. `affected` keeps, as at signing, every bag with
its state and recipient, so the order still says who was reached after bags move on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from custody.models.base import Base, utcnow

recall_lots = Table(
    "recall_lots",
    Base.metadata,
    Column("recall_id", ForeignKey("recalls.id"), primary_key=True),
    # Looked up on every scan of a bag (is its lot recalled?): indexed on its own.
    Column("lot_id", ForeignKey("lots.id"), primary_key=True, index=True),
)


class Recall(Base):
    __tablename__ = "recalls"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    scope: Mapped[str] = mapped_column(String(16))
    scope_value: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    signature_id: Mapped[int | None] = mapped_column(ForeignKey("signatures.id"))
    # Every bag of the recalled lots as at signing: code, status, recipient, infused.
    affected: Mapped[list] = mapped_column(JSON, default=list)
    lifted_at: Mapped[datetime | None]
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lift_reason: Mapped[str] = mapped_column(Text, default="")
    lift_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signatures.id"))
    version: Mapped[int] = mapped_column(default=1)

    raised_by: Mapped[User] = relationship(foreign_keys=[raised_by_id])  # noqa: F821
    lifted_by: Mapped[User | None] = relationship(foreign_keys=[lifted_by_id])  # noqa: F821
    lots: Mapped[list[Lot]] = relationship(secondary=recall_lots, order_by="Lot.id")  # noqa: F821

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("scope IN ('donor', 'din', 'lot', 'reagent_lot')", name="scope"),
        CheckConstraint("(lifted_at IS NULL) = (lifted_by_id IS NULL)", name="lifted_with_who"),
    )

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    def audit_key(self) -> str:
        return f"recall {self.code}"
