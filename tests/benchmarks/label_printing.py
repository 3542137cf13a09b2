"""Benchmark: labels, rendered alone and printed through the API, against reportlab drawing the
same content bare (DESIGN.md: a label PDF ≤ 1.5× bare and ≤ 20 KB stored; a 100-bag lot issued
through the API ≤ 2× rendering the same labels bare).

Times, with every template approved and lots of N released bags:
- one final product label drawn bare and rendered by the label renderer (no database);
- a bag's first label through the API (issued: rendered as PDF and ZPL, hashed, stored, audited);
- the same label asked for again (the stored bytes);
- a whole lot's labels as one PDF through the API, every label issued in that request, and the
  same labels drawn bare.

Bare is reportlab alone: the canvas calls the renderer made for each label (strings at their
places and sizes, bars and modules as paths) replayed on a plain Canvas with the same fonts and
settings, with no template read, no text fitted and no barcode encoded. The replay gives the
renderer's bytes exactly, so the floor draws the same content; the benchmark checks that.

The lot's floor draws each label as a PDF of its own, because that is what issuing a label is:
its own bytes, stored, their SHA-256 naming what was printed. The same labels drawn bare as one
PDF (the print job alone, with no label issued) is printed beside it.

    python -m tests.benchmarks.label_printing [--bags 100] [--lots 6] [--database-url URL]
"""

from __future__ import annotations

import argparse
import io
import statistics

from reportlab.pdfgen.canvas import Canvas

from custody.extensions import db
from custody.labels.pdf import draw_label, render_pdf
from custody.models import Bag, LabelPrint, LabelStatus, Lot
from custody.services.core import accounts
from custody.services.labelling import contents
from custody.services.labelling.templates import library, printable_template
from tests.benchmarks import migrated_app, report
from tests.benchmarks.release_signing import _get, timed
from tests.factories import Factories, LotFactory, QualityFactory, approve_label_templates

TITLE = "bench"


def build(app, lots: int, bags: int) -> tuple[list[str], str]:
    make = Factories(app)
    quality = QualityFactory(app, make)
    approve_label_templates(make)
    numbers = [quality.released_lot(LotFactory(app), bags=bags).lot_number for _ in range(lots)]
    printer = make.user("technician")
    return numbers, accounts.issue_token("system:bench", printer.username)


# --- bare reportlab: the renderer's canvas calls, recorded once and replayed ----------------------


class _PathCalls:
    def __init__(self) -> None:
        self.rects: list[tuple] = []

    def rect(self, *args) -> None:
        self.rects.append(args)


class _CanvasCalls:
    """Stands where the renderer expects a reportlab Canvas and keeps every call made on it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    def beginPath(self) -> _PathCalls:
        return _PathCalls()

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))


def recorded(pages) -> list[list[tuple[str, tuple, dict]]]:
    """Each label's canvas calls, as the renderer makes them."""
    labels = []
    for template, values in pages:
        canvas = _CanvasCalls()
        draw_label(canvas, template, values)
        labels.append(canvas.calls)
    return labels


def draw_bare(labels: list[list[tuple[str, tuple, dict]]]) -> bytes:
    """The recorded labels drawn by reportlab alone, one page each, as the renderer's PDF."""
    out = io.BytesIO()
    canvas = Canvas(out, invariant=1, pageCompression=1)
    canvas.setTitle(TITLE)
    canvas.setCreator("custody")
    for calls in labels:
        for name, args, kwargs in calls:
            if name == "drawPath":
                path = canvas.beginPath()
                for rect in args[0].rects:
                    path.rect(*rect)
                args = (path, *args[1:])
            getattr(canvas, name)(*args, **kwargs)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def same_content(pages) -> list[list[tuple[str, tuple, dict]]]:
    """The pages' recorded calls, checked to draw exactly what the renderer draws."""
    labels = recorded(pages)
    if draw_bare(labels) != render_pdf(pages, TITLE):
        raise RuntimeError("the bare replay does not draw the renderer's PDF; fix the floor")
    return labels


