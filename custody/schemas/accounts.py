from marshmallow import Schema, fields, validate

from custody.domain.permissions import Role


class UserOut(Schema):
    username = fields.String()
    full_name = fields.String()
    role = fields.Function(lambda u: u.role.value)
    locked = fields.Function(lambda u: u.locked_at is not None)
    active = fields.Boolean()


class UserIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=2, max=64))
    full_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=200))


class UnlockIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
