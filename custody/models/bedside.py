"""The last metres: a bag's thaw and every bedside verification attempt, passed or failed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from custody.models.base import Base, utcnow


class Thaw(Base):
    """A bag's one thaw: started and ended by scan; the post-thaw window runs from the end."""

    __tablename__ = "thaws"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Thawed cells cannot be frozen again: one thaw per bag, ever.
    bag_id: Mapped[int] = mapped_column(ForeignKey("bags.id"), unique=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    started_at: Mapped[datetime]
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None]
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The product setting in force when the thaw ended, and the moment the window closes.
    window_minutes: Mapped[int]
    use_by: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    bag: Mapped[Bag] = relationship()  # noqa: F821
    allocation: Mapped[Allocation] = relationship()  # noqa: F821

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("window_minutes > 0", name="window_positive"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ends_after_start"),
    )

    def audit_key(self) -> str:
        return f"thaw {self.id}"


class BedsideVerification(Base):
    """One two-person check at the bedside, kept whether it passed or stopped the infusion."""

    __tablename__ = "bedside_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Public identifier: the infusion record names the verification it followed.
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    first_verifier_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    second_verifier_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # What was scanned, as scanned; and what it named where it named something.
    wristband_scan: Mapped[str] = mapped_column(String(200))
    bag_scan: Mapped[str] = mapped_column(String(200))
    bag_id: Mapped[int | None] = mapped_column(ForeignKey("bags.id"), index=True)
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("recipients.id"), index=True)
    allocation_id: Mapped[int | None] = mapped_column(ForeignKey("allocations.id"))
    infusion_number: Mapped[int | None]
    passed: Mapped[bool]
    # The named checks and their results, as JSON: [{"check", "passed", "message"}, ...].
    checks: Mapped[str] = mapped_column(Text)
    station: Mapped[str | None] = mapped_column(String(64))
    # Why the bag's label was typed by hand instead of scanned (damaged label, scanner down).
    typed_reason: Mapped[str | None] = mapped_column(Text)

    bag: Mapped[Bag | None] = relationship()  # noqa: F821
    recipient: Mapped[Recipient | None] = relationship()  # noqa: F821
    allocation: Mapped[Allocation | None] = relationship()  # noqa: F821
    first_verifier: Mapped[User] = relationship(foreign_keys=[first_verifier_id])  # noqa: F821
    second_verifier: Mapped[User | None] = relationship(  # noqa: F821
        foreign_keys=[second_verifier_id]
    )

    __table_args__ = (
        CheckConstraint(
            "second_verifier_id IS NULL OR second_verifier_id <> first_verifier_id",
            name="two_people",
        ),
        CheckConstraint("NOT passed OR second_verifier_id IS NOT NULL", name="passed_by_two"),
    )

    def audit_key(self) -> str:
        return f"bedside verification {self.uid}"


class FollowUpSample(Base):
    """A recipient's sample with its own barcode, followed from the ward to the lab
    (e.g. the one blood sample about a month after a transplant)."""

    __tablename__ = "follow_up_samples"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    due_on: Mapped[date | None]
    collected_at: Mapped[datetime | None]
    collected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sent_at: Mapped[datetime | None]
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime | None]
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_condition: Mapped[str] = mapped_column(String(200), default="")
    version: Mapped[int] = mapped_column(default=1)

    recipient: Mapped[Recipient] = relationship()  # noqa: F821

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("sent_at IS NULL OR collected_at IS NOT NULL", name="sent_after_collect"),
        CheckConstraint("received_at IS NULL OR sent_at IS NOT NULL", name="received_after_sent"),
    )

    def audit_key(self) -> str:
        return self.code
