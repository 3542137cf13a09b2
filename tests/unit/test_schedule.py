"""The recipient's status table and the protocol calendar (pure rules)."""

from datetime import date, timedelta

import pytest

from custody.domain import schedule
from custody.domain.errors import IllegalTransition
from custody.domain.schedule import calendar

DAY0 = date(2026, 3, 2)


def _day(n: int) -> date:
    return DAY0 + timedelta(n)


def _by_kind(items, kind):
    return [i for i in items if i.kind == kind]


def _one(items, kind):
    (item,) = _by_kind(items, kind)
    return item


# --- statuses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("screening", "enrolled"),
        ("screening", "off_study"),
        ("screening", "withdrawn"),
        ("screening", "deceased"),
        ("enrolled", "lymphodepletion"),
        ("lymphodepletion", "withdrawn"),
        ("infused", "follow_up"),
        ("follow_up", "long_term_follow_up"),
        ("long_term_follow_up", "off_study"),
        ("follow_up", "deceased"),
    ],
)
def test_the_protocol_path_and_its_exits_are_allowed(current, target):
    assert schedule.plan_status_change(current, target) == target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("screening", "lymphodepletion"),
        ("enrolled", "follow_up"),
        ("follow_up", "infused"),
        ("long_term_follow_up", "follow_up"),
        ("infused", "screening"),
    ],
)
def test_skipping_or_going_back_is_refused_naming_current_and_allowed(current, target):
    with pytest.raises(IllegalTransition) as refused:
        schedule.plan_status_change(current, target)
    message = refused.value.message
    assert current.replace("_", " ").upper() in message and "Allowed now:" in message
    assert refused.value.details["current_status"] == current
    assert refused.value.details["allowed"] == schedule.allowed_changes(current)
    assert target not in refused.value.details["allowed"]


@pytest.mark.parametrize("final", ["off_study", "withdrawn", "deceased"])
@pytest.mark.parametrize("target", ["screening", "follow_up", "off_study", "withdrawn"])
def test_final_statuses_are_final(final, target):
    assert schedule.allowed_changes(final) == []
    with pytest.raises(IllegalTransition, match="final"):
        schedule.plan_status_change(final, target)


def test_infused_is_set_only_by_the_infusion_record():
    with pytest.raises(IllegalTransition, match="record the infusion") as refused:
        schedule.plan_status_change("lymphodepletion", "infused")
    assert "infused" not in refused.value.details["allowed"]
    assert schedule.status_after_infusion("lymphodepletion", 1) == "infused"
    assert schedule.status_after_infusion("follow_up", 2) == "follow_up"
    with pytest.raises(IllegalTransition, match="LYMPHODEPLETION"):
        schedule.status_after_infusion("enrolled", 1)
    with pytest.raises(IllegalTransition):
        schedule.status_after_infusion("lymphodepletion", 2)


def test_an_unknown_status_is_refused_with_the_list():
    with pytest.raises(IllegalTransition, match="Statuses are: screening"):
        schedule.plan_status_change("screening", "cured")


@pytest.mark.parametrize(
    "status",
    ["screening", "enrolled", "lymphodepletion", "infused", "follow_up", "long_term_follow_up"],
)
def test_every_non_final_status_may_leave_the_study(status):
    assert set(schedule.allowed_changes(status)) >= {"off_study", "withdrawn", "deceased"}


# --- calendar -------------------------------------------------------------------------------


def test_before_day0_infusion_1_is_not_yet_scheduled_and_nothing_else_is_listed():
    (item,) = calendar(None, date(2026, 1, 1), second_infusion_ordered=True)
    assert item.kind == "infusion_1" and "not yet scheduled" in item.title
    assert (item.due_from, item.due_to, item.status) == (None, None, "upcoming")


def test_a_full_calendar_counted_from_day0():
    items = calendar(DAY0, _day(1), infusions={1: DAY0})
    infusion1 = _one(items, "infusion_1")
    assert (infusion1.due_from, infusion1.status) == (DAY0, "done")
    biopsy = _one(items, "bone_marrow_biopsy")
    assert (biopsy.due_from, biopsy.due_to, biopsy.status) == (_day(28), _day(35), "upcoming")
    end = _one(items, "end_of_study")
    assert end.due_from <= _day(365) <= end.due_to
    yearly = _by_kind(items, "long_term_follow_up")
    assert [i.title for i in yearly] == [f"Long-term follow-up, year {y}" for y in range(2, 16)]
    assert yearly[-1].due_from <= date(2041, 3, 2) <= yearly[-1].due_to
    assert not _by_kind(items, "clinic_visit")  # never discharged
    assert [i.due_from for i in items] == sorted(i.due_from for i in items)


