"""Who may do what: the permissions table pinned entry by entry, and the refusal's words.

The expected table is written out here by hand, so that widening or narrowing who may do
anything (a technician signing a disposition, a nurse allocating) fails a test and has to be
changed in two places on purpose.
"""

from __future__ import annotations

import pytest

from custody.domain.errors import Forbidden
from custody.domain.permissions import (
    PERMISSIONS,
    Role,
    SiteScope,
    UseCase,
    allows,
    authorise,
    permission,
    role_names,
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
    "receive_shipment": ("tna", True, False, "shipment"),
    "print_labels": ("tqa", True, False, "product"),
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
    "review_audit_trail": ("qa", False, False, "none"),
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
