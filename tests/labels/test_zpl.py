"""ZPL for Zebra printers, read back by a small parser written here from the ZPL II guide.

There is no ZPL rasteriser on these machines, so the checks are structural: every label is
one ^XA…^XZ format, every field's data un-escapes to the value it stands for, the Code 128
field data rebuilds into exactly the bars the PDF draws, and every field lies on the label.
"""

from __future__ import annotations

import dataclasses
import io
import re

import pypdf
import pytest
from barcode.charsets import code128 as charset

from custody.config import SHIPPED_LABEL_TEMPLATES
from custody.domain.errors import LabelCannotPrint
from custody.domain.isbt128 import check_character, eye_readable_din
from custody.labels.library import load_library
from custody.labels.pdf import render_pdf
from custody.labels.symbols import code128_modules
from custody.labels.templates import PT_PER_MM
from custody.labels.zpl import module_dots, render_zpl

LIBRARY = load_library(SHIPPED_LABEL_TEMPLATES)
TEMPLATES = sorted(LIBRARY.templates.values(), key=lambda t: t.key)
DPMM = (8, 12)  # 203 and 300 dpi

DIN = "W999926000012"
# One value for every field any purpose has (catalogue.py); each label takes its own.
VALUES = dict(
    din=DIN,
    din_barcode="=W99992600001270",
    din_flags="70",
    din_eye="W9999 26 000012",
    product_code_barcode="=<D0001VA0",
    product_code="D0001VA0",
    expiry_barcode="&>0263252359",
    compound="=+03000=W99992600001270=<D0001VA0&>0263252359",
    product_name="CD33 CAR-NK cells",
    lot_number="L-2026-0001",
    volume="100 mL",
    cell_dose="1.20 × 10⁸",
    total_cells="1.5 × 10⁸",
    dose_level="DL2",
    expiry="2026-09-22 23:59 CDT",
    expiry_utc="2026-09-23 04:59 UTC",
    establishment_name="Demonstration Cell Therapy Facility",
    establishment_address="1 Example Way, Springfield, USA",
    eligibility_warnings="NOT EVALUATED FOR INFECTIOUS SUBSTANCES\n"
    "WARNING: Advise patient of communicable disease risks",
    biohazard="BIOHAZARD",
    release_statement="CONDITIONAL RELEASE: sterility (14-day) pending; "
    "the physician is told at once if it fails.",
    collection_barcode="&*0261231200",
    collected="2026-05-03 12:00 CDT",
    collection_facility="Apheresis Unit, Springfield General",
    donor_code="D-0042",
    eligibility="Incomplete: urgent medical need",
    recipient_name="Ana María O'Neil",
    subject_id="CAR33-014",
    birth_date="1961-04-02",
    hospital_record_number="MRN 5550123",
    site="Springfield General",
    infusion_number="1",
    volume_to_infuse="Infuse the whole bag (100 mL)",
    allocated="2026-06-01 09:30 CDT",
    shipment_barcode="SHP-2026-0007",
    shipment_code="SHP-2026-0007",
    destination_site="Springfield General Hospital, Cell Therapy Unit",
    courier="Cryoport",
    shipper_id="DS-12",
    bag_count="2 bags",
    contents="W9999 26 000012 D0001VA0\nW9999 26 000013 D0001VA0",
    storage_limit="−150 °C",
    location_barcode="LOC-B0007",
    code="LOC-B0007",
    name_and_kind="Box 7 (box)",
    path="Cell therapy lab › LN2 freezer 1 › Rack 1 › Box 7",
)


def values_for(template, **changes) -> dict[str, str]:
    return {name: VALUES[name] for name in template.purpose.fields} | changes


# --- a reader for the ZPL this renderer writes ------------------------------------------


@dataclasses.dataclass
class Field:
    commands: dict[str, str]  # command -> parameters, from ^FO to ^FS

    @property
    def kind(self) -> str:
        for kind in ("BC", "BX", "GB", "A0"):
            if kind in self.commands:
                return kind
        raise AssertionError(f"a field that draws nothing: {self.commands}")

    def origin(self) -> tuple[int, int]:
        x, y = self.commands["FO"].split(",")
        return int(x), int(y)

    def params(self, command: str) -> list[str]:
        return self.commands[command].split(",")

    def data(self) -> str:
        """^FD after ^FH: `_XX` are bytes of UTF-8."""
        assert "FH" in self.commands, "field data without ^FH"
        raw = self.commands["FD"].encode("ascii")
        return re.sub(rb"_([0-9A-F]{2})", lambda m: bytes([int(m[1], 16)]), raw).decode()

    def lines(self) -> list[str]:
        """A text field's lines: ^FB's `\\&` breaks a line, `\\\\` is one backslash."""
        text = self.data()
        if "FB" not in self.commands:
            return [text]
        text = re.sub(r"\\(.)", lambda m: {"&": "\n", "\\": "\\"}[m[1]], text)
        return text.split("\n")


