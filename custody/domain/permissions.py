"""Who may do what: the one permissions table (21 CFR 11.10(g), authority checks).

Every use case a person can start, from an API call, a page's form or a page itself, has one
entry here naming the roles that may start it. The API's decorators, the services' own checks,
what a page offers and the CLI's role choices all read this table; no role set is written
anywhere else. Each entry also says whether the use case writes, whether it shows patient
identifiers and how it is bounded by site, so the rules for those extend this table rather than
starting homes of their own. One such rule is at the end: which roles see a recipient's
identifiers at all (the field-level rule of least privilege for patient data), with the helpers
that leave them out of what a role may not see.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

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
    CHANGE_OWN_PASSWORD = "change_own_password"
    MANAGE_USERS = "manage_users"
    # Reading the records (every signed-in role reads the product's records)
    READ_RECORDS = "read_records"
    READ_ISBT128 = "read_isbt128"
    LOOK_UP_SCAN = "look_up_scan"
    # One search field for every record a scan or a typed code names; the day's worklist.
    SEARCH = "search"
    READ_WORKLIST = "read_worklist"
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
    RESOLVE_DISCREPANCY = "resolve_discrepancy"
    RECEIVE_SHIPMENT = "receive_shipment"
    # Labels
    PRINT_LABELS = "print_labels"
    PRINT_TIE_TAG = "print_tie_tag"
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
_NONE, _RECIPIENT, _SHIPMENT = SiteScope.NONE, SiteScope.RECIPIENT, SiteScope.SHIPMENT


# The table itself: written out, one line per use case, so a review reads it whole.
PERMISSIONS: Mapping[UseCase, Permission] = {
    UseCase.SIGN_IN: Permission(frozenset(), writes=True, site_scope=_NONE, public=True),
    UseCase.SIGN_OUT: Permission(frozenset(), writes=True, site_scope=_NONE, public=True),
    UseCase.READ_OWN_ACCOUNT: Permission(frozenset({T, Q, N, A}), writes=False, site_scope=_NONE),
    UseCase.CHANGE_OWN_PASSWORD: Permission(frozenset({T, Q, N, A}), writes=True, site_scope=_NONE),
    UseCase.MANAGE_USERS: Permission(frozenset({A}), writes=True, site_scope=_NONE),
    UseCase.READ_RECORDS: Permission(frozenset({T, Q, N, A}), writes=False),
    UseCase.READ_ISBT128: Permission(frozenset({T, Q, N, A}), writes=False, site_scope=_NONE),
    UseCase.LOOK_UP_SCAN: Permission(frozenset({T, Q, N, A}), writes=False),
    # Search finds recipients too: by record number or wristband only for roles that see
    # identifiers (the field-level rule below), by subject ID for everyone.
    UseCase.SEARCH: Permission(frozenset({T, Q, N, A}), writes=False, patient_data=True),
    # The site's day: its recipients' infusions and thaws, shipments to it, lots awaiting QA.
    UseCase.READ_WORKLIST: Permission(
        frozenset({T, Q, N, A}), False, patient_data=True, site_scope=_RECIPIENT
    ),
    UseCase.READ_DONORS: Permission(frozenset({T, Q, A}), writes=False),
    UseCase.REGISTER_DONOR: Permission(frozenset({T, Q, A}), writes=True),
    UseCase.RECORD_DONOR_TEST: Permission(frozenset({T, Q, A}), writes=True),
    UseCase.DETERMINE_ELIGIBILITY: Permission(frozenset({Q, A}), writes=True),
    UseCase.ISSUE_DIN: Permission(frozenset({T, A}), writes=True),
    UseCase.RECORD_COLLECTION: Permission(frozenset({T, A}), writes=True),
    UseCase.RECEIVE_COLLECTION: Permission(frozenset({T, A}), writes=True),
    UseCase.MAKE_LOT: Permission(frozenset({T, A}), writes=True),
    UseCase.RECORD_BATCH_STEP: Permission(frozenset({T, A}), writes=True),
    UseCase.PERFORM_BATCH_STEP: Permission(frozenset({T, A}), writes=True),
    UseCase.FILL_BAGS: Permission(frozenset({T, A}), writes=True),
    UseCase.DIVIDE_BAG: Permission(frozenset({T, A}), writes=True),
    UseCase.DRAFT_SPECIFICATION: Permission(frozenset({Q, A}), writes=True, site_scope=_NONE),
    UseCase.APPROVE_SPECIFICATION: Permission(frozenset({Q}), writes=True, site_scope=_NONE),
    UseCase.ENTER_RESULT: Permission(frozenset({T, Q, A}), writes=True),
    UseCase.CORRECT_RESULT: Permission(frozenset({T, Q, A}), writes=True),
    UseCase.RECORD_INVESTIGATION: Permission(frozenset({T, Q, A}), writes=True),
    UseCase.SIGN_DISPOSITION: Permission(frozenset({Q}), writes=True),
    UseCase.ACKNOWLEDGE_ALERT: Permission(frozenset({Q}), writes=True, patient_data=True),
    UseCase.USE_SCAN_STATION: Permission(frozenset({T, Q, A}), writes=False),
    UseCase.SCAN: Permission(frozenset({T, Q, N, A}), writes=True),
    UseCase.CREATE_LOCATION: Permission(frozenset({T, A}), writes=True),
    UseCase.CREATE_SHIPMENT: Permission(frozenset({T, A}), writes=True, site_scope=_SHIPMENT),
    UseCase.DISPATCH_SHIPMENT: Permission(frozenset({T, A}), writes=True, site_scope=_SHIPMENT),
    UseCase.IMPORT_TEMPERATURES: Permission(frozenset({T, A}), writes=True, site_scope=_SHIPMENT),
    UseCase.RECORD_DISCREPANCY: Permission(frozenset({T, N, A}), writes=True, site_scope=_SHIPMENT),
    # Closing a discrepancy is the lab's and QA's call (found, lost, returned, destroyed).
    UseCase.RESOLVE_DISCREPANCY: Permission(
        frozenset({T, Q, A}), writes=True, site_scope=_SHIPMENT
    ),
    UseCase.RECEIVE_SHIPMENT: Permission(frozenset({T, N, A}), writes=True, site_scope=_SHIPMENT),
    UseCase.PRINT_LABELS: Permission(frozenset({T, Q, A}), writes=True),
    # The one exception to the patient-data rule below: the tie-tag carries the recipient's
    # identity for the bedside check, and its bytes go to the printer whoever prints it.
    UseCase.PRINT_TIE_TAG: Permission(frozenset({T, Q, A}), writes=True, patient_data=True),
    UseCase.REPRINT_LABEL: Permission(frozenset({Q, A}), writes=True),
    UseCase.VOID_LABEL: Permission(frozenset({T, Q, A}), writes=True),
    UseCase.APPLY_LABEL: Permission(frozenset({T, Q, A}), writes=True),
    UseCase.APPROVE_LABEL_TEMPLATE: Permission(frozenset({Q}), writes=True, site_scope=_NONE),
    UseCase.CONFIGURE_TRIAL: Permission(frozenset({A}), writes=True, site_scope=_NONE),
    UseCase.READ_RECIPIENTS: Permission(
        frozenset({T, Q, N, A}), False, patient_data=True, site_scope=_RECIPIENT
    ),
    UseCase.REGISTER_RECIPIENT: Permission(
        frozenset({N, A}), True, patient_data=True, site_scope=_RECIPIENT
    ),
    UseCase.UPDATE_RECIPIENT: Permission(
        frozenset({N, A}), True, patient_data=True, site_scope=_RECIPIENT
    ),
    UseCase.COLLECT_SAMPLE: Permission(frozenset({N}), writes=True, site_scope=_RECIPIENT),
    UseCase.DISPATCH_SAMPLE: Permission(frozenset({N}), writes=True, site_scope=_RECIPIENT),
    UseCase.RECEIVE_SAMPLE: Permission(frozenset({T}), writes=True),
    UseCase.ALLOCATE: Permission(
        frozenset({Q, A}), writes=True, patient_data=True, site_scope=_RECIPIENT
    ),
    UseCase.DEALLOCATE: Permission(
        frozenset({Q, A}), True, patient_data=True, site_scope=_RECIPIENT
    ),
    UseCase.USE_BEDSIDE: Permission(
        frozenset({N}), False, patient_data=True, site_scope=_RECIPIENT
    ),
    UseCase.VERIFY_AT_BEDSIDE: Permission(
        frozenset({N}), True, patient_data=True, site_scope=_RECIPIENT
    ),
    UseCase.START_INFUSION: Permission(
        frozenset({N}), True, patient_data=True, site_scope=_RECIPIENT
    ),
    UseCase.COMPLETE_INFUSION: Permission(
        frozenset({N}), True, patient_data=True, site_scope=_RECIPIENT
    ),
    UseCase.LOOKBACK: Permission(frozenset({Q, A}), writes=False, patient_data=True),
    UseCase.READ_RECALLS: Permission(frozenset({T, Q, A}), writes=False, patient_data=True),
    UseCase.RAISE_RECALL: Permission(frozenset({Q}), writes=True, patient_data=True),
    UseCase.LIFT_RECALL: Permission(frozenset({Q}), writes=True, patient_data=True),
    UseCase.EXPORT_FHIR_DISPENSES: Permission(
        frozenset({Q, N, A}), False, patient_data=True, site_scope=_RECIPIENT
    ),
    UseCase.READ_OVERVIEW: Permission(frozenset({T, Q, A}), writes=False),
    # The trail holds recipients' records as they changed, identifiers included.
    UseCase.REVIEW_AUDIT_TRAIL: Permission(
        frozenset({Q, A}), writes=False, patient_data=True, site_scope=_NONE
    ),
    UseCase.CHECK_AUDIT_TRAIL: Permission(frozenset({A}), writes=True, site_scope=_NONE),
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


# --- patient identifiers: the field-level rule ----------------------------------------------


class PatientIdentifier(enum.StrEnum):
    """What identifies a recipient as a person. The trial's subject ID is not one of them: it
    is the pseudonym the product's records, labels and exports carry for everyone."""

    NAME = "name"
    BIRTH_DATE = "birth_date"
    HOSPITAL_RECORD_NUMBER = "hospital_record_number"
    # What the wristband's barcode carries: the record number and the birth date together.
    WRISTBAND = "wristband"


