"""A scan station's log of the day: its own custody actions since the site's midnight, newest
first, whatever the zone's offset or its daylight-saving change that day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custody.domain.isbt128 import check_character
from custody.extensions import db
from custody.models import CustodyEvent
from custody.services.bags.scan_station import station_log
from custody.services.core.audit_trail import acting_as
from tests.conftest import change_settings

STATION = "Bench 1"
TICK = timedelta(microseconds=1)


def _events(tech, bag, *moments: datetime, station: str = STATION) -> list[int]:
    """Custody events of `bag` at `station` at each moment (test setup, written directly)."""
    with acting_as("system:test", reason="test setup"):
        rows = [
            CustodyEvent(
                bag=bag,
                action="move",
                from_status="stored",
                to_status="stored",
                occurred_at=moment,
                actor_id=tech.id,
                station=station,
            )
            for moment in moments
        ]
        db.session.add_all(rows)
        db.session.commit()
    return [row.id for row in rows]


@pytest.mark.parametrize(
    ("zone", "now", "midnight"),
    [
        # +05:30: the site's midnight is 18:30 UTC the day before.
        ("Asia/Kolkata", datetime(2026, 3, 14, 6, 30, tzinfo=UTC), datetime(2026, 3, 13, 18, 30)),
        # Chicago's spring-forward day: midnight was still CST (-06:00), noon is CDT.
        ("America/Chicago", datetime(2026, 3, 8, 17, 0, tzinfo=UTC), datetime(2026, 3, 8, 6, 0)),
        # Chicago's fall-back day: midnight was still CDT (-05:00).
        ("America/Chicago", datetime(2026, 11, 1, 17, 0, tzinfo=UTC), datetime(2026, 11, 1, 5, 0)),
        # Just before the site's midnight, the day is still the one that began 24 h before.
        (
            "Asia/Kolkata",
            datetime(2026, 3, 14, 18, 29, 59, 999999, tzinfo=UTC),
            datetime(2026, 3, 13, 18, 30),
        ),
    ],
)
def test_the_day_begins_at_the_sites_midnight_to_the_microsecond(
    app, make_lot, tech, zone, now, midnight
):
    change_settings(app, CUSTODY_TIMEZONE=zone)
    bag = make_lot(bags=1).bags[0]
    midnight = midnight.replace(tzinfo=UTC)
    before, at, later = _events(tech, bag, midnight - TICK, midnight, now - timedelta(minutes=1))

    log = station_log(STATION, now=now)

    assert [item["id"] for item in log] == [later, at]
    assert before not in [item["id"] for item in log]
    assert log[-1]["occurred_at"] == midnight


@pytest.mark.parametrize(
    ("zone", "now", "next_midnight"),
    [
        # Chicago's spring-forward day has 23 hours: the next midnight is CDT (-05:00).
        ("America/Chicago", datetime(2026, 3, 8, 17, 0, tzinfo=UTC), datetime(2026, 3, 9, 5, 0)),
        # Chicago's fall-back day has 25 hours: the next midnight is CST (-06:00).
        ("America/Chicago", datetime(2026, 11, 1, 17, 0, tzinfo=UTC), datetime(2026, 11, 2, 6, 0)),
        ("Asia/Kolkata", datetime(2026, 3, 14, 6, 30, tzinfo=UTC), datetime(2026, 3, 14, 18, 30)),
    ],
)
def test_the_day_ends_at_the_sites_next_midnight(app, make_lot, tech, zone, now, next_midnight):
    """Events forward-dated past the day (or a `now` in the past) belong to another day."""
    change_settings(app, CUSTODY_TIMEZONE=zone)
    bag = make_lot(bags=1).bags[0]
    next_midnight = next_midnight.replace(tzinfo=UTC)
    last, _next_day = _events(tech, bag, next_midnight - TICK, next_midnight)

    assert [item["id"] for item in station_log(STATION, now=now)] == [last]


def test_other_stations_and_events_without_a_station_are_left_out(app, make_lot, tech):
    change_settings(app, CUSTODY_TIMEZONE="Asia/Kolkata")
    bag = make_lot(bags=1).bags[0]
    now = datetime(2026, 3, 14, 6, 30, tzinfo=UTC)
    (mine,) = _events(tech, bag, now - timedelta(hours=1))
    _events(tech, bag, now - timedelta(minutes=30), station="Bench 2")
    with acting_as("system:test", reason="test setup"):
        db.session.add(
            CustodyEvent(
                bag=bag,
                action="move",
                from_status="stored",
                to_status="stored",
                occurred_at=now - timedelta(minutes=10),
                actor_id=tech.id,
            )
        )
        db.session.commit()

    assert [item["id"] for item in station_log(STATION, now=now)] == [mine]
    assert station_log("Bench 9", now=now) == []


def test_events_at_the_same_instant_come_newest_recorded_first(app, make_lot, tech):
    change_settings(app, CUSTODY_TIMEZONE="UTC")
    bag = make_lot(bags=1).bags[0]
    now = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
    same = now - timedelta(hours=1)
    first, second, third = _events(tech, bag, same, same, same)
    assert [item["id"] for item in station_log(STATION, now=now)] == [third, second, first]


def test_each_line_names_the_bag_with_its_din_and_check_character(app, make_lot, tech):
    change_settings(app, CUSTODY_TIMEZONE="UTC")
    bag = make_lot(bags=1).bags[0]
    now = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
    (event_id,) = _events(tech, bag, now - timedelta(hours=1))

    (line,) = station_log(STATION, now=now)

    assert line["id"] == event_id
    assert (line["bag"], line["din"], line["product_code"]) == (
        bag.code,
        bag.din,
        bag.product_code,
    )
    # The keyboard check character (ISBT 128 MOD 37-2) of the DIN, as the label boxes it.
    assert line["check_character"] == check_character(bag.din)
    assert (line["actor"], line["actor_username"], line["station"]) == (
        "Tess Tech",
        "tess",
        STATION,
    )


def test_the_log_holds_the_newest_two_hundred(app, make_lot, tech):
    change_settings(app, CUSTODY_TIMEZONE="UTC")
    bag = make_lot(bags=1).bags[0]
    now = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
    ids = _events(tech, bag, *(now - timedelta(seconds=s) for s in range(201, 0, -1)))
    log = [item["id"] for item in station_log(STATION, now=now)]
    assert log == ids[::-1][:200]
    assert ids[0] not in log
