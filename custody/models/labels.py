"""Labels issued, and the template versions QA approved for printing.

Every label issued is one row: which template version drew it, what it says (the field values),
the PDF and ZPL bytes produced with their SHA-256, who printed it and when, and what became of
it: applied to its container, or voided (with who, when and why). Reconciliation per lot counts
these rows. A subject (bag, donation, allocation, shipment, location) has at most one live
label of each kind; the partial unique index makes two prints racing for it impossible.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from custody.models.base import Base, enum_type, utcnow


class LabelStatus(enum.StrEnum):
    ISSUED = "issued"
    APPLIED = "applied"
    VOIDED = "voided"


LIVE = "status <> 'voided'"


class LabelPrint(Base):
    __tablename__ = "label_prints"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    template_version: Mapped[int]
    template_sha256: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_key: Mapped[str] = mapped_column(String(64))
    bag_id: Mapped[int | None] = mapped_column(ForeignKey("bags.id"), index=True)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("label_prints.id"))
    status: Mapped[LabelStatus] = mapped_column(
        enum_type(LabelStatus, "label_status"), default=LabelStatus.ISSUED
    )
    values: Mapped[dict] = mapped_column(JSON)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    zpl: Mapped[bytes] = mapped_column(LargeBinary)
    zpl_sha256: Mapped[str] = mapped_column(String(64))
    printed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    printed_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    applied_at: Mapped[datetime | None]
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str] = mapped_column(Text, default="")
    # Optimistic lock: applying and voiding one label at once cannot both win.
    version: Mapped[int] = mapped_column(default=1)

    printed_by: Mapped[User] = relationship(foreign_keys=[printed_by_id])  # noqa: F821
    applied_by: Mapped[User | None] = relationship(foreign_keys=[applied_by_id])  # noqa: F821
    voided_by: Mapped[User | None] = relationship(foreign_keys=[voided_by_id])  # noqa: F821

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("action IN ('print', 'reprint')", name="action"),
        Index(
            "uq_label_prints_live",
            "subject_type",
            "subject_key",
            "purpose",
            unique=True,
            sqlite_where=text(LIVE),
            postgresql_where=text(LIVE),
        ),
        Index("ix_label_prints_subject", "subject_type", "subject_key"),
    )

    def audit_key(self) -> str:
        return f"label {self.id}"


class LabelTemplateApproval(Base):
    """QA's signature on one template version, bound to the SHA-256 of its file."""

    __tablename__ = "label_template_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    version: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime] = mapped_column(default=utcnow)
    signature_id: Mapped[int] = mapped_column(ForeignKey("signatures.id"))

    approved_by: Mapped[User] = relationship()  # noqa: F821
    signature: Mapped[Signature] = relationship()  # noqa: F821

    __table_args__ = (UniqueConstraint("purpose", "version", name="uq_label_template_version"),)

    def audit_key(self) -> str:
        return f"label template {self.purpose} v{self.version}"


class LabelDelivery(Base):
    """One sending of an issued label's bytes to be printed, by whom and when: a label that
    carries a patient's identity (the tie-tag) is printed by people who may not read it on a
    page, so each time its bytes leave the server is a record, and so in the audit trail."""

    __tablename__ = "label_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    label_id: Mapped[int] = mapped_column(ForeignKey("label_prints.id"), index=True)
    format: Mapped[str] = mapped_column(String(8))
    delivered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    delivered_at: Mapped[datetime] = mapped_column(default=utcnow)

    def audit_key(self) -> str:
        return f"{self.format} of label {self.label_id}"
