"""Release testing and QA disposition as rules: judging a result, and what a signature may do.

21 CFR 11.10(f) wants the order enforced by the system: no release with a required result
missing or out of specification (unless QA records an exceptional release at a physician's
request), and conditional release only with the results the specification lets be pending.
The rules live here, apart from the database, so that they read as the SOP does.

Pure Python: no Flask, no database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from custody.domain.errors import IllegalTransition, ValidationFailed

NUMERIC = "numeric"
QUALITATIVE = "qualitative"
KINDS = (NUMERIC, QUALITATIVE)

PASS = "pass"
FAIL = "fail"
PENDING = "pending"
AT_ALLOCATION = "at allocation"


@dataclass(frozen=True)
class Criterion:
    """One release test's acceptance criterion, as its specification states it."""

    test: str
    title: str
    kind: str = NUMERIC
    unit: str = ""
    lower: float | None = None
    upper: float | None = None
    lower_inclusive: bool = True
    upper_inclusive: bool = False
    expected_text: str | None = None
    may_be_pending: bool = False
    judged_at_allocation: bool = False


@dataclass(frozen=True)
class Reading:
    """A current result of one test, as entered."""

    test: str
    value_numeric: float | None
    value_text: str | None
    within_spec: bool | None


def check_criterion(c: Criterion) -> None:
    """A criterion that can actually be judged: say what is missing before QA approves it."""
    if c.kind not in KINDS:
        raise ValidationFailed(f"Test {c.test}: kind is 'numeric' or 'qualitative'.", test=c.test)
    if c.kind == NUMERIC:
        if c.lower is None and c.upper is None:
            raise ValidationFailed(
                f"Test {c.test} is numeric: give a lower limit, an upper limit or both.",
                test=c.test,
            )
        if c.lower is not None and c.upper is not None and c.lower > c.upper:
            raise ValidationFailed(
                f"Test {c.test}: the lower limit is above the upper limit.", test=c.test
            )
    elif not (c.expected_text or "").strip():
        raise ValidationFailed(
            f"Test {c.test} is qualitative: give the expected result (e.g. 'negative').",
            test=c.test,
        )


def judge(c: Criterion, value_numeric: float | None, value_text: str | None) -> bool:
    """True when the value meets the criterion. The value must be of the criterion's kind."""
    if c.kind == QUALITATIVE:
        if not (value_text or "").strip():
            raise ValidationFailed(
                f"{c.title} is qualitative: enter the result in words (e.g. '{c.expected_text}').",
                test=c.test,
            )
        return value_text.strip().casefold() == (c.expected_text or "").strip().casefold()
    if value_numeric is None:
        raise ValidationFailed(
            f"{c.title} is numeric: enter the value in {c.unit or 'its unit'}.", test=c.test
        )
    return _above_lower(c, value_numeric) and _below_upper(c, value_numeric)


def _above_lower(c: Criterion, value: float) -> bool:
    if c.lower is None:
        return True
    return value >= c.lower if c.lower_inclusive else value > c.lower


def _below_upper(c: Criterion, value: float) -> bool:
    if c.upper is None:
        return True
    return value <= c.upper if c.upper_inclusive else value < c.upper


def criterion_words(c: Criterion) -> str:
    """The criterion as a certificate prints it: '≥ 70 %', '< 5 EU/mL', 'Negative'."""
    if c.kind == QUALITATIVE:
        return (c.expected_text or "").strip().capitalize()
    unit = f" {c.unit}" if c.unit else ""
    lower = (
        f"{'≥' if c.lower_inclusive else '>'} {number_words(c.lower)}"
        if c.lower is not None
        else ""
    )
    upper = (
        f"{'≤' if c.upper_inclusive else '<'} {number_words(c.upper)}"
        if c.upper is not None
        else ""
    )
    words = f"{lower} and {upper}" if lower and upper else lower or upper
    if c.judged_at_allocation:
        return f"{words}{unit} (checked per recipient at allocation)"
    return f"{words}{unit}"


