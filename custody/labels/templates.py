"""Label templates: TOML files under labels/, checked when loaded, named by purpose and version.

A template file is `<purpose>.v<version>.toml`. It gives the label's size and a list of
elements placed in millimetres from the label's top-left corner:

- `code128`: a Code 128 symbol of one field (`data`), drawn at `module_mm` with 10-module quiet
  zones inside `width_mm`, `height_mm` high, with an optional eye-readable `caption`;
- `datamatrix`: an ECC 200 Data Matrix of one field, `module_mm` per module, in a square of
  `width_mm` (a symbol too big for it stops the print);
- `din`: the DIN as people read it, with its flags and the check character K in a box;
- `text`: words, with `{field}` placeholders, wrapped to `width_mm` in at most `max_lines`
  lines; `when` names a field that must be non-empty for the text to print; `banner` sets it
  white on black; `overflow = "cut_start"` lets text whose end matters lose its start;
- `rule`: a horizontal line.

Loading refuses (TemplateInvalid) a file that does not parse, places anything off the label,
uses a field its purpose does not have, draws a barcode below ISBT 128's sizes, or leaves out
what its purpose must print (custody.labels.catalogue). A template's identity for approval is
the SHA-256 of its file: an approved version edited afterwards is a different template.
"""

from __future__ import annotations

import hashlib
import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from marshmallow import RAISE, Schema, ValidationError, fields, validate
from reportlab.pdfbase.pdfmetrics import stringWidth

from custody.documents.pdf_layout import BOLD, register_fonts
from custody.labels.catalogue import PURPOSES, Purpose

FILE_NAME = re.compile(r"^([a-z_]+)\.v([1-9][0-9]{0,3})\.toml$")
MIN_MODULE_MM = 0.17  # ISBT 128's minimum X dimension; 0.25 mm is the target
MIN_BAR_HEIGHT_MM = 5.0
QUIET_MODULES = 10
LEADING = 1.2  # line height as a multiple of the font size
PT_PER_MM = 72 / 25.4


class TemplateInvalid(ValueError):
    """A template file that must not be used, with every problem found in it."""

    def __init__(self, file: str, problems: list[str]):
        self.file = file
        self.problems = problems
        super().__init__(f"{file}: " + "; ".join(problems))


@dataclass(frozen=True)
class Element:
    kind: str
    x_mm: float
    y_mm: float
    width_mm: float = 0.0
    height_mm: float = 0.0
    data: str = ""
    module_mm: float = 0.25
    caption: str = ""
    caption_pt: float = 7.0
    text: str = ""
    size_pt: float = 8.0
    bold: bool = False
    align: str = "left"
    max_lines: int = 1
    when: str = ""
    banner: bool = False
    # "refuse" (the default): text that cannot fit stops the print. "cut_start": drop words from
    # the start behind an ellipsis, for text whose end is what matters (a storage path).
    overflow: str = "refuse"
    thickness_mm: float = 0.3

    def placeholders(self) -> set[str]:
        return _placeholders(self.text) | _placeholders(self.caption)


@dataclass(frozen=True)
class LabelTemplate:
    name: str
    version: int
    title: str
    width_mm: float
    height_mm: float
    elements: tuple[Element, ...]
    sha256: str
    file: str
    # A label whose barcode would not fit grows wider rather than shrink its bars (locations).
    grow_to_fit: bool = False
    notes: str = ""
    purpose: Purpose = field(repr=False, default=None)

    @property
    def key(self) -> str:
        return f"{self.name} v{self.version}"


