"""Who may do what: the permissions table pinned entry by entry, and the refusal's words.

The expected table is written out here by hand, so that widening or narrowing who may do
anything (a technician signing a disposition, a nurse allocating) fails a test and has to be
changed in two places on purpose.
"""

from __future__ import annotations

from datetime import date

import pytest

from custody.domain.errors import Forbidden
from custody.domain.permissions import (
    PATIENT_IDENTIFIER_FIELDS,
    PERMISSIONS,
    SEES_PATIENT_IDENTIFIERS,
    WITHHELD,
    PatientIdentifier,
    Role,
    SiteScope,
    UseCase,
    allows,
    authorise,
    permission,
    printed_identifiers,
    recipient_as_seen_by,
    role_names,
    sees_patient_identifiers,
    withhold_identifiers_in_text,
    without_patient_identifiers,
)

# use case: (roles as letters t q n a, writes, patient data, site scope)
EXPECTED = {
    "sign_in": ("", True, False, "none"),
    "sign_out": ("", True, False, "none"),
    "read_own_account": ("tqna", False, False, "none"),
    "change_own_password": ("tqna", True, False, "none"),
    "manage_users": ("a", True, False, "none"),
    "read_records": ("tqna", False, False, "product"),
    "read_isbt128": ("tqna", False, False, "none"),
    "look_up_scan": ("tqna", False, False, "product"),
    "search": ("tqna", False, True, "product"),
    "read_worklist": ("tqna", False, True, "recipient"),
    "read_donors": ("tqa", False, False, "product"),
    "register_donor": ("tqa", True, False, "product"),
    "record_donor_test": ("tqa", True, False, "product"),
    "determine_eligibility": ("qa", True, False, "product"),
    "issue_din": ("ta", True, False, "product"),
    "record_collection": ("ta", True, False, "product"),
    "receive_collection": ("ta", True, False, "product"),
    "make_lot": ("ta", True, False, "product"),
    "record_batch_step": ("ta", True, False, "product"),
    "perform_batch_step": ("ta", True, False, "product"),
    "fill_bags": ("ta", True, False, "product"),
    "divide_bag": ("ta", True, False, "product"),
    "draft_specification": ("qa", True, False, "none"),
    "approve_specification": ("q", True, False, "none"),
    "enter_result": ("tqa", True, False, "product"),
    "correct_result": ("tqa", True, False, "product"),
    "record_investigation": ("tqa", True, False, "product"),
    "sign_disposition": ("q", True, False, "product"),
    "acknowledge_alert": ("q", True, True, "product"),
    "use_scan_station": ("tqa", False, False, "product"),
    "scan": ("tqna", True, False, "product"),
    "create_location": ("ta", True, False, "product"),
    "create_shipment": ("ta", True, False, "shipment"),
    "dispatch_shipment": ("ta", True, False, "shipment"),
    "import_temperatures": ("ta", True, False, "shipment"),
    "record_discrepancy": ("tna", True, False, "shipment"),
    "resolve_discrepancy": ("tqa", True, False, "shipment"),
    "receive_shipment": ("tna", True, False, "shipment"),
    "print_labels": ("tqa", True, False, "product"),
    "print_tie_tag": ("tqa", True, True, "product"),
    "reprint_label": ("qa", True, False, "product"),
    "void_label": ("tqa", True, False, "product"),
    "apply_label": ("tqa", True, False, "product"),
    "approve_label_template": ("q", True, False, "none"),
    "configure_trial": ("a", True, False, "none"),
    "read_recipients": ("tqna", False, True, "recipient"),
    "register_recipient": ("na", True, True, "recipient"),
    "update_recipient": ("na", True, True, "recipient"),
    "collect_sample": ("n", True, False, "recipient"),
    "dispatch_sample": ("n", True, False, "recipient"),
    "receive_sample": ("t", True, False, "product"),
    "allocate": ("qa", True, True, "recipient"),
    "deallocate": ("qa", True, True, "recipient"),
    "use_bedside": ("n", False, True, "recipient"),
    "verify_at_bedside": ("n", True, True, "recipient"),
    "start_infusion": ("n", True, True, "recipient"),
    "complete_infusion": ("n", True, True, "recipient"),
    "lookback": ("qa", False, True, "product"),
    "read_recalls": ("tqa", False, True, "product"),
    "raise_recall": ("q", True, True, "product"),
    "lift_recall": ("q", True, True, "product"),
    "export_fhir_dispenses": ("qna", False, True, "recipient"),
    "read_overview": ("tqa", False, False, "product"),
    "review_audit_trail": ("qa", False, True, "none"),
    "check_audit_trail": ("a", True, False, "none"),
}
LETTERS = {"t": Role.TECHNICIAN, "q": Role.QA, "n": Role.NURSE, "a": Role.ADMIN}


