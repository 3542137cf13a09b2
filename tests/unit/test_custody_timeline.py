"""The vein-to-vein timeline's read model: durations and DINs in words, flags with their steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custody.domain.custody_timeline import (
    ALERT,
    FLAG_LABELS,
    WARNING,
    Flag,
    IdentityLink,
    Step,
    Timeline,
    din_words,
    duration_words,
)

AT = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 s"),
        (0.4, "0 s"),  # rounded to the second
        (0.5, "0 s"),  # round half to even: 0
        (1.5, "2 s"),
        (59, "59 s"),
        (59.6, "1 min 00 s"),
        (60, "1 min 00 s"),
        (65, "1 min 05 s"),
        (3599, "59 min 59 s"),
        (3600, "1 h 00 min"),
        (3600 + 5 * 60 + 59, "1 h 05 min"),  # seconds are dropped once there are hours
        (86_399, "23 h 59 min"),
        (86_400, "1 d 0 h 00 min"),
        (2 * 86_400 + 3 * 3600 + 7 * 60, "2 d 3 h 07 min"),
    ],
)
def test_a_duration_reads_in_the_largest_units_that_say_it(seconds, words):
    assert duration_words(seconds) == words


def test_no_duration_has_no_words():
    assert duration_words(None) is None


def test_a_din_reads_in_its_groups_with_its_check_character():
    # G123417654321: K = A, the standard's own worked example.
    assert din_words("G123417654321") == "G1234 17 654321 [A]"


def test_every_flag_kind_has_its_printed_name():
    assert FLAG_LABELS == {
        "gap": "GAP IN CUSTODY",
        "excursion": "TEMPERATURE EXCURSION",
        "logger_gap": "LOGGER GAP",
        "no_logger": "NO TEMPERATURE LOG",
        "deviation": "DEVIATION",
        "signature": "SIGNATURE NO LONGER HOLDS",
        "conditional_release": "CONDITIONAL RELEASE",
        "verification": "VERIFICATION STOPPED",
    }
    assert Flag("logger_gap", WARNING, "no reading").label == "LOGGER GAP"
    assert (ALERT, WARNING) == ("alert", "warning")


def test_a_step_says_the_time_since_the_one_before():
    step = Step("custody", "store", "Stored", AT, since_previous=timedelta(minutes=125))
    assert step.since_words == "2 h 05 min"
    assert Step("custody", "store", "Stored", AT).since_words is None


def _timeline(steps: list[Step]) -> Timeline:
    return Timeline(
        bag="G123417654321-D0001VA0",
        din="G123417654321",
        check_character="A",
        product_code="D0001VA0",
        division="A0",
        status="stored",
        lot="L26-0001",
        disposition="released",
        recipient=None,
        parent=None,
        identity=[IdentityLink("lot", "Lot", "L26-0001")],
        steps=steps,
        release=None,
        gap_limit=timedelta(minutes=30),
        zone="America/Chicago",
        as_of=AT,
    )


def test_the_flags_come_with_their_steps_in_the_order_of_the_steps():
    gap, warm = Flag("gap", ALERT, "2 h unaccounted"), Flag("excursion", ALERT, "above -150 °C")
    late = Flag("deviation", WARNING, "door alarm")
    first = Step("manufacturing", "step", "Expansion", AT, flags=[late])
    second = Step("custody", "store", "Stored", AT + timedelta(hours=1), flags=[gap, warm])
    quiet = Step("custody", "retrieve", "Taken out", AT + timedelta(hours=2))
    timeline = _timeline([first, second, quiet])
    assert timeline.flags == [(first, late), (second, gap), (second, warm)]


def test_a_bag_has_custody_once_any_step_says_where_it_was():
    record_only = Step("collection", "collect", "Collected", AT)
    assert _timeline([record_only]).has_custody is False
    assert _timeline([]).has_custody is False
    held = Step("custody", "store", "Stored", AT, custody=True)
    assert _timeline([record_only, held]).has_custody is True