# Least privilege for patient data, one line per role: whether the role sees recipients'
# identifiers. A role that does not sees a recipient by subject ID only, on every page, API
# answer and export. Use cases whose answers show identifiers whole (the audit trail, lookback,
# FHIR dispenses, the bedside) are open only to roles that see them, which the tests pin. The
# one exception is PRINT_TIE_TAG: a technician may print the tie-tag, whose bytes carry the
# recipient's identity for the bedside check, and issuing it is audited; no page or JSON
# answer shows them what it says.
SEES_PATIENT_IDENTIFIERS: Mapping[Role, bool] = {
    Role.TECHNICIAN: False,
    Role.QA: True,
    Role.NURSE: True,
    Role.ADMIN: True,
}

# The keys identifiers travel under in a recipient's view, a row naming a recipient, the
# wristband read at the bedside and the values a tie-tag printed.
PATIENT_IDENTIFIER_FIELDS = frozenset({*PatientIdentifier, "recipient_name", "patient_number"})
WITHHELD = "[withheld]"


def sees_patient_identifiers(role: Role | str) -> bool:
    """Whether `role` may see recipients' names, birth dates, hospital record numbers and
    wristband data: the one question every page, answer and export asks."""
    return SEES_PATIENT_IDENTIFIERS[Role(role)]