@dataclasses.dataclass
class Label:
    settings: dict[str, str]
    fields: list[Field]

    def of(self, kind: str) -> list[Field]:
        return [f for f in self.fields if f.kind == kind]

    def texts(self) -> list[str]:
        return [" ".join(f.lines()) for f in self.of("A0")]


def parse(zpl: str) -> list[Label]:
    assert "~" not in zpl, "no control command, and no raw tilde in data"
    blocks = re.findall(r"\^XA(.*?)\^XZ", zpl, re.S)
    assert zpl.count("^XA") == zpl.count("^XZ") == len(blocks)
    labels = []
    for block in blocks:
        settings, fields, current = {}, [], None
        for command in block.split("^")[1:]:
            code, params = command[:2], command[2:].rstrip("\n")
            if code == "FO":
                current = {}
            if current is None:
                settings[code] = params
                continue
            assert code not in current, f"^{code} twice in one field"
            current[code] = params
            if code == "FS":
                fields.append(Field(current))
                current = None
        assert current is None, "a field without ^FS"
        labels.append(Label(settings, fields))
    return labels


# ZPL II guide, "Code 128 Invocation Characters": ^BC mode N field data to symbol values.
INVOCATIONS = {"<": 62, "0": 30, "=": 94, "1": 95, "2": 96, "3": 97, "4": 98}
INVOCATIONS |= {"5": 99, "6": 100, "7": 101, "8": 102}
STARTS = {"9": (103, "A"), ":": (104, "B"), ";": (105, "C")}


def code128_symbol(field_data: str) -> tuple[list[int], str]:
    """The symbol values a Zebra encodes for mode N field data, and the text they carry."""
    if field_data[:1] == ">" and field_data[1:2] in STARTS:
        (value, subset), i = STARTS[field_data[1]], 2
    else:
        (value, subset), i = (104, "B"), 0  # without a start code a Zebra starts in subset B
    values, text = [value], []
    while i < len(field_data):
        if field_data[i] == ">":
            value, i = INVOCATIONS[field_data[i + 1]], i + 2
            values.append(value)
            if value == 99:
                subset = "C"
            elif value == 100 and subset != "B":
                subset = "B"
            elif value == 101 and subset != "A":
                subset = "A"
            else:
                assert subset == "B" and value in (30, 62, 94), f"unexpected >{field_data[i - 1]}"
                text.append(chr(value + 32))
        elif subset == "C":
            values.append(int(field_data[i : i + 2]))
            text.append(field_data[i : i + 2])
            i += 2
        else:
            assert subset == "B", "subset A is never used"
            values.append(ord(field_data[i]) - 32)
            text.append(field_data[i])
            i += 1
    return values, "".join(text)


def bars(values: list[int]) -> str:
    check = (values[0] + sum(n * v for n, v in enumerate(values[1:], start=1))) % 103
    return "".join(charset.CODES[v] for v in [*values, check]) + charset.STOP + "11"


def shown(template, values) -> list:
    return [e for e in template.elements if not e.when or values.get(e.when)]


# --- tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("dpmm", DPMM)
@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_a_lot_is_one_job_with_one_format_per_label_of_the_template_size(template, dpmm):
    values = values_for(template)
    labels = parse(render_zpl([(template, values)] * 3, dpmm=dpmm))
    assert len(labels) == 3
    for label in labels:
        assert label.settings["CI"] == "28"
        assert label.settings["LH"] == "0,0"
        assert int(label.settings["PW"]) == round(template.width_mm * dpmm)
        assert int(label.settings["LL"]) == round(template.height_mm * dpmm)


@pytest.mark.parametrize("dpmm", DPMM)
@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_every_barcode_carries_its_field_and_code_128_draws_the_pdfs_bars(template, dpmm):
    values = values_for(template)
    (label,) = parse(render_zpl([(template, values)], dpmm=dpmm))
    linear = [e for e in shown(template, values) if e.kind == "code128"]
    matrices = [e for e in shown(template, values) if e.kind == "datamatrix"]
    assert len(label.of("BC")) == len(linear) and len(label.of("BX")) == len(matrices)
    for element, field in zip(linear, label.of("BC"), strict=True):
        assert field.params("BC")[2:] == ["N", "N", "N", "N"]  # no printer text, mode N
        symbol, text = code128_symbol(field.data())
        assert text == values[element.data]
        assert bars(symbol) == code128_modules(values[element.data])
        if element.caption:
            assert element.caption.format_map(values) in label.texts()
    for element, field in zip(matrices, label.of("BX"), strict=True):
        assert field.params("BX")[2] == "200" and field.params("BX")[-1] == "_"
        assert field.data().replace("__", "_") == values[element.data]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_every_required_statement_is_printed_word_for_word(template):
    (label,) = parse(render_zpl([(template, values_for(template))]))
    for statement in template.purpose.required_statements:
        assert any(statement in text for text in label.texts()), statement


