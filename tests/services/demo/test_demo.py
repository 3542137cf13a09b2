"""The demo data set: every state and disposition, histories the rules allow, same seed same data.

The demo is loaded once for the module into its own database (loading takes about a second);
the determinism test loads it a second time into the test's fresh database and compares.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from itertools import pairwise

import pytest
from sqlalchemy import func, select

from custody.domain import eligibility, isbt128
from custody.domain.bag_lifecycle import RELEASED_DISPOSITIONS, TRANSITIONS
from custody.domain.release_rules import content_hash, result_problems
from custody.extensions import db
from custody.models import (
    Allocation,
    AuditEntry,
    Bag,
    BagStatus,
    BatchMaterial,
    BatchStep,
    CustodyEvent,
    Disposition,
    Donation,
    Donor,
    Eligibility,
    Infusion,
    LabelPrint,
    LabelStatus,
    LocationKind,
    Lot,
    MaterialKind,
    QcResult,
    QualityAlert,
    ReleaseDecision,
    Role,
    Shipment,
    ShipmentDiscrepancy,
    ShipmentItem,
    ShipmentStatus,
    ShipmentTemperature,
    Signature,
    StorageLocation,
)
from custody.services.audit.verify import verify_trail
from custody.services.demo import load_demo
from custody.services.labelling.jobs import reconciliation
from custody.services.labelling.templates import template_list
from custody.services.quality.certificates import certificate_pdf
from custody.services.quality.lot_quality import (
    all_results,
    criteria_of,
    current_results,
    readings_of,
)
from custody.services.quality.queries import review_queue
from custody.services.quality.release_signature import latest_decision, signature_status
from custody.services.quality.specifications import current_specification, specification_content
from tests.labels.label_reading import decode, rasterise
from tests.services.demo.demo_database import loaded_demo, table_digest

# Everything the demo writes except accounts (salted password hashes) and the audit trail.
DEMO_TABLES = (
    "donors",
    "donor_tests",
    "donations",
    "lots",
    "lot_donations",
    "batch_steps",
    "batch_materials",
    "bags",
    "custody_events",
    "storage_locations",
    "shipments",
    "shipment_items",
    "shipment_discrepancies",
    "shipment_temperatures",
    "recipients",
    "allocations",
    "infusions",
    "qc_specifications",
    "qc_spec_items",
    "qc_results",
    "signatures",
    "release_decisions",
    "quality_alerts",
)
PATIENT_SIDE = {"released", "allocated", "shipped", "received", "thawed", "verified", "infused"}
ALLOCATED = {"allocated", "shipped", "received", "thawed", "verified", "infused"}
TOWARDS_PATIENT = {"release", "allocate", "pack", "handoff", "thaw", "verify", "infuse"}


@pytest.fixture(scope="module")
def demo(migrated_database, tmp_path_factory):
    """A database holding load_demo(scale=1, seed=1); yields the digest of what was loaded."""
    with loaded_demo(migrated_database, tmp_path_factory, "demo", DEMO_TABLES) as digest:
        yield digest


def _bags_by_status() -> dict[str, list[Bag]]:
    found = defaultdict(list)
    for bag in db.session.scalars(select(Bag)):
        found[bag.status.value].append(bag)
    return found


def test_bags_are_in_every_state_and_lots_in_every_disposition(demo):
    assert set(_bags_by_status()) == {s.value for s in BagStatus}
    dispositions = set(db.session.scalars(select(Lot.disposition)))
    assert dispositions == set(Disposition)


def test_every_bag_history_follows_the_life_cycle_table(demo):
    chains = defaultdict(list)
    query = select(CustodyEvent).where(CustodyEvent.bag_id.is_not(None))
    for event in db.session.scalars(query.order_by(CustodyEvent.occurred_at, CustodyEvent.id)):
        chains[event.bag_id].append(event)
    bags = {bag.id: bag for bag in db.session.scalars(select(Bag))}
    assert set(chains) == set(bags)
    for bag_id, chain in chains.items():
        first = chain[0]
        assert (first.action, first.from_status, first.to_status) == ("fill", None, "filled")
        for before, event in pairwise(chain):
            assert event.from_status == before.to_status, (bags[bag_id].code, event.action)
            assert TRANSITIONS[event.action][event.from_status] == event.to_status
            assert event.occurred_at > before.occurred_at
        assert chain[-1].to_status == bags[bag_id].status.value


def test_bags_moved_towards_a_patient_only_while_qa_had_released_their_lot(demo):
    """Every step towards a patient falls inside a releasing decision's life: after QA signed
    it and before it was withdrawn. A bag still on the patient side belongs to a lot that is
    released, or one QA's signature was withdrawn from after the bag got there (the alert)."""
    decisions = defaultdict(list)
    for decision in db.session.scalars(select(ReleaseDecision)):
        if decision.disposition in RELEASED_DISPOSITIONS:
            decisions[decision.lot_id].append(decision)
    for bag in db.session.scalars(select(Bag)):
        disposition = bag.lot.disposition.value
        if bag.status.value in PATIENT_SIDE and disposition not in RELEASED_DISPOSITIONS:
            assert any(d.invalidated_at for d in decisions[bag.lot_id]), bag.code
        if disposition == "rejected":
            assert bag.status.value in {"rejected", "discarded"}, bag.code
        if bag.status.value == "rejected":
            assert disposition == "rejected", bag.code
    towards_patient = (
        select(CustodyEvent.action, CustodyEvent.occurred_at, Bag.lot_id, Bag.code)
        .join(Bag, CustodyEvent.bag_id == Bag.id)
        .where(CustodyEvent.action.in_(TOWARDS_PATIENT))
    )
    events = db.session.execute(towards_patient).all()
    assert {action for action, *_ in events} == TOWARDS_PATIENT
    for action, at, lot_id, code in events:
        assert any(
            d.decided_at <= at and (d.invalidated_at is None or at < d.invalidated_at)
            for d in decisions[lot_id]
        ), (code, action)


