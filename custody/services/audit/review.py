"""Reading the audit trail for review: filtered by record, person, time, action and reason,
newest first, a page at a time.

One filter (`AuditFilter`) serves the review page, the API and both exports, so a reviewer's
shared link, a script and a printed extract select exactly the same entries. Every value is
checked here and refused in words that name the field and what it expects (a bad date is a
`ValidationFailed`, never a database error).

Newest first means by `occurred_at` (fixed-width UTC text, which sorts as time does), then by
id for the entries one transaction wrote at the same instant. That order is what the
`occurred_at` index holds, so the first page, a time range and paging through either read the
index from its newest end and stop after one page, however long the trail. A record filter
uses the (record_type, record_id) index. A filter on person, action or record key is served
by an index on that column and occurred_at, where one exists; without it the query reads the
occurred_at index backwards until a page is full (a few hundred ms at 10^6 entries for a
rare value). Reason text is a substring search: it always reads until the page is full, so
it is best combined with a time range.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Row

from custody.domain.audit_chain import ENTRY_ACTIONS, format_timestamp
from custody.domain.errors import ValidationFailed
from custody.domain.time_zones import MOMENT_FORMAT
from custody.extensions import db
from custody.models.audit import AuditEntry
from custody.models.base import Base
from custody.services.core.audit_trail import UNAUDITED_TABLES

PAGE_SIZE = 100
# The query names of the filters, in the order pages and exports print them.
FILTER_NAMES = ("record_type", "record_id", "record_key", "actor", "action", "from", "to", "reason")
FILTER_LABELS = {
    "record_type": "Record type",
    "record_id": "Record ID",
    "record_key": "Record key",
    "actor": "Person",
    "action": "Action",
    "from": "From",
    "to": "To",
    "reason": "Reason contains",
}
# The stored columns' widths: a longer value can match nothing, so it is refused in words.
MAX_LENGTHS = {"record_type": 40, "record_id": 40, "record_key": 200, "actor": 64, "reason": 200}
LOCAL_MOMENT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?", flags=re.ASCII
)
# Fixed-width UTC text compares as time only for four-digit years.
FIRST_YEAR, LAST_YEAR = 1900, 2999
COLUMNS = tuple(AuditEntry.__table__.c)


def record_types() -> list[str]:
    """Every table whose changes the trail records (the choices of the record-type filter)."""
    return sorted(set(Base.metadata.tables) - UNAUDITED_TABLES)


@dataclass(frozen=True)
class AuditFilter:
    """Validated filters. `entered` keeps what the person typed (for links and headers);
    `since` and `until` are the UTC bounds compared with the stored text (until exclusive)."""

    entered: dict[str, str] = field(default_factory=dict)
    record_type: str | None = None
    record_id: str | None = None
    record_key: str | None = None
    actor: str | None = None
    action: str | None = None
    reason: str | None = None
    since: str | None = None
    until: str | None = None

    def summary(self) -> list[tuple[str, str]]:
        """(label, value) for each filter given: what a page, a PDF and a file name print."""
        return [(FILTER_LABELS[n], self.entered[n]) for n in FILTER_NAMES if n in self.entered]

    def conditions(self) -> list:
        c = AuditEntry
        found = []
        for column, value in (
            (c.record_type, self.record_type),
            (c.record_id, self.record_id),
            (c.record_key, self.record_key),
            (c.actor, self.actor),
            (c.action, self.action),
        ):
            if value is not None:
                found.append(column == value)
        if self.since is not None:
            found.append(c.occurred_at >= self.since)
        if self.until is not None:
            found.append(c.occurred_at < self.until)
        if self.reason is not None:
            found.append(c.reason.ilike(f"%{_like_escaped(self.reason)}%", escape="\\"))
        return found


def parse_filter(values: Mapping[str, str | None], zone: ZoneInfo) -> AuditFilter:
    """Check the filters as typed (query names of FILTER_NAMES; blanks mean no filter).

    Times are the site's local wall clock, as people read them on every page: `from` is
    inclusive, and `to` includes the whole day, minute or second it names.
    """
    entered = {}
    for name in FILTER_NAMES:
        value = values.get(name)
        if value is not None and value.strip():
            entered[name] = _checked_text(name, value.strip())
    record_type = entered.get("record_type")
    if record_type is not None and record_type not in record_types():
        raise ValidationFailed(
            f"Record type {record_type!r} is not one the audit trail records; choose one of: "
            f"{', '.join(record_types())}.",
            field="record_type",
        )
    if "record_id" in entered and record_type is None:
        raise ValidationFailed(
            "A record ID names a row of one table: choose its record type too "
            "(or search by record key, such as a bag code, DIN, lot number or username).",
            field="record_id",
        )
    action = entered.get("action")
    if action is not None and action not in ENTRY_ACTIONS:
        raise ValidationFailed(
            f"Action {action!r} is not known; choose one of: {', '.join(ENTRY_ACTIONS)}.",
            field="action",
        )
    since = _utc_bound("from", entered.get("from"), zone, end=False)
    until = _utc_bound("to", entered.get("to"), zone, end=True)
    if since is not None and until is not None and since >= until:
        raise ValidationFailed(
            f"'From' ({entered['from']}) is after 'To' ({entered['to']}): "
            "no entry can fall between them.",
            field="from",
        )
    return AuditFilter(
        entered=entered,
        record_type=record_type,
        record_id=entered.get("record_id"),
        record_key=entered.get("record_key"),
        actor=entered.get("actor"),
        action=action,
        reason=entered.get("reason"),
        since=since,
        until=until,
    )


def _checked_text(name: str, value: str) -> str:
    label = FILTER_LABELS[name]
    if "\x00" in value or not value.isprintable():
        raise ValidationFailed(
            f"{label} contains characters that cannot be searched for (control characters).",
            field=name,
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationFailed(f"{label} is not valid Unicode text.", field=name) from None
    longest = MAX_LENGTHS.get(name, 40)
    if len(value) > longest:
        raise ValidationFailed(
            f"{label} is {len(value)} characters long; the trail stores at most {longest}.",
            field=name,
        )
    return value


def _utc_bound(name: str, text: str | None, zone: ZoneInfo, end: bool) -> str | None:
    """Local wall-clock text → fixed-width UTC text; `end` moves past the moment it names."""
    if text is None:
        return None
    label = FILTER_LABELS[name]
    match = LOCAL_MOMENT.fullmatch(text)
    expected = f"write it as {MOMENT_FORMAT}, in local time ({zone.key})"
    if match is None:
        raise ValidationFailed(f"{label} {text!r} is not a date or time: {expected}.", field=name)
    year, month, day, hour, minute, second = (int(g) if g else None for g in match.groups())
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationFailed(
            f"{label} {text!r} is outside the years {FIRST_YEAR} to {LAST_YEAR}.", field=name
        )
    try:
        local = datetime(year, month, day, hour or 0, minute or 0, second or 0, tzinfo=zone)
    except ValueError:
        raise ValidationFailed(
            f"{label} {text!r} is not a real date or time: {expected}.", field=name
        ) from None
    if end:
        local += _precision(hour, second)
    return format_timestamp(local)


def _precision(hour: int | None, second: int | None) -> timedelta:
    """How much a 'to' includes: the whole day, minute or second it names."""
    if hour is None:
        return timedelta(days=1)
    return timedelta(minutes=1) if second is None else timedelta(seconds=1)


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditPage:
    entries: list[Row]
    more: bool  # older entries match the filter too
    next_before: int | None  # the `before` that shows them


def search(flt: AuditFilter, limit: int = PAGE_SIZE, before: int | None = None) -> AuditPage:
    """One page of matching entries, newest first; `before` (an entry id) continues a page."""
    rows = list(db.session.execute(_query(flt, before).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows, more, rows[-1].id if more else None)


def matching(flt: AuditFilter, cap: int) -> tuple[list[Row], bool]:
    """Up to `cap` matching entries, newest first, and whether more matched (an export's)."""
    rows = list(db.session.execute(_query(flt, None).limit(cap + 1)))
    return rows[:cap], len(rows) > cap


def _query(flt: AuditFilter, before: int | None):
    entry = AuditEntry
    stmt = (
        select(*COLUMNS)
        .where(*flt.conditions())
        .order_by(entry.occurred_at.desc(), entry.id.desc())
    )
    if before is not None:
        stmt = stmt.where(*_older_than(before))
    return stmt


def _older_than(before: int) -> list:
    """Keyset paging: entries after `before` in newest-first order. The `<=` on occurred_at
    alone lets the occurred_at index start where the previous page ended."""
    at = db.session.scalar(select(AuditEntry.occurred_at).where(AuditEntry.id == before))
    if at is None:
        raise ValidationFailed(
            f"There is no audit entry {before} to continue from; start from the newest entries.",
            field="before",
        )
    return [
        AuditEntry.occurred_at <= at,
        or_(AuditEntry.occurred_at < at, AuditEntry.id < before),
    ]


def parse_before(text: str | None) -> int | None:
    """The `before` of a paging link: a positive entry id."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if not re.fullmatch(r"[1-9][0-9]{0,17}", text, flags=re.ASCII):
        raise ValidationFailed(
            f"'before' must be an audit entry number (1, 2, 3, …), not {text[:40]!r}.",
            field="before",
        )
    return int(text)


def names_of(actors: Iterable[str]) -> dict[str, str]:
    """Full names of the people among `actors` (system actors have none): one query."""
    from custody.models.accounts import User

    wanted = sorted(set(actors))
    if not wanted:
        return {}
    rows = db.session.execute(
        select(User.username, User.full_name).where(User.username.in_(wanted))
    )
    return {username: full_name for username, full_name in rows}


def people() -> list[tuple[str, str]]:
    """(username, full name) of every account: the person filter's suggestions."""
    from custody.models.accounts import User

    return list(db.session.execute(select(User.username, User.full_name).order_by(User.username)))


def change_lines(action: str, changes: str) -> list[str]:
    """`{"field": [old, new]}` as lines a reviewer reads: 'disposition: quarantine → released'.
    A new record lists what it was created with; nothing of a change is left out."""
    try:
        fields = json.loads(changes)
    except ValueError:
        return [changes]
    if not isinstance(fields, dict):
        return [changes]
    lines = []
    for name, pair in fields.items():
        old, new = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
        if action == "create":
            if new is not None and new != "":
                lines.append(f"{name}: {_value(new)}")
        elif action == "delete":
            lines.append(f"{name}: {_value(old)} (deleted)")
        else:
            lines.append(f"{name}: {_value(old)} → {_value(new)}")
    return lines


def _value(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# --- used by other reviews (a lot's history) ---------------------------------------------


def entries_of(records: Iterable[tuple[str, int]], limit: int) -> list[AuditEntry]:
    """The newest entries about any of `records` ((table, id) pairs), in one query on the
    (record_type, record_id) index, however many records a history spans."""
    ids_by_type: dict[str, list[str]] = defaultdict(list)
    for record_type, record_id in records:
        ids_by_type[record_type].append(str(record_id))
    if not ids_by_type:
        return []
    which = or_(
        *(
            and_(AuditEntry.record_type == record_type, AuditEntry.record_id.in_(ids))
            for record_type, ids in ids_by_type.items()
        )
    )
    stmt = select(AuditEntry).where(which).order_by(AuditEntry.id.desc()).limit(limit)
    return list(db.session.scalars(stmt))
