"""The labels API: print jobs, the label record's life cycle, template approval, reconciliation.

Who may do what is checked on every endpoint; a label's bytes are read back (decoded, text
extracted) where the endpoint's point is what the label says.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import date

import pytest
from sqlalchemy import select

from custody.config import SHIPPED_LABEL_TEMPLATES
from custody.domain.errors import SignatureRefused
from custody.domain.isbt128 import encode_din, encode_product_code, type3_flags
from custody.extensions import db
from custody.models import Allocation, AuditEntry, LabelDelivery, User
from custody.services.core.audit_trail import acting_as
from custody.services.labelling.templates import approve_template
from tests.api import responses
from tests.conftest import change_settings
from tests.factories import PASSWORD, approve_label_templates
from tests.labels.label_reading import decode, normalise, page_texts, rasterise

API = "/api/v1"
UNKNOWN = {
    "bag": "W999999999999-D0001VA0",
    "din": "W999999999999",
    "shipment": "SHP-NONE",
    "lot": "LT-NONE",
    "label": "999999",
}
PRINT_JOBS = [
    f"/{path}.{fmt}"
    for path in (
        "bags/{bag}/label",
        "bags/{bag}/tie-tag",
        "donations/{din}/label",
        "shipments/{shipment}/label",
        "lots/{lot}/labels",
        "labels/{label}/label",
    )
    for fmt in ("pdf", "zpl")
]


@pytest.fixture
def templates(app, tmp_path):
    """A copy of the shipped templates that the test may edit, read by the app."""
    folder = tmp_path / "labels"
    shutil.copytree(SHIPPED_LABEL_TEMPLATES, folder)
    change_settings(app, CUSTODY_LABEL_TEMPLATES=folder)
    return folder


def signer(make, user):
    return {"Authorization": f"Bearer {make.token(user)}"}


def approve(client, make, qa, purpose: str, version: int, password: str = PASSWORD):
    return client.post(
        f"{API}/label-templates/{purpose}/{version}/approval",
        json={"username": qa.username, "password": password},
        headers=signer(make, qa),
    )


def statuses(client, headers) -> dict[str, str]:
    body = responses.ok(client.get(f"{API}/label-templates", headers=headers), 200)
    return {row["file"]: row["status"] for row in body["templates"]}


def label_of(client, headers, bag_code: str, fmt: str = "pdf"):
    response = client.get(f"{API}/bags/{bag_code}/label.{fmt}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def test_nothing_prints_before_qa_approves_a_template(client, make_lot, tech):
    bag = make_lot(bags=1).bags[0]
    response = client.get(f"{API}/bags/{bag.code}/label.pdf", headers=tech)
    assert "QA approves" in responses.error(response, 409, "label_cannot_print")["message"]


def test_an_approved_template_edited_afterwards_prints_nothing(
    client, make, make_lot, templates, tech
):
    approve_label_templates(make)
    first, second = make_lot(bags=2).bags
    label_of(client, tech, first.code)
    edited = templates / "quarantine_product.v1.toml"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited after approval\n")
    refused = responses.error(
        client.get(f"{API}/bags/{second.code}/label.pdf", headers=tech), 409, "label_cannot_print"
    )
    assert "v1 changed since QA approved it" in refused["message"]
    assert statuses(client, tech)["quarantine_product.v1.toml"] == "changed since approval"


def test_a_new_version_waits_for_qa_then_prints_and_is_recorded(
    client, make, make_lot, templates, tech
):
    qa = approve_label_templates(make)
    first, second = make_lot(bags=2).bags
    v1 = (templates / "quarantine_product.v1.toml").read_text(encoding="utf-8")
    assert v1.count("version = 1\n") == 1
    v2 = v1.replace("version = 1\n", "version = 2\n").replace("Quarantine bag", "Quarantine")
    (templates / "quarantine_product.v2.toml").write_text(v2, encoding="utf-8")
    assert statuses(client, tech)["quarantine_product.v2.toml"] == "awaiting approval"
    old = label_of(client, tech, first.code)
    assert old.headers["X-Label-Template"] == "quarantine_product v1"

    approval = responses.ok(approve(client, make, qa, "quarantine_product", 2), 201)
    file_sha = hashlib.sha256(v2.encode("utf-8")).hexdigest()
    assert approval["sha256"] == file_sha and approval["username"] == qa.username
    assert approval["meaning"] == "Approved label template for printing"
    responses.error(approve(client, make, qa, "quarantine_product", 2), 409, "conflict")

    new = label_of(client, tech, second.code)
    assert new.headers["X-Label-Template"] == "quarantine_product v2"
    record = client.get(f"{API}/labels/{new.headers['X-Label-Id']}", headers=tech).get_json()
    assert (record["template_version"], record["template_sha256"]) == (2, file_sha)
    listed = statuses(client, tech)
    assert listed["quarantine_product.v1.toml"] == "superseded"
    assert listed["quarantine_product.v2.toml"] == "printing"


def test_the_template_list_shows_never_approved_and_invalid_files(client, make, templates, tech):
    qa = approve_label_templates(make)
    shipper = (templates / "shipper.v1.toml").read_text(encoding="utf-8")
    for version in (2, 3):
        text = shipper.replace("version = 1\n", f"version = {version}\n")
        (templates / f"shipper.v{version}.toml").write_text(text, encoding="utf-8")
    (templates / "storage_position.v2.toml").write_text('name = "storage_position"\nversion = 2\n')
    responses.ok(approve(client, make, qa, "shipper", 3), 201)
    body = responses.ok(client.get(f"{API}/label-templates", headers=tech), 200)["templates"]
    rows = {row["file"]: row for row in body}
    assert rows["shipper.v1.toml"]["status"] == "superseded"
    assert rows["shipper.v2.toml"]["status"] == "never approved (superseded)"
    assert rows["shipper.v3.toml"]["status"] == "printing"
    assert rows["storage_position.v2.toml"]["status"] == "invalid"
    assert rows["storage_position.v2.toml"]["problems"]
    responses.error(approve(client, make, qa, "storage_position", 2), 404, "not_found")


def test_only_qa_approves_a_template_with_its_own_password(client, make):
    qa = make.user("qa")
    technician = make.user("technician")
    refused = approve(client, make, technician, "collection", 1)
    responses.error(refused, 403, "forbidden")
    responses.error(approve(client, make, qa, "collection", 1, "wrong"), 403, "signature_refused")
    with pytest.raises(SignatureRefused, match="Only QA"):
        approve_template(make.user("admin"), "collection", 1, "x", PASSWORD)
    anonymous = client.post(f"{API}/label-templates/collection/1/approval", json={})
    responses.error(anonymous, 401, "authentication_failed")
    assert statuses(client, signer(make, qa))["collection.v1.toml"] == "awaiting approval"
    responses.ok(approve(client, make, qa, "collection", 1), 201)


def test_a_bags_label_is_one_record_served_as_pdf_and_zpl(client, make_lot, tech, approved_labels):
    bag = make_lot(bags=1).bags[0]
    pdf = label_of(client, tech, bag.code)
    label_id = pdf.headers["X-Label-Id"]
    assert pdf.mimetype == "application/pdf"
    assert pdf.headers["X-Label-SHA256"] == hashlib.sha256(pdf.data).hexdigest()
    again = label_of(client, tech, bag.code)
    assert (again.headers["X-Label-Id"], again.data) == (label_id, pdf.data)
    zpl = label_of(client, tech, bag.code, "zpl")
    assert zpl.headers["X-Label-Id"] == label_id
    assert zpl.headers["X-Label-SHA256"] == hashlib.sha256(zpl.data).hexdigest()
    text = zpl.get_data(as_text=True).strip()
    assert text.startswith("^XA") and text.endswith("^XZ")
    assert encode_din(bag.din, type3_flags(bag.din)) in text
    record = responses.ok(client.get(f"{API}/labels/{label_id}", headers=tech), 200)
    assert (record["purpose"], record["status"], record["subject_key"]) == (
        "quarantine_product",
        "issued",
        bag.code,
    )
    assert record["pdf_sha256"] == pdf.headers["X-Label-SHA256"]
    stored = client.get(f"{API}/labels/{label_id}/label.pdf", headers=tech)
    assert stored.data == pdf.data
    assert client.get(f"{API}/labels/{label_id}/label.zpl", headers=tech).data == zpl.data


@pytest.fixture
def subjects(make_lot, make, client, approved_labels) -> dict[str, str]:
    lot = make_lot(bags=1)
    label = label_of(client, make.auth("technician"), lot.bags[0].code)
    return {
        "bag": lot.bags[0].code,
        "din": lot.din,
        "shipment": make_lot.shipment().code,
        "lot": lot.lot_number,
        "label": label.headers["X-Label-Id"],
    }


@pytest.mark.parametrize("job", PRINT_JOBS)
def test_print_jobs_need_a_printing_role_and_a_known_subject(client, make, subjects, job):
    url = API + job.format(**subjects)
    responses.error(client.get(url), 401, "authentication_failed")
    responses.error(client.get(url, headers=make.auth("nurse")), 403, "forbidden")
    unknown = API + job.format(**UNKNOWN)
    responses.error(client.get(unknown, headers=make.auth("technician")), 404, "not_found")


def test_a_tie_tag_needs_an_allocation_and_names_the_recipient(
    client, make, make_lot, make_recipient, tech, approved_labels, quality
):
    bag = quality.released_lot(make_lot, bags=1).bags[0]
    url = f"{API}/bags/{bag.code}/tie-tag.pdf"
    refused = responses.error(client.get(url, headers=tech), 409, "label_cannot_print")
    assert "not allocated" in refused["message"]
    recipient = make_recipient(
        subject_id="CARNK-101-007",
        hospital_record_number="H-55821",
        name="Ada Lovelace",
        birth_date=date(1961, 3, 14),
        weight_kg=64.0,
    )
    with acting_as("system:test", reason="test setup"):
        allocator = make.user("qa")
        db.session.add(
            Allocation(
                bag=bag, recipient=recipient, infusion_number=1, allocated_by_id=allocator.id
            )
        )
        bag.status = "allocated"
        db.session.commit()
    response = client.get(url, headers=tech)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["X-Label-Template"] == "tie_tag v1"
    (image,) = rasterise(response.data)
    read = decode(image)
    assert ("Code128", encode_din(bag.din, type3_flags(bag.din))) in read
    assert ("Code128", encode_product_code(bag.product_code)) in read
    (words,) = page_texts(response.data)
    words = normalise(words)
    for shown in ("Ada Lovelace", "CARNK-101-007", "1961-03-14", "INFUSION 1"):
        assert shown in words
    zpl = client.get(f"{API}/bags/{bag.code}/tie-tag.zpl", headers=tech)
    assert zpl.headers["X-Label-Id"] == response.headers["X-Label-Id"]
    again = client.get(f"{API}/labels/{zpl.headers['X-Label-Id']}/label.pdf", headers=tech)
    assert again.status_code == 200

    # Each sending of the patient's identity to be printed is its own record and audit entry.
    label_id = int(response.headers["X-Label-Id"])
    delivered = db.session.scalars(
        select(LabelDelivery).where(LabelDelivery.label_id == label_id).order_by(LabelDelivery.id)
    ).all()
    assert [d.format for d in delivered] == ["pdf", "zpl", "pdf"]
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.record_type == "label_deliveries")
        .order_by(AuditEntry.id)
    ).all()
    technician = db.session.get(User, delivered[0].delivered_by_id).username
    assert [(e.actor, e.reason) for e in entries] == [
        (technician, f"tie_tag {label_id} sent to print as pdf"),
        (technician, f"tie_tag {label_id} sent to print as zpl"),
        (technician, f"tie_tag {label_id} sent to print as pdf"),
    ]


def test_collection_and_shipper_labels_carry_their_barcodes(
    client, make_lot, tech, approved_labels
):
    lot = make_lot(bags=1)
    collection = client.get(f"{API}/donations/{lot.din}/label.pdf", headers=tech)
    assert collection.headers["X-Label-Template"] == "collection v1"
    (image,) = rasterise(collection.data)
    assert ("Code128", encode_din(lot.din, type3_flags(lot.din))) in decode(image)
    shipment = make_lot.shipment(destination="St Mary's Hospital")
    shipper = client.get(f"{API}/shipments/{shipment.code}/label.pdf", headers=tech)
    assert shipper.headers["X-Label-Template"] == "shipper v1"
    (image,) = rasterise(shipper.data)
    assert ("Code128", shipment.code) in decode(image)
    assert "To: St Mary's Hospital" in normalise(page_texts(shipper.data)[0])


def test_lot_labels_and_reconciliation(client, make, make_lot, tech, approved_labels):
    lot = make_lot(bags=3)
    zpl = client.get(f"{API}/lots/{lot.lot_number}/labels.zpl", headers=tech)
    assert zpl.status_code == 200 and zpl.get_data(as_text=True).count("^XA") == 3
    nurse = make.auth("nurse")
    url = f"{API}/lots/{lot.lot_number}/label-reconciliation"
    counts = responses.ok(client.get(url, headers=nurse), 200)
    assert counts["purposes"]["quarantine_product"]["issued_not_applied"] == 3
    assert counts["bags_without_current_label"] == [] and counts["bags"] == 3
    responses.error(
        client.get(f"{API}/lots/LT-NONE/label-reconciliation", headers=nurse), 404, "not_found"
    )
    gone = make_lot(bags=1, status="discarded")
    refused = client.get(f"{API}/lots/{gone.lot_number}/labels.pdf", headers=tech)
    responses.error(refused, 409, "label_cannot_print")


def test_reprint_over_the_api(client, make, make_lot, tech, approved_labels):
    bag = make_lot(bags=1).bags[0]
    label_id = label_of(client, tech, bag.code).headers["X-Label-Id"]
    url = f"{API}/labels/{label_id}/reprint"
    body = {"reason": "Label smudged in the freezer"}
    responses.error(client.post(url, json=body, headers=tech), 403, "forbidden")
    qa = make.auth("qa")
    responses.error(client.post(url, json={"reason": "bad"}, headers=qa), 422, "validation_error")
    assert client.get(f"{API}/labels/{label_id}", headers=qa).get_json()["status"] == "issued"
    reprinted = responses.ok(client.post(url, json=body, headers=qa), 201)
    assert (reprinted["action"], reprinted["replaces"]) == ("reprint", int(label_id))
    old = client.get(f"{API}/labels/{label_id}", headers=qa).get_json()
    assert old["void_reason"] == "replaced by a reprint: Label smudged in the freezer"
    responses.error(client.post(url, json=body, headers=qa), 409, "illegal_transition")
    responses.error(
        client.post(f"{API}/labels/999999/reprint", json=body, headers=qa), 404, "not_found"
    )


def test_void_and_application_over_the_api(client, make, make_lot, tech, approved_labels):
    bag, other = make_lot(bags=2).bags
    label_id = label_of(client, tech, bag.code).headers["X-Label-Id"]
    scans = {
        b.code: client.get(f"{API}/bags/{b.code}", headers=tech).get_json()["scan"]
        for b in (bag, other)
    }
    apply = f"{API}/labels/{label_id}/application"
    wrong = client.post(apply, json={"scan": scans[other.code]}, headers=tech)
    responses.error(wrong, 422, "validation_error")
    assert client.get(f"{API}/labels/{label_id}", headers=tech).get_json()["status"] == "issued"
    nurse = client.post(apply, json={"scan": scans[bag.code]}, headers=make.auth("nurse"))
    responses.error(nurse, 403, "forbidden")
    applied = responses.ok(client.post(apply, json={"scan": scans[bag.code]}, headers=tech), 200)
    assert applied["status"] == "applied" and applied["applied_by"] and applied["applied_at"]
    again = client.post(apply, json={"scan": scans[bag.code]}, headers=tech)
    responses.error(again, 409, "illegal_transition")
    void = f"{API}/labels/{label_id}/void"
    responses.error(client.post(void, json={}, headers=tech), 422, "validation_error")
    voided = responses.ok(client.post(void, json={"reason": "Fell off at thaw"}, headers=tech), 200)
    assert (voided["status"], voided["void_reason"]) == ("voided", "Fell off at thaw")
    responses.error(
        client.post(void, json={"reason": "Fell off at thaw"}, headers=tech),
        409,
        "illegal_transition",
    )
    fresh = label_of(client, tech, bag.code).headers["X-Label-Id"]
    assert fresh != label_id
