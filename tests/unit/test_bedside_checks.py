"""The bedside checks: every check always listed in order, hard stops, and what can be completed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from custody.domain import eligibility
from custody.domain.bedside_checks import (
    CHECK_NAMES,
    AllocationFacts,
    BagFacts,
    BedsideFacts,
    RecipientFacts,
    SecondVerifierFacts,
    ThawFacts,
    WristbandFacts,
    evaluate,
    next_infusion,
)

NOW = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
BORN = date(1961, 2, 3)
ORDER = [
    "wristband",
    "bag_label",
    "recipient_identity",
    "allocation",
    "infusion_number",
    "recipient_on_study",
    "lot_released",
    "not_recalled",
    "product_expiry",
    "thawed",
    "thaw_window",
    "received_at_site",
    "dose_level",
    "never_infused",
    "eligibility_warnings",
    "second_verifier",
]


def _facts(**changes) -> BedsideFacts:
    """Facts under which every check passes; each test changes what it is about."""
    facts = BedsideFacts(
        now=NOW,
        wristband=WristbandFacts("MRN0000042", BORN),
        wristband_error=None,
        bag=BagFacts(
            code="W999926000001-D0001VA0",
            status="thawed",
            expires_at=NOW + timedelta(days=30),
            lot_number="LT-1",
            lot_disposition="released",
            release_holds=True,
            release_why="",
            determination="eligible",
            received_at_sites=("University Hospital",),
            has_infusion=False,
        ),
        bag_error=None,
        recipient=RecipientFacts(
            subject_id="CAR33-001",
            name="Ada Example",
            hospital_record_number="MRN0000042",
            birth_date=BORN,
            status="lymphodepletion",
            site="University Hospital",
            dose_level_id=2,
            dose_level_code="DL2",
            infusions_given=frozenset(),
            second_infusion_ordered=False,
        ),
        allocation=AllocationFacts(1, 2, "DL2"),
        thaw=ThawFacts(
            NOW - timedelta(minutes=20), NOW - timedelta(minutes=5), NOW + timedelta(minutes=55)
        ),
        warnings_acknowledged=False,
        second_verifier=SecondVerifierFacts("nina", "Nina Second", "nurse"),
    )
    return replace(facts, **changes)


def _bag(**changes):
    return replace(_facts().bag, **changes)


def _recipient(**changes):
    return replace(_facts().recipient, **changes)


def _failed(verdict) -> list[str]:
    return [c.check for c in verdict.checks if not c.passed]


def _check(verdict, name):
    return next(c for c in verdict.checks if c.check == name)


def test_all_checks_pass_in_the_documented_order():
    verdict = evaluate(_facts())
    assert [c.check for c in verdict.checks] == ORDER == list(CHECK_NAMES)
    assert verdict.passed and verdict.outcome == "passed" and verdict.stop_reason is None
    assert all(c.message for c in verdict.checks)


def test_another_patients_wristband_is_a_hard_stop_naming_the_right_recipient():
    verdict = evaluate(_facts(wristband=WristbandFacts("MRN0000099", date(1970, 5, 6))))
    assert _failed(verdict) == ["recipient_identity"]
    assert verdict.outcome == "stopped"
    assert verdict.stop_reason.startswith(
        "STOP: this bag is for Ada Example (CAR33-001), born 1961-02-03; the wristband is for "
        "another patient. Do not infuse."
    )


def test_the_right_number_with_another_date_of_birth_stops_too():
    verdict = evaluate(_facts(wristband=WristbandFacts("MRN0000042", date(1961, 2, 4))))
    assert _failed(verdict) == ["recipient_identity"]
    assert "date of birth 1961-02-04" in verdict.stop_reason


def test_an_unreadable_wristband_stops_and_identity_says_why_it_was_not_checked():
    verdict = evaluate(_facts(wristband=None, wristband_error="That is not a wristband."))
    assert _failed(verdict) == ["wristband", "recipient_identity"]
    assert "That is not a wristband." in verdict.stop_reason
    assert _check(verdict, "recipient_identity").message.startswith("Not checked:")


def test_an_unknown_bag_lists_every_later_check_as_not_checked():
    verdict = evaluate(_facts(bag=None, bag_error="No bag W9999… is known.", recipient=None))
    verdict_checks = {c.check: c for c in verdict.checks}
    assert [c.check for c in verdict.checks] == ORDER
    assert verdict.outcome == "stopped" and "No bag" in verdict.stop_reason
    for name in ORDER[2:-1]:
        assert not verdict_checks[name].passed, name
        assert verdict_checks[name].message.startswith("Not checked:"), name
    assert verdict_checks["wristband"].passed and verdict_checks["second_verifier"].passed


def test_a_bag_allocated_to_nobody_stops():
    verdict = evaluate(_facts(recipient=None, allocation=None))
    assert "allocation" in _failed(verdict)
    assert verdict.outcome == "stopped"
    assert "not allocated to any recipient" in _check(verdict, "allocation").message


@pytest.mark.parametrize(
    ("given", "ordered", "number", "passes"),
    [
        (frozenset(), False, 1, True),
        (frozenset(), True, 2, False),
        (frozenset({1}), False, 2, False),
        (frozenset({1}), True, 2, True),
        (frozenset({1}), True, 1, False),
        (frozenset({1, 2}), True, 2, False),
    ],
)
def test_only_the_next_due_infusion_passes(given, ordered, number, passes):
    recipient = _recipient(infusions_given=given, second_infusion_ordered=ordered)
    verdict = evaluate(_facts(recipient=recipient, allocation=AllocationFacts(number, 2, "DL2")))
    assert _check(verdict, "infusion_number").passed is passes


def test_the_next_infusion_is_one_then_two_only_when_ordered():
    assert next_infusion(frozenset(), False) == 1
    assert next_infusion(frozenset({1}), False) is None
    assert next_infusion(frozenset({1}), True) == 2
    assert next_infusion(frozenset({1, 2}), True) is None


@pytest.mark.parametrize("status", ["withdrawn", "off_study", "deceased"])
def test_a_recipient_off_study_stops(status):
    verdict = evaluate(_facts(recipient=_recipient(status=status)))
    assert _failed(verdict) == ["recipient_on_study"]


@pytest.mark.parametrize(
    ("bag", "failed"),
    [
        ({"lot_disposition": "quarantine"}, "lot_released"),
        ({"release_holds": False, "release_why": "The lot's record changed."}, "lot_released"),
        ({"expires_at": NOW - timedelta(minutes=1)}, "product_expiry"),
        ({"expires_at": None}, "product_expiry"),
        ({"received_at_sites": ("City Clinic",)}, "received_at_site"),
        ({"received_at_sites": ()}, "received_at_site"),
        ({"has_infusion": True}, "never_infused"),
    ],
)
def test_bag_problems_stop(bag, failed):
    verdict = evaluate(_facts(bag=_bag(**bag)))
    assert _failed(verdict) == [failed]
    assert verdict.outcome == "stopped"
    assert verdict.stop_reason == _check(verdict, failed).message


def test_a_conditionally_released_lot_passes():
    assert evaluate(_facts(bag=_bag(lot_disposition="conditionally_released"))).passed


def test_an_infused_bag_fails_thawed_and_never_infused():
    verdict = evaluate(_facts(bag=_bag(status="infused")))
    assert _failed(verdict) == ["thawed", "never_infused"]


def test_a_bag_not_thawed_stops_and_its_window_is_not_checked():
    verdict = evaluate(_facts(bag=_bag(status="received"), thaw=None))
    assert _failed(verdict) == ["thawed", "thaw_window"]
    assert _check(verdict, "thaw_window").message.startswith("Not checked:")


def test_a_thaw_started_but_not_ended_stops():
    thaw = ThawFacts(NOW - timedelta(minutes=5), None, None)
    verdict = evaluate(_facts(bag=_bag(status="received"), thaw=thaw))
    assert _failed(verdict) == ["thawed", "thaw_window"]
    assert "started but not ended" in verdict.stop_reason


def test_the_post_thaw_window_closes_at_use_by():
    thaw = ThawFacts(NOW - timedelta(minutes=80), NOW - timedelta(minutes=60), NOW)
    verdict = evaluate(_facts(thaw=thaw))
    assert _failed(verdict) == ["thaw_window"]
    assert "window closed" in verdict.stop_reason


def test_a_changed_dose_level_stops():
    verdict = evaluate(_facts(recipient=_recipient(dose_level_id=3, dose_level_code="DL3")))
    assert _failed(verdict) == ["dose_level"]
    assert "DL2" in verdict.stop_reason and "DL3" in verdict.stop_reason


@pytest.mark.parametrize("determination", ["incomplete", "ineligible"])
def test_eligibility_warnings_need_acknowledging_and_are_quoted(determination):
    bag = _bag(determination=determination)
    verdict = evaluate(_facts(bag=bag))
    assert _failed(verdict) == ["eligibility_warnings"]
    assert verdict.outcome == "incomplete" and verdict.stop_reason is None
    assert eligibility.ADVISE_PATIENT in _check(verdict, "eligibility_warnings").message
    assert list(verdict.warnings) == eligibility.warnings_for(determination)
    assert evaluate(_facts(bag=bag, warnings_acknowledged=True)).passed


@pytest.mark.parametrize(
    ("second", "words"),
    [
        (SecondVerifierFacts(), "second nurse must verify"),
        (SecondVerifierFacts("ann", same_person=True), "another person"),
        (SecondVerifierFacts("nina", credential_problem="Wrong password."), "Wrong password."),
        (SecondVerifierFacts("tom", "Tom Tech", "technician"), "must be a nurse"),
    ],
)
def test_a_missing_or_unfit_second_verifier_leaves_the_check_incomplete(second, words):
    verdict = evaluate(_facts(second_verifier=second))
    assert _failed(verdict) == ["second_verifier"]
    assert verdict.outcome == "incomplete"
    assert words in _check(verdict, "second_verifier").message


def test_a_stop_is_a_stop_whatever_else_was_acknowledged_or_missing():
    verdict = evaluate(
        _facts(
            wristband=WristbandFacts("MRN0000099", BORN),
            bag=_bag(determination="incomplete"),
            warnings_acknowledged=True,
            second_verifier=SecondVerifierFacts(),
        )
    )
    assert verdict.outcome == "stopped"
    assert verdict.stop_reason.startswith("STOP: this bag is for Ada Example")
