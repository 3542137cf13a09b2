"""A label's wording changes only through a new template version that QA approves.

Final product v2 names its two expiry lines (the site's local time under the barcode, the same
expiry in UTC beside it); v1, approved and printed before, must render as it always did, and
goes on printing until QA signs v2. Cell counts are raised powers of ten in the PDF and "10^8"
in ZPL, whose printer font has no superscript digits.
"""

from __future__ import annotations

import hashlib

import pytest

from custody.config import SHIPPED_LABEL_TEMPLATES
from custody.labels.library import load_library
from custody.labels.pdf import render_pdf
from custody.labels.zpl import render_zpl
from custody.services.labelling.templates import approve_template, library, printable_template
from tests.factories import PASSWORD
from tests.labels.label_reading import decode, normalise, page_texts, rasterise
from tests.labels.test_zpl import VALUES

LIBRARY = load_library(SHIPPED_LABEL_TEMPLATES)
# The file QA approved as final_product v1. Approved files are never edited: a changed
# wording is a new version (this hash changing means an approved label changed in place).
FINAL_V1_SHA256 = "07c54427d08bcd7c9d56ee08eeb0ee86ada36dcdaaff32bd6d95fcc42266fdd4"
LABEL = VALUES | {"cell_dose": "1.20 × 10⁸", "total_cells": "1.50 × 10⁸"}


def words(version: int) -> str:
    template = LIBRARY.get("final_product", version)
    (text,) = page_texts(render_pdf([(template, LABEL)], template.title))
    return normalise(text)


def test_the_approved_version_1_file_is_unchanged_and_renders_its_old_expiry_words():
    template = LIBRARY.get("final_product", 1)
    assert template.sha256 == FINAL_V1_SHA256
    assert hashlib.sha256((SHIPPED_LABEL_TEMPLATES / template.file).read_bytes()).hexdigest() == (
        FINAL_V1_SHA256
    )
    text = words(1)
    assert "EXP 2026-09-22 23:59 CDT" in text
    assert "Expires 2026-09-23 04:59 UTC" in text
    assert "(site)" not in text and "Same expiry in UTC" not in text


def test_version_2_says_which_expiry_line_is_which():
    text = words(2)
    assert "EXP 2026-09-22 23:59 CDT (site)" in text
    assert "Same expiry in UTC: 2026-09-23 04:59 UTC" in text
    assert "Expires" not in text


@pytest.mark.parametrize("version", [1, 2])
def test_the_cell_dose_reads_back_with_a_raised_power_of_ten(version):
    text = words(version)
    assert "Cell dose 1.20 × 10⁸ viable CAR+ NK cells" in text
    assert "10^" not in text and "× 108" not in text


def test_version_2_keeps_every_barcode_of_version_1_readable():
    reads = []
    for version in (1, 2):
        template = LIBRARY.get("final_product", version)
        (image,) = rasterise(render_pdf([(template, LABEL)], template.title), dpi=300)
        reads.append(decode(image))
    assert reads[0] == reads[1]
    assert {text for _, text in reads[1]} >= {"=W99992600001270", "=<D0001VA0", "&>0263252359"}


def test_zpl_prints_the_power_of_ten_in_a_form_the_printer_font_has():
    zpl = render_zpl([(LIBRARY.get("final_product", 2), LABEL)], dpmm=12)
    assert "Cell dose 1.20 _C3_97 10_5E8 viable CAR+ NK cells" in zpl  # "× 10^8", hex-escaped
    assert "_E2_81_B8" not in zpl  # no "⁸" (U+2078) goes to the printer


def test_version_1_prints_until_qa_signs_version_2(app, make):
    qa = make.user("qa")
    approve_template(qa, "final_product", 1, qa.username, PASSWORD)
    assert printable_template("final_product").version == 1
    assert ("final_product", 2) in library().templates  # shipped, awaiting QA
    approve_template(qa, "final_product", 2, qa.username, PASSWORD)
    assert printable_template("final_product").version == 2
