"""The lab lead's overview at the edge (`GET /api/v1/overview`): output schemas only.

Each item names the record it is about (lot number, bag code, shipment code, subject ID) and
`page`, the path of the browser page where it is dealt with.
"""

from flask import url_for
from marshmallow import Schema, fields

from custody.models import BagStatus, Disposition
from custody.schemas.common import PatientDataOut, patient_identifier


def _page(endpoint: str, argument: str, key: str) -> fields.Function:
    return fields.Function(
        lambda item: url_for(endpoint, **{argument: item[key]}) if item.get(key) else None,
        metadata={"type": "string", "description": "the page where this is dealt with"},
    )


def _lot_page() -> fields.Function:
    return _page("qa.lot_page", "lot", "lot")


class OverviewDispositionCountOut(Schema):
    disposition = fields.String(metadata={"enum": [d.value for d in Disposition]})
    count = fields.Integer()


class OverviewAwaitingLotOut(Schema):
    lot = fields.String()
    disposition = fields.String(
        metadata={"description": "quarantine, or conditionally_released (final release awaited)"}
    )
    created_at = fields.DateTime()
    age_days = fields.Float(metadata={"description": "days since the lot was made"})
    bags = fields.Integer()
    donor_eligibility = fields.String(metadata={"description": "the worst of its donors'"})
    page = _lot_page()


class OverviewLotsOut(Schema):
    by_disposition = fields.List(fields.Nested(OverviewDispositionCountOut))
    total = fields.Integer()
    awaiting_qa = fields.List(
        fields.Nested(OverviewAwaitingLotOut),
        metadata={"description": "lots with bags awaiting a QA decision, oldest first"},
    )


class OverviewSiteRowOut(Schema):
    site = fields.String()
    kind = fields.String(
        metadata={
            "description": "storage: a storage site (the root of a storage tree); lab: at the "
            "lab but not in a storage position; clinical: the destination of the latest "
            "shipment the bag was dispatched in",
            "enum": ["storage", "lab", "clinical"],
        }
    )
    location = fields.String(allow_none=True, metadata={"description": "storage site's code"})
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    total = fields.Integer()


class OverviewBagsOut(Schema):
    states = fields.List(fields.String(), metadata={"description": "in life-cycle order"})
    sites = fields.List(fields.Nested(OverviewSiteRowOut))
    by_state = fields.Dict(
        keys=fields.String(metadata={"enum": [s.value for s in BagStatus]}),
        values=fields.Integer(),
    )
    total = fields.Integer()


class OverviewAllocatedBagOut(Schema):
    code = fields.String()
    status = fields.String()
    page = _page("lab.bag_page", "code", "code")


class OverviewUpcomingInfusionOut(PatientDataOut):
    subject_id = fields.String()
    name = patient_identifier()
    site = fields.String()
    recipient_status = fields.String()
    infusion_number = fields.Integer()
    due_on = fields.Date(
        allow_none=True, metadata={"description": "none for infusion 1 (day 0 is its date)"}
    )
    schedule = fields.String(metadata={"description": "due, overdue, upcoming or awaiting"})
    ready = fields.Boolean(metadata={"description": "a released, allocated bag is ready"})
    problem = fields.String(allow_none=True, metadata={"description": "why not, in words"})
    bags = fields.List(fields.Nested(OverviewAllocatedBagOut))
    page = _page("clinic.recipient_page", "subject_id", "subject_id")


class OverviewExcursionOut(Schema):
    shipment = fields.String()
    destination = fields.String()
    storage_limit_c = fields.Float()
    start = fields.DateTime()
    end = fields.DateTime(metadata={"description": "first reading back within the limit"})
    duration_minutes = fields.Float()
    peak_c = fields.Float()
    readings = fields.Integer(metadata={"description": "readings above the limit"})
    ongoing = fields.Boolean(metadata={"description": "the log ends above the limit"})
    page = _page("shipping.shipment", "code", "shipment")


class OverviewStepDeviationOut(Schema):
    lot = fields.String()
    sequence = fields.Integer()
    step = fields.String()
    reason = fields.String()
    started_at = fields.DateTime()
    page = _lot_page()


class OverviewDiscrepancyOut(Schema):
    kind = fields.String(metadata={"enum": ["missing", "unexpected"]})
    note = fields.String()
    raw_scan = fields.String()
    recorded_at = fields.DateTime()
    shipment = fields.String()
    destination = fields.String()
    bag = fields.String(allow_none=True, metadata={"description": "none: not a known bag"})
    bag_status = fields.String(allow_none=True)
    page = _page("shipping.shipment", "code", "shipment")


class OverviewOpenAlertOut(Schema):
    id = fields.String()
    lot = fields.String()
    raised_at = fields.DateTime()
    message = fields.String()
    recipients = fields.List(fields.String())
    bags = fields.Function(
        lambda alert: len(alert["affected"]),
        metadata={"type": "integer", "description": "how many bags of the lot the alert lists"},
    )
    page = _lot_page()


class OverviewEligibilityOpenOut(Schema):
    lot = fields.String()
    determination = fields.String()
    statements = fields.List(fields.String())
    action = fields.String()
    page = _lot_page()


class OverviewDeviationsOut(Schema):
    batch_steps = fields.List(
        fields.Nested(OverviewStepDeviationOut),
        metadata={"description": "batch-record deviations of lots in quarantine"},
    )
    discrepancies = fields.List(
        fields.Nested(OverviewDiscrepancyOut),
        metadata={
            "description": "missing bags still shipped; unexpected arrivals of the recent days"
        },
    )
    alerts = fields.List(
        fields.Nested(OverviewOpenAlertOut),
        metadata={"description": "quality alerts not acknowledged"},
    )
    donor_eligibility = fields.List(
        fields.Nested(OverviewEligibilityOpenOut),
        metadata={"description": "lots in quarantine whose donor is not (yet) eligible"},
    )


class OverviewOut(Schema):
    generated_at = fields.DateTime()
    lots = fields.Nested(OverviewLotsOut)
    bags = fields.Nested(OverviewBagsOut)
    upcoming_infusions = fields.List(fields.Nested(OverviewUpcomingInfusionOut))
    excursions = fields.List(
        fields.Nested(OverviewExcursionOut), metadata={"description": "newest first, recent days"}
    )
    deviations = fields.Nested(OverviewDeviationsOut)