def test_the_table_is_exactly_the_one_written_out_here():
    assert {u.value for u in PERMISSIONS} == set(EXPECTED)
    for use_case, (letters, writes, patient_data, scope) in EXPECTED.items():
        entry = permission(use_case)
        assert entry.roles == {LETTERS[c] for c in letters}, use_case
        assert (entry.writes, entry.patient_data, entry.site_scope) == (
            writes,
            patient_data,
            SiteScope(scope),
        ), use_case
        assert entry.public == (use_case in {"sign_in", "sign_out"}), use_case


@pytest.mark.parametrize("role", list(Role))
def test_allows_answers_from_the_table_for_every_role(role):
    for use_case, (letters, *_) in EXPECTED.items():
        public = use_case in {"sign_in", "sign_out"}
        assert allows(role, use_case) == (public or role.value[0] in letters), (role, use_case)


def test_only_qa_signs_and_only_a_nurse_verifies_at_the_bedside():
    assert [r for r in Role if allows(r, UseCase.SIGN_DISPOSITION)] == [Role.QA]
    assert [r for r in Role if allows(r.value, "verify_at_bedside")] == [Role.NURSE]


def test_a_refusal_names_who_may_and_who_you_are():
    with pytest.raises(Forbidden) as refused:
        authorise(Role.NURSE, UseCase.ALLOCATE)
    assert refused.value.message == "Only admin or qa may do this; you are signed in as nurse."
    assert refused.value.details == {"role": "nurse"}
    with pytest.raises(Forbidden) as refused:
        authorise("technician", UseCase.CONFIGURE_TRIAL, "configure the trial")
    assert refused.value.message == (
        "Only admin may configure the trial; you are signed in as technician."
    )
    authorise(Role.QA, UseCase.SIGN_DISPOSITION)  # allowed: no error
    authorise(Role.NURSE, UseCase.SIGN_IN)  # public: no error


def test_role_names_are_sorted_and_joined_with_or():
    assert role_names([Role.TECHNICIAN, Role.ADMIN, Role.QA]) == "admin or qa or technician"
    assert role_names([Role.NURSE]) == "nurse"


def test_an_unknown_use_case_or_role_is_an_error_not_a_yes():
    with pytest.raises(ValueError):
        allows(Role.ADMIN, "launch_rockets")
    with pytest.raises(ValueError):
        allows("surgeon", UseCase.READ_RECORDS)


# --- the field-level rule: who sees recipients' identifiers ---------------------------------

# role: whether it sees recipients' names, birth dates, record numbers and wristband data.
SEES_IDENTIFIERS = {"technician": False, "qa": True, "nurse": True, "admin": True}
# Use cases whose pages and answers show identifiers as recorded (no field is left out), so
# every role they are open to must be one that sees identifiers; and why.
SHOWN_WHOLE = {
    "review_audit_trail": "audit entries of recipients hold their names and birth dates",
    "export_fhir_dispenses": "the dispense's patient reference displays the name",
    "use_bedside": "the bedside matches the wristband against name and birth date",
    "verify_at_bedside": "the checks say whose the bag is, by name and birth date",
    "register_recipient": "registering enters the identifiers",
    "update_recipient": "the recipient's record is answered whole",
}
ZQ = {
    "subject_id": "CAR33-ZQ-01",
    "name": "Zyxwa Quartzfield",
    "birth_date": date(1947, 3, 29),
    "hospital_record_number": "ZQ90417",
    "wristband": "&#0007ZQ90417=#0019470329",
    "site": "University Hospital",
    "weight_kg": 70.0,
}


def test_the_patient_identifier_rule_is_exactly_the_one_written_out_here():
    assert {role.value: sees for role, sees in SEES_PATIENT_IDENTIFIERS.items()} == (
        SEES_IDENTIFIERS
    )
    for role in Role:
        assert sees_patient_identifiers(role) is SEES_IDENTIFIERS[role.value]
        assert sees_patient_identifiers(role.value) is SEES_IDENTIFIERS[role.value]
    assert [i.value for i in PatientIdentifier] == [
        "name",
        "birth_date",
        "hospital_record_number",
        "wristband",
    ]
    assert {
        "name",
        "birth_date",
        "hospital_record_number",
        "wristband",
        "recipient_name",
        "patient_number",
    } == PATIENT_IDENTIFIER_FIELDS
    with pytest.raises(ValueError):
        sees_patient_identifiers("surgeon")


