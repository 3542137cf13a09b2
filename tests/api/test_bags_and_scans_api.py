"""Bags, lots and scans over the API, with the fields CONTRACT.md promises."""

from __future__ import annotations

from custody.domain.isbt128 import check_character, encode_din, encode_product_code
from custody.extensions import db
from custody.models import AuditEntry, CustodyEvent

CONTRACT_BAG_FIELDS = {"code", "din", "product_code", "division", "status", "lot", "dose_level"}
CONTRACT_BAG_FIELDS |= {"recipient", "scan"}


def test_bags_list_filters_by_status_and_lot(client, make, make_lot):
    headers = make.auth("technician")
    quarantined = make_lot(bags=2)
    released = make_lot(disposition="released", status="released", bags=1)
    everything = client.get("/api/v1/bags", headers=headers).get_json()["items"]
    assert {b["code"] for b in everything} == {b.code for b in [*quarantined.bags, *released.bags]}
    assert set(everything[0]) >= CONTRACT_BAG_FIELDS
    by_status = client.get("/api/v1/bags?status=released", headers=headers).get_json()["items"]
    assert [b["code"] for b in by_status] == [released.bags[0].code]
    by_lot = client.get(f"/api/v1/bags?lot={quarantined.lot_number}", headers=headers).get_json()
    assert {b["lot"] for b in by_lot["items"]} == {quarantined.lot_number}
    bad = client.get("/api/v1/bags?status=lost", headers=headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"]


def test_bag_detail_carries_identity_scan_and_history(client, make, make_lot):
    headers = make.auth("technician")
    lot = make_lot(bags=1, eligibility="incomplete")
    bag = lot.bags[0]
    (position,) = make_lot.positions(1)
    body = client.get(f"/api/v1/bags/{bag.code}", headers=headers).get_json()
    assert body["division"] == "A0" and body["recipient"] is None
    assert body["check_character"] == check_character(bag.din)
    assert body["donor_eligibility"] == "incomplete"
    assert "NOT EVALUATED FOR INFECTIOUS SUBSTANCES" in body["warnings"]
    # The scan field is what the label's Data Matrix carries; a scan endpoint takes it as is.
    stored = client.post(
        "/api/v1/scans",
        json={"action": "store", "bag": body["scan"], "location": position.code},
        headers=headers,
    )
    assert stored.status_code == 201, stored.get_json()
    history = client.get(f"/api/v1/bags/{bag.code}", headers=headers).get_json()["history"]
    assert [(e["action"], e["to_status"], e["location"]) for e in history] == [
        ("store", "stored", position.code)
    ]
    assert history[0]["raw_scan"] == body["scan"]


def test_unknown_bag_is_404_with_the_envelope(client, make):
    response = client.get("/api/v1/bags/W999999999999-D0001VA0", headers=make.auth())
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_illegal_scan_is_409_naming_state_and_allowed_actions_and_changes_nothing(
    client, make, make_lot
):
    headers = make.auth("technician")
    lot = make_lot(bags=1)
    shipment = make_lot.shipment()
    events, audits = db.session.query(CustodyEvent).count(), db.session.query(AuditEntry).count()
    response = client.post(
        "/api/v1/scans",
        json={"action": "pack", "bag": lot.bags[0].code, "shipment": shipment.code},
        headers=headers,
    )
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "illegal_transition"
    assert "QUARANTINED" in error["message"]
    assert error["details"]["current_state"] == "quarantined"
    assert "store" in error["details"]["allowed_actions"]
    assert db.session.query(CustodyEvent).count() == events
    assert db.session.query(AuditEntry).count() == audits


def test_code_128_reads_and_typed_din_scan_the_same_bag(client, make, make_lot):
    headers = make.auth("technician")
    lot = make_lot(bags=1)
    bag = lot.bags[0]
    reads = encode_din(bag.din) + encode_product_code(bag.product_code)
    looked = client.post("/api/v1/scans/lookup", json={"data": reads}, headers=headers)
    assert looked.get_json()["bag"]["code"] == bag.code
    typed = f"{bag.din}{check_character(bag.din)} {bag.product_code}"
    assert (
        client.post("/api/v1/scans/lookup", json={"data": typed}, headers=headers).get_json()[
            "bag"
        ]["code"]
        == bag.code
    )
    wrong_k = "A" if check_character(bag.din) != "A" else "B"
    refused = client.post(
        "/api/v1/scans/lookup",
        json={"data": f"{bag.din}{wrong_k} {bag.product_code}"},
        headers=headers,
    )
    assert refused.status_code == 422
    assert "check character" in refused.get_json()["error"]["message"]


def test_lookup_of_a_location_lists_its_positions(client, make, make_lot):
    headers = make.auth("technician")
    positions = make_lot.positions(2)
    box = positions[0].parent
    body = client.post("/api/v1/scans/lookup", json={"data": box.code}, headers=headers).get_json()
    assert body["kind"] == "location"
    assert [c["code"] for c in body["location"]["children"]] == [p.code for p in positions]


def test_stale_expected_version_is_a_conflict(client, make, make_lot):
    headers = make.auth("technician")
    lot = make_lot(bags=1)
    (position,) = make_lot.positions(1)
    version = client.get(f"/api/v1/bags/{lot.bags[0].code}", headers=headers).get_json()["version"]
    discard = {"action": "discard", "bag": lot.bags[0].code, "reason": "bag damaged"}
    assert client.post("/api/v1/scans", json=discard, headers=headers).status_code == 201
    late = client.post(
        "/api/v1/scans",
        json={
            "action": "store",
            "bag": lot.bags[0].code,
            "location": position.code,
            "expected_version": version,
        },
        headers=headers,
    )
    assert late.status_code == 409
    assert late.get_json()["error"]["code"] == "conflict"
    assert "discard" in late.get_json()["error"]["message"]


def test_scans_need_a_signed_in_caller(client, make, make_lot):
    lot = make_lot(bags=1)
    anonymous = client.post("/api/v1/scans", json={"action": "quarantine", "bag": lot.bags[0].code})
    assert anonymous.status_code == 401


def test_lots_list_and_detail(client, make, make_lot):
    headers = make.auth("qa")
    lot = make_lot(bags=2, disposition="released", status="released")
    make_lot(bags=1)
    released = client.get("/api/v1/lots?status=released", headers=headers).get_json()["items"]
    assert [x["lot"] for x in released] == [lot.lot_number]
    assert released[0]["dins"] == [lot.din]
    assert [b["code"] for b in released[0]["bags"]] == [b.code for b in lot.bags]
    detail = client.get(f"/api/v1/lots/{lot.lot_number}", headers=headers).get_json()
    assert detail["donations"][0]["din"] == lot.din
    assert client.get("/api/v1/lots/NOPE", headers=headers).status_code == 404
