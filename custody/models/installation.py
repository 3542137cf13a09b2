"""Facts about the database itself rather than about the product it tracks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from custody.models.base import Base, utcnow


class DemoMark(Base):
    """Set by `custody demo` when it loads its data into an empty database, and only then: the
    guided walk (demo accounts, scan strings to paste) exists only where this row does, so those
    strings can never sit beside real patients."""

    __tablename__ = "demo_marks"

    id: Mapped[int] = mapped_column(primary_key=True)
    scale: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    def audit_key(self) -> str:
        return f"demo data, scale {self.scale}, seed {self.seed}"