def test_stored_bags_hold_one_position_each_and_time_out_of_storage_is_recorded(demo):
    bags = list(db.session.scalars(select(Bag)))
    in_storage = [bag for bag in bags if bag.storage_position_id is not None]
    assert all(b.storage_position_id for b in bags if b.status is BagStatus.STORED)
    assert len({b.storage_position_id for b in in_storage}) == len(in_storage)
    assert {b.storage_position.kind for b in in_storage} == {LocationKind.POSITION}
    assert not any(
        b.storage_position_id for b in bags if b.status.value in {"shipped", "infused", "thawed"}
    )
    for bag in in_storage:  # the bag is where its last storage scan put it
        last = db.session.scalar(
            select(CustodyEvent)
            .where(CustodyEvent.bag_id == bag.id, CustodyEvent.location_id.is_not(None))
            .order_by(CustodyEvent.occurred_at.desc())
            .limit(1)
        )
        assert last.action in {"store", "move"} and last.location_id == bag.storage_position_id
    assert any(b.removed_from_storage_at for b in bags if b.storage_position_id is None)
    restored = select(CustodyEvent).where(
        CustodyEvent.action == "store", CustodyEvent.out_of_storage_s > 0
    )
    assert db.session.scalars(restored).first() is not None


def test_collections_were_received_at_the_lab_by_scan(demo):
    donations = list(db.session.scalars(select(Donation)))
    assert donations
    for donation in donations:
        assert donation.received_at and donation.received_by_id and donation.received_condition
        assert donation.nk_cells and donation.viability_pct and donation.collection_timezone
        (event,) = db.session.scalars(
            select(CustodyEvent).where(CustodyEvent.donation_id == donation.id)
        )
        assert (event.bag_id, event.action, event.from_status, event.to_status) == (
            None,
            "receive_collection",
            "collected",
            "received",
        )
        assert event.raw_scan == isbt128.encode_din(donation.din)
        assert event.to_party == "cell lab" and event.occurred_at == donation.received_at
    donors = list(db.session.scalars(select(Donor)))
    assert {d.eligibility for d in donors} == {
        Eligibility.ELIGIBLE,
        Eligibility.INCOMPLETE,
        Eligibility.INELIGIBLE,
    }
    assert all(d.tests and d.eligibility_determined_by_id for d in donors)


