"""Recipients: registration, status, wristband, calendar and the investigator's orders."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.schemas.recipients import (
    CalendarOut,
    DischargeIn,
    DoseLevelAssignIn,
    RecipientDetailOut,
    RecipientIn,
    RecipientListOut,
    RecipientQuery,
    SecondInfusionOrderIn,
    StatusIn,
    TransplantIn,
    WeightIn,
    WristbandOut,
)
from custody.services.clinic import recipients
from custody.services.clinic.dashboard import recipient_calendar, recipient_fields, recipient_record

PREFIX = "/recipients"
blp = ApiBlueprint(
    "recipients",
    __name__,
    description="Recipients: registration, status, wristband, calendar and the clinic dashboard",
)


@blp.get("")
@requires(UseCase.READ_RECIPIENTS)
@blp.arguments(RecipientQuery, location="query")
@blp.response(200, RecipientListOut)
def index(query):
    """Recipients, filtered by `status` and `site`."""
    return {"items": [recipient_fields(r) for r in recipients.list_recipients(**query)]}


@blp.post("")
@requires(UseCase.REGISTER_RECIPIENT)
@blp.arguments(RecipientIn)
@blp.response(201, RecipientDetailOut)
def register(body):
    """Register a recipient (in screening). Phase 1 names an open dose level; phase 2 gets the
    recommended one. The hospital record number must fit on a wristband."""
    recipient = recipients.register_recipient(api_user(), recipients.RecipientRequest(**body))
    return recipient_record(recipient.subject_id)


@blp.get("/<subject_id>")
@requires(UseCase.READ_RECIPIENTS)
@blp.response(200, RecipientDetailOut)
def show(subject_id):
    """The recipient's record with dose level, status, day 0, calendar, samples and the bags
    allocated to them."""
    return recipient_record(subject_id)


@blp.get("/<subject_id>/wristband")
@requires(UseCase.READ_RECIPIENTS)
@blp.response(200, WristbandOut)
def wristband(subject_id):
    """The wristband scan string (ISBT 128 patient ID and date of birth) for the recipient."""
    recipient = recipients.recipient_by_subject_id(subject_id)
    return {
        "subject_id": recipient.subject_id,
        "wristband": recipients.wristband(recipient.subject_id),
        "name": recipient.name,
        "birth_date": recipient.birth_date,
        "hospital_record_number": recipient.hospital_record_number,
    }


@blp.get("/<subject_id>/calendar")
@requires(UseCase.READ_RECIPIENTS)
@blp.response(200, CalendarOut)
def calendar(subject_id):
    """What the protocol asks of the recipient and when, counted from day 0."""
    recipient, items = recipient_calendar(subject_id)
    return {"subject_id": recipient.subject_id, "day0": recipient.day0, "items": items}


@blp.post("/<subject_id>/weight")
@requires(UseCase.UPDATE_RECIPIENT)
@blp.arguments(WeightIn)
@blp.response(200, RecipientDetailOut)
def weight(body, subject_id):
    """Record a new weight (kg) and the day it was measured."""
    recipients.record_weight(
        api_user(), subject_id, body["weight_kg"], body["measured_on"], body["reason"]
    )
    return recipient_record(subject_id)


@blp.post("/<subject_id>/status")
@requires(UseCase.UPDATE_RECIPIENT)
@blp.arguments(StatusIn)
@blp.response(200, RecipientDetailOut)
def status(body, subject_id):
    """Change the status along the protocol (409 `illegal_transition` names the current status
    and the allowed ones). INFUSED is set by the infusion record only."""
    recipients.change_status(api_user(), subject_id, body["status"], body["reason"], body["on"])
    return recipient_record(subject_id)


@blp.post("/<subject_id>/dose-level")
@requires(UseCase.UPDATE_RECIPIENT)
@blp.arguments(DoseLevelAssignIn)
@blp.response(200, RecipientDetailOut)
def dose_level(body, subject_id):
    """Assign another dose level, before infusion 1 and with no bag allocated."""
    recipients.assign_dose_level(api_user(), subject_id, body["dose_level"], body["reason"])
    return recipient_record(subject_id)


@blp.post("/<subject_id>/second-infusion-order")
@requires(UseCase.UPDATE_RECIPIENT)
@blp.arguments(SecondInfusionOrderIn)
@blp.response(200, RecipientDetailOut)
def second_infusion_order(body, subject_id):
    """The investigator's decision on infusion 2 (day 7), after infusion 1 and by day 7."""
    recipients.order_second_infusion(api_user(), subject_id, body["ordered"], body["reason"])
    return recipient_record(subject_id)


@blp.post("/<subject_id>/discharge")
@requires(UseCase.UPDATE_RECIPIENT)
@blp.arguments(DischargeIn)
@blp.response(200, RecipientDetailOut)
def discharge(body, subject_id):
    """The day the recipient left hospital (weekly clinic visits follow until day 35)."""
    recipients.record_discharge(api_user(), subject_id, body["on"])
    return recipient_record(subject_id)


@blp.post("/<subject_id>/transplant")
@requires(UseCase.UPDATE_RECIPIENT)
@blp.arguments(TransplantIn)
@blp.response(201, RecipientDetailOut)
def transplant(body, subject_id):
    """A bone-marrow transplant: creates the post-transplant blood sample (due 30 days later,
    with its own barcode); the recipient leaves the study when the lab receives it."""
    recipients.record_transplant(api_user(), subject_id, body["on"], body["reason"])
    return recipient_record(subject_id)
