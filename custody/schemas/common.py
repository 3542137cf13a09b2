"""Schemas shared by every endpoint: the error envelope, and patient identifiers that are
dumped only for a reader the permissions table lets see them."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from marshmallow import Schema, fields, post_dump, validate

from custody.domain.permissions import Role, sees_patient_identifiers

# Who the answer being dumped is for; nobody (withhold) outside `answering`.
_reader: ContextVar[Role | None] = ContextVar("custody_schema_reader", default=None)
WITHHELD_NOTE = (
    "a patient identifier: left out of the answer for a role that may not see patient "
    "identifiers (the permissions table's field-level rule)"
)


class PlainRecords(fields.List):
    """A list of `schema` records, documented as such, written without marshmallow's work per
    field: each record's declared keys as they are, times in ISO 8601. For hot replies whose
    records hold plain values already (a bag's history: up to fifty records of eighteen fields
    on every bag read). A schema that transforms what it dumps (hooks, data keys, patient
    identifiers) is refused here: its records must go through marshmallow."""

    def __init__(self, schema: type[Schema], **kwargs) -> None:
        if any(schema._hooks.get(hook) for hook in ("pre_dump", "post_dump")):
            raise TypeError(f"{schema.__name__} transforms what it dumps: use fields.Nested")
        declared = schema._declared_fields
        if any(f.data_key or not isinstance(f, _PLAIN_FIELDS) for f in declared.values()):
            raise TypeError(f"{schema.__name__} has fields that are not plain values")
        super().__init__(fields.Nested(schema), **kwargs)
        self._keys = tuple(declared)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return [
            {key: _plain(record[key]) for key in self._keys if key in record} for record in value
        ]


_PLAIN_FIELDS = (fields.String, fields.Integer, fields.Float, fields.Boolean, fields.DateTime)


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


def text(max_length: int, **kwargs) -> fields.String:
    """A string that must say something: empty is refused, as is anything over `max_length`."""
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


@contextmanager
def answering(role: Role | str | None) -> Iterator[None]:
    """Dump the schemas inside the block for someone holding `role` (None: nobody known)."""
    token = _reader.set(Role(role) if role is not None else None)
    try:
        yield
    finally:
        _reader.reset(token)


def reader_sees_patient_identifiers() -> bool:
    """Whether the answer being dumped may carry patient identifiers (never for nobody)."""
    reader = _reader.get()
    return reader is not None and sees_patient_identifiers(reader)


def patient_identifier(field: type[fields.Field] = fields.String, **kwargs) -> fields.Field:
    """An output field holding a patient identifier (name, birth date, hospital record number,
    wristband data), in a PatientDataOut schema: dumped only for a reader who may see it."""
    description = kwargs.pop("description", "")
    note = f"{description}; {WITHHELD_NOTE}" if description else WITHHELD_NOTE.capitalize()
    return field(metadata={"description": note, "patient_identifier": True}, **kwargs)


class PatientDataOut(Schema):
    """An output schema with patient identifier fields: for a reader the field-level rule
    withholds them from, they are left out, and the recipient is named by subject ID only."""

    @post_dump
    def _withhold_patient_identifiers(self, data: dict, **kwargs) -> dict:
        if reader_sees_patient_identifiers():
            return data
        for name, field in self.dump_fields.items():
            if field.metadata.get("patient_identifier"):
                data.pop(field.data_key or name, None)
        return data


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "machine-readable error code"})
    message = fields.String(required=True, metadata={"description": "what is wrong, in words"})
    details = fields.Dict(metadata={"description": "the fields or values concerned"})


class ErrorEnvelopeSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)