def test_every_lot_has_a_batch_record_with_materials_and_deviations_have_reasons(demo):
    for lot in db.session.scalars(select(Lot)):
        assert len(lot.steps) >= 5 and lot.donations
        assert all(s.operator_id and s.equipment and s.ended_at > s.started_at for s in lot.steps)
        assert lot.steps[-1].step == "Fill and cryopreservation"
    kinds = set(db.session.scalars(select(BatchMaterial.kind)))
    assert kinds == {MaterialKind.REAGENT, MaterialKind.VECTOR}
    deviations = list(db.session.scalars(select(BatchStep).where(BatchStep.deviation)))
    assert deviations and all(step.deviation_reason for step in deviations)


def test_shipments_in_transit_and_received_with_logger_readings_and_a_missing_bag(demo):
    shipments = list(db.session.scalars(select(Shipment)))
    assert {s.status for s in shipments} == {ShipmentStatus.IN_TRANSIT, ShipmentStatus.RECEIVED}
    excursions = 0
    for shipment in shipments:
        assert shipment.destination_site == "University Hospital"
        assert shipment.courier and shipment.shipper_id and shipment.handed_over_to
        assert (shipment.received_at is not None) == (shipment.status is ShipmentStatus.RECEIVED)
        readings = list(
            db.session.scalars(
                select(ShipmentTemperature)
                .where(ShipmentTemperature.shipment_id == shipment.id)
                .order_by(ShipmentTemperature.recorded_at)
            )
        )
        assert readings[0].recorded_at == shipment.handed_over_at
        assert {(b.recorded_at - a.recorded_at).seconds for a, b in pairwise(readings)} == {600}
        excursions += any(r.temperature_c > shipment.storage_limit_c for r in readings)
        for item in shipment.items:
            if shipment.status is ShipmentStatus.IN_TRANSIT:
                assert item.bag.status is BagStatus.SHIPPED and item.received_at is None
    assert excursions == 1
    (missing,) = db.session.scalars(select(ShipmentDiscrepancy))
    assert missing.kind.value == "missing" and missing.note
    item = db.session.scalar(
        select(ShipmentItem).where(
            ShipmentItem.shipment_id == missing.shipment_id, ShipmentItem.bag_id == missing.bag_id
        )
    )
    assert item.received_at is None and missing.shipment.status is ShipmentStatus.RECEIVED


def test_allocated_bags_have_an_active_allocation_and_infused_bags_an_infusion(demo):
    for status, bags in _bags_by_status().items():
        for bag in bags:
            active = db.session.scalars(
                select(Allocation).where(Allocation.bag_id == bag.id, Allocation.active)
            ).all()
            assert len(active) == (1 if status in ALLOCATED else 0), (bag.code, status)
    infused = _bags_by_status()["infused"]
    infusions = db.session.scalar(select(func.count()).select_from(Infusion))
    assert infusions == len(infused)


def test_audit_trail_verifies_after_loading(demo):
    report = verify_trail(db.session.connection())
    assert report.ok and report.entries > 2000
    positions = select(func.count()).where(StorageLocation.kind == LocationKind.POSITION)
    assert db.session.scalar(positions) >= 200


# --- QC results and QA's signed decisions -------------------------------------------------------


def test_every_lot_holds_results_and_signed_decisions_that_fit_its_disposition(demo):
    spec = current_specification("D0001")
    seen = defaultdict(list)
    for lot in db.session.scalars(select(Lot)):
        assert lot.specification_id == spec.id
        results, decision = current_results(lot), latest_decision(lot)
        conditional = lot.disposition is Disposition.CONDITIONALLY_RELEASED
        pending = decision.pending_tests if conditional else ()
        problems = result_problems(criteria_of(lot), readings_of(results), pending)
        story = _story(lot, decision, results, problems)
        seen[lot.disposition].append(story)
        if lot.disposition is Disposition.QUARANTINE:
            assert decision is None or decision.invalidated_at is not None, lot.lot_number
            continue
        assert (decision.disposition, decision.invalidated_at) == (lot.disposition.value, None)
        assert signature_status(decision) == (True, ""), lot.lot_number
        pdf, number = certificate_pdf(lot.lot_number)
        assert pdf.startswith(b"%PDF") and number == decision.certificate_number
        assert hashlib.sha256(pdf).hexdigest() == decision.certificate_sha256
    assert set(seen[Disposition.RELEASED]) == {"released in spec", "exceptional"}
    assert set(seen[Disposition.CONDITIONALLY_RELEASED]) == {"sterility pending"}
    assert set(seen[Disposition.REJECTED]) == {"rejected, OOS investigated"}
    assert set(seen[Disposition.QUARANTINE]) == {"all in", "partly in", "reopened"}
    ready = review_queue()[0]  # QA's next lot: every result in, nothing in the way
    assert ready["status"] == "quarantine" and not ready["release_problems"]


