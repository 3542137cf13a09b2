"""A bag read returns its newest custody events with a cursor for older ones; the history
endpoint pages back to the first event, each event exactly once, in the order they happened."""

from __future__ import annotations

import json

import pytest

from custody.schemas.bags import CustodyEventOut
from custody.schemas.common import PlainRecords
from custody.schemas.recipients import RecipientOut
from custody.services.bags.lookup import bag_by_code
from custody.services.bags.queries import event_summary, history_page

HISTORY_PAGE = 50  # CONTRACT: a bag read carries at most this many events


def _scan_back_and_forth(client, headers, bag, position, count: int) -> None:
    for n in range(count):
        body = (
            {"action": "store", "bag": bag.code, "location": position.code}
            if n % 2 == 0
            else {"action": "retrieve", "bag": bag.code}
        )
        response = client.post("/api/v1/scans", json=body, headers=headers)
        assert response.status_code == 201, response.get_json()


def _event_ids(events) -> list[int]:
    return [e["id"] for e in events]


def test_a_bag_read_returns_the_newest_fifty_events_and_a_cursor_to_the_rest(
    client, make, make_lot
):
    headers = make.auth("technician")
    bag = make_lot(bags=1).bags[0]
    (position,) = make_lot.positions(1)
    _scan_back_and_forth(client, headers, bag, position, 51)

    body = client.get(f"/api/v1/bags/{bag.code}", headers=headers).get_json()
    everything = client.get(
        f"/api/v1/bags/{bag.code}/history?limit=500", headers=headers
    ).get_json()
    assert len(everything["items"]) == 51 and everything["next"] is None
    all_ids = _event_ids(everything["items"])
    assert all_ids == sorted(all_ids)  # oldest first: the order they happened
    # The newest 50, oldest first, and a cursor: the first scan is one page back.
    assert _event_ids(body["history"]) == all_ids[1:]
    assert body["history"][-1]["action"] == "store"  # the 51st scan, the newest
    assert body["history_next"] is not None
    older = client.get(
        f"/api/v1/bags/{bag.code}/history?before={body['history_next']}", headers=headers
    ).get_json()
    assert _event_ids(older["items"]) == all_ids[:1] and older["next"] is None


def test_paging_back_visits_every_event_once_in_order(client, make, make_lot):
    headers = make.auth("technician")
    bag = make_lot(bags=1).bags[0]
    (position,) = make_lot.positions(1)
    _scan_back_and_forth(client, headers, bag, position, 9)
    pages, cursor = [], None
    while True:
        query = f"limit=4&before={cursor}" if cursor else "limit=4"
        page = client.get(f"/api/v1/bags/{bag.code}/history?{query}", headers=headers).get_json()
        pages.append(_event_ids(page["items"]))
        cursor = page["next"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [4, 4, 1]
    visited = [i for page in reversed(pages) for i in page]
    assert visited == sorted(visited) and len(set(visited)) == 9


def test_a_bag_with_few_events_has_no_cursor(client, make, make_lot):
    headers = make.auth("technician")
    bag = make_lot(bags=1).bags[0]
    (position,) = make_lot.positions(1)
    _scan_back_and_forth(client, headers, bag, position, 1)
    body = client.get(f"/api/v1/bags/{bag.code}", headers=headers).get_json()
    assert [e["action"] for e in body["history"]] == ["store"]
    assert body["history_next"] is None


def test_a_cursor_that_is_not_this_bags_is_refused_saying_where_to_start(client, make, make_lot):
    headers = make.auth("technician")
    first, second = make_lot(bags=2).bags
    (position,) = make_lot.positions(1)
    _scan_back_and_forth(client, headers, first, position, 1)
    other_event = client.get(f"/api/v1/bags/{first.code}", headers=headers).get_json()
    foreign = other_event["history"][0]["id"]
    for cursor in ("abc", str(foreign), "99999999"):
        response = client.get(
            f"/api/v1/bags/{second.code}/history?before={cursor}", headers=headers
        )
        assert response.status_code == 422, cursor
        message = response.get_json()["error"]["message"]
        assert f"not a history cursor of bag {second.code}" in message
        assert "Start from the bag's newest events" in message
    too_many = client.get(f"/api/v1/bags/{first.code}/history?limit=501", headers=headers)
    assert too_many.status_code == 422


def test_the_history_reads_as_marshmallow_would_write_it(client, make, make_lot):
    """The bag read writes its events without marshmallow's work per field: the same JSON."""
    headers = make.auth("technician")
    bag = make_lot(bags=1).bags[0]
    (position,) = make_lot.positions(1)
    _scan_back_and_forth(client, headers, bag, position, 2)
    answered = client.get(f"/api/v1/bags/{bag.code}", headers=headers).get_json()["history"]
    events, _ = history_page(bag_by_code(bag.code), HISTORY_PAGE)
    by_marshmallow = CustodyEventOut(many=True).dump([event_summary(e) for e in events])
    assert answered == json.loads(json.dumps(by_marshmallow))
    assert answered[0]["occurred_at"].endswith("+00:00") and answered[0]["location_path"]


def test_records_that_marshmallow_must_transform_are_refused_the_plain_way():
    with pytest.raises(TypeError, match="transforms what it dumps"):
        PlainRecords(RecipientOut)
