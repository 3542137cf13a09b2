"""Thaw by scan: start and end, one thaw per bag, the post-thaw window and its countdown."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custody.domain.errors import IllegalTransition, NotFound
from custody.extensions import db
from custody.models import AuditEntry, Bag, CustodyEvent, Thaw
from custody.services.bags.queries import bag_detail
from custody.services.bags.scans import ScanRequest, scan
from custody.services.bags.thawing import thaw_status
from tests.api import responses


def _scan(user, action, bag):
    return scan(user, ScanRequest(action=action, bag=bag_detail(bag.code)["scan"]))


def _thaw(bag) -> Thaw | None:
    db.session.expire_all()
    return db.session.scalar(db.select(Thaw).where(Thaw.bag_id == bag.id))


@pytest.fixture
def received(clinic):
    """A bag allocated to its recipient and received at their site, not yet thawed."""
    bag, _, allocation = clinic.at_bedside(thawed=False)
    return bag, allocation


def test_thaw_start_then_end_records_the_thaw_and_opens_the_window(clinic, nurse, received):
    bag, allocation = received
    started = _scan(nurse, "thaw_start", bag)
    assert (started.from_status, started.to_status) == ("received", "received")
    thaw = _thaw(bag)
    assert thaw.allocation_id == allocation.id and thaw.started_by_id == nurse.id
    assert thaw.ended_at is None and thaw.use_by is None
    ended = _scan(nurse, "thaw", bag)
    assert (ended.from_status, ended.to_status) == ("received", "thawed")
    thaw = _thaw(bag)
    assert thaw.ended_at == ended.occurred_at and thaw.ended_by_id == nurse.id
    assert thaw.window_minutes == clinic.trial().post_thaw_minutes == 60
    assert thaw.use_by == thaw.ended_at + timedelta(minutes=60)
    assert db.session.get(Bag, bag.id).status.value == "thawed"
    assert "use by" in ended.notes
    audited = db.session.scalars(
        db.select(AuditEntry.action).where(AuditEntry.record_type == "thaws")
    ).all()
    assert audited == ["create", "update"]


def test_the_window_is_the_trials_post_thaw_setting(clinic, nurse):
    clinic.trial(post_thaw_minutes=30)
    bag, _, _ = clinic.at_bedside(thawed=False)
    _scan(nurse, "thaw_start", bag)
    _scan(nurse, "thaw", bag)
    thaw = _thaw(bag)
    assert thaw.window_minutes == 30
    assert thaw.use_by - thaw.ended_at == timedelta(minutes=30)


def test_countdown_counts_down_and_never_goes_negative(nurse, received):
    bag, _ = received
    _scan(nurse, "thaw_start", bag)
    _scan(nurse, "thaw", bag)
    thaw = _thaw(bag)
    ten_minutes_in = thaw_status(bag.code, now=thaw.ended_at + timedelta(minutes=10))
    assert ten_minutes_in["seconds_left"] == 50 * 60 and ten_minutes_in["expired"] is False
    assert ten_minutes_in["started_by"] == ten_minutes_in["ended_by"] == "Nina Second"
    assert ten_minutes_in["use_by"] == thaw.use_by and ten_minutes_in["window_minutes"] == 60
    late = thaw_status(bag.code, now=thaw.use_by + timedelta(minutes=5))
    assert late["seconds_left"] == 0 and late["expired"] is True
    assert thaw_status(bag.code, now=thaw.use_by)["expired"] is True


def test_a_thaw_under_way_has_no_use_by_yet(nurse, received):
    bag, _ = received
    _scan(nurse, "thaw_start", bag)
    status = thaw_status(bag.code)
    assert status["ended_at"] is None and status["use_by"] is None
    assert status["seconds_left"] is None and status["expired"] is False


def test_thaw_start_needs_an_active_allocation(clinic, nurse):
    (bag,) = clinic.released_bags(1)
    clinic.receive(bag)
    with pytest.raises(IllegalTransition, match="allocate this bag to its recipient before"):
        _scan(nurse, "thaw_start", bag)
    assert _thaw(bag) is None


def test_a_second_thaw_start_is_refused_saying_when_and_by_whom(make, nurse, received):
    bag, _ = received
    _scan(nurse, "thaw_start", bag)
    other = make.user("nurse")
    with pytest.raises(IllegalTransition, match=r"already started at .* by Nina Second"):
        _scan(other, "thaw_start", bag)
    events = db.session.scalars(
        db.select(CustodyEvent.action).where(CustodyEvent.bag_id == bag.id)
    ).all()
    assert events == ["thaw_start"]


def test_thaw_end_without_a_start_is_refused(nurse, received):
    bag, _ = received
    with pytest.raises(IllegalTransition, match="scan thaw start first"):
        _scan(nurse, "thaw", bag)
    db.session.expire_all()
    assert db.session.get(Bag, bag.id).status.value == "received"
    assert _thaw(bag) is None


def test_a_thawed_bag_cannot_be_thawed_again(nurse, received):
    bag, _ = received
    _scan(nurse, "thaw_start", bag)
    _scan(nurse, "thaw", bag)
    for action in ("thaw_start", "thaw"):
        with pytest.raises(IllegalTransition, match="THAWED"):
            _scan(nurse, action, bag)


def test_thaw_status_of_a_bag_never_put_in_the_thawer_is_not_found(received):
    bag, _ = received
    with pytest.raises(NotFound, match="no thaw start was scanned"):
        thaw_status(bag.code)


def test_thaw_by_scan_over_the_api_and_the_countdown(client, make, received):
    bag, _ = received
    nurse = make.auth("nurse")
    scan_data = client.get(f"/api/v1/bags/{bag.code}", headers=nurse).get_json()["scan"]
    body = {"action": "thaw_start", "bag": scan_data}
    responses.ok(client.post("/api/v1/scans", json=body, headers=nurse), 201)
    url = f"/api/v1/bedside/thaws/{bag.code}"
    under_way = responses.ok(client.get(url, headers=nurse), 200)
    assert under_way["ended_at"] is None and under_way["seconds_left"] is None
    ended = responses.ok(
        client.post("/api/v1/scans", json=body | {"action": "thaw"}, headers=nurse), 201
    )
    assert ended["to_status"] == "thawed"
    clock = responses.ok(client.get(url, headers=make.auth("technician")), 200)
    assert clock["window_minutes"] == 60 and clock["expired"] is False
    assert 0 < clock["seconds_left"] <= 3600
    assert set(clock) >= {"started_at", "started_by", "ended_at", "ended_by", "use_by"}


def test_thaw_over_the_api_refusals_are_409_and_404(client, make, received, clinic):
    bag, _ = received
    nurse = make.auth("nurse")
    refused = client.post("/api/v1/scans", json={"action": "thaw", "bag": bag.code}, headers=nurse)
    assert "thaw start first" in responses.error(refused, 409, "illegal_transition")["message"]
    responses.error(
        client.get(f"/api/v1/bedside/thaws/{bag.code}", headers=nurse), 404, "not_found"
    )
    unknown = "W999926999999-D0001VA0"
    responses.error(client.get(f"/api/v1/bedside/thaws/{unknown}", headers=nurse), 404, "not_found")
