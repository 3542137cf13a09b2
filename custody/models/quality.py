"""Release specifications, QC results, electronic signatures and lot release decisions."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
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
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The QA e-signature that approved this version (meaning "Approved specification").
    approval_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signatures.id"))

    items: Mapped[list[QcSpecItem]] = relationship(
        back_populates="specification", order_by="QcSpecItem.sequence"
    )
    approval_signature: Mapped[Signature | None] = relationship()

    __table_args__ = (
        UniqueConstraint("product_description_code", "version"),
        # One approved version per product: the one new lots are judged by.
        Index(
            "uq_qc_specifications_approved",
            "product_description_code",
            unique=True,
            sqlite_where=text("status = 'approved'"),
            postgresql_where=text("status = 'approved'"),
        ),
    )

    def audit_key(self) -> str:
        return f"{self.product_description_code} v{self.version}"


class QcSpecItem(Base):
    """One release test and its acceptance criterion (numeric limits or an expected result)."""

    __tablename__ = "qc_spec_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    specification_id: Mapped[int] = mapped_column(ForeignKey("qc_specifications.id"))
    sequence: Mapped[int] = mapped_column(default=0)
    test: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(100), default="")
    # "numeric" (limits and a unit) or "qualitative" (an expected word such as "negative").
    kind: Mapped[str] = mapped_column(String(16), default="numeric")
    unit: Mapped[str] = mapped_column(String(32), default="")
    lower_limit: Mapped[float | None]
    upper_limit: Mapped[float | None]
    lower_inclusive: Mapped[bool] = mapped_column(default=True)
    upper_inclusive: Mapped[bool] = mapped_column(default=False)
    expected_text: Mapped[str | None] = mapped_column(String(64))
    # A qualitative test's every possible result, lower case, the expected one among them
    # (e.g. ["negative", "positive", "indeterminate"]); None for a numeric test.
    allowed_values: Mapped[list[str] | None] = mapped_column(JSON)
    # May still be pending when QA releases conditionally (e.g. 14-day sterility).
    may_be_pending: Mapped[bool] = mapped_column(default=False)
    # Judged per recipient at allocation (e.g. residual CD3+ cells per kg), not at release:
    # the result is still required before release, its verdict waits for the recipient.
    judged_at_allocation: Mapped[bool] = mapped_column(default=False)

    specification: Mapped[QcSpecification] = relationship(back_populates="items")

    __table_args__ = (
        UniqueConstraint("specification_id", "test"),
        CheckConstraint("kind IN ('numeric', 'qualitative')", name="kind"),
    )


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

    entered_by: Mapped[User] = relationship(foreign_keys=[entered_by_id])  # noqa: F821

    __table_args__ = (
        CheckConstraint("value_numeric IS NOT NULL OR value_text IS NOT NULL", name="has_value"),
    )

    @property
    def current(self) -> bool:
        return self.superseded_by_id is None

    def audit_key(self) -> str:
        return f"{self.test} result {self.id}"


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
    reason: Mapped[str] = mapped_column(Text, default="")

    signer: Mapped[User] = relationship()  # noqa: F821

    __table_args__ = (Index("ix_signatures_record", "record_type", "record_id"),)

    def audit_key(self) -> str:
        return f"signature {self.id} ({self.meaning})"


class ReleaseDecision(Base):
    """QA's signed disposition of a lot, the content it signed, and the certificate issued.

    `signed_content` is the canonical JSON the signature's hash covers; a later change to the
    lot's results sets `invalidated_at` (and puts the lot back in quarantine).
    """

    __tablename__ = "release_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    disposition: Mapped[str] = mapped_column(String(32))
    previous_disposition: Mapped[str] = mapped_column(String(32), default="quarantine")
    reason: Mapped[str] = mapped_column(default="")
    exceptional: Mapped[bool] = mapped_column(default=False)
    physician: Mapped[str] = mapped_column(String(200), default="")
    physician_request: Mapped[str] = mapped_column(Text, default="")
    justification: Mapped[str] = mapped_column(Text, default="")
    # Test keys still pending at a conditional release.
    pending_tests: Mapped[list] = mapped_column(JSON, default=list)
    signed_content: Mapped[str] = mapped_column(Text, default="")
    signature_id: Mapped[int] = mapped_column(ForeignKey("signatures.id"), unique=True)
    certificate_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    certificate_pdf: Mapped[bytes | None]
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    invalidated_at: Mapped[datetime | None]
    invalidation_reason: Mapped[str] = mapped_column(Text, default="")

    signature: Mapped[Signature] = relationship()

    def audit_key(self) -> str:
        return f"release decision {self.id}"


class QualityAlert(Base):
    """A quality event that reaches patients: e.g. a positive result after conditional release.

    `affected` lists, as at raising, every bag of the lot with its state and recipient, so the
    alert still says who was reached even after bags move on.
    """

    __tablename__ = "quality_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    result_id: Mapped[int | None] = mapped_column(ForeignKey("qc_results.id"))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    message: Mapped[str] = mapped_column(Text)
    affected: Mapped[list] = mapped_column(JSON, default=list)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None]
    acknowledgement: Mapped[str] = mapped_column(Text, default="")

    def audit_key(self) -> str:
        return f"alert {self.public_id}"
