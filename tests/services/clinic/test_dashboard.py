"""The clinic dashboard: what is due across the recipients on the study, and who still lacks a
usable bag for their next infusion, in a fixed number of queries."""

from datetime import timedelta

import pytest
from sqlalchemy import event

from custody.domain.errors import ValidationFailed
from custody.extensions import db
from custody.services.clinic.dashboard import dashboard, recipient_calendar
from custody.services.clinic.recipients import site_today
from tests.services.clinic.test_recipients import infused


@pytest.fixture
def today():
    return site_today()


def _items(board, subject_id):
    return {i["kind"]: i["status"] for i in board["items"] if i["subject_id"] == subject_id}


def _needs(board):
    return {(n["subject_id"], n["infusion_number"]): n["reason"] for n in board["needs_bag"]}


def _bag(make_lot, disposition="released", expires_in_days=365):
    lot = make_lot(
        disposition=disposition, status="released", bags=1, expires_in_days=expires_in_days
    )
    return lot.bags[0]


def test_items_due_overdue_or_starting_within_the_window_for_recipients_on_the_study(clinic, today):
    biopsy = clinic.recipient(status="follow_up", day0=today - timedelta(30))
    soon = clinic.recipient(
        status="infused", day0=today - timedelta(3), second_infusion_ordered=True
    )
    missed = clinic.recipient(
        status="infused", day0=today - timedelta(9), second_infusion_ordered=True
    )
    gone = clinic.recipient(status="withdrawn", day0=today - timedelta(30))
    for recipient in (biopsy, soon, missed):
        infused(clinic, recipient, 1, days_ago=(today - recipient.day0).days)
    board = dashboard(today, 7)
    assert _items(board, biopsy.subject_id) == {"bone_marrow_biopsy": "due"}
    assert _items(board, soon.subject_id) == {"infusion_2": "upcoming"}
    assert _items(board, missed.subject_id) == {"infusion_2": "overdue"}
    assert _items(board, gone.subject_id) == {}
    row = next(i for i in board["items"] if i["subject_id"] == biopsy.subject_id)
    assert (row["due_from"], row["due_to"]) == (
        biopsy.day0 + timedelta(28),
        biopsy.day0 + timedelta(35),
    )
    assert row["name"] == biopsy.name and row["recipient_status"] == "follow_up"
    narrow = dashboard(today, 2)
    assert _items(narrow, soon.subject_id) == {}  # day 7 is 4 days away
    assert [i["due_from"] for i in board["items"]] == sorted(i["due_from"] for i in board["items"])


def test_recipients_without_a_usable_bag_for_their_next_infusion(clinic, make_lot, today):
    nothing = clinic.recipient(status="enrolled")
    ready = clinic.recipient(status="lymphodepletion")
    clinic.allocate(_bag(make_lot), ready, 1)
    quarantined = clinic.recipient(status="lymphodepletion")
    bag_q = _bag(make_lot, disposition="quarantine")
    clinic.allocate(bag_q, quarantined, 1)
    expired = clinic.recipient(status="lymphodepletion")
    bag_x = _bag(make_lot, expires_in_days=-1)
    clinic.allocate(bag_x, expired, 1)
    second = clinic.recipient(
        status="infused", day0=today - timedelta(2), second_infusion_ordered=True
    )
    infused(clinic, second, 1, days_ago=2)
    not_ordered = clinic.recipient(status="infused", day0=today - timedelta(2))
    screening = clinic.recipient(status="screening")
    withdrawn = clinic.recipient(status="withdrawn")
    needs = _needs(dashboard(today))
    assert needs[(nothing.subject_id, 1)] == (
        "No bag is allocated for infusion 1: allocate a released bag."
    )
    assert f"bag {bag_q.code} is from lot" in needs[(quarantined.subject_id, 1)]
    assert "in quarantine (not released by QA)" in needs[(quarantined.subject_id, 1)]
    assert f"bag {bag_x.code} expired on" in needs[(expired.subject_id, 1)]
    assert "No bag is allocated for infusion 2" in needs[(second.subject_id, 2)]
    listed = {subject for subject, _ in needs}
    for fine in (ready, not_ordered, screening, withdrawn):
        assert fine.subject_id not in listed
    assert len(needs) == 4


def test_a_usable_bag_beside_an_unusable_one_is_enough(clinic, make_lot, today):
    recipient = clinic.recipient(status="lymphodepletion")
    clinic.allocate(_bag(make_lot, disposition="quarantine"), recipient, 1)
    clinic.allocate(_bag(make_lot), recipient, 1)
    assert _needs(dashboard(today)) == {}


def test_a_bag_blocked_by_a_recall_is_no_bag_for_the_next_infusion(clinic, make, today):
    from custody.services.traceability.recalls import SignedRequest, lift_recall, raise_recall
    from tests.factories import PASSWORD

    recipient = clinic.recipient(status="lymphodepletion")
    (bag,) = clinic.released_bags(1)
    clinic.allocate(bag, recipient, 1)
    qa = make.user("qa", username="quinn")
    signed = SignedRequest("Late positive sterility", "quinn", PASSWORD)
    code = raise_recall(qa, "lot", bag.lot.lot_number, signed)["code"]

    reason = _needs(dashboard(today))[(recipient.subject_id, 1)]

    assert f"bag {bag.code} is blocked by recall {code}" in reason
    lift_recall(qa, code, signed)
    assert _needs(dashboard(today)) == {}


def test_infusion_2_bag_is_needed_only_until_infusion_2_is_given(clinic, today):
    recipient = clinic.recipient(
        status="infused", day0=today - timedelta(7), second_infusion_ordered=True
    )
    infused(clinic, recipient, 1, days_ago=7)
    assert (recipient.subject_id, 2) in _needs(dashboard(today))
    infused(clinic, recipient, 2, days_ago=0)
    board = dashboard(today)
    assert _needs(board) == {}
    assert "infusion_2" not in _items(board, recipient.subject_id)


def test_the_dashboard_reads_in_the_same_few_queries_for_any_number_of_recipients(
    clinic, make_lot, today
):
    def queries() -> int:
        count = 0

        def counter(*_args):
            nonlocal count
            count += 1

        db.session.expire_all()
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            dashboard(today)
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        return count

    def add_recipients():
        for days in (3, 30):
            recipient = clinic.recipient(status="infused", day0=today - timedelta(days))
            infused(clinic, recipient, 1, days_ago=days)
        clinic.allocate(_bag(make_lot), clinic.recipient(status="lymphodepletion"), 1)

    add_recipients()
    few = queries()
    for _ in range(3):
        add_recipients()
    assert queries() == few <= 6


def test_the_window_is_bounded(clinic, today):
    with pytest.raises(ValidationFailed, match="0 to 366 days"):
        dashboard(today, 400)


def test_a_recipient_calendar_uses_the_recorded_infusions(clinic, today):
    recipient = clinic.recipient(
        status="infused", day0=today - timedelta(8), second_infusion_ordered=True
    )
    infused(clinic, recipient, 1, days_ago=8)
    infused(clinic, recipient, 2, days_ago=1)
    _, items = recipient_calendar(recipient.subject_id.lower())
    statuses = {i.kind: (i.status, i.due_from) for i in items}
    assert statuses["infusion_1"] == ("done", today - timedelta(8))
    assert statuses["infusion_2"] == ("done", today - timedelta(1))
