"""A recipient's path through the trial: the status table and the calendar of what is due.

Two pure rules, no Flask, no database:

- TRANSITIONS, the one table of the statuses a recipient may move between by hand. Becoming
  INFUSED is not among them: only the infusion record (after the bedside two-person check)
  makes a recipient infused, so the status can never claim an infusion that did not happen.
- `calendar()`, what the protocol asks for and when, counted from day 0 (the first infusion),
  with each item's status on a given day.

The day offsets are the protocol's schedule (DOMAIN §1, NCT07026942): change them here when
the protocol is amended, never in the code that uses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from custody.domain.errors import IllegalTransition

# --- statuses (the values of custody.models.RecipientStatus) --------------------------------

SCREENING = "screening"
ENROLLED = "enrolled"
LYMPHODEPLETION = "lymphodepletion"
INFUSED = "infused"
FOLLOW_UP = "follow_up"
LONG_TERM_FOLLOW_UP = "long_term_follow_up"
OFF_STUDY = "off_study"
WITHDRAWN = "withdrawn"
DECEASED = "deceased"

FINAL_STATUSES = frozenset({OFF_STUDY, WITHDRAWN, DECEASED})
# Any recipient still on the study may leave it, at any point, with a reason.
EXITS = frozenset(FINAL_STATUSES)
# The path forward, one step at a time (exits are added to every non-final status below).
_FORWARD: dict[str, frozenset[str]] = {
    SCREENING: frozenset({ENROLLED}),
    ENROLLED: frozenset({LYMPHODEPLETION}),
    LYMPHODEPLETION: frozenset(),  # INFUSED only through the infusion record
    INFUSED: frozenset({FOLLOW_UP}),
    FOLLOW_UP: frozenset({LONG_TERM_FOLLOW_UP}),
    LONG_TERM_FOLLOW_UP: frozenset(),
}
# Every status, in the order of the protocol (lists and messages follow it).
STATUSES = (*_FORWARD, OFF_STUDY, WITHDRAWN, DECEASED)
# status -> the statuses a person may set by hand from there.
TRANSITIONS: dict[str, frozenset[str]] = {
    status: _FORWARD[status] | EXITS if status in _FORWARD else frozenset() for status in STATUSES
}
# Infusion number -> the statuses a recipient may be in when that infusion is recorded.
INFUSION_FROM = {1: frozenset({LYMPHODEPLETION}), 2: frozenset({INFUSED, FOLLOW_UP})}


def allowed_changes(current: str) -> list[str]:
    """The statuses a person may set from `current`, in the table's order."""
    return [status for status in STATUSES if status in TRANSITIONS.get(current, ())]


def plan_status_change(current: str, target: str) -> str:
    """`target` if a person may set it now; otherwise IllegalTransition saying what is allowed."""
    allowed = allowed_changes(current)
    details = {"current_status": current, "requested": target, "allowed": allowed}
    if target not in TRANSITIONS:
        raise IllegalTransition(
            f"{target!r} is not a recipient status. Statuses are: {', '.join(STATUSES)}.",
            **details,
        )
    if target == INFUSED:
        raise IllegalTransition(
            "A recipient becomes INFUSED only when the infusion is recorded after the two-person "
            "bedside check; record the infusion instead of changing the status. "
            f"The recipient is {_words(current)}. {_allowed_words(allowed)}",
            **details,
        )
    if target not in TRANSITIONS[current]:
        why = "which is final" if current in FINAL_STATUSES else f"not {_words(target)}"
        raise IllegalTransition(
            f"The recipient is {_words(current)} ({why}): the status cannot become "
            f"{_words(target)}. {_allowed_words(allowed)}",
            **details,
        )
    return target


def status_after_infusion(current: str, infusion_number: int) -> str:
    """The status once infusion `infusion_number` is recorded (for the infusion record)."""
    if current not in INFUSION_FROM.get(infusion_number, frozenset()):
        expected = " or ".join(_words(s) for s in sorted(INFUSION_FROM.get(infusion_number, ())))
        raise IllegalTransition(
            f"Infusion {infusion_number} cannot be recorded for a recipient who is "
            f"{_words(current)}; the recipient must be {expected or 'on the study'}.",
            current_status=current,
            infusion_number=infusion_number,
        )
    return INFUSED if infusion_number == 1 else current


