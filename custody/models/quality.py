"""Release specifications, QC results, electronic signatures and lot release decisions."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from custody.models.base import Base, enum_type, utcnow


class SpecificationStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    RETIRED = "retired"


class QcSpecification(Base):
    """A versioned, approved set of release tests for one product."""

    __tablename__ = "qc_specifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_description_code: Mapped[str] = mapped_column(String(5))
    version: Mapped[int]
    status: Mapped[SpecificationStatus] = mapped_column(
        enum_type(SpecificationStatus, "specification_status"), default=SpecificationStatus.DRAFT
    )
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]

    items: Mapped[list[QcSpecItem]] = relationship(back_populates="specification")

    __table_args__ = (UniqueConstraint("product_description_code", "version"),)

    def audit_key(self) -> str:
        return f"{self.product_description_code} v{self.version}"


class QcSpecItem(Base):
    """One release test and its acceptance criterion (numeric limits or an expected result)."""

    __tablename__ = "qc_spec_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    specification_id: Mapped[int] = mapped_column(ForeignKey("qc_specifications.id"))
    test: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(32), default="")
    lower_limit: Mapped[float | None]
    upper_limit: Mapped[float | None]
    lower_inclusive: Mapped[bool] = mapped_column(default=True)
    upper_inclusive: Mapped[bool] = mapped_column(default=False)
    expected_text: Mapped[str | None] = mapped_column(String(64))
    # May still be pending when QA releases conditionally (e.g. 14-day sterility).
    may_be_pending: Mapped[bool] = mapped_column(default=False)

    specification: Mapped[QcSpecification] = relationship(back_populates="items")

    __table_args__ = (UniqueConstraint("specification_id", "test"),)


class QcResult(Base):
    """A QC result for a lot. A correction adds a new row and points the old one at it."""

    __tablename__ = "qc_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    test: Mapped[str] = mapped_column(String(64))
    value_numeric: Mapped[float | None]
    value_text: Mapped[str | None] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(32), default="")
    method: Mapped[str] = mapped_column(String(100), default="")
    instrument: Mapped[str] = mapped_column(String(100), default="")
    attachment_ref: Mapped[str] = mapped_column(String(200), default="")
    within_spec: Mapped[bool | None]
    investigation_note: Mapped[str] = mapped_column(default="")
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("qc_results.id"))
    correction_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        CheckConstraint("value_numeric IS NOT NULL OR value_text IS NOT NULL", name="has_value"),
    )


class Signature(Base):
    """An electronic signature (21 CFR 11.50, 11.70): who, when, meaning, bound to a hash."""

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    signer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    printed_name: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    meaning: Mapped[str] = mapped_column(String(100))
    record_type: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int]
    # SHA-256 of the signed content: any later change to it shows the signature no longer holds.
    content_hash: Mapped[str] = mapped_column(String(64))

    def audit_key(self) -> str:
        return f"signature {self.id} ({self.meaning})"


class ReleaseDecision(Base):
    __tablename__ = "release_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    disposition: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(default="")
    exceptional: Mapped[bool] = mapped_column(default=False)
    signature_id: Mapped[int] = mapped_column(ForeignKey("signatures.id"), unique=True)
    certificate_pdf: Mapped[bytes | None]
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)

    def audit_key(self) -> str:
        return f"release decision {self.id}"