@pytest.mark.parametrize("use_case", sorted(SHOWN_WHOLE))
def test_what_shows_identifiers_whole_is_open_only_to_roles_that_see_them(use_case):
    assert permission(use_case).patient_data, SHOWN_WHOLE[use_case]
    assert all(sees_patient_identifiers(role) for role in roles_of(use_case)), SHOWN_WHOLE[use_case]


def roles_of(use_case: str) -> frozenset[Role]:
    return permission(use_case).roles


def test_the_tie_tag_is_the_one_exception_a_technician_prints_but_is_not_shown():
    assert allows(Role.TECHNICIAN, UseCase.PRINT_TIE_TAG)
    assert not sees_patient_identifiers(Role.TECHNICIAN)
    assert permission(UseCase.PRINT_TIE_TAG).patient_data
    # Reading recipients is open to technicians, but only as subject IDs: the field rule.
    assert allows(Role.TECHNICIAN, UseCase.READ_RECIPIENTS)
    # FHIR dispenses and lookback refuse them.
    assert not allows(Role.TECHNICIAN, UseCase.EXPORT_FHIR_DISPENSES)
    assert not allows(Role.TECHNICIAN, UseCase.LOOKBACK)


def test_without_patient_identifiers_keeps_the_subject_id_and_everything_else():
    row = ZQ | {"recipient_name": "Zyxwa Quartzfield", "patient_number": "ZQ90417"}
    assert without_patient_identifiers(row) == {
        "subject_id": "CAR33-ZQ-01",
        "site": "University Hospital",
        "weight_kg": 70.0,
    }
    assert without_patient_identifiers({}) == {}
    assert ZQ["name"] == "Zyxwa Quartzfield"  # the view itself is left as it was


@pytest.mark.parametrize("role", list(Role))
def test_a_recipient_as_seen_by_each_role(role):
    seen = recipient_as_seen_by(role, ZQ)
    if SEES_IDENTIFIERS[role.value]:
        assert seen == ZQ and seen is not ZQ
    else:
        assert seen == {
            "subject_id": "CAR33-ZQ-01",
            "site": "University Hospital",
            "weight_kg": 70.0,
        }
    assert recipient_as_seen_by(role.value, ZQ) == seen


def test_printed_identifiers_are_every_way_the_tracker_writes_them():
    assert printed_identifiers("Zyxwa Quartzfield", date(1947, 3, 29), "ZQ90417") == {
        "Zyxwa Quartzfield",
        "1947-03-29",
        "19470329",
        "ZQ90417",
    }
    assert printed_identifiers(birth_date=date(1947, 3, 29)) == {"1947-03-29", "19470329"}
    assert printed_identifiers(record_number=" ZQ90417 ") == {"ZQ90417"}
    assert printed_identifiers("  ", None, "") == frozenset()
    assert printed_identifiers() == frozenset()


def test_identifiers_are_withheld_from_words_in_any_case_the_longest_first():
    words = printed_identifiers("Zyxwa Quartzfield", date(1947, 3, 29), "ZQ90417")
    stop = (
        "STOP: this bag is for Zyxwa Quartzfield (CAR33-ZQ-01), born 1947-03-29; the wristband "
        "&#0007ZQ90417=#0019470329 says ZYXWA QUARTZFIELD, zq90417."
    )
    assert withhold_identifiers_in_text(stop, words) == (
        f"STOP: this bag is for {WITHHELD} (CAR33-ZQ-01), born {WITHHELD}; the wristband "
        f"&#0007{WITHHELD}=#00{WITHHELD} says {WITHHELD}, {WITHHELD}."
    )
    # A shorter identifier inside a longer one: the longer goes whole.
    assert withhold_identifiers_in_text("Ann Annabel", {"Ann", "Ann Annabel"}) == WITHHELD
    assert withhold_identifiers_in_text("Ann and Ann Annabel", {"Ann", "Ann Annabel"}) == (
        f"{WITHHELD} and {WITHHELD}"
    )
    # Of two as long, overlapping: the first in order goes, whatever the set's order.
    assert withhold_identifiers_in_text("abcd", {"bcd", "abc"}) == f"{WITHHELD}d"
    # Names are text, not patterns; blank identifiers are none.
    assert withhold_identifiers_in_text("For O'Neil (Jr.) only", {"O'Neil (Jr.)"}) == (
        f"For {WITHHELD} only"
    )
    assert withhold_identifiers_in_text("a.b", {"."}) == f"a{WITHHELD}b"
    assert withhold_identifiers_in_text("nothing to hide", {"", "  "}) == "nothing to hide"
    assert withhold_identifiers_in_text("nothing to hide", set()) == "nothing to hide"
    assert WITHHELD == "[withheld]"