def _words(status: str) -> str:
    return status.replace("_", " ").upper()


def _allowed_words(allowed: list[str]) -> str:
    if not allowed:
        return "Nothing more can change: the recipient has left the study."
    return f"Allowed now: {', '.join(allowed)}."


# --- the calendar ---------------------------------------------------------------------------

# From the protocol (DOMAIN §1): day 0 is the first infusion.
INFUSION_1_DAY = 0
# Optional second infusion one week later, only when the investigator orders it.
INFUSION_2_DAY = 7
# Bone-marrow biopsy between day 28 and day 35.
BIOPSY_FROM_DAY = 28
BIOPSY_TO_DAY = 35
# Weekly clinic visits for a recipient discharged before day 35, on days 7, 14, ... 35.
VISIT_EVERY_DAYS = 7
VISITS_UNTIL_DAY = 35
# Follow-up to one year: the end-of-study visit.
END_OF_STUDY_DAY = 365
# Long-term follow-up: yearly, years 2 to 15.
LONG_TERM_LAST_YEAR = 15
# After a bone-marrow transplant: one blood sample about a month later, then off study.
POST_TRANSPLANT_SAMPLE_DAYS = 30
POST_TRANSPLANT_SAMPLE_WINDOW_DAYS = 7
# The protocol names the day of these visits but no window; these windows are the site's
# working assumption until the protocol's visit windows are confirmed.
END_OF_STUDY_WINDOW_DAYS = 14
# How far ahead the clinic dashboard looks, at most: a year (366 days in a leap year).
MAX_DAYS_AHEAD = 366
LONG_TERM_WINDOW_DAYS = 30

DONE, DUE, UPCOMING, OVERDUE = "done", "due", "upcoming", "overdue"
NOT_APPLICABLE = "not_applicable"
# A visit or biopsy the tracker does not record (the clinic's notes do) whose window has closed:
# calling it done or overdue would state something the tracker does not know.
PAST = "past"
ITEM_STATUSES = (DONE, DUE, UPCOMING, OVERDUE, NOT_APPLICABLE, PAST)


@dataclass(frozen=True)
class CalendarItem:
    kind: str
    title: str
    due_from: date | None
    due_to: date | None
    status: str


def calendar(
    day0: date | None,
    today: date,
    *,
    second_infusion_ordered: bool = False,
    discharged_on: date | None = None,
    transplant_on: date | None = None,
    infusions: Mapping[int, date] | None = None,
    sample_collected_on: date | None = None,
) -> list[CalendarItem]:
    """What the protocol asks of this recipient and when, each with its status on `today`.

    `infusions` maps each infusion recorded (1, 2) to its date; `sample_collected_on` is when
    the post-transplant blood sample was taken. Items tracked here (infusions, the sample) can
    be done or overdue; visits the tracker does not record are due, upcoming or past.
    """
    infusions = dict(infusions or {})
    if day0 is None:
        return [
            CalendarItem(
                "infusion_1",
                "Infusion 1 (day 0): not yet scheduled",
                None,
                None,
                DONE if 1 in infusions else UPCOMING,
            )
        ]
    items = [
        _infusion(1, day0, today, infusions, ordered=True),
        _infusion(2, day0, today, infusions, ordered=second_infusion_ordered),
        _visit(
            "bone_marrow_biopsy",
            f"Bone-marrow biopsy (day {BIOPSY_FROM_DAY}-{BIOPSY_TO_DAY})",
            day0 + timedelta(BIOPSY_FROM_DAY),
            day0 + timedelta(BIOPSY_TO_DAY),
            today,
        ),
        *_clinic_visits(day0, discharged_on, today),
        _visit(
            "end_of_study",
            f"End-of-study visit (day {END_OF_STUDY_DAY})",
            *_around(day0 + timedelta(END_OF_STUDY_DAY), END_OF_STUDY_WINDOW_DAYS),
            today,
        ),
        *(
            _visit(
                "long_term_follow_up",
                f"Long-term follow-up, year {year}",
                *_around(_anniversary(day0, year), LONG_TERM_WINDOW_DAYS),
                today,
            )
            for year in range(2, LONG_TERM_LAST_YEAR + 1)
        ),
    ]
    if transplant_on is not None:
        # The recipient leaves the study after the sample: nothing later stays on the calendar.
        items = [i for i in items if i.status == DONE or _starts_by(i, transplant_on)]
        items.append(_post_transplant_sample(transplant_on, sample_collected_on, today))
    return sorted(items, key=lambda i: (i.due_from or date.min, i.kind))


