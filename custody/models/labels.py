"""Every label printed, reprinted or voided, with the template version and the bytes' hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from custody.models.base import Base, utcnow


class LabelPrint(Base):
    __tablename__ = "label_prints"

    id: Mapped[int] = mapped_column(primary_key=True)
    bag_id: Mapped[int | None] = mapped_column(ForeignKey("bags.id"), index=True)
    template_name: Mapped[str] = mapped_column(String(64))
    template_version: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(default="")
    printed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    printed_at: Mapped[datetime] = mapped_column(default=utcnow)
    sha256: Mapped[str] = mapped_column(String(64))

    __table_args__ = (CheckConstraint("action IN ('print', 'reprint', 'void')", name="action"),)

    def audit_key(self) -> str:
        return f"label print {self.id}"
