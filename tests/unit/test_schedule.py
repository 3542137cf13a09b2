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


def test_every_non_final_status_may_leave_the_study():
    for status in set(schedule.STATUSES) - schedule.FINAL_STATUSES:
        assert set(schedule.allowed_changes(status)) >= schedule.EXITS


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
