"""Conditional release, quality alerts and QA's review queue through the API: the lot list with
each lot's latest decision, an awaited result that readies the final release, a positive result
that raises an alert QA acknowledges once, and the queue's order."""

from __future__ import annotations

from tests.api import responses
from tests.api.lot_quality_calls import (
    API,
    dispose,
    enter_all,
    lot_detail,
    lot_quality,
    manifests_quinn,
    release_lot,
)
from tests.factories import PASSING_RESULTS


def _conditional(client, lot: str, qa: dict, tech: dict) -> dict:
    enter_all(client, lot, tech, skip=("sterility",))
    return responses.ok(
        dispose(
            client, lot, qa, "conditional_release", reason="Urgent", pending_tests=["sterility"]
        ),
        201,
    )


def test_the_lot_list_shows_each_lots_latest_decision_and_none_before_signing(
    client, lot, qa, tech, make_lot
):
    unsigned = make_lot().lot_number
    _conditional(client, lot, qa, tech)
    enter_all(client, lot, tech, skip=set(PASSING_RESULTS) - {"sterility"})
    responses.ok(dispose(client, lot, qa), 201)

    listed = responses.ok(client.get(f"{API}/lots", headers=tech), 200)["items"]
    releases = {item["lot"]: item["release"] for item in listed}
    assert releases[unsigned] is None
    manifests_quinn(releases[lot])
    assert releases[lot]["disposition"] == "released"
    assert releases[lot]["certificate_number"] == f"COA-{lot}-2"


def test_an_awaited_result_in_spec_puts_the_lot_in_the_queue_for_final_release(
    client, lot, qa, tech
):
    decision = _conditional(client, lot, qa, tech)
    manifests_quinn(decision, "Approved for conditional release")
    assert decision["pending_tests"] == ["sterility"]
    assert client.get(f"{API}/lots/{lot}/certificate.pdf", headers=tech).status_code == 200
    queue = f"{API}/quality/queue"
    assert responses.ok(client.get(queue, headers=tech), 200)["items"] == []

    body = {"test": "sterility", "value_text": "Negative"}
    responses.ok(client.post(f"{API}/lots/{lot}/results", json=body, headers=tech), 201)
    assert lot_detail(client, lot, tech)["status"] == "conditionally_released"
    (queued,) = responses.ok(client.get(queue, headers=tech), 200)["items"]
    assert (queued["status"], queued["release_problems"]) == ("conditionally_released", [])
    final = responses.ok(dispose(client, lot, qa), 201)
    assert final["previous_disposition"] == "conditionally_released"


def test_a_positive_result_after_conditional_release_raises_an_alert_qa_acknowledges_once(
    client, lot, qa, tech, make
):
    _conditional(client, lot, qa, tech)
    body = {"test": "sterility", "value_text": "Positive"}
    responses.ok(client.post(f"{API}/lots/{lot}/results", json=body, headers=tech), 201)
    assert lot_detail(client, lot, tech)["status"] == "quarantine"

    (alert,) = responses.ok(client.get(f"{API}/quality/alerts?open=true", headers=tech), 200)[
        "items"
    ]
    assert alert["lot"] == lot and "out of specification" in alert["message"]
    bags = [b["code"] for b in lot_detail(client, lot, tech)["bags"]]
    assert sorted(a["bag"] for a in alert["affected"]) == sorted(bags)
    assert alert["recipients"] == [] and alert["acknowledged_at"] is None
    assert [a["id"] for a in lot_quality(client, lot, tech)["alerts"]] == [alert["id"]]

    url = f"{API}/quality/alerts/{alert['id']}/acknowledgement"
    note = {"note": "Treating physicians informed"}
    responses.error(client.post(url, json=note, headers=make.auth("nurse")), 403, "forbidden")
    responses.error(client.post(url, json={"note": ""}, headers=qa), 422, "validation_error")
    done = responses.ok(client.post(url, json=note, headers=qa), 201)
    assert done["acknowledged_by"] == "Quinn Assurance"
    assert done["acknowledgement"] == "Treating physicians informed" and done["acknowledged_at"]
    twice = responses.error(client.post(url, json=note, headers=qa), 409, "conflict")
    assert "acknowledged already" in twice["message"]

    assert (
        responses.ok(client.get(f"{API}/quality/alerts?open=true", headers=tech), 200)["items"]
        == []
    )
    (kept,) = responses.ok(client.get(f"{API}/quality/alerts", headers=tech), 200)["items"]
    assert kept["acknowledged_by"] == "Quinn Assurance"
    unknown = f"{API}/quality/alerts/no-such-alert/acknowledgement"
    responses.error(client.post(unknown, json=note, headers=qa), 404, "not_found")


def test_the_queue_lists_lots_awaiting_qa_ready_ones_first(client, quality, make_lot, qa, tech):
    quality.specification()
    incomplete, ready = make_lot().lot_number, make_lot().lot_number
    empty, released = make_lot(bags=0).lot_number, make_lot().lot_number
    enter_all(client, incomplete, tech, skip=("potency",), endotoxin={"value_numeric": 9.0})
    enter_all(client, ready, tech)
    release_lot(client, released, qa, tech)
    items = responses.ok(client.get(f"{API}/quality/queue", headers=tech), 200)["items"]
    assert [i["lot"] for i in items] == [ready, incomplete]
    assert empty not in [i["lot"] for i in items]
    first, second = items
    assert (first["results_in"], first["results_required"], first["bags"]) == (10, 10, 2)
    assert (first["release_problems"], first["reopened"]) == ([], False)
    assert (second["results_in"], second["out_of_spec"]) == (9, ["endotoxin"])
    assert second["release_problems"] == [
        "Endotoxin (LAL) is out of specification",
        "Potency: cytotoxicity vs CD33+ targets has no result",
    ]