class _ElementSchema(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(
        required=True,
        validate=validate.OneOf(["code128", "datamatrix", "din", "text", "rule"]),
    )
    x_mm = fields.Float(required=True, validate=validate.Range(min=0))
    y_mm = fields.Float(required=True, validate=validate.Range(min=0))
    width_mm = fields.Float(validate=validate.Range(min=0))
    height_mm = fields.Float(validate=validate.Range(min=0))
    data = fields.String()
    module_mm = fields.Float(validate=validate.Range(min=MIN_MODULE_MM, max=2.0))
    caption = fields.String()
    caption_pt = fields.Float(validate=validate.Range(min=4, max=72))
    text = fields.String()
    size_pt = fields.Float(validate=validate.Range(min=4, max=96))
    bold = fields.Boolean()
    align = fields.String(validate=validate.OneOf(["left", "centre", "right"]))
    max_lines = fields.Integer(validate=validate.Range(min=1, max=20))
    when = fields.String()
    banner = fields.Boolean()
    overflow = fields.String(validate=validate.OneOf(["refuse", "cut_start"]))
    thickness_mm = fields.Float(validate=validate.Range(min=0.05, max=5))


class _TemplateSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.OneOf(sorted(PURPOSES)))
    version = fields.Integer(required=True, validate=validate.Range(min=1, max=9999))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    notes = fields.String()
    width_mm = fields.Float(required=True, validate=validate.Range(min=10, max=300))
    height_mm = fields.Float(required=True, validate=validate.Range(min=10, max=300))
    grow_to_fit = fields.Boolean()
    elements = fields.List(
        fields.Nested(_ElementSchema), required=True, validate=validate.Length(min=1)
    )