def test_the_din_prints_grouped_with_its_flags_and_k_in_a_box():
    template = LIBRARY.get("final_product", 1)
    (label,) = parse(render_zpl([(template, values_for(template))]))
    texts = {f.data(): f for f in label.of("A0")}
    din, flags, k = texts[eye_readable_din(DIN)], texts["70"], texts[check_character(DIN)]
    assert int(flags.params("A0")[1]) < int(din.params("A0")[1])  # the flags smaller
    assert din.origin()[0] < flags.origin()[0] < k.origin()[0]
    box = [b for b in label.of("GB") if b.origin()[0] == k.origin()[0]]
    assert len(box) == 1 and box[0].params("GB")[0] == k.params("FB")[0]
    assert int(box[0].params("GB")[2]) < int(box[0].params("GB")[1])  # an outline, not filled


def test_text_keeps_its_line_breaks_within_its_lines():
    template = LIBRARY.get("final_product", 1)
    (label,) = parse(render_zpl([(template, values_for(template))]))
    (warnings,) = [f for f in label.of("A0") if "NOT EVALUATED" in f.data()]
    assert warnings.lines() == VALUES["eligibility_warnings"].split("\n")
    for field in label.of("A0"):
        if "FB" in field.commands:
            assert len(field.lines()) <= int(field.params("FB")[1])


@pytest.mark.parametrize("dpmm", DPMM)
def test_a_banner_is_a_black_band_just_around_its_reversed_words(dpmm):
    template = LIBRARY.get("quarantine_product", 1)
    (label,) = parse(render_zpl([(template, values_for(template))], dpmm=dpmm))
    (words,) = [f for f in label.of("A0") if "FR" in f.commands]
    filled = [b for b in label.of("GB") if b.params("GB")[1] == b.params("GB")[2]]
    (band,) = [b for b in filled if int(b.params("GB")[1]) > 10]  # not a rule
    (bx, by), (wx, wy) = band.origin(), words.origin()
    width, height, _ = map(int, band.params("GB"))
    pitch = int(words.params("A0")[1]) + int(words.params("FB")[2])
    assert bx < wx and wx + int(words.params("FB")[0]) < bx + width
    assert by <= wy and abs(height - len(words.lines()) * pitch - 0.8 * dpmm) <= 3


def test_when_leaves_out_an_element_whose_field_is_empty():
    template = LIBRARY.get("final_product", 1)
    full = parse(render_zpl([(template, values_for(template))]))[0]
    empty = dict(release_statement="", biohazard="", dose_level="", eligibility_warnings="")
    bare = parse(render_zpl([(template, values_for(template, **empty))]))[0]
    for text in (VALUES["release_statement"], "BIOHAZARD", "Dose level DL2"):
        assert any(text in t for t in full.texts()) and not any(text in t for t in bare.texts())
    assert [f for f in full.of("A0") if "FR" in f.commands]  # the banner, white on black
    assert not [f for f in bare.of("A0") if "FR" in f.commands]
    assert len(full.of("GB")) == len(bare.of("GB")) + 1  # and its black band

    quarantine = LIBRARY.get("quarantine_product", 1)
    (label,) = parse(render_zpl([(quarantine, values_for(quarantine, expiry_barcode=""))]))
    assert len(label.of("BC")) == 2  # DIN and product code; no expiry yet


@pytest.mark.parametrize("field", ["din_barcode", "product_code_barcode", "compound"])
def test_a_barcode_without_data_refuses_the_label(field):
    template = LIBRARY.get("final_product", 1)
    with pytest.raises(LabelCannotPrint):
        render_zpl([(template, values_for(template, **{field: ""}))])


def test_words_that_cannot_fit_refuse_the_label_rather_than_being_cut():
    template = LIBRARY.get("final_product", 1)
    with pytest.raises(LabelCannotPrint):
        render_zpl([(template, values_for(template, product_name="CD33 CAR-NK cells " * 30))])


def test_a_barcode_wider_than_its_room_refuses_a_fixed_label():
    template = LIBRARY.get("final_product", 1)
    with pytest.raises(LabelCannotPrint):
        render_zpl([(template, values_for(template, din_barcode="=W9999260000127" + "AB" * 20))])