# --- measurements -------------------------------------------------------------------------------


def one_label(app, number: str, repeats: int = 50) -> dict[str, list[float]]:
    with app.app_context():
        lot = db.session.query(Lot).filter_by(lot_number=number).one()
        content = contents.bag_label(lot.bags[0])
        pages = [(printable_template(content.purpose), content.values)]
    labels = same_content(pages)
    found: dict[str, list[float]] = {"bare": [], "renderer": []}
    for _ in range(repeats):  # taken in turn, so a busy moment weighs on both alike
        found["bare"].append(timed(draw_bare, labels))
        found["renderer"].append(timed(render_pdf, pages, TITLE))
    return found


def measure(app, numbers: list[str], token: str) -> dict[str, list[float]]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    found: dict[str, list[float]] = {"first": [], "again": [], "lot": [], "each": [], "job": []}
    half = len(numbers) // 2 or 1
    for number in numbers[:half]:
        for code in _codes(app, number)[:20]:
            found["first"].append(timed(_get, client, f"/api/v1/bags/{code}/label.pdf", headers))
            found["again"].append(timed(_get, client, f"/api/v1/bags/{code}/label.pdf", headers))
    for number in numbers[half:]:
        found["lot"].append(timed(_get, client, f"/api/v1/lots/{number}/labels.pdf", headers))
        labels = same_content(_issued_pages(app, number))
        for _ in range(3):
            found["each"].append(timed(draw_each_bare, labels))
            found["job"].append(timed(draw_bare, labels))
    return found


def draw_each_bare(labels: list[list[tuple[str, tuple, dict]]]) -> list[bytes]:
    """Each recorded label drawn bare as a PDF of its own, as issuing stores it."""
    return [draw_bare([calls]) for calls in labels]


def _codes(app, number: str) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                db.select(Bag.code).join(Lot).where(Lot.lot_number == number).order_by(Bag.id)
            )
        )


def _issued_pages(app, number: str) -> list:
    """The lot's live labels as issued: each one's template version and printed values."""
    with app.app_context():
        labels = db.session.scalars(
            db.select(LabelPrint)
            .join(Lot, LabelPrint.lot_id == Lot.id)
            .where(Lot.lot_number == number, LabelPrint.status != LabelStatus.VOIDED)
            .order_by(LabelPrint.bag_id)
        )
        templates = library()
        return [(templates.get(lb.purpose, lb.template_version), lb.values) for lb in labels]


def ratio(name: str, samples: list[float], floor: list[float], budget: float) -> None:
    times = statistics.median(samples) / statistics.median(floor)
    print(f"{name}: {times:.2f}x bare (budget {budget:g}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bags", type=int, default=100)
    parser.add_argument("--lots", type=int, default=6)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with migrated_app(args.database_url) as app:
        with app.app_context():
            numbers, token = build(app, args.lots, args.bags)
        alone = one_label(app, numbers[0])
        found = measure(app, numbers, token)
    report("one final label drawn bare (reportlab alone)", alone["bare"])
    report("one final label rendered (PDF, no database)", alone["renderer"])
    report("bag label through the API, first request (issued)", found["first"])
    report("bag label through the API, asked again (stored)", found["again"])
    report(f"lot of {args.bags} bags drawn bare, each label its own PDF", found["each"])
    report(f"lot of {args.bags} bags drawn bare as one PDF", found["job"])
    report(f"lot of {args.bags} bags as one PDF through the API (all issued)", found["lot"])
    ratio("one label rendered", alone["renderer"], alone["bare"], 1.5)
    ratio(f"lot of {args.bags} issued through the API", found["lot"], found["each"], 2)
    print(
        f"  (and {statistics.median(found['lot']) / statistics.median(found['job']):.2f}x "
        "the same labels drawn bare as one PDF, the print job alone)"
    )


if __name__ == "__main__":
    main()
