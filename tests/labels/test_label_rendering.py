"""Every shipped template rendered with realistic values and read back by a real scanner and reader.

What each label must carry comes from the template itself (its barcode elements, captions,
texts and `when` conditions) and from the catalogue's floor, so a new template version is
checked the same way without editing these tests.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from custody.config import SHIPPED_LABEL_TEMPLATES
from custody.domain.errors import LabelCannotPrint
from custody.domain.isbt128 import (
    check_character,
    encode_collection,
    encode_compound,
    encode_din,
    encode_expiry,
    encode_product_code,
    eye_readable_din,
    type3_flags,
)
from custody.labels.catalogue import QUARANTINE_STATEMENT
from custody.labels.library import load_library
from custody.labels.pdf import render_pdf
from custody.labels.symbols import code128_modules
from custody.labels.templates import TemplateInvalid, load_template
from tests.labels.label_reading import (
    dark_height,
    dark_spans,
    decode,
    normalise,
    page_sizes_mm,
    page_texts,
    rasterise,
    text_runs,
)

LIBRARY = load_library(SHIPPED_LABEL_TEMPLATES)
TEMPLATES = sorted(LIBRARY.templates.values(), key=lambda t: t.key)
FORMATS = {"code128": "Code128", "datamatrix": "DataMatrix"}
PRODUCT_CODE = "D0001VA0"
LOCATION = "LOC-F01-B07"
LONGEST_LOCATION = "LOC-" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[:35]


def bag_values(din: str = "W999926000012") -> dict[str, str]:
    din_barcode, product = encode_din(din, type3_flags(din)), encode_product_code(PRODUCT_CODE)
    expiry = encode_expiry(datetime(2026, 9, 22, 23, 59))
    return {
        **identity(din),
        "product_code_barcode": product,
        "expiry_barcode": expiry,
        "compound": encode_compound([din_barcode, product, expiry]),
        "product_code": PRODUCT_CODE,
        "product_name": "CD33 CAR-NK cells",
        "lot_number": "L-2026-0001",
        "volume": "100 mL",
        "cell_dose": "1.20 × 10⁸",
        "total_cells": "1.5 × 10⁸",
        "dose_level": "DL2",
        "expiry": "2026-09-22 23:59 CDT",
        "expiry_utc": "2026-09-23 04:59 UTC",
        "establishment_name": "Demonstration Cell Therapy Facility",
        "establishment_address": "1 Example Way, Springfield, IL 62701, USA",
        "eligibility_warnings": "NOT EVALUATED FOR INFECTIOUS SUBSTANCES\n"
        "WARNING: Advise patient of communicable disease risks",
        "biohazard": "BIOHAZARD",
        "release_statement": "CONDITIONAL RELEASE: sterility (14-day) pending; the physician "
        "is told at once if it fails.",
    }


def identity(din: str) -> dict[str, str]:
    flags = type3_flags(din)
    return {
        "din": din,
        "din_barcode": encode_din(din, flags),
        "din_eye": eye_readable_din(din),
        "din_flags": flags,
    }


def collection_values() -> dict[str, str]:
    bag = bag_values()
    collected = encode_collection(datetime(2026, 3, 2, 9, 30))
    return {
        **{k: bag[k] for k in ("din", "din_barcode", "din_eye", "din_flags", "product_name")},
        **{k: bag[k] for k in ("eligibility_warnings", "biohazard", "establishment_name")},
        "collection_barcode": collected,
        "compound": encode_compound([bag["din_barcode"], collected]),
        "collected": "2026-03-02 09:30 CST",
        "collection_facility": "Springfield Apheresis Center",
        "volume": "250 mL",
        "donor_code": "DNR-0042",
        "eligibility": "incomplete (urgent medical need)",
    }


def tie_tag_values() -> dict[str, str]:
    bag = bag_values()
    shared = ("din", "din_barcode", "din_eye", "product_code_barcode", "product_code", "compound")
    return {
        **{k: bag[k] for k in (*shared, "product_name", "lot_number", "dose_level", "expiry")},
        "recipient_name": "Jane Q. Example",
        "subject_id": "CAR-NK-101-007",
        "birth_date": "1961-04-18",
        "hospital_record_number": "MRN-5566771",
        "site": "Springfield General Hospital",
        "infusion_number": "1",
        "volume_to_infuse": "Infuse the whole bag (100 mL)",
        "allocated": "2026-03-10 14:05 CDT",
    }


def shipper_values() -> dict[str, str]:
    bag = bag_values()
    return {
        "shipment_barcode": "SHP-20260310-0001",
        "shipment_code": "SHP-20260310-0001",
        "destination_site": "Springfield General Hospital, Cell Therapy Unit",
        "courier": "Cryo Couriers Inc.",
        "shipper_id": "DS-07",
        "bag_count": "2 bags",
        "contents": "W9999 26 000012 D0001VA0\nW9999 26 000013 D0001VA0",
        "storage_limit": "−150 °C",
        "establishment_name": bag["establishment_name"],
        "establishment_address": bag["establishment_address"],
    }


def location_values(code: str = LOCATION) -> dict[str, str]:
    path = "Cell therapy lab › LN2 freezer 1 › Rack 3 › Box 7"
    return {"location_barcode": code, "code": code, "name_and_kind": "Box 7 (box)", "path": path}


VALUES = {
    "final_product": bag_values,
    "quarantine_product": bag_values,
    "collection": collection_values,
    "tie_tag": tie_tag_values,
    "shipper": shipper_values,
    "storage_position": location_values,
}


def printed(element, values) -> bool:
    return not element.when or bool(values.get(element.when))


def expected_barcodes(template, values) -> list[tuple[str, str]]:
    return sorted(
        (FORMATS[e.kind], values[e.data])
        for e in template.elements
        if e.kind in FORMATS and printed(e, values)
    )


def expected_words(element, values) -> str:
    """What a person reads for one element, whitespace-normalised ("" for none)."""
    if element.kind == "din":
        din = values["din"]  # flags only where the purpose has them (not on a tie-tag)
        return normalise(
            f"{eye_readable_din(din)} {values.get('din_flags', '')} {check_character(din)}"
        )
    words = element.text if element.kind == "text" else element.caption
    return normalise(words.format_map(values))


def read_back(template, values) -> tuple[list[tuple[str, str]], str]:
    """(decoded symbols, normalised words) of a one-label PDF."""
    pdf = render_pdf([(template, values)], template.title)
    (image,) = rasterise(pdf)
    (words,) = page_texts(pdf)
    return decode(image), normalise(words)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.key)
def test_every_barcode_decodes_and_every_word_is_printed(template):
    values = VALUES[template.name]()
    assert set(values) == set(template.purpose.fields), "the test gives every field a value"
    decoded, words = read_back(template, values)
    assert decoded == expected_barcodes(template, values)
    for element in template.elements:
        if expected_words(element, values):
            assert expected_words(element, values) in words
    for statement in template.purpose.required_statements:
        assert statement in words


CONDITIONS = sorted(
    {(t.key, e.when): t for t in TEMPLATES for e in t.elements if e.when}.items(),
    key=lambda item: item[0],
)


@pytest.mark.parametrize(
    ("template", "field"),
    [(t, f) for (_, f), t in CONDITIONS],
    ids=[f"{k}-{f}" for (k, f), _ in CONDITIONS],
)
@pytest.mark.parametrize("present", [True, False], ids=["present", "empty"])
def test_a_conditional_element_prints_only_when_its_field_has_a_value(template, field, present):
    full = VALUES[template.name]()
    values = full if present else {**full, field: ""}
    decoded, words = read_back(template, values)
    assert decoded == expected_barcodes(template, values)
    for element in (e for e in template.elements if e.when == field):
        shown = expected_words(element, full)
        assert (shown in words) is present, shown
        if element.kind in FORMATS:
            assert ((FORMATS[element.kind], full[element.data]) in decoded) is present


@functools.cache
def raster_600(name: str, longest_code: bool = False):
    """The label at 600 dpi, its values, and how far a grown label moved its elements right."""
    template = LIBRARY.get(name, 1)
    values = location_values(LONGEST_LOCATION) if longest_code else VALUES[name]()
    pdf = render_pdf([(template, values)], template.title)
    ((width_mm, _),) = page_sizes_mm(pdf)
    (image,) = rasterise(pdf, 600)
    return image, values, (width_mm - template.width_mm) / 2


BARS = {
    f"{t.key}-{e.data}": (t, n, False)
    for t in TEMPLATES
    for n, e in enumerate(t.elements)
    if e.kind == "code128"
} | {"storage_position v1-grown-for-39-characters": (LIBRARY.get("storage_position", 1), 0, True)}


@pytest.mark.parametrize(("template", "n", "longest_code"), BARS.values(), ids=BARS)
def test_code128_prints_at_x_with_quiet_zones_and_height(template, n, longest_code):
    """ISBT 128 print rules measured on the pixels: X ≥ 0.25 mm, quiet zones ≥ 10X, ≥ 5 mm high."""
    element = template.elements[n]
    image, values, shift_mm = raster_600(template.name, longest_code)
    px_per_mm = 600 / 25.4
    row = round((element.y_mm + element.height_mm / 2) * px_per_mm)
    # A grown label centres its symbol, which may then start left of the element's x.
    left_px = round(element.x_mm * px_per_mm)
    room_px = round((element.width_mm + 2 * shift_mm) * px_per_mm)
    bars = dark_spans(image, row, left_px, left_px + room_px)
    first, last = bars[0][0], bars[-1][1]
    modules = len(code128_modules(values[element.data]))
    x_px = (last - first + 1) / modules
    assert last - first + 1 >= modules * 0.25 * px_per_mm - 1  # X ≥ 0.25 mm within a pixel
    assert min(end - start + 1 for start, end in bars) >= 0.25 * px_per_mm - 1
    row_ink = dark_spans(image, row)
    before = max((end for _, end in row_ink if end < first), default=-1)
    after = min((start for start, _ in row_ink if start > last), default=image.width)
    assert first - before - 1 >= 10 * x_px - 1, "left quiet zone"
    assert after - last - 1 >= 10 * x_px - 1, "right quiet zone"
    height_mm = dark_height(image, first, row) / px_per_mm
    assert height_mm >= max(5.0, element.height_mm - 1 / px_per_mm)


def test_the_quarantine_statement_is_the_largest_type_on_the_page():
    values = bag_values()
    pdf = render_pdf([(LIBRARY.get("quarantine_product", 1), values)], "quarantine")
    (runs,) = text_runs(pdf)
    quarantine = [size for words, size in runs if "QUARANTINE" in words]
    others = [size for words, size in runs if words not in QUARANTINE_STATEMENT]
    assert len(quarantine) == 1 and len(others) > 5
    assert quarantine[0] == max(size for _, size in runs)
    assert quarantine[0] > max(others)


UNGUARDED = [
    pytest.param(t, e.data, id=f"{t.key}-{e.data}")
    for t in TEMPLATES
    for e in t.elements
    if e.kind in FORMATS and not e.when
]


@pytest.mark.parametrize(("template", "field"), UNGUARDED)
def test_a_label_missing_its_barcode_data_is_not_printed(template, field):
    values = {**VALUES[template.name](), field: ""}
    with pytest.raises(LabelCannotPrint) as refused:
        render_pdf([(template, values)], "missing")
    assert refused.value.details == {"field": field}
    assert field.replace("_", " ") in refused.value.message


@pytest.mark.parametrize("name", ["final_product", "shipper"])
def test_words_that_cannot_fit_even_smaller_stop_the_label(name):
    address = ("Building 4, 1 Example Way, Springfield, IL 62701, USA. " * 40)[:2000]
    values = {**VALUES[name](), "establishment_address": address}
    with pytest.raises(LabelCannotPrint, match="do not fit their place on the label"):
        render_pdf([(LIBRARY.get(name, 1), values)], "too long")


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.key)
def test_rendering_is_deterministic(template):
    values = VALUES[template.name]()
    assert render_pdf([(template, values)], "x") == render_pdf([(template, values)], "x")


RENDER_EVERY_TEMPLATE = """
import hashlib
from tests.labels.test_label_rendering import TEMPLATES, VALUES, render_pdf
for template in TEMPLATES:
    pdf = render_pdf([(template, VALUES[template.name]())], "x")
    print(hashlib.sha256(pdf).hexdigest())