def _story(lot, decision, results, problems) -> str:
    """What the lot's record says happened to it, in the words the assertions expect."""
    oos = [r for r in results if r.within_spec is False]
    investigated = bool(oos) and all(r.investigation_note for r in oos)
    if lot.disposition is Disposition.RELEASED:
        if decision.exceptional:
            assert decision.physician and decision.physician_request and decision.justification
            return "exceptional" if investigated else "exceptional, OOS not investigated"
        return "released in spec" if not problems else f"released with {problems}"
    if lot.disposition is Disposition.CONDITIONALLY_RELEASED:
        entered = {r.test for r in results}
        pending = decision.pending_tests == ["sterility"] and "sterility" not in entered
        return "sterility pending" if pending and not problems and not oos else "?"
    if lot.disposition is Disposition.REJECTED:
        return "rejected, OOS investigated" if investigated else "?"
    if decision is not None:
        return "reopened"
    assert results, lot.lot_number
    return "all in" if not problems else "partly in"


def test_signatures_verify_and_nobody_signs_a_lot_whose_results_they_entered(demo):
    spec = current_specification("D0001")
    approval = spec.approval_signature
    content = {"record": "qc_specification", **specification_content(spec)}
    assert approval.content_hash == content_hash(content) and approval.signer.role is Role.QA
    assert spec.approved_at < min(db.session.scalars(select(Lot.manufactured_at)))
    decisions = list(db.session.scalars(select(ReleaseDecision)))
    lot_signatures = select(func.count()).where(~Signature.record_type.like("label_template:%"))
    assert len(decisions) == db.session.scalar(lot_signatures.select_from(Signature)) - 1
    for decision in decisions:
        if decision.invalidated_at is None:
            assert signature_status(decision) == (True, "")
        signer = decision.signature.signer
        assert signer.role is Role.QA and decision.signature.printed_name == signer.full_name
        lot = db.session.get(Lot, decision.lot_id)
        assert signer.id not in {r.entered_by_id for r in all_results(lot)}
        assert all(r.entered_at <= decision.decided_at for r in _signed_results(decision))


def _signed_results(decision) -> list[QcResult]:
    ids = [row[0] for row in json.loads(decision.signed_content)["results"]]
    return [db.session.get(QcResult, i) for i in ids]


def test_a_corrected_result_keeps_the_old_value_and_says_why(demo):
    old = db.session.scalar(select(QcResult).where(QcResult.superseded_by_id.is_not(None)))
    new = db.session.get(QcResult, old.superseded_by_id)
    assert old.test == new.test and old.value_numeric != new.value_numeric
    assert new.correction_reason and new.entered_at > old.entered_at and new.current
    decision = latest_decision(db.session.get(Lot, new.lot_id))
    assert new in _signed_results(decision) and old not in _signed_results(decision)


def test_a_donor_not_fully_eligible_went_out_only_with_the_statements(demo):
    decisions = db.session.scalars(
        select(ReleaseDecision).where(ReleaseDecision.disposition.in_(RELEASED_DISPOSITIONS))
    )
    warned = [json.loads(d.signed_content) for d in decisions]
    warned = [c for c in warned if c["donor_eligibility"] in ("incomplete", "ineligible")]
    assert warned and all(eligibility.NOT_EVALUATED in c["warnings"] for c in warned)


