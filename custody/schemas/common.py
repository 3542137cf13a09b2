"""Schemas shared by every endpoint: the error envelope."""

from marshmallow import Schema, fields


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "machine-readable error code"})
    message = fields.String(required=True, metadata={"description": "what is wrong, in words"})
    details = fields.Dict(metadata={"description": "the fields or values concerned"})


class ErrorEnvelopeSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)
