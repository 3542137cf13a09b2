"""Schemas shared by every endpoint: the error envelope."""

from marshmallow import Schema, fields, validate


def text(max_length: int, **kwargs) -> fields.String:
    """A string that must say something: empty is refused, as is anything over `max_length`."""
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "machine-readable error code"})
    message = fields.String(required=True, metadata={"description": "what is wrong, in words"})
    details = fields.Dict(metadata={"description": "the fields or values concerned"})


class ErrorEnvelopeSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)
