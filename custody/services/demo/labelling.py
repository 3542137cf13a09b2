"""Labels as a lab would have printed them: template versions approved by QA before the first
print, each lot's bags labelled in quarantine, relabelled after release (the quarantine labels
voided as superseded), labels applied, a smudged label reprinted, and tie-tags for bags already
allocated. Rendered by the same services and templates as any print, so their bytes decode."""

from __future__ import annotations

from sqlalchemy import select

from custody.extensions import db
from custody.models import Allocation, LabelStatus, Lot, User
from custody.services.demo.scenario import DAY, SPECIFICATION_APPROVED, STORIES, Unit
from custody.services.labelling import contents
from custody.services.labelling.prints import issue_or_reuse, replace_with_reprint
from custody.services.labelling.templates import approvals, library, record_approval

# The lots of each unit that carry labels, by story (see scenario.STORIES).
LABELLED = ("corrected", "pending", "awaiting_review")
REPRINT_REASON = "Label smudged by condensation on removal from the LN2 freezer; unreadable."


# A new wording awaiting QA's signature, as a site has one from time to time: until QA approves
# it, the version before it goes on printing.
AWAITING_APPROVAL = {("final_product", 2)}


def approve_templates(users: dict[str, User]) -> None:
    """Every shipped template version not yet approved, approved by QA (qa2), but for the ones
    left awaiting approval."""
    approved = {(a.purpose, a.version) for a in approvals()} | AWAITING_APPROVAL
    for key, template in sorted(library().templates.items()):
        if key not in approved:
            record_approval(users["qa2"], template, SPECIFICATION_APPROVED)


def label_lots(unit: Unit, lots: list[Lot]) -> None:
    tech, qa = unit.users["tech"], unit.users["qa"]
    by_story = dict(zip(STORIES, lots, strict=False))
    for story in LABELLED:
        lot = by_story[story]
        bags = [b for b in lot.bags if b.status not in contents.NO_LABEL]
        release = contents.LotRelease.of(lot)
        quarantine = contents.LotRelease("quarantine_product", "", release.determination)
        labels = _print(tech, bags, quarantine, lot.manufactured_at)
        if story != "awaiting_review":
            released = unit.decided[lot.lot_number]
            superseded, labels = labels, _print(tech, bags, release, released)
            for old in superseded:
                old.voided_at = released
        if labels and story == "corrected":
            at = labels[0].printed_at + DAY
            _applied(replace_with_reprint(qa, labels[0], REPRINT_REASON), tech, at)
            labels[0].voided_at = at
        _tie_tags(tech, [b.id for b in bags])


def _print(tech: User, bags: list, release: contents.LotRelease, at) -> list:
    return [
        _applied(issue_or_reuse(tech, contents.bag_label(bag, release)), tech, at) for bag in bags
    ]


def _tie_tags(tech: User, bag_ids: list[int]) -> None:
    allocations = db.session.scalars(
        select(Allocation).where(Allocation.bag_id.in_(bag_ids), Allocation.active.is_(True))
    ).all()
    for allocation in allocations:
        _applied(issue_or_reuse(tech, contents.tie_tag(allocation)), tech, allocation.allocated_at)


def _applied(label, by: User, at):
    """Printed and applied at `at` (demo times come from the scenario's epochs, not the clock)."""
    label.printed_at = at
    label.status = LabelStatus.APPLIED
    label.applied_by_id = by.id
    label.applied_at = at
    return label
