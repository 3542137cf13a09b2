"""The storage tree at the API's edge: what a client sends to create a location, what it reads."""

from marshmallow import Schema, fields, validate

from custody.domain.storage_tree import MAX_DEPTH, MAX_LOCATION_CODE, MAX_POSITIONS
from custody.models import LocationKind
from custody.schemas.bags import Page

KINDS = [k.value for k in LocationKind]
CODE = {"description": "the barcode's content: LOC- then upper-case letters, digits and '-'"}


class LocationQuery(Page):
    parent = fields.String(
        validate=validate.Length(min=1, max=MAX_LOCATION_CODE),
        metadata={"description": "only the children of this location (its code)"},
    )
    kind = fields.String(validate=validate.OneOf(KINDS))


class LocationDetailQuery(Schema):
    depth = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=MAX_DEPTH),
        metadata={"description": "how many levels of children to include (1 = direct children)"},
    )


class LabelQuery(Schema):
    children = fields.Boolean(
        load_default=False,
        metadata={"description": "also print the children's labels, one per page"},
    )


class LocationIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    parent = fields.String(
        validate=validate.Length(min=1, max=MAX_LOCATION_CODE),
        metadata={"description": "the parent's code; none for a site"},
    )
    code = fields.String(
        validate=validate.Length(min=1, max=MAX_LOCATION_CODE),
        metadata={"description": CODE["description"] + "; made from the parent's when left out"},
    )
    name = fields.String(
        validate=validate.Length(max=100),
        metadata={"description": "e.g. 'LN2 freezer 3'; 'Rack 2' style when left out"},
    )
    positions = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_POSITIONS),
        metadata={"description": "a box only: create its positions P01 … Pnn in the same call"},
    )


class LocationNodeOut(Schema):
    code = fields.String(metadata=CODE)
    name = fields.String()
    kind = fields.String()
    bag = fields.String(
        allow_none=True, metadata={"description": "code of the bag a position holds"}
    )
    bag_status = fields.String(allow_none=True)
    children = fields.List(fields.Nested(lambda: LocationNodeOut()))


class LocationItemOut(Schema):
    code = fields.String(metadata=CODE)
    name = fields.String()
    kind = fields.String()
    bag = fields.String(
        allow_none=True, metadata={"description": "code of the bag a position holds"}
    )
    bag_status = fields.String(allow_none=True)
    path = fields.String(metadata={"description": "site › freezer › rack › box › position"})
    parent = fields.String(allow_none=True, metadata={"description": "the parent's code"})


class LocationOut(LocationItemOut):
    children = fields.List(fields.Nested(LocationNodeOut))


class LocationListOut(Schema):
    items = fields.List(fields.Nested(LocationItemOut))
