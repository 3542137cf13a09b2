import json

from marshmallow import Schema, fields, validate


class AuditEntryOut(Schema):
    id = fields.Integer()
    occurred_at = fields.String()
    actor = fields.String()
    action = fields.String()
    record_type = fields.String()
    record_id = fields.String()
    record_key = fields.String()
    changes = fields.Function(lambda e: json.loads(e.changes))
    reason = fields.String()
    hash = fields.String()


class AuditQuery(Schema):
    record_type = fields.String()
    record_id = fields.String()
    actor = fields.String()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class AuditEntriesOut(Schema):
    items = fields.List(fields.Nested(AuditEntryOut))


class AuditVerifyOut(Schema):
    ok = fields.Boolean()
    entries = fields.Integer()
    first_break = fields.String(allow_none=True)
