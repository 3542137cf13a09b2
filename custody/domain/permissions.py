"""Who may do what: the one permissions table (21 CFR 11.10(g), authority checks).

Every use case a person can start, from an API call, a page's form or a page itself, has one
entry here naming the roles that may start it. The API's decorators, the services' own checks,
what a page offers and the CLI's role choices all read this table; no role set is written
anywhere else. Each entry also says whether the use case writes, whether it shows patient
identifiers and how it is bounded by site, so the rules for those extend this table rather than
starting homes of their own.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from custody.domain.errors import Forbidden


class Role(enum.StrEnum):
    TECHNICIAN = "technician"
    QA = "qa"
    NURSE = "nurse"
    ADMIN = "admin"


class SiteScope(enum.StrEnum):
    """Which site's records a use case touches, for per-site access.

    NONE: not bound to a site (the trial's configuration, accounts, ISBT 128 reading);
    PRODUCT: the product, wherever it is (the manufacturing site's lab and QA follow it);
    RECIPIENT: a recipient and their data, kept at the recipient's clinical site;
    SHIPMENT: a shipment, at the site it leaves from or is addressed to.
    """

    NONE = "none"
    PRODUCT = "product"
    RECIPIENT = "recipient"
    SHIPMENT = "shipment"


class UseCase(enum.StrEnum):
    # Signing in and out: open to anyone at the sign-in page.
    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    # Accounts
    READ_OWN_ACCOUNT = "read_own_account"
    MANAGE_USERS = "manage_users"
    # Reading the records (every signed-in role reads the product's records)
    READ_RECORDS = "read_records"
    READ_ISBT128 = "read_isbt128"
    LOOK_UP_SCAN = "look_up_scan"
    # Donors and collection
    READ_DONORS = "read_donors"
    REGISTER_DONOR = "register_donor"
    RECORD_DONOR_TEST = "record_donor_test"
    DETERMINE_ELIGIBILITY = "determine_eligibility"
    ISSUE_DIN = "issue_din"
    RECORD_COLLECTION = "record_collection"
    RECEIVE_COLLECTION = "receive_collection"
    # Manufacturing
    MAKE_LOT = "make_lot"
    RECORD_BATCH_STEP = "record_batch_step"
    PERFORM_BATCH_STEP = "perform_batch_step"
    FILL_BAGS = "fill_bags"
    DIVIDE_BAG = "divide_bag"
    # Quality
    DRAFT_SPECIFICATION = "draft_specification"
    APPROVE_SPECIFICATION = "approve_specification"
    ENTER_RESULT = "enter_result"
    CORRECT_RESULT = "correct_result"
    RECORD_INVESTIGATION = "record_investigation"
    SIGN_DISPOSITION = "sign_disposition"
    ACKNOWLEDGE_ALERT = "acknowledge_alert"
    # Bags: scans, storage, shipping
    USE_SCAN_STATION = "use_scan_station"
    SCAN = "scan"
    CREATE_LOCATION = "create_location"
    CREATE_SHIPMENT = "create_shipment"
    DISPATCH_SHIPMENT = "dispatch_shipment"
    IMPORT_TEMPERATURES = "import_temperatures"
    RECORD_DISCREPANCY = "record_discrepancy"
    RECEIVE_SHIPMENT = "receive_shipment"
    # Labels
    PRINT_LABELS = "print_labels"
    REPRINT_LABEL = "reprint_label"
    VOID_LABEL = "void_label"
    APPLY_LABEL = "apply_label"
    APPROVE_LABEL_TEMPLATE = "approve_label_template"
    # The clinic
    CONFIGURE_TRIAL = "configure_trial"
    READ_RECIPIENTS = "read_recipients"
    REGISTER_RECIPIENT = "register_recipient"
    UPDATE_RECIPIENT = "update_recipient"
    COLLECT_SAMPLE = "collect_sample"
    DISPATCH_SAMPLE = "dispatch_sample"
    RECEIVE_SAMPLE = "receive_sample"
    ALLOCATE = "allocate"
    DEALLOCATE = "deallocate"
    USE_BEDSIDE = "use_bedside"
    VERIFY_AT_BEDSIDE = "verify_at_bedside"
    START_INFUSION = "start_infusion"
    COMPLETE_INFUSION = "complete_infusion"
    # Traceability
    LOOKBACK = "lookback"
    READ_RECALLS = "read_recalls"
    RAISE_RECALL = "raise_recall"
    LIFT_RECALL = "lift_recall"
    EXPORT_FHIR_DISPENSES = "export_fhir_dispenses"
    READ_OVERVIEW = "read_overview"
    # The audit trail
    REVIEW_AUDIT_TRAIL = "review_audit_trail"
    CHECK_AUDIT_TRAIL = "check_audit_trail"


@dataclass(frozen=True)
class Permission:
    """Who may start a use case, and what it touches."""

    roles: frozenset[Role]
    writes: bool
    patient_data: bool = False
    site_scope: SiteScope = SiteScope.PRODUCT
    # Open to anyone, signed in or not (the sign-in form itself); `roles` is then empty.
    public: bool = False


T, Q, N, A = Role.TECHNICIAN, Role.QA, Role.NURSE, Role.ADMIN
EVERYONE = frozenset(Role)
_NONE, _RECIPIENT, _SHIPMENT = SiteScope.NONE, SiteScope.RECIPIENT, SiteScope.SHIPMENT


def _read(*roles: Role, **facts) -> Permission:
    return Permission(frozenset(roles), writes=False, **facts)


def _write(*roles: Role, **facts) -> Permission:
    return Permission(frozenset(roles), writes=True, **facts)


# The table itself: written out, one line per use case, so a review reads it whole.
PERMISSIONS: Mapping[UseCase, Permission] = {
    UseCase.SIGN_IN: Permission(frozenset(), writes=True, site_scope=_NONE, public=True),
    UseCase.SIGN_OUT: Permission(frozenset(), writes=True, site_scope=_NONE, public=True),
    UseCase.READ_OWN_ACCOUNT: _read(T, Q, N, A, site_scope=_NONE),
    UseCase.MANAGE_USERS: _write(A, site_scope=_NONE),
    UseCase.READ_RECORDS: _read(T, Q, N, A),
    UseCase.READ_ISBT128: _read(T, Q, N, A, site_scope=_NONE),
    UseCase.LOOK_UP_SCAN: _read(T, Q, N, A),
    UseCase.READ_DONORS: _read(T, Q, A),
    UseCase.REGISTER_DONOR: _write(T, Q, A),
    UseCase.RECORD_DONOR_TEST: _write(T, Q, A),
    UseCase.DETERMINE_ELIGIBILITY: _write(Q, A),
    UseCase.ISSUE_DIN: _write(T, A),
    UseCase.RECORD_COLLECTION: _write(T, A),
    UseCase.RECEIVE_COLLECTION: _write(T, A),
    UseCase.MAKE_LOT: _write(T, A),
    UseCase.RECORD_BATCH_STEP: _write(T, A),
    UseCase.PERFORM_BATCH_STEP: _write(T, A),
    UseCase.FILL_BAGS: _write(T, A),
    UseCase.DIVIDE_BAG: _write(T, A),
    UseCase.DRAFT_SPECIFICATION: _write(Q, A, site_scope=_NONE),
    UseCase.APPROVE_SPECIFICATION: _write(Q, site_scope=_NONE),
    UseCase.ENTER_RESULT: _write(T, Q, A),
    UseCase.CORRECT_RESULT: _write(T, Q, A),
    UseCase.RECORD_INVESTIGATION: _write(T, Q, A),
    UseCase.SIGN_DISPOSITION: _write(Q),
    UseCase.ACKNOWLEDGE_ALERT: _write(Q, patient_data=True),
    UseCase.USE_SCAN_STATION: _read(T, Q, A),
    UseCase.SCAN: _write(T, Q, N, A),
    UseCase.CREATE_LOCATION: _write(T, A),
    UseCase.CREATE_SHIPMENT: _write(T, A, site_scope=_SHIPMENT),
    UseCase.DISPATCH_SHIPMENT: _write(T, A, site_scope=_SHIPMENT),
    UseCase.IMPORT_TEMPERATURES: _write(T, A, site_scope=_SHIPMENT),
    UseCase.RECORD_DISCREPANCY: _write(T, N, A, site_scope=_SHIPMENT),
    UseCase.RECEIVE_SHIPMENT: _write(T, N, A, site_scope=_SHIPMENT),
    UseCase.PRINT_LABELS: _write(T, Q, A),
    UseCase.REPRINT_LABEL: _write(Q, A),
    UseCase.VOID_LABEL: _write(T, Q, A),
    UseCase.APPLY_LABEL: _write(T, Q, A),
    UseCase.APPROVE_LABEL_TEMPLATE: _write(Q, site_scope=_NONE),
    UseCase.CONFIGURE_TRIAL: _write(A, site_scope=_NONE),
    UseCase.READ_RECIPIENTS: _read(T, Q, N, A, patient_data=True, site_scope=_RECIPIENT),
    UseCase.REGISTER_RECIPIENT: _write(N, A, patient_data=True, site_scope=_RECIPIENT),
    UseCase.UPDATE_RECIPIENT: _write(N, A, patient_data=True, site_scope=_RECIPIENT),
    UseCase.COLLECT_SAMPLE: _write(N, site_scope=_RECIPIENT),
    UseCase.DISPATCH_SAMPLE: _write(N, site_scope=_RECIPIENT),
    UseCase.RECEIVE_SAMPLE: _write(T),
    UseCase.ALLOCATE: _write(Q, A, patient_data=True, site_scope=_RECIPIENT),
    UseCase.DEALLOCATE: _write(Q, A, patient_data=True, site_scope=_RECIPIENT),
    UseCase.USE_BEDSIDE: _read(N, patient_data=True, site_scope=_RECIPIENT),
    UseCase.VERIFY_AT_BEDSIDE: _write(N, patient_data=True, site_scope=_RECIPIENT),
    UseCase.START_INFUSION: _write(N, patient_data=True, site_scope=_RECIPIENT),
    UseCase.COMPLETE_INFUSION: _write(N, patient_data=True, site_scope=_RECIPIENT),
    UseCase.LOOKBACK: _read(Q, A, patient_data=True),
    UseCase.READ_RECALLS: _read(T, Q, A, patient_data=True),
    UseCase.RAISE_RECALL: _write(Q, patient_data=True),
    UseCase.LIFT_RECALL: _write(Q, patient_data=True),
    UseCase.EXPORT_FHIR_DISPENSES: _read(Q, N, A, patient_data=True, site_scope=_RECIPIENT),
    UseCase.READ_OVERVIEW: _read(T, Q, A),
    UseCase.REVIEW_AUDIT_TRAIL: _read(Q, A, site_scope=_NONE),
    UseCase.CHECK_AUDIT_TRAIL: _write(A, site_scope=_NONE),
}


def permission(use_case: UseCase | str) -> Permission:
    return PERMISSIONS[UseCase(use_case)]


def allows(role: Role | str, use_case: UseCase | str) -> bool:
    """Whether `role` may start `use_case` (anyone may start a public one)."""
    entry = permission(use_case)
    return entry.public or Role(role) in entry.roles


def roles_for(use_case: UseCase | str) -> frozenset[Role]:
    return permission(use_case).roles


def role_names(roles: Iterable[Role]) -> str:
    """'admin or qa': the roles as a refusal names them, in a fixed order."""
    return " or ".join(sorted(role.value for role in roles))


def authorise(role: Role | str, use_case: UseCase | str, doing: str = "do this") -> None:
    """Refuse (Forbidden) unless `role` may start `use_case`, naming who may; `doing`
    completes "Only … may …"."""
    if not allows(role, use_case):
        role = Role(role)
        raise Forbidden(
            f"Only {role_names(roles_for(use_case))} may {doing}; "
            f"you are signed in as {role.value}.",
            role=role.value,
        )
