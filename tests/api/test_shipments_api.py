"""The shipments API: create, dispatch, logger CSV, discrepancies and receipt, with roles."""

import re

import pytest

from custody.extensions import db
from custody.models import ShipmentTemperature
from custody.services.bags.scans import ScanRequest, scan

CSV = (
    "timestamp,temperature_c\n"
    "2025-03-01T08:00:00Z,-185\n"
    "2025-03-01T09:10:00+01:00,-140\n"
    "2025-03-01T08:20:00Z,-181\n"
)


def _create(client, headers, **body):
    body = {"destination_site": "University Hospital", "courier": "Cryo Couriers", **body}
    response = client.post("/api/v1/shipments", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def _packed(client, headers, make, make_lot, bags=2):
    shipment = _create(client, headers)
    lot = make_lot(disposition="released", status="released", bags=bags)
    packer = make.user("technician")
    for bag in lot.bags:
        scan(packer, ScanRequest(action="pack", bag=bag.code, shipment=shipment["code"]))
    return shipment["code"], [b.code for b in lot.bags]


def _dispatched(client, headers, make, make_lot, bags=2):
    code, bags = _packed(client, headers, make, make_lot, bags)
    response = client.post(
        f"/api/v1/shipments/{code}/dispatch", json={"courier_person": "Sam"}, headers=headers
    )
    assert response.status_code == 200, response.json
    return code, bags


def _csv(client, code, headers, text=CSV, content_type="text/csv"):
    return client.post(
        f"/api/v1/shipments/{code}/temperatures",
        data=text.encode(),
        headers={**headers, "Content-Type": content_type},
    )


def test_create_then_list_by_status_and_show(client, tech):
    created = _create(client, tech, shipper_id="DS-7", storage_limit_c=-135)
    assert re.fullmatch(r"SHP-\d{4}-0001", created["code"])
    assert (created["status"], created["bag_count"], created["storage_limit_c"]) == (
        "packing",
        0,
        -135,
    )
    listed = client.get("/api/v1/shipments?status=packing", headers=tech).json["items"]
    assert [s["code"] for s in listed] == [created["code"]]
    assert client.get("/api/v1/shipments?status=received", headers=tech).json["items"] == []
    shown = client.get(f"/api/v1/shipments/{created['code']}", headers=tech).json
    assert shown["manifest"] == [] and shown["shipper_id"] == "DS-7"


@pytest.mark.parametrize(("role", "status"), [("nurse", 403), ("qa", 403), ("admin", 201)])
def test_only_the_lab_creates_shipments(client, make, role, status):
    response = client.post(
        "/api/v1/shipments", json={"destination_site": "Site"}, headers=make.auth(role)
    )
    assert response.status_code == status


def test_unknown_shipment_and_bad_input_are_4xx(client, tech):
    missing = client.get("/api/v1/shipments/SHP-1999-0001", headers=tech)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    bad = client.post("/api/v1/shipments", json={"destination_site": ""}, headers=tech)
    assert bad.status_code == 422
    bad_filter = client.get("/api/v1/shipments?status=lost", headers=tech)
    assert bad_filter.status_code == 422


def test_dispatch_records_the_handoff_and_shows_the_manifest(client, tech, make, make_lot):
    code, bags = _dispatched(client, tech, make, make_lot)
    shown = client.get(f"/api/v1/shipments/{code}", headers=tech).json
    assert shown["status"] == "in_transit" and shown["handed_over_to"] == "Cryo Couriers (Sam)"
    assert [(m["bag"], m["status"], m["received"]) for m in shown["manifest"]] == [
        (bags[0], "shipped", False),
        (bags[1], "shipped", False),
    ]
    history = client.get(f"/api/v1/bags/{bags[0]}", headers=tech).json["history"]
    assert history[-1]["action"] == "handoff" and history[-1]["to_party"] == "Cryo Couriers (Sam)"


def test_dispatch_of_an_empty_shipment_is_409(client, tech):
    code = _create(client, tech)["code"]
    response = client.post(
        f"/api/v1/shipments/{code}/dispatch", json={"courier_person": "Sam"}, headers=tech
    )
    assert response.status_code == 409 and "empty" in response.json["error"]["message"]
    assert client.get(f"/api/v1/shipments/{code}", headers=tech).json["status"] == "packing"


def test_logger_csv_import_reports_the_excursion(client, tech, make, make_lot):
    code, _ = _dispatched(client, tech, make, make_lot)
    response = _csv(client, code, tech)
    assert response.status_code == 201, response.json
    assert len(response.json["readings"]) == 3
    (excursion,) = response.json["excursions"]
    assert excursion["start"] == "2025-03-01T08:10:00+00:00"
    assert excursion["end"] == "2025-03-01T08:20:00+00:00"
    assert (excursion["duration_s"], excursion["peak_c"]) == (600, -140)
    again = client.get(f"/api/v1/shipments/{code}/temperatures", headers=tech).json
    assert again["excursions"] == response.json["excursions"] and again["gaps"] == []
    summary = client.get(f"/api/v1/shipments/{code}", headers=tech).json["temperatures"]
    assert summary["readings_count"] == 3 and len(summary["excursions"]) == 1


def test_a_csv_with_a_bad_line_is_422_naming_the_line_and_stores_nothing(
    client, tech, make, make_lot
):
    code, _ = _dispatched(client, tech, make, make_lot)
    response = _csv(client, code, tech, CSV + "2025-03-01T08:30:00Z,warm\n")
    assert response.status_code == 422
    assert response.json["error"]["message"].startswith("Line 5 ")
    assert response.json["error"]["details"]["line"] == 5
    assert db.session.query(ShipmentTemperature).count() == 0
    second = _csv(client, code, tech)
    assert second.status_code == 201
    assert _csv(client, code, tech).status_code == 409  # one import per shipment


def test_the_logger_file_must_be_sent_as_text_csv(client, tech, make, make_lot):
    code, _ = _dispatched(client, tech, make, make_lot)
    response = _csv(client, code, tech, content_type="application/json")
    assert response.status_code == 415
    assert "text/csv" in response.json["error"]["message"]
    not_utf8 = client.post(
        f"/api/v1/shipments/{code}/temperatures",
        data=CSV.encode() + b"2025-03-01T08:30:00Z,-18\xb0\n",
        headers={**tech, "Content-Type": "text/csv"},
    )
    assert not_utf8.status_code == 422 and "UTF-8" in not_utf8.json["error"]["message"]
    assert db.session.query(ShipmentTemperature).count() == 0
    spec = client.get("/api/v1/openapi.json").json
    body = spec["paths"]["/api/v1/shipments/{code}/temperatures"]["post"]["requestBody"]
    assert "text/csv" in body["content"]


def test_receipt_needs_every_bag_received_or_recorded_missing(client, tech, make, make_lot):
    code, bags = _dispatched(client, tech, make, make_lot)
    nurse = make.auth("nurse")
    arrived = client.post(
        "/api/v1/scans", json={"action": "receive", "bag": bags[0], "shipment": code}, headers=nurse
    )
    assert arrived.status_code == 201
    refused = client.post(f"/api/v1/shipments/{code}/receipt", headers=nurse)
    assert refused.status_code == 409
    assert refused.json["error"]["details"]["unaccounted_bags"] == [bags[1]]

    no_note = client.post(
        f"/api/v1/shipments/{code}/discrepancies",
        json={"kind": "missing", "bag": bags[1]},
        headers=nurse,
    )
    assert no_note.status_code == 422
    recorded = client.post(
        f"/api/v1/shipments/{code}/discrepancies",
        json={"kind": "missing", "bag": bags[1], "note": "Not in the shipper"},
        headers=nurse,
    )
    assert recorded.status_code == 201 and recorded.json["bag"] == bags[1]
    assert recorded.json["recorded_by"]

    done = client.post(f"/api/v1/shipments/{code}/receipt", headers=nurse)
    assert done.status_code == 200
    assert done.json["status"] == "received" and done.json["received_by"]
    assert done.json["unaccounted_bags"] == []


def test_an_unexpected_scan_is_recorded_as_it_was_read(client, tech, make, make_lot):
    code, _ = _dispatched(client, tech, make, make_lot, bags=1)
    response = client.post(
        f"/api/v1/shipments/{code}/discrepancies",
        json={"kind": "unexpected", "bag": "NO LABEL", "note": "Bag without label"},
        headers=make.auth("nurse"),
    )
    assert response.status_code == 201
    assert (response.json["bag"], response.json["raw_scan"]) == (None, "NO LABEL")
    shown = client.get(f"/api/v1/shipments/{code}", headers=tech).json
    assert shown["discrepancies"][0]["note"] == "Bag without label"


@pytest.mark.parametrize(("role", "status"), [("qa", 403), ("nurse", 409), ("admin", 409)])
def test_site_roles_may_complete_receipt(client, tech, make, make_lot, role, status):
    code, _ = _dispatched(client, tech, make, make_lot, bags=1)
    response = client.post(f"/api/v1/shipments/{code}/receipt", headers=make.auth(role))
    assert response.status_code == status  # 409: allowed, but a bag is unaccounted for
