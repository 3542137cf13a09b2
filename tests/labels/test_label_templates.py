"""Label templates are data, checked when loaded: a file that could print a wrong label never loads.

Each refusal is shown on a file written for the test, most of them the shipped template with one
thing changed, so the shipped file itself is the control that loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

from custody.config import SHIPPED_LABEL_TEMPLATES
from custody.domain.errors import NotFound
from custody.labels.catalogue import (
    CAUTION_STATEMENT,
    DO_NOT_IRRADIATE,
    PURPOSES,
    QUARANTINE_STATEMENT,
)
from custody.labels.library import load_library
from custody.labels.templates import TemplateInvalid, load_template

BLOCK = "[[elements]]"
# The smallest valid template: a storage label with its barcode and its code as the caption.
MINIMAL = """name = "storage_position"
version = 1
title = "Test label"
width_mm = 50
height_mm = 25

[[elements]]
kind = "code128"
data = "location_barcode"
x_mm = 1.5
y_mm = 1.5
width_mm = 47
height_mm = 10
caption = "{code}"
"""
MINIMAL_FILE = "storage_position.v1.toml"


def shipped(name: str) -> str:
    return (SHIPPED_LABEL_TEMPLATES / f"{name}.v1.toml").read_text(encoding="utf-8")


def with_element(**keys) -> str:
    """MINIMAL plus one element, its keys written as TOML."""
    lines = [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    return MINIMAL + f"\n{BLOCK}\n" + "\n".join(lines) + "\n"


def _blocks(text: str) -> tuple[str, list[str]]:
    header, *blocks = text.split(BLOCK)
    return header, blocks


def without_element(text: str, marker: str) -> str:
    """The template text with the one element that contains `marker` taken out."""
    header, blocks = _blocks(text)
    kept = [b for b in blocks if marker not in b]
    assert len(kept) == len(blocks) - 1, f"{marker!r} must pick exactly one element"
    return header + "".join(BLOCK + b for b in kept)


def edit_element(text: str, marker: str, old: str, new: str) -> str:
    """The template text with `old` replaced by `new` in the one element containing `marker`."""
    header, blocks = _blocks(text)
    (index,) = [n for n, b in enumerate(blocks) if marker in b]
    assert old in blocks[index]
    blocks[index] = blocks[index].replace(old, new)
    return header + "".join(BLOCK + b for b in blocks)


def problems_of(tmp_path, text: str | bytes, file_name: str = MINIMAL_FILE) -> list[str]:
    path = tmp_path / file_name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with pytest.raises(TemplateInvalid) as refused:
        load_template(path)
    assert refused.value.file == file_name
    return refused.value.problems


def assert_refused(problems: list[str], expected: str) -> None:
    assert any(expected in p for p in problems), f"{expected!r} not in {problems}"


def test_every_shipped_template_loads_and_every_purpose_has_one():
    library = load_library(SHIPPED_LABEL_TEMPLATES)
    assert library.invalid == {}
    assert len(library.templates) == len(list(SHIPPED_LABEL_TEMPLATES.glob("*.toml")))
    assert {name for name, _ in library.templates} == set(PURPOSES)


@pytest.mark.parametrize("name", sorted(PURPOSES))
def test_a_copy_of_a_shipped_template_loads_the_control_for_the_edits_below(tmp_path, name):
    path = tmp_path / f"{name}.v1.toml"
    path.write_text(shipped(name), encoding="utf-8")
    assert load_template(path).key == f"{name} v1"


def test_the_minimal_template_loads(tmp_path):
    path = tmp_path / MINIMAL_FILE
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_template(path).elements[0].data == "location_barcode"


FILE_CASES = {
    "bad-toml": ('name = "storage_position"\nversion = \n', MINIMAL_FILE, "not valid TOML"),
    "not-utf8": (b'title = "\xff\xfe"\n', MINIMAL_FILE, "not valid TOML"),
    "unknown-key": (MINIMAL.replace("title", "colour = 1\ntitle"), MINIMAL_FILE, "colour: Unknown"),
    "unknown-element-key": (MINIMAL + "colour = 1\n", MINIMAL_FILE, "element 1 colour: Unknown"),
    "other-version": (MINIMAL, "storage_position.v2.toml", "named for storage_position v2 but"),
    "other-purpose": (
        MINIMAL,
        "shipper.v1.toml",
        "named for shipper v1 but holds storage_position",
    ),
    "no-version": (MINIMAL, "storage_position.toml", "name the file <purpose>.v<version>.toml"),
    "padded-version": (MINIMAL, "storage_position.v01.toml", "name the file <purpose>.v<version>"),
}


@pytest.mark.parametrize(("text", "file_name", "expected"), FILE_CASES.values(), ids=FILE_CASES)
def test_a_file_that_does_not_parse_or_is_misnamed_is_refused(tmp_path, text, file_name, expected):
    assert_refused(problems_of(tmp_path, text, file_name), expected)


def a_text(**keys) -> dict:
    return {"kind": "text", "x_mm": 1.5, "y_mm": 14, "width_mm": 47, "text": "Box", **keys}


def a_code128(**keys) -> dict:
    return {
        "kind": "code128",
        "data": "code",
        "x_mm": 1,
        "y_mm": 13,
        "width_mm": 48,
        "height_mm": 5,
        **keys,
    }


def a_matrix(**keys) -> dict:
    return {"kind": "datamatrix", "data": "code", "x_mm": 1, "y_mm": 13, "width_mm": 8, **keys}


ELEMENT_CASES = {
    "off-right": (a_text(x_mm=10, width_mm=45), "it reaches 55 mm across a 50 mm label"),
    "off-bottom": (a_text(y_mm=24), "mm down a 25 mm label"),
    # The caption counts: 12.5 mm + 10 mm of bars + a 7 pt caption goes past 25 mm.
    "caption-off-bottom": (a_code128(y_mm=12.5, height_mm=10, caption="{code}"), "mm down a 25 mm"),
    "rule-off-right": ({"kind": "rule", "x_mm": 30, "y_mm": 14, "width_mm": 21}, "reaches 51 mm"),
    "unknown-placeholder": (a_text(text="In {colour}"), "{colour} is not a field of a storage_pos"),
    "other-purposes-data": (a_matrix(data="din_barcode"), "data = 'din_barcode' is not a field"),
    "unknown-when": (a_text(when="din"), "when = 'din' is not a field of a storage_position label"),
    "bars-4.9mm": (a_code128(height_mm=4.9), "bars must be at least 5.0 mm high"),
    "code128-module-0.16": (a_code128(module_mm=0.16), "element 2 module_mm"),
    "datamatrix-module-0.16": (a_matrix(module_mm=0.16), "element 2 module_mm"),
    "blank-text": (a_text(text=" "), "a text element needs text"),
}


@pytest.mark.parametrize(("element", "expected"), ELEMENT_CASES.values(), ids=ELEMENT_CASES)
def test_an_element_that_cannot_print_as_placed_is_refused(tmp_path, element, expected):
    assert_refused(problems_of(tmp_path, with_element(**element)), expected)


@pytest.mark.parametrize(
    "element",
    [a_text(x_mm=3, width_mm=47), a_code128(module_mm=0.17), a_matrix(module_mm=0.17)],
    ids=["edge-to-edge", "code128-at-the-minimums", "datamatrix-at-the-minimum"],
)
def test_an_element_at_the_limits_loads(tmp_path, element):
    path = tmp_path / MINIMAL_FILE
    path.write_text(with_element(**element), encoding="utf-8")
    assert len(load_template(path).elements) == 2


PLACEHOLDER_CASES = {
    "format-spec": ("Box {code:>3}", "{code:>3} is not one"),
    "conversion": ("Box {code!r}", "{code!r} is not one"),
    "attribute": ("Box {code.upper}", "{code.upper} is not one"),
    "index": ("Box {code[0]}", "{code[0]} is not one"),
    "positional": ("Box {0}", "{0} is not one"),
    "open-brace": ("Box {code", "unbalanced braces"),
    "lone-close-brace": ("Box }", "unbalanced braces"),
    "empty-braces": pytest.param("Box {}", ""),  # any refusal
}


@pytest.mark.parametrize(("words", "expected"), PLACEHOLDER_CASES.values(), ids=PLACEHOLDER_CASES)
def test_only_plain_field_placeholders_are_allowed(tmp_path, words, expected):
    assert_refused(problems_of(tmp_path, with_element(**a_text(text=words))), expected)


@pytest.mark.parametrize(
    ("name", "marker", "field"),
    [
        ("final_product", 'text = "Volume {volume}"', "volume"),
        ("final_product", 'data = "expiry_barcode"', "expiry_barcode"),
        ("final_product", 'kind = "datamatrix"', "compound"),
        ("final_product", 'text = "Released by', "establishment_address"),
        ("final_product", 'text = "{release_statement}"', "release_statement"),
        ("quarantine_product", 'text = "{biohazard}"', "biohazard"),
        ("quarantine_product", 'kind = "din"', "din"),
        ("collection", 'data = "collection_barcode"', "collection_barcode"),
        ("collection", 'text = "{eligibility_warnings}"', "eligibility_warnings"),
        ("tie_tag", 'text = "FOR {recipient_name}"', "recipient_name"),
        ("tie_tag", 'text = "INFUSION {infusion_number}"', "infusion_number"),
        ("shipper", 'text = "Contents: {bag_count}"', "bag_count"),
        ("storage_position", 'data = "location_barcode"', "location_barcode"),
    ],
)
def test_a_template_that_leaves_out_a_required_field_is_refused(tmp_path, name, marker, field):
    text = without_element(shipped(name), marker)
    problems = problems_of(tmp_path, text, f"{name}.v1.toml")
    assert_refused(problems, f"a {name} label must print {{{field}}}")


@pytest.mark.parametrize(
    ("name", "marker", "statement"),
    [
        ("final_product", 'text = "Caution: New Drug', CAUTION_STATEMENT),
        ("final_product", 'text = "Do Not Irradiate"', DO_NOT_IRRADIATE),
        ("quarantine_product", 'text = "QUARANTINE', QUARANTINE_STATEMENT),
        ("quarantine_product", 'text = "Store at or below', DO_NOT_IRRADIATE),
        ("shipper", 'text = "Do Not Irradiate.', DO_NOT_IRRADIATE),
    ],
)
def test_a_template_without_a_required_statement_is_refused_naming_it(
    tmp_path, name, marker, statement
):
    problems = problems_of(tmp_path, without_element(shipped(name), marker), f"{name}.v1.toml")
    assert_refused(problems, f"a {name} label must say, word for word: {statement}")


def test_the_caution_statement_must_be_word_for_word(tmp_path):
    text = shipped("final_product").replace("New Drug—Limited", "New Drug-Limited")
    problems = problems_of(tmp_path, text, "final_product.v1.toml")
    assert problems == [f"a final_product label must say, word for word: {CAUTION_STATEMENT}"]


def test_a_required_statement_that_prints_only_sometimes_is_refused(tmp_path):
    text = edit_element(
        shipped("final_product"),
        "Caution: New Drug",
        'kind = "text"',
        'kind = "text"\nwhen = "dose_level"',
    )
    assert_refused(problems_of(tmp_path, text, "final_product.v1.toml"), CAUTION_STATEMENT)


@pytest.mark.parametrize(
    ("marker", "old", "new"),
    [
        ('text = "Not released by QA', "size_pt = 8", "size_pt = 30"),
        ('text = "Not released by QA', "size_pt = 8", "size_pt = 24"),  # a tie is not largest
        ('text = "{product_name}"', "size_pt = 11", "size_pt = 30"),
        ('data = "product_code_barcode"', "caption_pt = 10", "caption_pt = 30"),
        ('kind = "din"', "size_pt = 11", "size_pt = 26"),
    ],
    ids=["other-text-30pt", "other-text-24pt", "product-name-30pt", "caption-30pt", "din-26pt"],
)
def test_the_quarantine_statement_must_be_the_largest_type(tmp_path, marker, old, new):
    text = edit_element(shipped("quarantine_product"), marker, old, new)
    problems = problems_of(tmp_path, text, "quarantine_product.v1.toml")
    assert_refused(problems, f"{QUARANTINE_STATEMENT!r} must be the largest type on the label")


def test_a_quarantine_template_with_everything_else_smaller_loads(tmp_path):
    text = edit_element(
        shipped("quarantine_product"), 'text = "Not released by QA', "size_pt = 8", "size_pt = 23.5"
    )
    path = tmp_path / "quarantine_product.v1.toml"
    path.write_text(text, encoding="utf-8")
    assert load_template(path).elements[4].size_pt == 23.5


@pytest.mark.parametrize("name", ["shipper", "storage_position"])
def test_a_din_element_on_a_label_without_a_din_is_refused(tmp_path, name):
    text = shipped(name) + f'\n{BLOCK}\nkind = "din"\nx_mm = 3\ny_mm = 1\nsize_pt = 5\n'
    assert_refused(problems_of(tmp_path, text, f"{name}.v1.toml"), "din")


def test_the_sha256_is_the_files_and_changes_when_the_file_changes(tmp_path):
    path = tmp_path / "final_product.v1.toml"
    path.write_text(shipped("final_product"), encoding="utf-8")
    before = load_template(path)
    assert before.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    path.write_text(shipped("final_product") + "\n# reviewed\n", encoding="utf-8")
    after = load_template(path)
    assert after.elements == before.elements
    assert after.sha256 != before.sha256
    assert after.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_invalid_file_is_kept_aside_while_the_others_load(tmp_path):
    for name in ("final_product", "shipper"):
        shutil.copy(SHIPPED_LABEL_TEMPLATES / f"{name}.v1.toml", tmp_path)
    broken = without_element(shipped("final_product"), "Caution: New Drug")
    (tmp_path / "final_product.v2.toml").write_text(broken.replace("version = 1", "version = 2"))
    library = load_library(tmp_path)
    assert set(library.templates) == {("final_product", 1), ("shipper", 1)}
    assert set(library.invalid) == {"final_product.v2.toml"}
    assert_refused(library.invalid["final_product.v2.toml"].problems, CAUTION_STATEMENT)
    assert [t.version for t in library.versions("final_product")] == [1]
    with pytest.raises(NotFound, match="Caution: New Drug"):
        library.get("final_product", 2)


def test_the_library_reads_the_folder_again_when_a_file_changes(tmp_path):
    path = tmp_path / "final_product.v1.toml"
    shutil.copy(SHIPPED_LABEL_TEMPLATES / "final_product.v1.toml", path)
    assert load_library(tmp_path).get("final_product", 1).title.endswith("100 mm")
    # A new version dropped in is seen, newest first.
    (tmp_path / "final_product.v2.toml").write_text(
        shipped("final_product").replace("version = 1", "version = 2"), encoding="utf-8"
    )
    assert [t.version for t in load_library(tmp_path).versions("final_product")] == [2, 1]
    # The same size but a later modification time: read again.
    stat = path.stat()
    path.write_text(shipped("final_product").replace("100 mm", "100 MM"), encoding="utf-8")
    assert path.stat().st_size == stat.st_size
    later = stat.st_mtime_ns + 2_000_000_000
    os.utime(path, ns=(later, later))
    assert load_library(tmp_path).get("final_product", 1).title.endswith("100 MM")
    # A file taken away is gone.
    (tmp_path / "final_product.v2.toml").unlink()
    assert [t.version for t in load_library(tmp_path).versions("final_product")] == [1]