def _infusion(
    number: int, day0: date, today: date, infusions: Mapping[int, date], ordered: bool
) -> CalendarItem:
    day = INFUSION_1_DAY if number == 1 else INFUSION_2_DAY
    on = infusions.get(number, day0 + timedelta(day))
    title = f"Infusion {number} (day {day})"
    # Day 0 is the day infusion 1 was given: once it exists, infusion 1 is done.
    if number in infusions or number == 1:
        return CalendarItem(f"infusion_{number}", title, on, on, DONE)
    if not ordered:
        return CalendarItem(f"infusion_{number}", f"{title}: not ordered", on, on, NOT_APPLICABLE)
    return CalendarItem(f"infusion_{number}", title, on, on, _tracked_status(on, on, today))


def _clinic_visits(day0: date, discharged_on: date | None, today: date) -> list[CalendarItem]:
    """Weekly visits on protocol days 7, 14, ... 35 after a discharge before day 35."""
    if discharged_on is None or discharged_on >= day0 + timedelta(VISITS_UNTIL_DAY):
        return []
    visits = []
    for day in range(VISIT_EVERY_DAYS, VISITS_UNTIL_DAY + 1, VISIT_EVERY_DAYS):
        on = day0 + timedelta(day)
        if on > discharged_on:
            visits.append(_visit("clinic_visit", f"Clinic visit (day {day})", on, on, today))
    return visits


def _post_transplant_sample(
    transplant_on: date, collected_on: date | None, today: date
) -> CalendarItem:
    due = transplant_on + timedelta(POST_TRANSPLANT_SAMPLE_DAYS)
    start, end = _around(due, POST_TRANSPLANT_SAMPLE_WINDOW_DAYS)
    title = (
        f"Post-transplant blood sample (about {POST_TRANSPLANT_SAMPLE_DAYS} days after the "
        f"transplant of {transplant_on.isoformat()}); the recipient then leaves the study"
    )
    if collected_on is not None:
        return CalendarItem("post_transplant_sample", title, start, end, DONE)
    status = _tracked_status(start, end, today)
    return CalendarItem("post_transplant_sample", title, start, end, status)


def _visit(kind: str, title: str, start: date, end: date, today: date) -> CalendarItem:
    """An item the tracker does not record: due in its window, then past."""
    if today < start:
        status = UPCOMING
    elif today <= end:
        status = DUE
    else:
        status = PAST
    return CalendarItem(kind, title, start, end, status)


def _tracked_status(start: date, end: date, today: date) -> str:
    """An item the tracker records, not yet done: overdue once its window has closed."""
    if today < start:
        return UPCOMING
    return DUE if today <= end else OVERDUE


def _starts_by(item: CalendarItem, day: date) -> bool:
    return item.due_from is not None and item.due_from <= day


def _around(day: date, window: int) -> tuple[date, date]:
    return day - timedelta(window), day + timedelta(window)


def _anniversary(day0: date, years: int) -> date:
    """The same day `years` later; 29 February falls on 28 February in common years."""
    try:
        return day0.replace(year=day0.year + years)
    except ValueError:
        return day0.replace(year=day0.year + years, day=28)