def load_template(path: Path) -> LabelTemplate:
    """Read and check one template file; TemplateInvalid lists everything wrong with it."""
    raw = path.read_bytes()
    match = FILE_NAME.match(path.name)
    if match is None:
        raise TemplateInvalid(
            path.name, ["name the file <purpose>.v<version>.toml, e.g. final_product.v2.toml"]
        )
    try:
        data = _TemplateSchema().load(tomllib.loads(raw.decode("utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TemplateInvalid(path.name, [f"not valid TOML: {exc}"]) from None
    except ValidationError as exc:
        raise TemplateInvalid(path.name, _flatten(exc.messages)) from None
    elements = tuple(Element(**e) for e in data.pop("elements"))
    template = LabelTemplate(
        **data,
        elements=elements,
        sha256=hashlib.sha256(raw).hexdigest(),
        file=path.name,
        purpose=PURPOSES[data["name"]],
    )
    problems = _file_name_problems(template, match) + check_template(template)
    if problems:
        raise TemplateInvalid(path.name, problems)
    return template


def check_template(template: LabelTemplate) -> list[str]:
    """Everything that keeps a parsed template from being printable, in words."""
    problems: list[str] = []
    for n, element in enumerate(template.elements, start=1):
        problems += [
            f"element {n} ({element.kind}): {p}" for p in _element_problems(template, element)
        ]
    problems += _floor_problems(template)
    return problems


def _file_name_problems(template: LabelTemplate, match: re.Match) -> list[str]:
    if (match.group(1), int(match.group(2))) == (template.name, template.version):
        return []
    return [
        f"the file is named for {match.group(1)} v{match.group(2)} but holds "
        f"{template.name} v{template.version}"
    ]


def _element_problems(template: LabelTemplate, e: Element) -> list[str]:
    fields_ = template.purpose.fields
    problems = [
        f"{{{name}}} is not a field of a {template.name} label"
        for name in sorted(e.placeholders() - set(fields_))
    ]
    problems += _bad_format(e.text) + _bad_format(e.caption)
    if e.when and e.when not in fields_:
        problems.append(f"when = {e.when!r} is not a field of a {template.name} label")
    if e.kind == "din" and "din" not in fields_:
        problems.append(f"a {template.name} label has no DIN to print")
    if e.kind in ("code128", "datamatrix") and e.data not in fields_:
        problems.append(f"data = {e.data!r} is not a field of a {template.name} label")
    if e.kind == "code128" and e.height_mm < MIN_BAR_HEIGHT_MM:
        problems.append(f"bars must be at least {MIN_BAR_HEIGHT_MM} mm high (ISBT 128)")
    if e.kind in ("code128", "datamatrix", "text", "rule") and e.width_mm <= 0:
        problems.append("give width_mm, the room it may take")
    if e.kind == "text" and not e.text.strip():
        problems.append("a text element needs text")
    right, bottom = e.x_mm + _width_mm(e), e.y_mm + _height_mm(e)
    if not template.grow_to_fit and right > template.width_mm + 1e-6:
        problems.append(f"it reaches {right:g} mm across a {template.width_mm:g} mm label")
    if bottom > template.height_mm + 1e-6:
        problems.append(f"it reaches {bottom:g} mm down a {template.height_mm:g} mm label")
    return problems


def _width_mm(e: Element) -> float:
    """The horizontal room an element takes; a DIN as wide as the widest DIN prints."""
    if e.kind == "din":
        register_fonts()
        widest = stringWidth("W9999 99 999999 00 ", BOLD, e.size_pt) + stringWidth(
            "W", BOLD, e.size_pt
        )
        return (widest + e.size_pt * 0.3) / PT_PER_MM
    return e.width_mm


def _height_mm(e: Element) -> float:
    """The vertical room an element takes, from its top edge."""
    if e.kind == "code128":
        return e.height_mm + (e.caption_pt * LEADING / PT_PER_MM if e.caption else 0)
    if e.kind == "text":
        return e.max_lines * e.size_pt * LEADING / PT_PER_MM
    if e.kind == "din":
        return e.size_pt * LEADING / PT_PER_MM
    if e.kind == "datamatrix":
        return e.width_mm
    return e.height_mm


def _floor_problems(template: LabelTemplate) -> list[str]:
    purpose = template.purpose
    used = set()
    for e in template.elements:
        used |= e.placeholders() | ({e.data} if e.data else set()) | {e.when} - {""}
        if e.kind == "din":
            used.add("din")
    problems = [
        f"a {template.name} label must print {{{name}}} ({purpose.fields[name]})"
        for name in sorted(purpose.required_fields - used)
    ]
    # A statement the label must carry cannot hang on a `when`: it would vanish with its field.
    texts = [e for e in template.elements if e.kind == "text" and not e.when]
    for statement in purpose.required_statements:
        if not any(statement in e.text for e in texts):
            problems.append(f"a {template.name} label must say, word for word: {statement}")
    if purpose.largest_statement:
        problems += _largest_problems(template, purpose.largest_statement)
    return problems


def _largest_problems(template: LabelTemplate, statement: str) -> list[str]:
    holders = [e for e in template.elements if e.kind == "text" and statement in e.text]
    if not holders:
        return []
    size = min(e.size_pt for e in holders)
    others = [
        max(e.size_pt, e.caption_pt if e.caption else 0)
        for e in template.elements
        if e not in holders and e.kind in ("text", "din", "code128")
    ]
    if others and size <= max(others):
        largest = max(others)
        return [f"{statement!r} must be the largest type on the label ({size:g} ≤ {largest:g} pt)"]
    return []


def _placeholders(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}
    except ValueError:
        return set()


def _bad_format(text: str) -> list[str]:
    """Only plain {field} placeholders: no attribute access, indexing or format specs."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        return [f"the text {text!r} has unbalanced braces ({exc}); write {{{{ for a brace"]
    return [
        f"write each field as a plain {{name}}; {{{name}{'!' + conversion if conversion else ''}"
        f"{':' + spec if spec else ''}}} is not one"
        for _, name, spec, conversion in parts
        if name is not None and (spec or conversion or not name.isidentifier())
    ]


def _flatten(messages, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            label = f"{prefix}{key}" if not isinstance(key, int) else f"{prefix}element {key + 1}"
            out += _flatten(value, f"{label} ")
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{prefix.strip()}: {m}" for m in messages]
    return [f"{prefix.strip()}: {messages}"]
