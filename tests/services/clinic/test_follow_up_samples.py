"""The post-transplant sample: created with the transplant, collected and sent by the ward,
received by the lab in that order, each step audited; its receipt ends the recipient's study."""

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
import zxingcpp
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from custody.domain.errors import (
    Forbidden,
    IllegalTransition,
    InvalidBarcode,
    NotFound,
    ValidationFailed,
)
from custody.extensions import db
from custody.models import AuditEntry, FollowUpSample, Recipient
from custody.services.clinic import recipients, samples
from tests.races import race


def _audit(record_type: str) -> list[AuditEntry]:
    return db.session.scalars(
        select(AuditEntry).where(AuditEntry.record_type == record_type).order_by(AuditEntry.id)
    ).all()


def _audit_count() -> int:
    return db.session.scalar(select(func.count(AuditEntry.id)))


def _sample_row(code: str) -> dict:
    db.session.expire_all()
    row = db.session.scalar(select(FollowUpSample).where(FollowUpSample.code == code))
    return {c.key: getattr(row, c.key) for c in FollowUpSample.__table__.columns}


def _recipient(recipient) -> Recipient:
    db.session.expire_all()
    return db.session.get(Recipient, recipient.id)


@pytest.fixture
def transplanted(clinic, nurse):
    """A recipient in follow-up, transplanted 30 days ago: (recipient, sample code)."""
    today = recipients.site_today()
    recipient = clinic.recipient(status="follow_up", day0=today - timedelta(90))
    sample = recipients.record_transplant(
        nurse, recipient.subject_id, today - timedelta(30), "allogeneic HSCT"
    )
    return recipient, sample.code


def test_a_transplant_creates_the_sample_due_a_month_later(clinic, nurse, transplanted):
    recipient, code = transplanted
    assert re.fullmatch(r"SMP-[0-9A-F]{8}", code)
    row = _sample_row(code)
    transplant_on = recipients.site_today() - timedelta(30)
    assert (row["kind"], row["due_on"]) == ("post_transplant_blood", transplant_on + timedelta(30))
    assert _recipient(recipient).transplant_on == transplant_on
    (created,) = _audit("follow_up_samples")
    assert (created.action, created.actor, created.reason) == ("create", "nina", "allogeneic HSCT")
    assert json.loads(_audit("recipients")[-1].changes)["transplant_on"] == [
        None,
        transplant_on.isoformat(),
    ]
    with pytest.raises(IllegalTransition, match="already recorded"):
        recipients.record_transplant(nurse, recipient.subject_id, transplant_on, "again")
    assert db.session.scalar(select(func.count(FollowUpSample.id))) == 1


def test_a_transplant_before_infusion_is_refused(clinic, nurse):
    recipient = clinic.recipient(status="lymphodepletion")
    with pytest.raises(IllegalTransition, match="after infusion 1"):
        recipients.record_transplant(nurse, recipient.subject_id, recipients.site_today(), "x")
    assert db.session.scalar(select(func.count(FollowUpSample.id))) == 0


def test_collected_sent_received_then_the_recipient_is_off_study(nurse, tech, transplanted):
    recipient, code = transplanted
    taken = datetime.now(UTC) - timedelta(hours=3)
    samples.collect(nurse, f"  {code.lower()} ", at=taken)
    samples.send(nurse, code, at=taken + timedelta(hours=1))
    samples.receive(tech, code, "intact, cold")
    row = _sample_row(code)
    assert row["collected_at"] == taken and row["sent_at"] == taken + timedelta(hours=1)
    assert row["received_at"] is not None and row["received_condition"] == "intact, cold"
    entries = [e for e in _audit("follow_up_samples") if e.action == "update"]
    assert [(e.actor, e.reason) for e in entries] == [
        ("nina", "follow-up sample collected"),
        ("nina", "follow-up sample sent to the lab"),
        ("tess", "follow-up sample received: intact, cold"),
    ]
    assert json.loads(entries[0].changes)["collected_by_id"] == [None, nurse.id]
    after = _recipient(recipient)
    assert after.status.value == "off_study"
    assert after.status_reason == "Left the study after the post-transplant sample (protocol)"
    entry = _audit("recipients")[-1]
    assert json.loads(entry.changes)["status"] == ["follow_up", "off_study"]
    assert entry.actor == "tess"
    assert samples.sample_fields(samples.sample_by_code(code))["stage"] == "received"


def test_the_steps_happen_in_order(nurse, tech, transplanted):
    _, code = transplanted
    row, before = _sample_row(code), _audit_count()
    with pytest.raises(IllegalTransition, match="is DUE: it cannot be sent"):
        samples.send(nurse, code)
    with pytest.raises(IllegalTransition, match="is DUE: it cannot be received"):
        samples.receive(tech, code, "intact")
    assert _sample_row(code) == row and _audit_count() == before
    samples.collect(nurse, code)
    with pytest.raises(IllegalTransition, match="is COLLECTED: it cannot be collected") as refused:
        samples.collect(nurse, code)
    assert refused.value.details["allowed"] == ["send"]
    with pytest.raises(IllegalTransition, match="is COLLECTED: it cannot be received"):
        samples.receive(tech, code, "intact")
    samples.send(nurse, code)
    samples.receive(tech, code, "intact")
    with pytest.raises(IllegalTransition, match="is RECEIVED"):
        samples.receive(tech, code, "intact")


