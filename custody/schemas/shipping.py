"""Shipments at the API's edge: what a client sends, and what it gets back."""

from marshmallow import Schema, ValidationError, fields, pre_dump, validate, validates_schema

from custody.domain.shipment_discrepancies import MAX_REASON, ResolutionOutcome
from custody.models import DiscrepancyKind, ShipmentStatus
from custody.schemas.bags import MAX_SCAN, Page
from custody.schemas.quality import ManifestationOut

# A dry shipper keeps cryopreserved product in LN2 vapour; fresh products travel at 2–8 °C.
LIMIT_RANGE = validate.Range(min=-273.15, max=40)
TEMPERATURE_RANGE = validate.Range(min=-273.15, max=100)


class ShipmentCreateIn(Schema):
    destination_site = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "the clinical site the shipment goes to"},
    )
    courier = fields.String(
        load_default="",
        validate=validate.Length(max=100),
        metadata={"description": "courier company; may also be given at dispatch"},
    )
    shipper_id = fields.String(
        load_default="",
        validate=validate.Length(max=40),
        metadata={"description": "the dry shipper's own identifier"},
    )
    logger_id = fields.String(
        load_default="",
        validate=validate.Length(max=40),
        metadata={"description": "the temperature logger travelling in the shipper"},
    )
    storage_limit_c = fields.Float(
        load_default=-150.0,
        validate=LIMIT_RANGE,
        metadata={
            "description": "warmest allowed temperature in °C; readings above it are excursions"
        },
    )


class ShipmentQuery(Page):
    status = fields.String(validate=validate.OneOf([s.value for s in ShipmentStatus]))


class DispatchIn(Schema):
    courier_person = fields.String(
        required=True,
        validate=validate.Length(min=1, max=90),
        metadata={"description": "name of the courier's person who takes the shipper"},
    )
    courier = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "courier company, if not given when the shipment was created"},
    )
    condition = fields.String(validate=validate.Length(max=200))
    temperature_c = fields.Float(
        validate=TEMPERATURE_RANGE,
        metadata={"description": "the shipper's display at handoff, °C"},
    )
    username = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={
            "description": "your own user ID: with `password`, the handoff is your electronic "
            "signature (meaning: handed to the courier); the pages always sign"
        },
    )
    password = fields.String(validate=validate.Length(min=1, max=200), load_only=True)

    @validates_schema
    def both_signature_parts(self, data, **kwargs):
        if ("username" in data) != ("password" in data):
            missing = "password" if "username" in data else "username"
            raise ValidationError(
                "A signature needs both your user ID and your password.", field_name=missing
            )


class ResolutionIn(Schema):
    outcome = fields.String(
        required=True,
        validate=validate.OneOf([o.value for o in ResolutionOutcome]),
        metadata={
            "description": "missing bag: found_and_received (once scanned in), confirmed_lost "
            "or destroyed; unexpected bag: returned_to_sender or destroyed"
        },
    )
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_REASON),
        metadata={"description": "why: what was found or done, and on whose word (required)"},
    )


class DiscrepancyIn(Schema):
    kind = fields.String(
        required=True,
        validate=validate.OneOf([k.value for k in DiscrepancyKind]),
        metadata={
            "description": "missing: a manifest bag that did not arrive; unexpected: a bag "
            "(or anything scanned) that is not on the manifest"
        },
    )
    bag = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_SCAN),
        metadata={"description": "the bag's label scan or code; for 'unexpected', any scan"},
    )
    note = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "what was found and what was done (required)"},
    )


SHIPMENT_COLUMNS = (
    "code",
    "destination_site",
    "courier",
    "shipper_id",
    "logger_id",
    "storage_limit_c",
    "created_at",
    "handed_over_at",
    "handed_over_to",
    "received_at",
)


