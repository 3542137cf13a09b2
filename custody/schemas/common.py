"""Schemas shared by every endpoint: the error envelope, and patient identifiers that are
dumped only for a reader the permissions table lets see them."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from marshmallow import Schema, fields, post_dump, validate

from custody.domain.permissions import Role, sees_patient_identifiers

# Who the answer being dumped is for; nobody (withhold) outside `answering`.
_reader: ContextVar[Role | None] = ContextVar("custody_schema_reader", default=None)
WITHHELD_NOTE = (
    "a patient identifier: left out of the answer for a role that may not see patient "
    "identifiers (the permissions table's field-level rule)"
)


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
