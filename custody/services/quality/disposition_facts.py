"""The facts a disposition's blockers are judged from, and the words they are given in.

`release_blockers` lists the blockers; `result_blockers` those about results; both build on
what is here. A request is what QA fills in the signing dialog.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from custody.config import settings
from custody.domain.errors import DomainError, IllegalTransition
from custody.domain.release_rules import Criterion, Reading
from custody.models import Lot, QcResult
from custody.services.bags.queries import lot_determinations
from custody.services.bags.recall_status import active_recall_codes
from custody.services.quality.lot_quality import criteria_of, current_results, readings_of

# Donor determinations whose product is released only with its statements acknowledged.
NEEDS_STATEMENTS = frozenset({"incomplete", "ineligible"})


@dataclass(frozen=True)
class DispositionRequest:
    """What QA fills in the signing dialog (or sends to the API), credentials included."""

    action: str
    username: str
    password: str
    reason: str = ""
    pending_tests: Sequence[str] = ()
    exceptional: bool = False
    physician: str = ""
    physician_request: str = ""
    justification: str = ""
    statements_acknowledged: bool = False


@dataclass(frozen=True)
class Blocker:
    """One thing that stops a signature: a machine code, a sentence, who can clear it."""

    code: str
    message: str
    clears: str
    in_dialog: bool = False
    error: type[DomainError] = IllegalTransition
    # The error's message when the server refuses on this blocker (default: `message`).
    refusal: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "clears": self.clears,
            "in_dialog": self.in_dialog,
        }


@dataclass(frozen=True)
class LotFacts:
    """What every blocker is judged from, read once per page or signature."""

    lot: Lot
    results: list[QcResult]
    criteria: list[Criterion]
    readings: dict[str, Reading]
    determination: str
    recall: str
    segregation: bool


def lot_facts(
    lot: Lot, results: list[QcResult] | None = None, segregation: bool | None = None
) -> LotFacts:
    results = current_results(lot) if results is None else results
    return LotFacts(
        lot=lot,
        results=results,
        criteria=criteria_of(lot),
        readings=readings_of(results),
        determination=lot_determinations({lot.id})[lot.id],
        recall=active_recall_codes(lot.id),
        segregation=settings().release_segregation if segregation is None else segregation,
    )
