from marshmallow import Schema, fields, validate

from custody.domain.permissions import Role


class UserOut(Schema):
    username = fields.String()
    full_name = fields.String()
    role = fields.Function(lambda u: u.role.value)
    locked = fields.Function(lambda u: u.locked_at is not None)
    active = fields.Boolean()
    retired_at = fields.DateTime(allow_none=True)
    must_change_password = fields.Boolean()


class UserIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=2, max=64))
    full_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=200))


class UnlockIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class TokenOut(Schema):
    id = fields.Integer()
    username = fields.Function(lambda t: t.user.username)
    label = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(
        allow_none=True, metadata={"description": "to the minute: recorded at most once a minute"}
    )
    revoked_at = fields.DateTime(allow_none=True)


class TokenListOut(Schema):
    items = fields.List(fields.Nested(TokenOut))


class TokenQuery(Schema):
    user = fields.String(validate=validate.Length(min=1, max=64))


class TokenIn(Schema):
    label = fields.String(
        load_default="",
        validate=validate.Length(max=100),
        metadata={"description": "what the token is for, e.g. a scanner's name"},
    )
    days = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=3650),
        metadata={"description": "valid for this many days (CUSTODY_TOKEN_DAYS if left out)"},
    )


class TokenIssuedOut(Schema):
    token = fields.String(metadata={"description": "shown once: only its hash is kept"})


class AccountChangeIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class SessionOut(Schema):
    id = fields.Integer()
    username = fields.String()
    started_at = fields.DateTime()
    last_seen_at = fields.DateTime(metadata={"description": "to the minute"})
    client = fields.String()


class SessionListOut(Schema):
    items = fields.List(fields.Nested(SessionOut))


class SessionsEndedOut(Schema):
    ended = fields.Integer(metadata={"description": "how many open sessions were ended"})


class PasswordChangeIn(Schema):
    current_password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=200)
    )
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=200))


class PasswordResetIn(Schema):
    temporary_password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(max=200),
        metadata={"description": "to be changed by its owner at the next sign-in"},
    )
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "why, and how the person's identity was confirmed"},
    )


class UserListOut(Schema):
    items = fields.List(fields.Nested(UserOut))


class UserQuery(Schema):
    locked = fields.Boolean(metadata={"description": "true: only accounts locked after failures"})