def test_positive_sterility_after_conditional_release_sent_the_lot_back_with_an_alert(demo):
    (alert,) = db.session.scalars(select(QualityAlert))
    lot = db.session.get(Lot, alert.lot_id)
    result = db.session.get(QcResult, alert.result_id)
    decision = latest_decision(lot)
    assert lot.disposition is Disposition.QUARANTINE
    assert decision.disposition == "conditionally_released" and decision.pending_tests
    assert (result.test, result.value_text, result.within_spec) == ("sterility", "positive", False)
    assert decision.decided_at < result.entered_at == decision.invalidated_at == alert.raised_at
    assert signature_status(decision)[0] is False
    assert {a["bag"] for a in alert.affected} == {b.code for b in lot.bags}
    assert any(a["infused"] for a in alert.affected) and any(
        a["status"] == "shipped" for a in alert.affected
    )
    later = select(func.count()).where(
        CustodyEvent.bag_id.in_([b.id for b in lot.bags]),
        CustodyEvent.occurred_at >= alert.raised_at,
    )
    assert db.session.scalar(later) == 0
    assert lot.lot_number in {q["lot"] for q in review_queue() if q["reopened"]}


def test_same_seed_gives_the_same_data(demo, app):
    load_demo(scale=1, seed=1)
    assert table_digest(DEMO_TABLES) == demo


def test_labels_were_printed_with_approved_templates_and_decode_to_their_bags(demo):
    statuses = {(t["purpose"], t["version"]): t["status"] for t in template_list()}
    # The demo leaves the final label's new wording to QA: version 1 prints until QA signs it.
    assert statuses.pop(("final_product", 2)) == "awaiting approval"
    assert set(statuses.values()) == {"printing"}
    labels = list(db.session.scalars(select(LabelPrint).order_by(LabelPrint.id)))
    live = [label for label in labels if label.status is not LabelStatus.VOIDED]
    assert {label.purpose for label in live} == {"final_product", "quarantine_product", "tie_tag"}
    superseded = [label for label in labels if label.void_reason.startswith("superseded")]
    assert superseded and all(label.purpose == "quarantine_product" for label in superseded)
    (reprint,) = [label for label in labels if label.action == "reprint"]
    assert (
        reprint.reason and db.session.get(LabelPrint, reprint.replaces_id).status.value == "voided"
    )
    for label in [label for label in live if label.purpose == "final_product"][:3]:
        bag = db.session.get(Bag, label.bag_id)
        (page,) = rasterise(label.pdf)
        found = dict(decode(page))
        assert found["DataMatrix"].startswith(f"=+03000={bag.din}")
        assert f"=<{bag.product_code}" in found["DataMatrix"]
    lot = db.session.get(Lot, reprint.lot_id)
    counts = reconciliation(lot.lot_number)["purposes"]["final_product"]
    assert counts["reprints"] == 1 and counts["voided"] == 1 and counts["issued_not_applied"] == 0


def test_each_label_is_written_once_as_it_ends_up(demo):
    """Like the demo's other rows, a label is written in its final state (printed, applied,
    perhaps voided): the trail holds one entry for it, saying what the label says now."""
    labels = {str(label.id): label for label in db.session.scalars(select(LabelPrint))}
    entries = db.session.execute(
        select(AuditEntry.action, AuditEntry.record_id, AuditEntry.changes).where(
            AuditEntry.record_type == "label_prints"
        )
    ).all()
    assert sorted(e.record_id for e in entries) == sorted(labels)
    for action, record_id, changes in entries:
        label, written = labels[record_id], json.loads(changes)
        assert action == "create"
        assert written["status"] == [None, label.status.value]
        assert written["void_reason"] == [None, label.void_reason]
        assert written["pdf"] == [None, f"sha256:{label.pdf_sha256}"]


def test_a_reprint_prints_the_very_bytes_of_the_label_it_replaces(demo):
    (reprint,) = db.session.scalars(select(LabelPrint).where(LabelPrint.action == "reprint"))
    replaced = db.session.get(LabelPrint, reprint.replaces_id)
    assert replaced.void_reason == f"replaced by a reprint: {reprint.reason}"
    assert (reprint.values, reprint.pdf, reprint.zpl) == (
        replaced.values,
        replaced.pdf,
        replaced.zpl,
    )
    assert reprint.printed_at == replaced.voided_at == reprint.applied_at