def without_patient_identifiers(view: Mapping[str, Any]) -> dict[str, Any]:
    """`view` without the fields that carry patient identifiers (PATIENT_IDENTIFIER_FIELDS):
    what is left names the recipient by subject ID only."""
    return {key: value for key, value in view.items() if key not in PATIENT_IDENTIFIER_FIELDS}


def recipient_as_seen_by(role: Role | str, view: Mapping[str, Any]) -> dict[str, Any]:
    """A recipient's view, or a row naming a recipient, as `role` may see it."""
    return dict(view) if sees_patient_identifiers(role) else without_patient_identifiers(view)


def printed_identifiers(
    name: str | None = None, birth_date: date | None = None, record_number: str | None = None
) -> frozenset[str]:
    """Every way the tracker writes these identifiers into words: the name, the record number,
    and the birth date as ISO 8601 and as the wristband's yyyymmdd (so wristband data, which is
    the record number and that date, goes with them)."""
    words = {name, record_number}
    if birth_date is not None:
        words |= {birth_date.isoformat(), f"{birth_date:%Y%m%d}"}
    return frozenset(w.strip() for w in words if w and w.strip())


def withhold_identifiers_in_text(text: str, identifiers: Iterable[str]) -> str:
    """`text` with each of `identifiers` (see printed_identifiers) replaced by "[withheld]",
    in any case, the longest first (a name holding a shorter one goes whole); blank ones are
    no identifier."""
    for identifier in sorted({i for i in identifiers if i.strip()}, key=lambda i: (-len(i), i)):
        text = re.sub(re.escape(identifier), WITHHELD, text, flags=re.IGNORECASE)
    return text
