"""QA's review of a label template version before signing it: the label it prints, what it
changes, and whether an approval would be accepted now.

The preview is the version's real print (the PDF labels are issued as, rasterised) with
specimen values; the difference is the file's, line by line, against the version it replaces:
the newest older version QA approved (what prints today), else the one numbered before it.
"""

from __future__ import annotations

import difflib
import functools

from custody.domain.errors import LabelCannotPrint
from custody.labels.library import TemplateLibrary
from custody.labels.pdf import render_pdf
from custody.labels.raster import first_page_png
from custody.labels.templates import LabelTemplate
from custody.services.labelling.specimen import specimen_values
from custody.services.labelling.templates import (
    approval_refusal,
    approvals,
    library,
    template_list,
)

CONTEXT_LINES = 3  # unchanged lines shown around each change


def template_review(purpose: str, version: int) -> dict:
    """One version as QA reviews it: its state and approval, the version it replaces, the
    difference from it, why no preview can be drawn (if so) and why approval would be refused."""
    lib = library()
    template = lib.get(purpose, version)  # NotFound, with its problems, for an unusable file
    replaced = replaced_template(lib, template)
    text = file_text(lib, template)
    (row,) = [
        r for r in template_list() if (r.get("purpose"), r.get("version")) == template_key(template)
    ]
    return {
        **row,
        "replaces": replaced.version if replaced else None,
        "replaces_file": replaced.file if replaced else None,
        "diff": diff_rows(file_text(lib, replaced), text) if replaced else [],
        "text": text,
        "preview_problem": preview_problem(template),
        "approval_refusal": approval_refusal(purpose, version),
    }


def template_key(template: LabelTemplate) -> tuple[str, int]:
    return template.name, template.version


def replaced_template(lib: TemplateLibrary, template: LabelTemplate) -> LabelTemplate | None:
    """The version this one replaces: the newest older one QA approved, else the one before."""
    older = [t for t in lib.versions(template.name) if t.version < template.version]
    approved = {a.version for a in approvals(template.name)}
    in_print = [t for t in older if t.version in approved]
    return (in_print or older or [None])[0]


def file_text(lib: TemplateLibrary, template: LabelTemplate) -> str:
    return (lib.folder / template.file).read_text(encoding="utf-8")


def diff_rows(old: str, new: str) -> list[dict]:
    """The change from `old` to `new` as rows to read: each line with its number in the old
    and the new file, marked same, removed or added; a gap row between distant changes."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[dict] = []
    for group in difflib.SequenceMatcher(None, a, b).get_grouped_opcodes(CONTEXT_LINES):
        if rows:
            rows.append({"kind": "gap", "old": None, "new": None, "text": "…"})
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows += [_row("same", i + 1, j1 + i - i1 + 1, a[i]) for i in range(i1, i2)]
                continue
            rows += [_row("removed", i + 1, None, a[i]) for i in range(i1, i2)]
            rows += [_row("added", None, j + 1, b[j]) for j in range(j1, j2)]
    return rows


def _row(kind: str, old: int | None, new: int | None, text: str) -> dict:
    return {"kind": kind, "old": old, "new": new, "text": text}


def preview_png(purpose: str, version: int) -> bytes:
    """The version's label with specimen values, as printed, as a PNG; LabelCannotPrint says
    why a label of this version would not print at all."""
    template = library().get(purpose, version)
    return _preview(template.name, template.version, template.sha256)


def preview_problem(template: LabelTemplate) -> str | None:
    try:
        _preview(template.name, template.version, template.sha256)
    except LabelCannotPrint as refused:
        return refused.message
    return None


@functools.lru_cache(maxsize=32)
def _preview(purpose: str, version: int, sha256: str) -> bytes:
    """Rendered once per file content: the hash is in the key, so an edited file renders anew."""
    template = library().get(purpose, version)
    pdf = render_pdf([(template, specimen_values(purpose))], f"Specimen: {template.key}")
    return first_page_png(pdf)
