"""One set of recipient statuses: the model's RecipientStatus and the status table of
custody/domain/schedule.py name the same ones, so neither speaks of a status the other lacks
(as tests/unit/test_bag_lifecycle.py checks the bag's table against BagStatus)."""

from custody.domain import schedule
from custody.models import RecipientStatus


def test_the_status_table_and_the_model_name_the_same_recipient_statuses():
    statuses = {s.value for s in RecipientStatus}
    assert sorted(schedule.STATUSES) == sorted(statuses)  # each status, once
    assert set(schedule.TRANSITIONS) == statuses
    for status, targets in schedule.TRANSITIONS.items():
        assert set(targets) <= statuses, status
    assert statuses >= schedule.FINAL_STATUSES | schedule.EXITS
    for number, before in schedule.INFUSION_FROM.items():
        assert before <= statuses, number
    # The table's names for the statuses are the model's.
    for status in RecipientStatus:
        assert getattr(schedule, status.name) == status.value, status.name
