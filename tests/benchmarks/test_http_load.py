"""The HTTP benchmark's own parts: the scans it sends are all allowed, the floors connect and
answer as the benchmark divides by them, and wrk's summary is read as printed."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest
from sqlalchemy import create_engine, func, select

from tests.benchmarks import floors
from tests.benchmarks.http_load import (
    check_floor_settings,
    dealt_per_thread,
    floor_command,
    free_port,
    parse_wrk,
    scan_cycle,
    served,
)


def test_a_scan_cycle_only_sends_allowed_scans_and_leaves_every_bag_where_it_was():
    stored = {"A": False, "B": True, "C": False}
    bags = [(code, f"P-{code}", is_stored) for code, is_stored in stored.items()]
    state = dict(stored)
    for _ in range(3):  # wrk goes round and round
        for body in scan_cycle(bags):
            wanted = "retrieve" if state[body["bag"]] else "store"
            assert body["action"] == wanted
            assert body.get("location") == (f"P-{body['bag']}" if wanted == "store" else None)
            state[body["bag"]] = not state[body["bag"]]
        assert state == stored


def test_a_bag_belongs_to_one_wrk_thread_only():
    items = list(range(11))
    dealt = dealt_per_thread(items, 2)
    assert sorted(dealt[0] + dealt[1]) == items
    assert not set(dealt[0]) & set(dealt[1])


def test_wrk_summary_is_read_with_its_failures():
    summary = {
        "requests": 3000,
        "duration_us": 3_000_000,
        "p50_us": 2500,
        "p95_us": 7000,
        "p99_us": 9000,
        "non_2xx": 4,
        "unavailable": 1,
        "unexpected": 2,
        "socket_errors": 0,
        "failed_statuses": {"409": 3, "503": 1},
    }
    run = parse_wrk(f"Running 3s test\nBENCH {json.dumps(summary)}\n")
    assert run.per_second == 1000
    assert (run.p50_ms, run.p95_ms, run.p99_ms) == (2.5, 7.0, 9.0)
    assert run.failures == 6
    assert run.failed_statuses == {"409": 3, "503": 1}


def test_wrk_without_a_summary_stops_the_benchmark():
    with pytest.raises(SystemExit, match="no summary"):
        parse_wrk("unable to connect to 127.0.0.1:1\n")


@pytest.fixture
def floor_table(app, database_url):
    floors.create_floor_table(database_url)
    yield
    engine = create_engine(database_url)
    floors.metadata.drop_all(engine)  # a table the migrations do not know must not linger
    engine.dispose()


def test_the_floors_connect_as_the_tracker_does(app, database_url):
    settings = check_floor_settings(app, database_url)
    if database_url.startswith("sqlite"):
        assert settings["journal_mode"] == "wal"


def test_floor_read_answers_one_bag_by_its_id(app, database_url, make_lot, tmp_path):
    bag = make_lot(bags=1).bags[0]
    with floor_served("read", database_url, tmp_path) as base:
        answer = http_json(f"{base}/bags/{bag.id}")
    assert answer["code"] == bag.code


def test_floor_write_commits_one_row_a_request(app, database_url, floor_table, tmp_path):
    with floor_served("write", database_url, tmp_path) as base:
        for action in ("store", "retrieve"):
            body = {"action": action, "bag": "B1", "location": "P1"}
            assert "id" in http_json(f"{base}/scans", body)
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(floors.floor_writes)) == 2
    engine.dispose()


def floor_served(floor: str, database_url: str, tmp_path):
    """The floor as the benchmark serves it: its own process, the tracker's server."""
    command = floor_command(floor, database_url, free_port(), workers=1)
    return served(command, dict(os.environ), tmp_path / "floor.log")


def http_json(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == (201 if body is not None else 200)
        return json.load(answer)
