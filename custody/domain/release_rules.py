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
from custody.domain.formatting import exact_number as number_words  # the one way, everywhere

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
    # A qualitative test's every possible result, as the specification defines them (the
    # expected one among them): results are picked from these, never typed as free text.
    allowed_values: tuple[str, ...] = ()


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
        if c.allowed_values:
            raise ValidationFailed(
                f"Test {c.test} is numeric: values to choose from are for qualitative tests.",
                test=c.test,
            )
    elif not (c.expected_text or "").strip():
        raise ValidationFailed(
            f"Test {c.test} is qualitative: give the expected result (e.g. 'negative').",
            test=c.test,
        )
    else:
        _check_allowed_values(c)


MIN_ALLOWED_VALUES = 2
MAX_VALUE_LENGTH = 64


def _check_allowed_values(c: Criterion) -> None:
    """Every result a qualitative test can have, the expected one among them: with only the
    passing value on offer, a failing result could not be recorded at all."""
    values = [v.strip() for v in c.allowed_values]
    if len(values) < MIN_ALLOWED_VALUES or not all(values):
        raise ValidationFailed(
            f"Test {c.test} is qualitative: list every result it can have, at least two "
            "(e.g. negative, positive, indeterminate).",
            test=c.test,
        )
    if any(len(v) > MAX_VALUE_LENGTH for v in values):
        raise ValidationFailed(
            f"Test {c.test}: a result value has at most {MAX_VALUE_LENGTH} characters.",
            test=c.test,
        )
    folded = [v.casefold() for v in values]
    twice = sorted({f for f in folded if folded.count(f) > 1})
    if twice:
        raise ValidationFailed(
            f"Test {c.test}: the value {', '.join(twice)} is listed twice (case aside).",
            test=c.test,
        )
    if (c.expected_text or "").strip().casefold() not in folded:
        raise ValidationFailed(
            f"Test {c.test}: the expected result '{(c.expected_text or '').strip()}' must be "
            f"one of its values ({', '.join(values)}).",
            test=c.test,
        )


def defined_value(c: Criterion, text: str | None) -> str:
    """The specification's own spelling of a qualitative result, or why it is none of them.

    Only the case and the surrounding spaces may differ ("Negative " is "negative"); any
    other spelling ("negativ") is refused rather than judged, because a typo judged as a
    result would read as out of specification and start an investigation.
    """
    words = (text or "").strip()
    for value in c.allowed_values:
        if value.casefold() == words.casefold():
            return value
    choices = ", ".join(f"'{v}'" for v in c.allowed_values)
    said = f"'{words}' is not a result of {c.title}" if words else f"{c.title} is qualitative"
    raise ValidationFailed(
        f"{said}: choose one of {choices}, as its specification defines them.",
        test=c.test,
        field="value_text",
        allowed_values=list(c.allowed_values),
    )


def judge(c: Criterion, value_numeric: float | None, value_text: str | None) -> bool:
    """True when the value meets the criterion. The value must be of the criterion's kind."""
    if c.kind == QUALITATIVE and c.allowed_values:
        expected = (c.expected_text or "").strip().casefold()
        return defined_value(c, value_text).casefold() == expected
    if c.kind == QUALITATIVE:
        # A criterion from before values were defined: the expected words, or not them.
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
        return f"{words}{unit} (judged per recipient at allocation)"
    return f"{words}{unit}"


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