def number_words(value: float | None) -> str:
    """A number as people write it on a certificate: 70, 0.5, 2.4 × 10^9.

    Never rounded: a count just under a limit must not print as the limit beside its FAIL,
    so the mantissa keeps as many digits as the value needs to read back exactly.
    """
    if value is None:
        return ""
    if value and (abs(value) >= 1e5 or abs(value) < 1e-3):
        text = next(t for digits in range(1, 17) if float(t := f"{value:.{digits}e}") == value)
        mantissa, exponent = text.split("e")
        return f"{mantissa.rstrip('0').rstrip('.')} × 10^{int(exponent)}"
    text = repr(float(value))
    return text.removesuffix(".0")


def verdict(c: Criterion, reading: Reading | None) -> str:
    if reading is None:
        return PENDING
    if c.judged_at_allocation:
        return AT_ALLOCATION
    return PASS if reading.within_spec else FAIL


# --- disposition -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DispositionAction:
    disposition: str
    meaning: str
    reason_required: bool
    # What it needs the lot to be in now.
    from_dispositions: frozenset[str]


QUARANTINE = "quarantine"
RELEASED = "released"
CONDITIONALLY_RELEASED = "conditionally_released"
REJECTED = "rejected"

ACTIONS: dict[str, DispositionAction] = {
    "release": DispositionAction(
        RELEASED, "Approved for release", False, frozenset({QUARANTINE, CONDITIONALLY_RELEASED})
    ),
    "conditional_release": DispositionAction(
        CONDITIONALLY_RELEASED, "Approved for conditional release", True, frozenset({QUARANTINE})
    ),
    "reject": DispositionAction(
        REJECTED, "Rejected", True, frozenset({QUARANTINE, CONDITIONALLY_RELEASED, RELEASED})
    ),
    "quarantine": DispositionAction(
        QUARANTINE,
        "Returned to quarantine for re-review",
        True,
        frozenset({CONDITIONALLY_RELEASED, RELEASED}),
    ),
}
RELEASING = frozenset({"release", "conditional_release"})


def disposition_action(action: str, current: str, lot_number: str) -> DispositionAction:
    """The action's rule, or why it cannot be taken from the lot's current disposition."""
    rule = ACTIONS.get(action)
    if rule is None:
        raise ValidationFailed(
            f"'{action}' is not a disposition; choose one of {', '.join(ACTIONS)}.",
            field="action",
        )
    if current not in rule.from_dispositions:
        allowed = [name for name, r in ACTIONS.items() if current in r.from_dispositions]
        raise IllegalTransition(
            f"Lot {lot_number} is {current.replace('_', ' ')}: it cannot be given "
            f"'{rule.meaning}'. Allowed now: {', '.join(allowed) or 'nothing'}.",
            lot=lot_number,
            current_state=current,
            allowed_actions=allowed,
        )
    return rule


def result_problems(
    criteria: Sequence[Criterion],
    readings: Mapping[str, Reading],
    pending: Iterable[str] = (),
) -> list[str]:
    """Why the results do not allow release, in words; empty when they do.

    `pending` names the tests QA releases conditionally without; each must be one the
    specification lets be pending, and every other required result must be in and in spec.
    """
    pending = set(pending)
    by_test = {c.test: c for c in criteria}
    problems = [
        f"{t} is not a test of this lot's specification" for t in sorted(pending - set(by_test))
    ]
    for c in criteria:
        reading = readings.get(c.test)
        if c.test in pending:
            if not c.may_be_pending:
                problems.append(f"{c.title} may not be pending at release")
            elif reading is not None:
                problems.append(f"{c.title} has its result already; it is not pending")
        elif reading is None:
            problems.append(f"{c.title} has no result")
        elif not c.judged_at_allocation and not reading.within_spec:
            problems.append(f"{c.title} is out of specification")
    return problems


def canonical_json(content: Mapping) -> str:
    """The exact text a signature's hash covers: sorted keys, no spaces, UTF-8."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(content: Mapping) -> str:
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()