class ShipmentOut(Schema):
    code = fields.String(metadata={"description": "public identifier, SHP-<year>-<nnnn>"})
    destination_site = fields.String()
    courier = fields.String()
    shipper_id = fields.String()
    logger_id = fields.String(metadata={"description": "the temperature logger's identifier"})
    status = fields.String(metadata={"description": "packing, in_transit or received"})
    storage_limit_c = fields.Float()
    bag_count = fields.Integer()
    created_at = fields.DateTime()
    handed_over_at = fields.DateTime(allow_none=True)
    handed_over_to = fields.String(allow_none=True)
    received_at = fields.DateTime(allow_none=True)

    @pre_dump
    def flatten(self, data, **kwargs):
        """Services answer {"shipment": <Shipment>, ...}: show the shipment's own fields."""
        shipment = data["shipment"]
        own = {name: getattr(shipment, name) for name in SHIPMENT_COLUMNS}
        return {**data, **own, "status": shipment.status.value}


class ManifestLineOut(Schema):
    bag = fields.String()
    status = fields.String()
    lot = fields.String()
    lot_status = fields.String()
    packed_at = fields.DateTime()
    packed_by = fields.String(allow_none=True)
    received = fields.Boolean()
    received_at = fields.DateTime(allow_none=True)
    received_by = fields.String(allow_none=True)
    missing = fields.Boolean(metadata={"description": "recorded as a missing-bag discrepancy"})


class ResolutionOut(Schema):
    outcome = fields.String()
    reason = fields.String()
    resolved_at = fields.DateTime()
    resolved_by = fields.String(allow_none=True)


class DiscrepancyOut(Schema):
    number = fields.Integer(
        metadata={"description": "1 for the shipment's first discrepancy: its path's number"}
    )
    kind = fields.String()
    bag = fields.String(allow_none=True, metadata={"description": "null: not a known bag"})
    raw_scan = fields.String()
    note = fields.String()
    recorded_at = fields.DateTime()
    recorded_by = fields.String(allow_none=True)
    resolution = fields.Nested(
        ResolutionOut,
        allow_none=True,
        metadata={"description": "how it was resolved; null while it is open"},
    )


class ReadingOut(Schema):
    recorded_at = fields.DateTime()
    temperature_c = fields.Float()


class ExcursionOut(Schema):
    start = fields.DateTime(metadata={"description": "first reading above the limit"})
    end = fields.DateTime(
        metadata={
            "description": "first reading back at or below the limit (last reading if "
            "the log ends above it)"
        }
    )
    duration_s = fields.Function(lambda e: e.duration.total_seconds())
    peak_c = fields.Float()
    readings = fields.Integer(metadata={"description": "readings above the limit"})
    ongoing = fields.Boolean(metadata={"description": "the log ends above the limit"})


class GapOut(Schema):
    start = fields.DateTime()
    end = fields.DateTime()
    duration_s = fields.Function(lambda g: g.duration.total_seconds())


class TemperatureSummaryOut(Schema):
    storage_limit_c = fields.Float()
    gap_limit_s = fields.Float(
        metadata={"description": "longer stretches without readings are gaps"}
    )
    readings_count = fields.Function(lambda report: len(report["readings"]))
    excursions = fields.List(fields.Nested(ExcursionOut))
    gaps = fields.List(fields.Nested(GapOut))


class TemperatureReportOut(TemperatureSummaryOut):
    readings = fields.List(fields.Nested(ReadingOut))


class HandoffSignatureOut(ManifestationOut):
    valid = fields.Boolean(
        metadata={"description": "false when the handoff's records changed after signing"}
    )


class ShipmentDetailOut(ShipmentOut):
    created_by = fields.String(allow_none=True)
    received_by = fields.String(allow_none=True)
    manifest = fields.List(fields.Nested(ManifestLineOut))
    discrepancies = fields.List(fields.Nested(DiscrepancyOut))
    unaccounted_bags = fields.List(
        fields.String(),
        metadata={"description": "manifest bags neither received nor recorded missing"},
    )
    temperatures = fields.Nested(TemperatureSummaryOut)
    handoff_signature = fields.Nested(
        HandoffSignatureOut,
        allow_none=True,
        metadata={
            "description": "the courier handoff's electronic signature, null when dispatched "
            "without one"
        },
    )


class ShipmentListOut(Schema):
    items = fields.List(fields.Nested(ShipmentOut))