"""


def test_another_process_renders_the_same_bytes():
    """A stored label's SHA-256 names what was printed only if no process's own state (its
    hash seed, the fonts it used before) reaches the bytes."""
    here = [hashlib.sha256(render_pdf([(t, VALUES[t.name]())], "x")).hexdigest() for t in TEMPLATES]
    there = subprocess.run(
        [sys.executable, "-c", RENDER_EVERY_TEMPLATE],
        cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONHASHSEED": "1234"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert there.stdout.split() == here


def test_a_long_location_code_widens_the_label_and_still_decodes():
    code = LONGEST_LOCATION
    assert len(code) == 39
    pdf = render_pdf([(LIBRARY.get("storage_position", 1), location_values(code))], "long")
    ((width_mm, height_mm),) = page_sizes_mm(pdf)
    assert width_mm > 50 and height_mm == pytest.approx(25, abs=0.01)
    (image,) = rasterise(pdf)
    assert decode(image) == [("Code128", code)]
    assert code in page_texts(pdf)[0]


def test_several_labels_print_a_page_each_with_their_own_bag():
    template = LIBRARY.get("final_product", 1)
    bags = [bag_values(din) for din in ("W999926000012", "W999926000013", "W999926000014")]
    pdf = render_pdf([(template, values) for values in bags], "lot")
    images, texts = rasterise(pdf), page_texts(pdf)
    assert len(images) == len(texts) == 3
    for image, words, values in zip(images, texts, bags, strict=True):
        assert decode(image) == expected_barcodes(template, values)
        assert values["din_eye"] in words


@pytest.mark.parametrize(
    ("marker", "old", "new"),
    [('kind = "datamatrix"', "x_mm = 83", "x_mm = 95"), ('kind = "din"', "x_mm = 3", "x_mm = 70")],
    ids=["datamatrix", "din"],
)
def test_an_element_that_would_run_off_the_label_is_not_printed(tmp_path, marker, old, new):
    text = (SHIPPED_LABEL_TEMPLATES / "final_product.v1.toml").read_text(encoding="utf-8")
    header, *blocks = text.split("[[elements]]")
    blocks = [b.replace(old, new) if marker in b else b for b in blocks]
    path = tmp_path / "final_product.v1.toml"
    path.write_text("[[elements]]".join([header, *blocks]), encoding="utf-8")
    with pytest.raises((TemplateInvalid, LabelCannotPrint)):
        render_pdf([(load_template(path), bag_values())], "off the label")
