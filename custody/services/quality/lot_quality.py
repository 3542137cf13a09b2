"""What a lot's quality record holds now: its criteria and its current results.

Shared by the services that enter results and the one that signs the disposition, so that
both read the record the same way; what a signature covers is `release_signature`'s.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from custody.domain.errors import IllegalTransition
from custody.domain.release_rules import Criterion, Reading
from custody.extensions import db
from custody.models import Lot, QcResult
from custody.services.bags.release_status import current_results as current_results
from custody.services.quality.specifications import criterion_of, current_specification


def criteria_of(lot: Lot) -> list[Criterion]:
    """The lot's release tests, from the specification it was made under."""
    if lot.specification is None:
        return []
    return [criterion_of(item) for item in lot.specification.items]


def attach_specification(lot: Lot) -> None:
    """A lot made before QA approved any specification takes the one approved now."""
    if lot.specification is not None:
        return
    lot.specification = current_specification(lot.product_description_code)
    if lot.specification is None:
        raise IllegalTransition(
            f"No approved specification exists for product {lot.product_description_code}: "
            "QA must approve one before results can be judged.",
            lot=lot.lot_number,
        )


def all_results(lot: Lot) -> list[QcResult]:
    return list(
        db.session.scalars(select(QcResult).where(QcResult.lot_id == lot.id).order_by(QcResult.id))
    )


def readings_of(results: Iterable[QcResult]) -> dict[str, Reading]:
    return {r.test: Reading(r.test, r.value_numeric, r.value_text, r.within_spec) for r in results}