def test_infusion_2_only_when_ordered():
    not_ordered = _one(calendar(DAY0, _day(3), infusions={1: DAY0}), "infusion_2")
    assert not_ordered.status == "not_applicable" and "not ordered" in not_ordered.title
    ordered = calendar(DAY0, _day(3), infusions={1: DAY0}, second_infusion_ordered=True)
    assert (_one(ordered, "infusion_2").due_from, _one(ordered, "infusion_2").status) == (
        _day(7),
        "upcoming",
    )
    on_day7 = calendar(DAY0, _day(7), infusions={1: DAY0}, second_infusion_ordered=True)
    assert _one(on_day7, "infusion_2").status == "due"
    missed = calendar(DAY0, _day(9), infusions={1: DAY0}, second_infusion_ordered=True)
    assert _one(missed, "infusion_2").status == "overdue"
    given = calendar(DAY0, _day(9), infusions={1: DAY0, 2: _day(8)}, second_infusion_ordered=True)
    assert (_one(given, "infusion_2").status, _one(given, "infusion_2").due_from) == (
        "done",
        _day(8),
    )


def test_biopsy_is_due_in_its_window_then_past_since_the_tracker_does_not_record_it():
    assert _one(calendar(DAY0, _day(27)), "bone_marrow_biopsy").status == "upcoming"
    assert _one(calendar(DAY0, _day(28)), "bone_marrow_biopsy").status == "due"
    assert _one(calendar(DAY0, _day(35)), "bone_marrow_biopsy").status == "due"
    assert _one(calendar(DAY0, _day(36)), "bone_marrow_biopsy").status == "past"


@pytest.mark.parametrize(
    ("discharge_day", "visit_days"),
    [
        (10, [14, 21, 28, 35]),
        (14, [21, 28, 35]),
        (33, [35]),
        (35, []),
        (40, []),
    ],
)
def test_weekly_clinic_visits_from_discharge_until_day_35(discharge_day, visit_days):
    items = calendar(DAY0, _day(1), discharged_on=_day(discharge_day))
    visits = _by_kind(items, "clinic_visit")
    assert [v.due_from for v in visits] == [_day(d) for d in visit_days]
    assert [v.title for v in visits] == [f"Clinic visit (day {d})" for d in visit_days]


def test_after_a_transplant_the_sample_is_due_about_30_days_later_and_nothing_after():
    transplant = _day(60)
    items = calendar(DAY0, _day(61), infusions={1: DAY0}, transplant_on=transplant)
    sample = _one(items, "post_transplant_sample")
    assert (sample.due_from, sample.due_to) == (
        transplant + timedelta(23),
        transplant + timedelta(37),
    )
    assert sample.status == "upcoming" and "leaves the study" in sample.title
    assert not _by_kind(items, "end_of_study") and not _by_kind(items, "long_term_follow_up")
    assert _one(items, "bone_marrow_biopsy").status == "past"  # before the transplant: kept
    assert max(i.due_to for i in items) == sample.due_to


@pytest.mark.parametrize(
    ("today_after", "collected", "status"),
    [
        (22, None, "upcoming"),
        (23, None, "due"),
        (37, None, "due"),
        (38, None, "overdue"),
        (38, 31, "done"),
    ],
)
def test_post_transplant_sample_status(today_after, collected, status):
    transplant = _day(60)
    items = calendar(
        DAY0,
        transplant + timedelta(today_after),
        transplant_on=transplant,
        sample_collected_on=collected and transplant + timedelta(collected),
    )
    assert _one(items, "post_transplant_sample").status == status


def test_a_day0_on_29_february_keeps_its_anniversaries_on_28_february():
    leap = date(2028, 2, 29)
    yearly = _by_kind(calendar(leap, leap), "long_term_follow_up")
    year2 = yearly[0]
    assert year2.due_from <= date(2030, 2, 28) <= year2.due_to


def test_day0_is_the_day_of_infusion_1_so_infusion_1_is_done_once_it_exists():
    infusion1 = _one(calendar(DAY0, _day(40)), "infusion_1")
    assert (infusion1.due_from, infusion1.status) == (DAY0, "done")


# --- the status table, written out -----------------------------------------------------------

# Every status a person may set by hand from each status, in the protocol's order.
ALLOWED_BY_HAND = {
    "screening": ["enrolled", "off_study", "withdrawn", "deceased"],
    "enrolled": ["lymphodepletion", "off_study", "withdrawn", "deceased"],
    # Becoming infused is the infusion record's doing, never a person's.
    "lymphodepletion": ["off_study", "withdrawn", "deceased"],
    "infused": ["follow_up", "off_study", "withdrawn", "deceased"],
    "follow_up": ["long_term_follow_up", "off_study", "withdrawn", "deceased"],
    "long_term_follow_up": ["off_study", "withdrawn", "deceased"],
    "off_study": [],
    "withdrawn": [],
    "deceased": [],
}


