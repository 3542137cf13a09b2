"""Allocations at the API's edge: the request, the dose decided, each bag's part."""

from marshmallow import Schema, fields, validate

from custody.schemas.common import text

MAX_SCAN = 500
MAX_BAGS = 20


class AllocationIn(Schema):
    recipient = text(32, required=True, metadata={"description": "the recipient's subject ID"})
    infusion_number = fields.Integer(required=True, validate=validate.OneOf([1, 2]))
    bags = fields.List(
        text(MAX_SCAN),
        required=True,
        validate=validate.Length(min=1, max=MAX_BAGS),
        metadata={
            "description": "bag scans in the order scanned; if the whole set would exceed the "
            "dose, the last one is given in part"
        },
    )
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class DeallocationIn(Schema):
    reason = text(500, required=True, metadata={"description": "why (at least 5 characters)"})


class AllocationQuery(Schema):
    recipient = text(32, required=True, metadata={"description": "subject ID"})
    active = fields.Boolean(load_default=False, metadata={"description": "only active ones"})


def _tie_tag(item: dict) -> str | None:
    """Where the tie-tag prints; only an active allocation has one."""
    return f"/api/v1/bags/{item['bag']}/tie-tag.pdf" if item["active"] else None


class AllocationOut(Schema):
    bag = fields.String(metadata={"description": "the bag's code (DIN-product code)"})
    recipient = fields.String(metadata={"description": "subject ID"})
    infusion_number = fields.Integer()
    volume_ml = fields.Float(metadata={"description": "the bag's whole volume"})
    volume_to_infuse_ml = fields.Float(allow_none=True)
    planned_cells = fields.Float(allow_none=True, metadata={"description": "viable CAR+ NK"})
    partial = fields.Boolean(metadata={"description": "only part of the bag is infused"})
    dose_level = fields.String(allow_none=True)
    weight_kg_used = fields.Float(allow_none=True)
    residual_cd3_per_kg = fields.Float(
        allow_none=True, metadata={"description": "the whole infusion's CD3+ T cells per kg"}
    )
    active = fields.Boolean()
    allocated_at = fields.DateTime()
    allocated_by = fields.String()
    ended_at = fields.DateTime(allow_none=True)
    ended_by = fields.String(allow_none=True)
    end_reason = fields.String(allow_none=True)
    tie_tag_pdf = fields.Function(_tie_tag, metadata={"description": "the tie-tag to print"})


class AllocationListOut(Schema):
    items = fields.List(fields.Nested(AllocationOut))


class DoseOut(Schema):
    dose_level = fields.String()
    basis = fields.String(metadata={"description": "flat or per_kg"})
    weight_kg = fields.Float()
    target_cells = fields.Float()
    lower = fields.Float(metadata={"description": "lowest acceptable (target − tolerance)"})
    upper = fields.Float(metadata={"description": "highest acceptable (target + tolerance)"})
    planned_cells = fields.Float()


class AllocationResultOut(Schema):
    recipient = fields.String()
    infusion_number = fields.Integer()
    dose = fields.Nested(DoseOut)
    residual_cd3_per_kg = fields.Float()
    residual_cd3_limit = fields.Float()
    residual_cd3_limit_inclusive = fields.Boolean()
    allocations = fields.List(fields.Nested(AllocationOut))
