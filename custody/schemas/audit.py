"""The audit trail at the API's edge: the review filters, entries, and the chain check.

Filter values are taken as text here and checked by `custody.services.audit.review`, so the
API and the review page refuse a bad date or an unknown record type in the same words.
"""

import json

from marshmallow import Schema, fields, post_load, validate

from custody.domain.audit_chain import ENTRY_ACTIONS
from custody.domain.time_zones import MOMENT_FORMAT


class AuditEntryOut(Schema):
    id = fields.Integer()
    occurred_at = fields.String(metadata={"description": "UTC, fixed-width, as hashed"})
    actor = fields.String()
    action = fields.String()
    record_type = fields.String()
    record_id = fields.String()
    record_key = fields.String()
    changes = fields.Function(lambda e: stored_changes(e.changes))
    reason = fields.String()
    shard = fields.Integer()
    seq = fields.Integer()
    hash = fields.String()


def stored_changes(text: str):
    """The changes as JSON; text that no longer parses (a row edited by hand) is shown as is,
    so that a tampered entry can still be read rather than breaking the whole list."""
    try:
        return json.loads(text)
    except ValueError:
        return text


_LOCAL = f"Local time of the facility (CUSTODY_TIMEZONE): {MOMENT_FORMAT}"


class AuditFilterQuery(Schema):
    """The filters shared by the entries list and both exports (all optional, combined)."""

    record_type = fields.String(metadata={"description": "A table name, e.g. bags"})
    record_id = fields.String(metadata={"description": "The row's id; needs record_type"})
    record_key = fields.String(
        metadata={"description": "Exact record key: bag code, DIN, lot number, username…"}
    )
    actor = fields.String(metadata={"description": "Username (or system actor) who acted"})
    action = fields.String(metadata={"description": f"One of {', '.join(ENTRY_ACTIONS)}"})
    from_ = fields.String(data_key="from", metadata={"description": f"{_LOCAL}; inclusive"})
    to = fields.String(
        metadata={"description": f"{_LOCAL}; includes the whole day, minute or second named"}
    )
    reason = fields.String(metadata={"description": "Text the entry's reason contains"})

    @post_load
    def query_names(self, data, **kwargs):
        """Back to the query names the service reads (`from` is a Python keyword)."""
        if "from_" in data:
            data["from"] = data.pop("from_")
        return data


class AuditQuery(AuditFilterQuery):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    before = fields.Integer(
        validate=validate.Range(min=1, max=2**53),
        metadata={"description": "Continue after this entry (a page's `next_before`)"},
    )


class AuditEntriesOut(Schema):
    items = fields.List(fields.Nested(AuditEntryOut))
    more = fields.Boolean(metadata={"description": "Older entries match too"})
    next_before = fields.Integer(
        allow_none=True, metadata={"description": "Pass as `before` for the next page"}
    )


class AuditVerifyOut(Schema):
    ok = fields.Boolean()
    entries = fields.Integer()
    first_break = fields.String(allow_none=True)