@pytest.mark.parametrize("current", list(ALLOWED_BY_HAND))
def test_each_status_change_by_hand_is_as_written(current):
    assert schedule.allowed_changes(current) == ALLOWED_BY_HAND[current]
    wrong = []
    for target in ALLOWED_BY_HAND:
        try:
            outcome = schedule.plan_status_change(current, target)
        except IllegalTransition:
            outcome = None
        if (outcome == target) != (target in ALLOWED_BY_HAND[current]):
            wrong.append(target)
    assert wrong == []


def test_an_unknown_current_status_allows_nothing():
    assert schedule.allowed_changes("cured") == []


def _refusal(current, target):
    with pytest.raises(IllegalTransition) as refused:
        schedule.plan_status_change(current, target)
    return refused.value.message, refused.value.details


def test_status_refusals_in_these_words():
    assert _refusal("enrolled", "follow_up") == (
        "The recipient is ENROLLED (not FOLLOW UP): the status cannot become FOLLOW UP. "
        "Allowed now: lymphodepletion, off_study, withdrawn, deceased.",
        {
            "current_status": "enrolled",
            "requested": "follow_up",
            "allowed": ["lymphodepletion", "off_study", "withdrawn", "deceased"],
        },
    )
    assert _refusal("withdrawn", "screening") == (
        "The recipient is WITHDRAWN (which is final): the status cannot become SCREENING. "
        "Nothing more can change: the recipient has left the study.",
        {"current_status": "withdrawn", "requested": "screening", "allowed": []},
    )
    assert _refusal("lymphodepletion", "infused") == (
        "A recipient becomes INFUSED only when the infusion is recorded after the two-person "
        "bedside check; record the infusion instead of changing the status. The recipient is "
        "LYMPHODEPLETION. Allowed now: off_study, withdrawn, deceased.",
        {
            "current_status": "lymphodepletion",
            "requested": "infused",
            "allowed": ["off_study", "withdrawn", "deceased"],
        },
    )
    assert _refusal("screening", "cured") == (
        "'cured' is not a recipient status. Statuses are: screening, enrolled, lymphodepletion, "
        "infused, follow_up, long_term_follow_up, off_study, withdrawn, deceased.",
        {
            "current_status": "screening",
            "requested": "cured",
            "allowed": ["enrolled", "off_study", "withdrawn", "deceased"],
        },
    )


@pytest.mark.parametrize(
    ("current", "number", "after"),
    [
        ("lymphodepletion", 1, "infused"),
        ("infused", 2, "infused"),
        ("follow_up", 2, "follow_up"),
    ],
)
def test_the_status_after_each_infusion(current, number, after):
    assert schedule.status_after_infusion(current, number) == after


@pytest.mark.parametrize(
    ("current", "number", "message"),
    [
        (
            "enrolled",
            1,
            "Infusion 1 cannot be recorded for a recipient who is ENROLLED; the recipient must be "
            "LYMPHODEPLETION.",
        ),
        (
            "lymphodepletion",
            2,
            "Infusion 2 cannot be recorded for a recipient who is LYMPHODEPLETION; the recipient "
            "must be FOLLOW UP or INFUSED.",
        ),
        (
            "follow_up",
            3,
            "Infusion 3 cannot be recorded for a recipient who is FOLLOW UP; the recipient must "
            "be on the study.",
        ),
    ],
)
def test_an_infusion_out_of_turn_is_refused_in_these_words(current, number, message):
    with pytest.raises(IllegalTransition) as refused:
        schedule.status_after_infusion(current, number)
    assert refused.value.message == message
    assert refused.value.details == {"current_status": current, "infusion_number": number}


# --- the calendar, written out ----------------------------------------------------------------


