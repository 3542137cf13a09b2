"""Derived state reconciled with its records, on both databases: a bag's status with its last
custody event, a lot's disposition with QA's latest signed decision and its signature hash."""

from __future__ import annotations

from sqlalchemy import text

from custody.extensions import db
from custody.models import ReleaseDecision
from custody.services.audit.reconciliation import reconcile
from custody.services.bags.scans import ScanRequest, scan
from custody.services.quality.results import ResultRequest, correct_result


def _reconcile() -> list[str]:
    db.session.commit()
    with db.engine.connect() as conn:
        return [m.describe() for m in reconcile(conn)]


def _sql(statement: str, **values) -> None:
    db.session.execute(text(statement), values)
    db.session.commit()


def _quarantined_bag(make_lot, tech):
    (bag,) = make_lot(bags=1, status="filled").bags
    scan(tech, ScanRequest(action="quarantine", bag=bag.code))
    return bag


def test_records_kept_by_the_tracker_reconcile(make_lot, quality, tech):
    _quarantined_bag(make_lot, tech)
    quality.released_lot(make_lot, bags=1)
    rejected = quality.released_lot(make_lot, bags=1)
    quality.sign(rejected.lot_number, "reject", reason="sterility positive")
    # (The released lots' bags were made by the test factory, with no custody event: named.)
    assert [line for line in _reconcile() if not line.startswith("bag ")] == []


def test_a_bag_whose_status_was_changed_without_a_custody_event_is_named(make_lot, tech):
    bag = _quarantined_bag(make_lot, tech)
    assert _reconcile() == []
    _sql("UPDATE bags SET status = 'released' WHERE id = :id", id=bag.id)
    (line,) = _reconcile()
    assert line.startswith(f"bag {bag.code}: reads released but its last custody event (")
    assert line.endswith(
        ", quarantine) left it quarantined: the state was changed without a custody record"
    )


def test_a_bag_with_no_custody_event_at_all_is_named(make_lot):
    (bag,) = make_lot(bags=1).bags
    assert _reconcile() == [
        f"bag {bag.code}: reads quarantined but has no custody event at all (not filled by the "
        "tracker)"
    ]


def test_a_lot_released_without_a_signature_is_named(make_lot, tech):
    bag = _quarantined_bag(make_lot, tech)
    _sql("UPDATE lots SET disposition = 'released' WHERE id = :id", id=bag.lot_id)
    assert _reconcile() == [
        f"lot {bag.lot.lot_number}: reads released but QA never signed a decision on it"
    ]


def test_a_lot_must_read_what_its_latest_signed_decision_made_it(make_lot, quality):
    lot = quality.released_lot(make_lot, bags=1)
    quality.sign(lot.lot_number, "reject", reason="sterility positive")
    _sql("UPDATE lots SET disposition = 'released' WHERE id = :id", id=lot.id)
    (line,) = [line for line in _reconcile() if line.startswith("lot ")]
    assert line.startswith(f"lot {lot.lot_number}: reads released but QA's latest signed ")
    assert line.endswith(") made it rejected")


def test_a_withdrawn_release_puts_the_lot_back_in_quarantine_for_good(make_lot, quality, analyst):
    lot = quality.released_lot(make_lot, bags=1)
    correct_result(
        analyst, lot.lot_number, ResultRequest("viability", value_numeric=90.0), "typing error"
    )
    assert [line for line in _reconcile() if line.startswith("lot ")] == []
    _sql("UPDATE lots SET disposition = 'released' WHERE id = :id", id=lot.id)
    (line,) = [line for line in _reconcile() if line.startswith("lot ")]
    assert line.endswith("withdrawn, so the lot belongs in quarantine")


def test_a_signed_decision_whose_content_or_signature_changed_is_named(make_lot, quality):
    lot = quality.released_lot(make_lot, bags=1)
    decision = db.session.scalar(db.select(ReleaseDecision).where(ReleaseDecision.lot_id == lot.id))
    signed = decision.signed_content
    _sql(
        "UPDATE release_decisions SET signed_content = :c WHERE id = :id",
        c=signed.replace('"released"', '"rejected"'),
        id=decision.id,
    )
    (line,) = [line for line in _reconcile() if line.startswith("lot ")]
    assert line.endswith(
        "no longer hashes to what its signature covers: the signed record was changed"
    )
    _sql(
        "UPDATE release_decisions SET signed_content = :c WHERE id = :id", c=signed, id=decision.id
    )
    _sql(
        "UPDATE signatures SET record_id = record_id + 1000 WHERE id = :id",
        id=decision.signature_id,
    )
    (line,) = [line for line in _reconcile() if line.startswith("lot ")]
    assert line.endswith("carries a signature given to another record")
