"""The bedside checks: every check always listed in order, hard stops, and what can be completed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from custody.domain.bedside_checks import (
    CHECK_NAMES,
    AllocationFacts,
    BagFacts,
    BedsideFacts,
    Check,
    RecipientFacts,
    SecondVerifierFacts,
    ThawFacts,
    WristbandFacts,
    evaluate,
    next_infusion,
    outcome_of,
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


ADVISE = "WARNING: Advise patient of communicable disease risks"


@pytest.mark.parametrize(
    ("determination", "warnings"),
    [
        ("incomplete", ("NOT EVALUATED FOR INFECTIOUS SUBSTANCES", ADVISE)),
        ("ineligible", ("BIOHAZARD", ADVISE)),
    ],
)
def test_eligibility_warnings_need_acknowledging_and_are_quoted(determination, warnings):
    bag = _bag(determination=determination)
    verdict = evaluate(_facts(bag=bag))
    assert _failed(verdict) == ["eligibility_warnings"]
    assert verdict.outcome == "incomplete" and verdict.stop_reason is None
    assert ADVISE in _check(verdict, "eligibility_warnings").message
    assert verdict.warnings == warnings
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


# --- exactly what each check says --------------------------------------------------------------

CET = timezone(timedelta(hours=1), "CET")
US = timedelta(microseconds=1)


def test_every_check_says_what_it_found_when_all_pass():
    messages = {c.check: (c.passed, c.message) for c in evaluate(_facts()).checks}
    assert messages == {
        "wristband": (True, "Wristband read: patient number MRN0000042, born 1961-02-03."),
        "bag_label": (True, "Bag W999926000001-D0001VA0 of lot LT-1 is known."),
        "recipient_identity": (
            True,
            "The wristband is Ada Example's (CAR33-001, born 1961-02-03), patient number "
            "MRN0000042.",
        ),
        "allocation": (
            True,
            "Bag W999926000001-D0001VA0 is allocated to CAR33-001 for infusion 1.",
        ),
        "infusion_number": (True, "Infusion 1 is CAR33-001's next infusion."),
        "recipient_on_study": (True, "CAR33-001 is on study (lymphodepletion)."),
        "lot_released": (True, "Lot LT-1 is released by QA; the signature holds."),
        "not_recalled": (True, "No recall or quarantine order covers this product."),
        "product_expiry": (True, "The product is in date (expires 2026-04-13 09:30 UTC)."),
        "thawed": (True, "Thawed at 2026-03-14 09:25 UTC."),
        "thaw_window": (True, "Use by 2026-03-14 10:25 UTC (55 min left)."),
        "received_at_site": (True, "Received at University Hospital."),
        "dose_level": (True, "Dose level DL2 as allocated."),
        "never_infused": (True, "The bag has not been infused."),
        "eligibility_warnings": (True, "No donor-eligibility warnings."),
        "second_verifier": (True, "Second verifier: Nina Second (nina)."),
    }


def test_times_are_shown_in_the_sites_zone():
    verdict = evaluate(_facts(zone=CET))
    assert _check(verdict, "product_expiry").message == (
        "The product is in date (expires 2026-04-13 10:30 CET)."
    )
    assert _check(verdict, "thawed").message == "Thawed at 2026-03-14 10:25 CET."
    assert _check(verdict, "thaw_window").message == "Use by 2026-03-14 11:25 CET (55 min left)."
    expired = evaluate(_facts(zone=CET, bag=_bag(expires_at=NOW))).stop_reason
    assert expired == "STOP: the product expired at 2026-03-14 10:30 CET. Do not infuse."
    closed = replace(_facts().thaw, use_by=NOW)
    assert evaluate(_facts(zone=CET, thaw=closed)).stop_reason == (
        "STOP: the post-thaw window closed at 2026-03-14 10:30 CET. Do not infuse; set the bag "
        "apart and call the cell therapy lab."
    )


@pytest.mark.parametrize(
    ("expires_at", "in_date"),
    [
        (NOW - US, False),  # expired a microsecond ago
        (NOW, False),  # expires at this very instant: no longer usable
        (NOW + US, True),  # a microsecond left
    ],
)
def test_product_expiry_boundary_to_the_microsecond(expires_at, in_date):
    check = _check(evaluate(_facts(bag=_bag(expires_at=expires_at))), "product_expiry")
    assert check.passed is in_date


@pytest.mark.parametrize(
    ("use_by", "open_", "message"),
    [
        (NOW - US, False, "STOP: the post-thaw window closed at 2026-03-14 09:29 UTC."),
        (NOW, False, "STOP: the post-thaw window closed at 2026-03-14 09:30 UTC."),
        (NOW + US, True, "Use by 2026-03-14 09:30 UTC (0 min left)."),
        # 59 min 59.999999 s left shows as 59 min; exactly 60 min shows as 60.
        (NOW + timedelta(minutes=60) - US, True, "Use by 2026-03-14 10:29 UTC (59 min left)."),
        (NOW + timedelta(minutes=60), True, "Use by 2026-03-14 10:30 UTC (60 min left)."),
        (NOW + timedelta(minutes=61), True, "Use by 2026-03-14 10:31 UTC (61 min left)."),
    ],
)
def test_post_thaw_window_boundary_to_the_microsecond(use_by, open_, message):
    thaw = replace(_facts().thaw, use_by=use_by)
    check = _check(evaluate(_facts(thaw=thaw)), "thaw_window")
    assert check.passed is open_
    assert check.message.startswith(message)


def _stop(**changes) -> tuple[list[str], str]:
    verdict = evaluate(_facts(**changes))
    assert verdict.outcome == "stopped"
    return _failed(verdict), verdict.stop_reason


def test_a_recalled_product_stops():
    assert _stop(bag=_bag(recall="RC-2026-004")) == (
        ["not_recalled"],
        "STOP: QA has recalled this product (RC-2026-004). Do not infuse; set the bag apart and "
        "call the cell therapy lab.",
    )


@pytest.mark.parametrize(
    ("changes", "failed", "reason"),
    [
        (
            {"wristband": WristbandFacts("MRN0000042", date(1961, 2, 4))},
            ["recipient_identity"],
            "STOP: this bag is for Ada Example (CAR33-001), born 1961-02-03; the wristband is for "
            "another patient. Do not infuse. (The wristband carries date of birth 1961-02-04.)",
        ),
        (
            {"wristband": WristbandFacts("MRN0000099", BORN)},
            ["recipient_identity"],
            "STOP: this bag is for Ada Example (CAR33-001), born 1961-02-03; the wristband is for "
            "another patient. Do not infuse. (The wristband carries patient number MRN0000099.)",
        ),
        (
            {"wristband": WristbandFacts("MRN0000099", date(1970, 5, 6))},
            ["recipient_identity"],
            "STOP: this bag is for Ada Example (CAR33-001), born 1961-02-03; the wristband is for "
            "another patient. Do not infuse. (The wristband carries patient number MRN0000099 "
            "and date of birth 1970-05-06.)",
        ),
        (
            {"bag": None, "bag_error": None, "recipient": None},
            [n for n in ORDER if n not in ("wristband", "second_verifier")],
            "STOP: the bag label could not be used.",
        ),
        (
            {"bag": _bag(lot_disposition="conditionally_rejected")},
            ["lot_released"],
            "STOP: lot LT-1 is conditionally rejected, not released by QA. Do not infuse; set the "
            "bag apart and call the cell therapy lab.",
        ),
        (
            {"bag": _bag(release_holds=False, release_why="the lot's record changed")},
            ["lot_released"],
            "STOP: QA's release of lot LT-1 no longer holds (the lot's record changed). Do not "
            "infuse; call QA.",
        ),
        (
            {"bag": _bag(expires_at=None)},
            ["product_expiry"],
            "STOP: bag W999926000001-D0001VA0 has no expiry recorded. Do not infuse.",
        ),
        (
            {"bag": _bag(status="received"), "thaw": None},
            ["thawed", "thaw_window"],
            "STOP: bag W999926000001-D0001VA0 is received: it has not been thawed. Scan thaw "
            "start and thaw end before the bedside check.",
        ),
        (
            {"bag": _bag(status="received"), "thaw": ThawFacts(NOW, None, None)},
            ["thawed", "thaw_window"],
            "STOP: bag W999926000001-D0001VA0 is received: its thaw was started but not ended. "
            "Scan thaw start and thaw end before the bedside check.",
        ),
        (
            {"bag": _bag(status="allocated")},
            ["thawed"],
            "STOP: bag W999926000001-D0001VA0 is allocated, not ready at the bedside.",
        ),
        (
            {"bag": _bag(received_at_sites=())},
            ["received_at_site"],
            "STOP: bag W999926000001-D0001VA0 has no record of being received at any site, not at "
            "University Hospital where CAR33-001 is treated. Do not infuse; call the cell therapy "
            "lab.",
        ),
        (
            {"bag": _bag(received_at_sites=("City Clinic", "Harbour Hospital"))},
            ["received_at_site"],
            "STOP: bag W999926000001-D0001VA0 was received at City Clinic, Harbour Hospital, not "
            "at University Hospital where CAR33-001 is treated. Do not infuse; call the cell "
            "therapy lab.",
        ),
        (
            {"recipient": _recipient(dose_level_id=None, dose_level_code=None)},
            ["dose_level"],
            "STOP: the bag was allocated for dose level DL2, but CAR33-001 is now assigned dose "
            "level none. Do not infuse; call the investigator.",
        ),
        (
            {"allocation": AllocationFacts(1, None, None)},
            ["dose_level"],
            "STOP: the bag was allocated for dose level unknown, but CAR33-001 is now assigned "
            "dose level DL2. Do not infuse; call the investigator.",
        ),
        (
            {
                "allocation": AllocationFacts(1, None, None),
                "recipient": _recipient(dose_level_id=None, dose_level_code=None),
            },
            ["dose_level"],
            "STOP: the bag was allocated for dose level unknown, but CAR33-001 is now assigned "
            "dose level none. Do not infuse; call the investigator.",
        ),
        (
            {"bag": _bag(has_infusion=True)},
            ["never_infused"],
            "STOP: bag W999926000001-D0001VA0 has already been infused. Do not infuse it again.",
        ),
        (
            {"recipient": _recipient(status="off_study")},
            ["recipient_on_study"],
            "STOP: CAR33-001 is off study; no product may be given. Do not infuse; call the "
            "investigator.",
        ),
        (
            {"recipient": _recipient(status="long_term_follow_up")},
            ["recipient_on_study"],
            "STOP: CAR33-001 is long term follow up; infusion 1 is given only to a recipient who "
            "is lymphodepletion. Do not infuse; check the recipient's status with the "
            "investigator.",
        ),
        (
            {
                "recipient": _recipient(
                    status="lymphodepletion",
                    infusions_given=frozenset({1}),
                    second_infusion_ordered=True,
                ),
                "allocation": AllocationFacts(2, 2, "DL2"),
            },
            ["recipient_on_study"],
            "STOP: CAR33-001 is lymphodepletion; infusion 2 is given only to a recipient who is "
            "follow up or infused. Do not infuse; check the recipient's status with the "
            "investigator.",
        ),
        (
            {"recipient": _recipient(infusions_given=frozenset({1}))},
            ["infusion_number"],
            "STOP: this bag is for infusion 1 of CAR33-001, but no further infusion is due "
            "(infusion 2 has not been ordered). Do not infuse; check the infusion order.",
        ),
        (
            {
                "recipient": _recipient(
                    status="follow_up",
                    infusions_given=frozenset({1, 2}),
                    second_infusion_ordered=True,
                ),
                "allocation": AllocationFacts(2, 2, "DL2"),
            },
            ["infusion_number"],
            "STOP: this bag is for infusion 2 of CAR33-001, but both infusions have been given. "
            "Do not infuse; check the infusion order.",
        ),
        (
            {"allocation": AllocationFacts(2, 2, "DL2")},
            ["infusion_number", "recipient_on_study"],
            "STOP: this bag is for infusion 2 of CAR33-001, but the next infusion due is "
            "infusion 1. Do not infuse; check the infusion order.",
        ),
    ],
)
def test_each_stop_says_exactly_why(changes, failed, reason):
    assert _stop(**changes) == (failed, reason)


def test_a_read_that_failed_asks_to_scan_again_and_is_no_stop():
    verdict = evaluate(_facts(wristband=None, wristband_error="That is not a wristband."))
    assert (verdict.outcome, verdict.stop_reason) == (
        "unreadable",
        "The wristband could not be read: scan it again. That is not a wristband.",
    )
    wristband = _check(verdict, "wristband")
    assert (wristband.passed, wristband.checked, wristband.rescan) == (False, True, True)
    # The identity check could not run: it is not a finding of its own.
    identity = _check(verdict, "recipient_identity")
    assert (identity.passed, identity.checked, identity.rescan) == (False, False, False)
    unread = evaluate(_facts(wristband=None, wristband_error=None))
    assert unread.stop_reason == "The wristband could not be read: scan it again."
    bag = evaluate(
        _facts(bag=None, bag_error="Wrong check character.", bag_unreadable=True, recipient=None)
    )
    assert (bag.outcome, bag.stop_reason) == (
        "unreadable",
        "The bag label could not be read: scan it again. Wrong check character.",
    )
    assert [c.check for c in bag.checks if not c.passed and c.checked] == ["bag_label"]


def test_a_label_read_but_naming_no_bag_known_here_is_a_stop():
    verdict = evaluate(_facts(bag=None, bag_error="No bag W9 is known.", recipient=None))
    assert verdict.outcome == "stopped"
    assert verdict.stop_reason == "STOP: the bag label could not be used. No bag W9 is known."
    assert _check(verdict, "bag_label").rescan is False


def test_a_true_mismatch_beside_a_failed_read_is_still_a_stop():
    expired = _bag(expires_at=NOW)
    verdict = evaluate(_facts(wristband=None, wristband_error=None, bag=expired))
    assert verdict.outcome == "stopped"
    assert (
        verdict.stop_reason == "STOP: the product expired at 2026-03-14 09:30 UTC. Do not infuse."
    )


def test_the_outcome_follows_only_the_checks_that_ran():
    ran_and_read = Check("wristband", False, "scan", rescan=True)
    not_run = Check("lot_released", False, "Not checked: no bag", checked=False)
    assert outcome_of((ran_and_read, not_run)) == ("unreadable", "scan")
    assert outcome_of((not_run,)) == ("stopped", "Not checked: no bag")
    second = Check("second_verifier", False, "second nurse")
    assert outcome_of((second, not_run)) == ("stopped", "second nurse")
    assert outcome_of((second,)) == ("incomplete", None)
    # A failed read beside the checks still waiting for the nurses is read again first.
    assert outcome_of((ran_and_read, second, not_run)) == ("unreadable", "scan")
    mismatch = Check("product_expiry", False, "expired")
    assert outcome_of((ran_and_read, second, mismatch)) == ("stopped", "expired")
    assert outcome_of((Check("wristband", True, "ok"),)) == ("passed", None)


@pytest.mark.parametrize(
    ("changes", "check", "message"),
    [
        (
            {"bag": None, "bag_error": "x"},
            "lot_released",
            "Not checked: the bag label could not be read or the bag is not known. Do not infuse.",
        ),
        (
            {"recipient": None},
            "infusion_number",
            "Not checked: this bag is not allocated to any recipient, so there is nobody to check "
            "it against. Do not infuse; call the cell therapy lab.",
        ),
        (
            {"allocation": None},
            "dose_level",
            "Not checked: this bag is not allocated to any recipient, so there is nobody to check "
            "it against. Do not infuse; call the cell therapy lab.",
        ),
        (
            {"wristband": None},
            "recipient_identity",
            "Not checked: the wristband could not be read. Do not infuse; scan the wristband.",
        ),
        (
            {"thaw": ThawFacts(NOW - timedelta(minutes=20), NOW - timedelta(minutes=5), None)},
            "thaw_window",
            "Not checked: the bag has not been thawed (no thaw end was scanned).",
        ),
    ],
)
def test_a_check_that_cannot_be_made_fails_and_says_why(changes, check, message):
    verdict = evaluate(_facts(**changes))
    found = _check(verdict, check)
    assert (found.passed, found.checked) == (False, False)
    assert found.message == message
    # An unreadable wristband asks to scan again; anything else missing stops.
    assert verdict.outcome == ("unreadable" if "wristband" in changes else "stopped")


@pytest.mark.parametrize(
    ("recipient", "allocation"),
    [(None, AllocationFacts(1, 2, "DL2")), ("present", None)],
)
def test_a_recipient_without_an_allocation_or_the_reverse_is_not_allocated(recipient, allocation):
    facts = _facts(allocation=allocation, recipient=_recipient() if recipient else None)
    verdict = evaluate(facts)
    assert _check(verdict, "allocation").message == (
        "STOP: bag W999926000001-D0001VA0 is not allocated to any recipient. Do not infuse; call "
        "the cell therapy lab."
    )
    for name in ("recipient_identity", "infusion_number", "received_at_site", "dose_level"):
        assert _check(verdict, name).message.startswith("Not checked: this bag is not allocated")


def test_what_completes_at_the_bedside_is_worded_for_the_nurse():
    bag = _bag(determination="ineligible")
    check = _check(evaluate(_facts(bag=bag)), "eligibility_warnings")
    assert check.message == (
        'The donor-eligibility determination is ineligible; the label warns "BIOHAZARD"; '
        '"WARNING: Advise patient of communicable disease risks". Confirm the patient was '
        "advised, then acknowledge the warnings."
    )
    check = _check(evaluate(_facts(bag=bag, warnings_acknowledged=True)), "eligibility_warnings")
    assert check.message == (
        'Acknowledged: the label warns "BIOHAZARD"; "WARNING: Advise patient of communicable '
        'disease risks".'
    )


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (
            SecondVerifierFacts(),
            "A second nurse must verify with their own user ID and password.",
        ),
        (
            SecondVerifierFacts("ann", same_person=True),
            "The second verifier must be another person: you cannot verify twice. Ask a second "
            "nurse to enter their own user ID and password.",
        ),
        (
            SecondVerifierFacts("nina", credential_problem="Wrong password."),
            "The second verifier was not accepted: Wrong password. Another qualified nurse may "
            "verify instead; an administrator can unlock a locked account.",
        ),
        (
            SecondVerifierFacts("tom", "Tom Tech", "technician"),
            "Tom Tech is a technician; the second verifier must be a nurse qualified to verify at "
            "the bedside.",
        ),
    ],
)
def test_the_second_verifier_is_told_exactly_what_is_missing(second, message):
    check = _check(evaluate(_facts(second_verifier=second)), "second_verifier")
    assert (check.passed, check.message) == (False, message)


def test_a_second_infusion_passes_the_study_check_from_follow_up():
    recipient = _recipient(
        status="follow_up", infusions_given=frozenset({1}), second_infusion_ordered=True
    )
    verdict = evaluate(_facts(recipient=recipient, allocation=AllocationFacts(2, 2, "DL2")))
    assert verdict.passed
    assert _check(verdict, "recipient_on_study").message == "CAR33-001 is on study (follow up)."


def test_an_infusion_the_protocol_does_not_have_is_never_given():
    verdict = evaluate(_facts(allocation=AllocationFacts(3, 2, "DL2")))
    assert _failed(verdict) == ["infusion_number", "recipient_on_study"]
    check = _check(verdict, "recipient_on_study")
    assert check.message == (
        "STOP: the protocol has no infusion 3. Do not infuse; check the infusion order with the "
        "investigator."
    )
