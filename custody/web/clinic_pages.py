"""Clinic pages (ward and trial office): the dashboard of what is due, and a recipient's
record with calendar, wristband data and allocations.

Rendered on the server from the read models the API answers with (`dashboard`,
`recipient_record`, `allocation_item`), so a page and a scripted client see the same thing:
recipients as the signed-in role may see them (the permissions table's field-level rule; a
technician sees subject IDs only, never a name, birth date, record number or wristband data).
Allocation and de-allocation post to the JSON API from `static/js/clinic.js`; the page offers
the forms only to the roles the allocation service accepts, an infusion only when the recipient
is ready for it and a de-allocation only when the bag's state allows it, asking the service's
own rules (`allocation_readiness`); what stands in the way is shown instead, in its words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from flask import Blueprint, render_template
from flask_login import current_user

from custody.auth import may, page_requires
from custody.domain.errors import NotFound
from custody.domain.permissions import UseCase, recipient_as_seen_by, sees_patient_identifiers
from custody.domain.wristband import wristband_data
from custody.services.clinic.allocation import (
    MAX_REASON,
    MIN_REASON,
    allocation_item,
    allocations_of,
)
from custody.services.clinic.allocation_readiness import deallocation_refusal, ready_infusions
from custody.services.clinic.dashboard import dashboard, recipient_fields, recipient_record
from custody.services.clinic.infusion_in_progress import in_progress
from custody.services.clinic.recipients import list_recipients, recipient_by_subject_id, site_today
from custody.web.local_time import moment, site_zone

bp = Blueprint("clinic", __name__, template_folder="../templates")

SUBJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}")
DAYS_AHEAD = 7
MAX_RECIPIENTS = 500


@bp.get("/clinic")
@page_requires(UseCase.READ_RECIPIENTS)
def clinic_dashboard():
    """What is due in the coming week, who still lacks product, and every recipient."""
    board = dashboard(site_today(), DAYS_AHEAD)
    board["items"], board["needs_bag"] = _as_seen(board["items"]), _as_seen(board["needs_bag"])
    zone = site_zone()
    board["in_progress"] = [
        running | {"started": moment(running["started_at"], zone)} for running in in_progress()
    ]
    return render_template(
        "clinic/dashboard.html",
        board=board,
        recipients=_as_seen(recipient_fields(r) for r in list_recipients(limit=MAX_RECIPIENTS)),
        identifiers_shown=sees_patient_identifiers(current_user.role),
    )


@bp.get("/clinic/recipients/<subject_id>")
@page_requires(UseCase.READ_RECIPIENTS)
def recipient_page(subject_id: str):
    """One recipient: record, wristband data, calendar, allocations (allocate, de-allocate)."""
    if not SUBJECT_ID.fullmatch(subject_id):
        raise NotFound(f"No recipient {subject_id[:40]!r} is known here.", recipient=subject_id)
    record = recipient_record(subject_id)
    record["wristband"] = wristband_data(record["hospital_record_number"], record["birth_date"])
    zone = site_zone()
    allocations = [
        allocation_item(a)
        | {"allocated": moment(a.allocated_at, zone)}
        | {"ended": moment(a.ended_at, zone)}
        | {"not_deallocatable": _deallocation_refusal(a)}
        for a in allocations_of(subject_id)
    ]
    return render_template(
        "clinic/recipient.html",
        r=recipient_as_seen_by(current_user.role, record),
        identifiers_shown=sees_patient_identifiers(current_user.role),
        allocations=allocations,
        can_allocate=may(UseCase.ALLOCATE),
        can_deallocate=may(UseCase.DEALLOCATE),
        infusions=_infusions(subject_id) if may(UseCase.ALLOCATE) else [],
        reason_length=(MIN_REASON, MAX_REASON),
        can_print_tie_tag=may(UseCase.PRINT_TIE_TAG),
    )


def _infusions(subject_id: str) -> list[dict]:
    """Each infusion with why bags cannot be allocated to it now (none: it is offered)."""
    recipient = recipient_by_subject_id(subject_id)
    return [
        {"number": number, "why_not": [refusal.message for refusal in refusals]}
        for number, refusals in ready_infusions(recipient).items()
    ]


def _deallocation_refusal(allocation) -> str:
    """Why the active allocation's bag cannot be de-allocated now ("" when it can)."""
    if not allocation.active:
        return ""
    refusal = deallocation_refusal(allocation.bag)
    return refusal.message if refusal else ""


def _as_seen(rows: Iterable[Mapping]) -> list[dict]:
    """Rows naming recipients, as the signed-in role may see them."""
    return [recipient_as_seen_by(current_user.role, row) for row in rows]