def test_each_step_is_done_by_its_role(make, nurse, tech, transplanted):
    _, code = transplanted
    admin, qa = make.user("admin"), make.user("qa")
    row = _sample_row(code)
    for user in (tech, admin, qa):
        with pytest.raises(Forbidden, match="Only nurse"):
            samples.collect(user, code)
    samples.collect(nurse, code)
    for user in (tech, admin):
        with pytest.raises(Forbidden, match="Only nurse"):
            samples.send(user, code)
    samples.send(nurse, code)
    for user in (nurse, admin, qa):
        with pytest.raises(Forbidden, match="Only technician"):
            samples.receive(user, code, "intact")
    assert _sample_row(code)["received_at"] is None and row["collected_at"] is None


@pytest.mark.parametrize(
    ("scan", "error", "words"),
    [
        ("LOC-F01", InvalidBarcode, "not a follow-up sample barcode"),
        ("", InvalidBarcode, "start with SMP-"),
        ("SMP-00000000", NotFound, "No follow-up sample SMP-00000000"),
    ],
)
def test_a_wrong_scan_is_refused_with_words(nurse, transplanted, scan, error, words):
    with pytest.raises(error, match=words):
        samples.collect(nurse, scan)


def test_impossible_times_are_refused(nurse, transplanted):
    _, code = transplanted
    transplant_day = datetime.now(UTC) - timedelta(days=32)
    for at, words in (
        (transplant_day, "before it"),
        (datetime.now(UTC) + timedelta(hours=1), "in the future"),
        (datetime.now(), "UTC offset"),
    ):
        with pytest.raises(ValidationFailed, match=words):
            samples.collect(nurse, code, at=at)
    assert _sample_row(code)["collected_at"] is None
    taken = datetime.now(UTC) - timedelta(hours=2)
    samples.collect(nurse, code, at=taken)
    with pytest.raises(ValidationFailed, match="before it was collected"):
        samples.send(nurse, code, at=taken - timedelta(minutes=1))
    assert _sample_row(code)["sent_at"] is None


def test_a_condition_is_required_at_receipt(nurse, tech, transplanted):
    _, code = transplanted
    samples.collect(nurse, code)
    samples.send(nurse, code)
    with pytest.raises(ValidationFailed, match="condition"):
        samples.receive(tech, code, "   ")
    assert _sample_row(code)["received_at"] is None


def test_a_recipient_who_left_already_keeps_their_status(nurse, tech, transplanted):
    recipient, code = transplanted
    samples.collect(nurse, code)
    samples.send(nurse, code)
    recipients.change_status(nurse, recipient.subject_id, "withdrawn", "consent withdrawn")
    samples.receive(tech, code, "intact")
    assert _recipient(recipient).status.value == "withdrawn"
    assert _recipient(recipient).status_reason.endswith("consent withdrawn")


def test_no_sample_is_taken_from_a_recipient_no_longer_on_the_study(nurse, transplanted):
    recipient, code = transplanted
    recipients.change_status(nurse, recipient.subject_id, "deceased", "death reported")
    with pytest.raises(IllegalTransition, match="do not take this sample"):
        samples.collect(nurse, code)


def test_two_nurses_collecting_one_sample_at_once_one_wins(app, make, transplanted):
    _, code = transplanted
    make.user("nurse", username="n1")
    make.user("nurse", username="n2")
    outcomes = race(
        app,
        ("n1", lambda user: samples.collect(user, code).code),
        ("n2", lambda user: samples.collect(user, code).code),
    )
    assert sorted(type(o).__name__ for o in outcomes) in (
        ["Conflict", "str"],
        ["IllegalTransition", "str"],
    )
    assert len(_audit("follow_up_samples")) == 2  # created, collected once


def test_the_barcode_svg_decodes_to_the_sample_code(transplanted):
    _, code = transplanted
    svg = samples.barcode_svg(code.lower())
    assert read_svg_barcode(svg) == code
    with pytest.raises(NotFound):
        samples.barcode_svg("SMP-00000000")


def read_svg_barcode(svg: bytes, px_per_mm: int = 16) -> str:
    """Draw the SVG's bars (python-barcode writes one rect per bar, in mm) and decode them."""
    root = ET.fromstring(svg)
    mm = lambda value: float(value.removesuffix("mm")) * px_per_mm  # noqa: E731
    image = Image.new("L", (round(mm(root.get("width"))), round(mm(root.get("height")))), 255)
    draw = ImageDraw.Draw(image)
    for rect in root.iter("{http://www.w3.org/2000/svg}rect"):
        if "black" in (rect.get("style") or ""):
            x, y = mm(rect.get("x")), mm(rect.get("y"))
            draw.rectangle(
                (x, y, x + mm(rect.get("width")) - 1, y + mm(rect.get("height")) - 1), fill=0
            )
    (result,) = zxingcpp.read_barcodes(image)
    assert result.format == zxingcpp.BarcodeFormat.Code128
    return result.text
