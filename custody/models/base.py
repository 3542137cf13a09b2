"""The declarative base every model shares: a naming convention and UTC timestamps.

Constraint names come from one convention so that migrations written today and in ten years
name the same constraint the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import DateTime, Enum, MetaData, TypeDecorator, event
from sqlalchemy.orm import DeclarativeBase, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database.

    SQLite has no time-zone type and hands back naive values; a custody record read on a ward
    in another time zone must never be shifted silently, so naive input is refused outright.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_type(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A portable enum column: VARCHAR plus a CHECK constraint listing the allowed values."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    # One explicit registry carries the naming convention and the UTC timestamp type, so that
    # Flask-SQLAlchemy's own subclass of this base inherits both.
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )

    # A human-meaningful identifier shown in the audit trail ("which record"); models override.
    def audit_key(self) -> str | None:
        return None


def _hold_enum_members(mapper, class_) -> None:
    """An enum column holds its member from the moment it is set ("released" becomes
    LotDisposition.RELEASED), as it would read back: sessions keep what they hold across a
    commit, so nothing else would turn the text into the member. A value that is no member is
    left as it is, for the database's CHECK to refuse at the flush as before."""
    for prop in mapper.column_attrs:
        column_type = prop.columns[0].type
        if isinstance(column_type, Enum) and column_type.enum_class is not None:
            event.listen(
                getattr(class_, prop.key), "set", _member_of(column_type.enum_class), retval=True
            )


def _member_of(enum_class: type[enum.Enum]):
    def as_member(target, value, oldvalue, initiator):
        if isinstance(value, str) and not isinstance(value, enum_class):
            try:
                return enum_class(value)
            except ValueError:
                return value
        return value

    return as_member


event.listen(Base, "mapper_configured", _hold_enum_members, propagate=True)