@pytest.mark.parametrize("dpmm", DPMM)
def test_a_location_label_grows_for_a_long_code_as_wide_as_the_pdf(dpmm):
    template = LIBRARY.get("storage_position", 1)
    code = "LOC-" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[:35]
    values = values_for(template, location_barcode=code, code=code)
    (label,) = parse(render_zpl([(template, values)], dpmm=dpmm))
    page = pypdf.PdfReader(io.BytesIO(render_pdf([(template, values)], "x"))).pages[0]
    pdf_width_dots = float(page.mediabox.width) / PT_PER_MM * dpmm
    assert int(label.settings["PW"]) > template.width_mm * dpmm
    assert abs(int(label.settings["PW"]) - pdf_width_dots) <= 1
    (field,) = label.of("BC")
    assert code128_symbol(field.data())[1] == code
    _assert_inside(label)


def test_a_recipient_name_cannot_inject_commands():
    template = LIBRARY.get("tie_tag", 1)
    name = "Eve ^XZ^XA^FO0,0^GB900,900,900^FS~JA ~DGR:X _5E \\& back\\slash"
    zpl = render_zpl([(template, values_for(template, recipient_name=name))] * 2)
    assert zpl.count("^XZ") == zpl.count("^XA") == 2
    labels = parse(zpl)
    plain = parse(render_zpl([(template, values_for(template))]))[0]
    for label in labels:
        assert len(label.fields) == len(plain.fields)
        assert f"FOR {name}" in label.texts()


def test_barcode_data_with_command_characters_round_trips_escaped():
    template = LIBRARY.get("tie_tag", 1)
    data = {"din_barcode": "=A^XZ~JA>_1", "compound": "=+^XZ~JA_5E__x"}
    (label,) = parse(render_zpl([(template, values_for(template, **data))]))
    assert code128_symbol(label.of("BC")[0].data())[1] == data["din_barcode"]
    assert label.of("BX")[0].data().replace("__", "_") == data["compound"]


@pytest.mark.parametrize("dpmm", DPMM)
@pytest.mark.parametrize("module_mm", [0.17, 0.19, 0.21, 0.25, 0.3, 0.33, 0.5])
def test_a_module_is_never_printed_narrower_than_the_templates_x(module_mm, dpmm):
    dots = module_dots(module_mm, dpmm)
    assert dots >= 2 and dots / dpmm >= module_mm
    assert dots - 1 < max(2, module_mm * dpmm)  # and no wider than it must be


def test_rounding_that_would_narrow_x_rounds_up():
    assert module_dots(0.17, 12) == 3  # 2.04 dots rounds to 2 = 0.167 mm < 0.17 mm
    assert module_dots(0.25, 12) == 3 and module_dots(0.25, 8) == 2
    assert module_dots(0.1, 8) == 2  # a printer cannot make a 1-dot module scan


@pytest.mark.parametrize("dpmm", DPMM)
@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_printed_modules_of_the_shipped_templates_keep_their_x(template, dpmm):
    values = values_for(template)
    (label,) = parse(render_zpl([(template, values)], dpmm=dpmm))
    linear = [e for e in shown(template, values) if e.kind == "code128"]
    for element, field in zip(linear, label.of("BC"), strict=True):
        assert int(field.params("BY")[0]) / dpmm >= element.module_mm
    matrices = [e for e in shown(template, values) if e.kind == "datamatrix"]
    for element, field in zip(matrices, label.of("BX"), strict=True):
        assert int(field.params("BX")[1]) / dpmm >= element.module_mm


@pytest.mark.parametrize("dpmm", DPMM)
@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_every_field_lies_inside_the_label(template, dpmm):
    (label,) = parse(render_zpl([(template, values_for(template))], dpmm=dpmm))
    _assert_inside(label)


def _assert_inside(label: Label) -> None:
    width, height = int(label.settings["PW"]), int(label.settings["LL"])
    for field in label.fields:
        x, y = field.origin()
        assert 0 <= x < width and 0 <= y < height, field.commands
        if field.kind == "GB":
            w, h, _ = map(int, field.params("GB"))
            assert x + w <= width and y + h <= height, field.commands
        if field.kind == "BC":
            modules = len(bars(code128_symbol(field.data())[0]))
            assert x + modules * int(field.params("BY")[0]) <= width
            assert y + int(field.params("BC")[1]) <= height
        if "FB" in field.commands:
            assert x + int(field.params("FB")[0]) <= width, field.commands


def test_the_same_labels_give_the_same_bytes():
    pages = [(t, values_for(t)) for t in TEMPLATES]
    assert render_zpl(pages) == render_zpl(pages)


def test_an_unknown_print_head_resolution_is_refused():
    template = TEMPLATES[0]
    with pytest.raises(ValueError):
        render_zpl([(template, values_for(template))], dpmm=10)
