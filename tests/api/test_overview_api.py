"""`GET /api/v1/overview`: the overview page's data as JSON, for the lab team only, with a
link to the page where each item is dealt with, and described in the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custody.services.clinic.recipients import site_today
from tests.api.responses import error, ok
from tests.services.traceability.test_overview import (
    CLINIC_SITE,
    deviating_lot,
    dispatched,
    warm_trip,
)

URL = "/api/v1/overview"


@pytest.mark.parametrize("role", ["technician", "qa", "admin"])
def test_the_lab_team_reads_the_overview(client, make, make_lot, role):
    for disposition in ("quarantine", "quarantine", "rejected"):
        make_lot(disposition=disposition)
    body = ok(client.get(URL, headers=make.auth(role)), 200)
    assert body["lots"]["by_disposition"] == [
        {"disposition": "quarantine", "count": 2},
        {"disposition": "released", "count": 0},
        {"disposition": "conditionally_released", "count": 0},
        {"disposition": "rejected", "count": 1},
    ]
    assert body["bags"]["by_state"]["quarantined"] == 6
    assert body["bags"]["sites"] == [
        {
            "site": "Lab, out of storage",
            "kind": "lab",
            "location": None,
            "counts": {s: (6 if s == "quarantined" else 0) for s in body["bags"]["states"]},
            "total": 6,
        }
    ]


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [({}, 401, "authentication_failed"), ("nurse", 403, "forbidden")],
)
def test_others_are_refused(client, make, headers, status, code):
    headers = make.auth(headers) if isinstance(headers, str) else headers
    refusal = error(client.get(URL, headers=headers), status, code)
    if status == 403:
        assert "you are signed in as nurse" in refusal["message"]


def test_each_item_names_its_record_and_the_page_that_deals_with_it(client, make, make_lot, clinic):
    tech = make.user("technician")
    waiting = deviating_lot(tech, make_lot)
    trip, _ = warm_trip(tech, make_lot)
    _, lot = dispatched(tech, make_lot)
    recipient = clinic.recipient(status="lymphodepletion")
    clinic.allocate(lot.bags[0], recipient)  # shipped to the site, allocated there
    second = clinic.recipient(
        status="infused", day0=site_today() - timedelta(2), second_infusion_ordered=True
    )
    body = ok(client.get(URL, headers=make.auth("qa")), 200)

    awaiting = {row["lot"]: row for row in body["lots"]["awaiting_qa"]}
    assert awaiting[waiting.lot_number]["page"] == f"/qa/lots/{waiting.lot_number}"
    (step,) = body["deviations"]["batch_steps"]
    assert (step["lot"], step["page"]) == (waiting.lot_number, f"/qa/lots/{waiting.lot_number}")
    (excursion,) = body["excursions"]
    assert excursion["page"] == f"/shipments/{trip.code}"
    assert excursion["peak_c"] == -120.5
    infusions = {row["subject_id"]: row for row in body["upcoming_infusions"]}
    first = infusions[recipient.subject_id]
    assert first["page"] == f"/clinic/recipients/{recipient.subject_id}"
    assert (first["ready"], first["due_on"], first["schedule"]) == (True, None, "awaiting")
    assert first["bags"] == [
        {"code": lot.bags[0].code, "status": "shipped", "page": f"/bags/{lot.bags[0].code}"}
    ]
    due = infusions[second.subject_id]
    assert (due["infusion_number"], due["due_on"], due["ready"]) == (
        2,
        (site_today() + timedelta(5)).isoformat(),
        False,
    )
    assert "No bag is allocated for infusion 2" in due["problem"]
    sites = {row["site"]: row for row in body["bags"]["sites"]}
    assert sites[CLINIC_SITE]["counts"]["shipped"] == 4
    assert body["deviations"]["discrepancies"] == [] and body["deviations"]["alerts"] == []


def test_the_openapi_document_describes_the_overview(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"][URL]["get"]
    assert operation["summary"].startswith("The lab lead's overview")
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[1]
    properties = spec["components"]["schemas"][name]["properties"]
    assert set(properties) == {
        "generated_at",
        "lots",
        "bags",
        "upcoming_infusions",
        "excursions",
        "deviations",
    }