def test_a_whole_calendar_written_out_day_by_day():
    # Day 0 = 2 March 2026; discharged on day 10; infusion 2 ordered but not given; today day 30.
    items = calendar(
        DAY0,
        _day(30),
        second_infusion_ordered=True,
        discharged_on=_day(10),
        infusions={1: DAY0},
    )
    rows = [(i.kind, i.title, i.due_from, i.due_to, i.status) for i in items]
    d = date
    assert rows[:9] == [
        ("infusion_1", "Infusion 1 (day 0)", d(2026, 3, 2), d(2026, 3, 2), "done"),
        ("infusion_2", "Infusion 2 (day 7)", d(2026, 3, 9), d(2026, 3, 9), "overdue"),
        ("clinic_visit", "Clinic visit (day 14)", d(2026, 3, 16), d(2026, 3, 16), "past"),
        ("clinic_visit", "Clinic visit (day 21)", d(2026, 3, 23), d(2026, 3, 23), "past"),
        # Same day: the biopsy window (day 28-35) sorts before the visit by kind.
        (
            "bone_marrow_biopsy",
            "Bone-marrow biopsy (day 28-35)",
            d(2026, 3, 30),
            d(2026, 4, 6),
            "due",
        ),
        ("clinic_visit", "Clinic visit (day 28)", d(2026, 3, 30), d(2026, 3, 30), "past"),
        ("clinic_visit", "Clinic visit (day 35)", d(2026, 4, 6), d(2026, 4, 6), "upcoming"),
        # Day 365 = 2 March 2027, ± 14 days.
        (
            "end_of_study",
            "End-of-study visit (day 365)",
            d(2027, 2, 16),
            d(2027, 3, 16),
            "upcoming",
        ),
        # Year 2 = 2 March 2028 (a leap year: 30 days before is 1 February), ± 30 days.
        (
            "long_term_follow_up",
            "Long-term follow-up, year 2",
            d(2028, 2, 1),
            d(2028, 4, 1),
            "upcoming",
        ),
    ]
    assert len(rows) == 9 + 13  # years 2 to 15
    assert rows[-1] == (
        "long_term_follow_up",
        "Long-term follow-up, year 15",
        d(2041, 1, 31),
        d(2041, 4, 1),
        "upcoming",
    )


@pytest.mark.parametrize(
    ("today", "status"),
    [(6, "upcoming"), (7, "due"), (8, "overdue")],
)
def test_infusion_2_is_due_on_day_7_exactly(today, status):
    items = calendar(DAY0, _day(today), second_infusion_ordered=True, infusions={1: DAY0})
    item = _one(items, "infusion_2")
    assert (item.title, item.due_from, item.due_to, item.status) == (
        "Infusion 2 (day 7)",
        _day(7),
        _day(7),
        status,
    )


@pytest.mark.parametrize(
    ("today", "status"),
    [(350, "upcoming"), (351, "due"), (379, "due"), (380, "past")],
)
def test_the_end_of_study_window_is_day_365_plus_minus_14_days(today, status):
    item = _one(calendar(DAY0, _day(today)), "end_of_study")
    assert (item.due_from, item.due_to, item.status) == (_day(351), _day(379), status)


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (date(2028, 1, 31), "upcoming"),
        (date(2028, 2, 1), "due"),
        (date(2028, 4, 1), "due"),
        (date(2028, 4, 2), "past"),
    ],
)
def test_a_yearly_follow_up_window_is_its_anniversary_plus_minus_30_days(today, status):
    year2 = _by_kind(calendar(DAY0, today), "long_term_follow_up")[0]
    assert (year2.due_from, year2.due_to, year2.status) == (
        date(2028, 2, 1),
        date(2028, 4, 1),
        status,
    )


@pytest.mark.parametrize(
    ("discharge_day", "visit_days"),
    [(6, [7, 14, 21, 28, 35]), (7, [14, 21, 28, 35]), (34, [35]), (35, [])],
)
def test_clinic_visits_follow_a_discharge_before_day_35_exactly(discharge_day, visit_days):
    items = calendar(DAY0, _day(1), discharged_on=_day(discharge_day))
    assert [(v.due_from, v.due_to) for v in _by_kind(items, "clinic_visit")] == [
        (_day(d), _day(d)) for d in visit_days
    ]


def test_an_item_starting_on_the_transplant_day_stays_on_the_calendar():
    # Transplant on day 28, the first day of the biopsy window: the biopsy stays; the visit at
    # day 365, which starts after the transplant, goes.
    on_day28 = calendar(DAY0, _day(29), transplant_on=_day(28))
    assert _by_kind(on_day28, "bone_marrow_biopsy") != []
    on_day27 = calendar(DAY0, _day(29), transplant_on=_day(27))
    assert _by_kind(on_day27, "bone_marrow_biopsy") == []
    assert _by_kind(on_day28, "end_of_study") == []


def test_the_post_transplant_sample_taken_is_done_in_its_window():
    transplant = _day(60)
    items = calendar(DAY0, _day(61), transplant_on=transplant, sample_collected_on=_day(90))
    sample = _one(items, "post_transplant_sample")
    assert (sample.title, sample.due_from, sample.due_to, sample.status) == (
        "Post-transplant blood sample (about 30 days after the transplant of 2026-05-01); the "
        "recipient then leaves the study",
        date(2026, 5, 24),
        date(2026, 6, 7),
        "done",
    )


def test_before_day0_an_infusion_1_on_record_is_done():
    (item,) = calendar(None, date(2026, 1, 1), infusions={1: date(2025, 12, 30)})
    assert (item.title, item.status) == ("Infusion 1 (day 0): not yet scheduled", "done")
    (item,) = calendar(None, date(2026, 1, 1), infusions={2: date(2025, 12, 30)})
    assert item.status == "upcoming"
