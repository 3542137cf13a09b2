"""Labels as a lab would have printed them: template versions approved by QA before the first
print, each lot's bags labelled in quarantine, relabelled after release (the quarantine labels
voided as superseded), labels applied, a smudged label reprinted, and tie-tags for bags already
allocated.

What each label says comes from the label service's own contents (`labelling.contents`), the
template it prints with from `printable_template`, and its bytes from the same renderers an
issue uses, so their bytes decode. Like the demo's other rows, each label is built in its final
state (printed, applied, perhaps voided, at the demo's times) and written in bulk, so the audit
trail records it once; the label service would write it, then update it at each step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from custody.extensions import db
from custody.labels.templates import LabelTemplate
from custody.models import Allocation, LabelPrint, LabelStatus, Lot, User
from custody.services.demo.scenario import DAY, SPECIFICATION_APPROVED, STORIES, Unit
from custody.services.labelling import contents
from custody.services.labelling.prints import label_row, mark_voided, render_label
from custody.services.labelling.templates import (
    approvals,
    library,
    printable_template,
    record_approval,
)

# The lots of each unit that carry labels, by story (see scenario.STORIES).
LABELLED = ("corrected", "pending", "awaiting_review")
REPRINT_REASON = "Label smudged by condensation on removal from the LN2 freezer; unreadable."
# What the label service records when it voids a label, in its words.
SUPERSEDED = "superseded by the final product label"
REPLACED = "replaced by a reprint: {reason}"


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


@dataclass
class Templates:
    """The template each purpose prints with, asked once for the whole load: its approvals and
    template files do not change while the demo loads, and reading the files is not free."""

    found: dict[str, LabelTemplate] = field(default_factory=dict)

    def __call__(self, purpose: str) -> LabelTemplate:
        if purpose not in self.found:
            self.found[purpose] = printable_template(purpose)
        return self.found[purpose]


def label_lots(unit: Unit, lots: list[Lot], templates: Templates) -> None:
    # Reading the records a label prints must not write labels half-built (one superseded
    # but not yet voided): each is written once, in its final state, by the flushes below.
    with db.session.no_autoflush:
        _label_lots(unit, lots, templates)
    db.session.flush()


def _label_lots(unit: Unit, lots: list[Lot], templates: Templates) -> None:
    tech, qa = unit.users["tech"], unit.users["qa"]
    by_story = dict(zip(STORIES, lots, strict=False))
    for story in LABELLED:
        lot = by_story[story]
        bags = [b for b in lot.bags if b.status not in contents.NO_LABEL]
        release = contents.LotRelease.of(lot)
        quarantine = contents.LotRelease("quarantine_product", "", release.determination)
        labels = _print(templates, tech, bags, quarantine, lot.manufactured_at)
        if story != "awaiting_review":
            released = unit.decided[lot.lot_number]
            superseded, labels = labels, _print(templates, tech, bags, release, released)
            for old in superseded:
                mark_voided(old, tech, released, SUPERSEDED)
        if labels and story == "corrected":
            _reprint(templates, labels[0], qa, tech, labels[0].printed_at + DAY)
        _tie_tags(templates, tech, [b.id for b in bags])


def _print(templates: Templates, tech: User, bags: list, release, at: datetime) -> list[LabelPrint]:
    return [_issue(templates, contents.bag_label(bag, release), tech, at) for bag in bags]


def _tie_tags(templates: Templates, tech: User, bag_ids: list[int]) -> None:
    allocations = db.session.scalars(
        select(Allocation)
        .where(Allocation.bag_id.in_(bag_ids), Allocation.active.is_(True))
        .order_by(Allocation.bag_id, Allocation.id)
    ).all()
    for allocation in allocations:
        _issue(templates, contents.tie_tag(allocation), tech, allocation.allocated_at)


def _issue(
    templates: Templates,
    content: contents.LabelContent,
    by: User,
    at: datetime,
    *,
    applied_by: User | None = None,
    action: str = "print",
    reason: str = "",
    replaces: LabelPrint | None = None,
) -> LabelPrint:
    """A label printed by `by` and applied at `at` (by `applied_by`, else by `by`): the row an
    issue writes, then its application (demo times come from the scenario, not the clock)."""
    template = templates(content.purpose)
    if replaces is None:
        pdf, zpl = render_label(template, content)
    else:
        # A reprint says the very words of the label it replaces, with the same template:
        # the renderers, being deterministic, would draw the same bytes again.
        pdf, zpl = replaces.pdf, replaces.zpl
    label = label_row(template, content, pdf, zpl, by, at, action, reason, replaces)
    label.status = LabelStatus.APPLIED
    label.applied_by_id, label.applied_at = (applied_by or by).id, at
    db.session.add(label)
    return label


def _reprint(templates: Templates, old: LabelPrint, qa: User, tech: User, at: datetime) -> None:
    """QA reprints a smudged label with the same words; the technician applies the new one.

    The old label is written voided, then the reprint, which names it by id."""
    content = contents.LabelContent(
        old.purpose, old.subject_key, old.values, old.bag_id, old.lot_id
    )
    mark_voided(old, qa, at, REPLACED.format(reason=REPRINT_REASON))
    db.session.flush()
    _issue(
        templates,
        content,
        qa,
        at,
        applied_by=tech,
        action="reprint",
        reason=REPRINT_REASON,
        replaces=old,
    )
