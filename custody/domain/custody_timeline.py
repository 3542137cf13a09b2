"""A bag's vein-to-vein timeline as a read model: its steps, their flags, the chain of identity.

The traceability services build it from the records; the bag page draws it and the custody
report prints it. It lives here, below both, so that neither has to import the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from custody.domain import isbt128

# How many of a bag's custody events one read returns (the newest; a cursor names the rest),
# and the most one page of its history may ask for: a read costs the same at ten events or
# ten thousand.
HISTORY_PAGE = 50
HISTORY_PAGE_MAX = 500

ALERT, WARNING = "alert", "warning"
# A flag's name as pages and the report print it before its words: never colour alone.
FLAG_LABELS = {
    "gap": "GAP IN CUSTODY",
    "excursion": "TEMPERATURE EXCURSION",
    "logger_gap": "LOGGER GAP",
    "no_logger": "NO TEMPERATURE LOG",
    "deviation": "DEVIATION",
    "signature": "SIGNATURE NO LONGER HOLDS",
    "conditional_release": "CONDITIONAL RELEASE",
    "verification": "VERIFICATION STOPPED",
}


@dataclass(frozen=True)
class Flag:
    """Something a reviewer must look at, in words; `label` names it before the words."""

    kind: str
    severity: str  # ALERT (red) or WARNING (amber)
    words: str
    start: datetime | None = None
    end: datetime | None = None

    @property
    def label(self) -> str:
        return FLAG_LABELS[self.kind]


@dataclass
class Step:
    """One step of the bag's story. `custody` steps say where the bag was and who held it;
    the others (collection, manufacturing, QA, allocation) are the record around it."""

    kind: str
    action: str
    title: str
    at: datetime
    place: str | None = None
    person: str | None = None
    temperature_c: float | None = None
    details: list[tuple[str, str]] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    zone: str | None = None  # IANA zone of the local time shown, when not the site's
    bag: str | None = None  # the parent bag's code, for its steps before the division
    shipment: str | None = None
    custody: bool = False
    event: dict[str, Any] | None = None  # a custody event's transition, scan, station ...
    since_previous: timedelta | None = None

    @property
    def since_words(self) -> str | None:
        """The time since the step before, in words ("2 h 05 min")."""
        if self.since_previous is None:
            return None
        return duration_words(self.since_previous.total_seconds())


@dataclass(frozen=True)
class IdentityLink:
    """One link of the chain of identity: donor, donation, lot, parent bag, bag, recipient."""

    role: str
    label: str
    value: str
    note: str = ""
    din: str | None = None  # the 13-character DIN where the link carries one (printed with K)


@dataclass
class Timeline:
    """A bag's whole story as of one moment, in the site's zone."""

    bag: str
    din: str
    check_character: str
    product_code: str
    division: str
    status: str
    lot: str
    disposition: str
    recipient: str | None
    parent: str | None
    identity: list[IdentityLink]
    steps: list[Step]
    release: dict[str, Any] | None  # QA's latest signed decision, with whether it still holds
    gap_limit: timedelta
    zone: str  # the site's IANA zone, in which local times are shown
    as_of: datetime

    @property
    def flags(self) -> list[tuple[Step, Flag]]:
        """Every flag with the step it belongs to, in the order of the steps."""
        return [(step, flag) for step in self.steps for flag in step.flags]

    @property
    def has_custody(self) -> bool:
        """Whether any record says where the bag itself was (a new bag has none yet)."""
        return any(step.custody for step in self.steps)


def duration_words(seconds: float | None) -> str | None:
    """A duration as people read it at a glance: "2 d 3 h 00 min", "1 h 05 min", "7 min 05 s"."""
    if seconds is None:
        return None
    total = round(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h {minutes:02d} min"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def din_words(din: str) -> str:
    """The DIN eye-readable with its keyboard check character K: "W9999 26 000001 [A]"."""
    return f"{isbt128.eye_readable_din(din)} [{isbt128.check_character(din)}]"
