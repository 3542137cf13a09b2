"""Horizontal bar charts measured on the server and drawn as inline SVG by the templates.

Like the shipment temperature chart (`temperature_chart`, whose width and `Tick` this module
shares), the chart needs no JavaScript and no library from a CDN: this module computes each
bar's place and size, the template only draws them. One shape serves both overview charts: a
row per category, each row a stack of segments (a plain bar chart is a stack of one).

Colour is never the only carrier of meaning: every row is named, every segment wide enough
shows its number, each has a tooltip naming what it counts, the legend names every colour,
and the page prints the same numbers in a table beside the chart.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from custody.web.temperature_chart import WIDTH, Tick

LEFT, RIGHT, TOP, AXIS = 190, 56, 8, 28
ROW, GAP = 26, 10
LEGEND_ROW, LEGEND_COLUMN, SWATCH = 22, 150, 12
# Longer row names are shortened on the chart (the full name is in its tooltip and the table).
MAX_LABEL = 28
# A segment shows its number inside when it is at least this wide per digit (12 px text).
DIGIT_WIDTH = 8
DARK, LIGHT = "#111", "#fff"

# The house colours (static/css/custody.css): --ok and --stop; the rest are chosen to stay
# apart from them and from each other, with dark or light numbers as each needs.
OK, STOP = "#0a7d2c", "#b00020"


@dataclass(frozen=True)
class Series:
    """What one colour stands for: a disposition, a bag state."""

    key: str
    label: str
    colour: str
    ink: str = LIGHT


DISPOSITIONS = (
    Series("quarantine", "Quarantine", "#f59e0b", DARK),
    Series("released", "Released", OK),
    Series("conditionally_released", "Conditionally released", "#84cc16", DARK),
    Series("rejected", "Rejected", STOP),
)
# In the order of the bag's life: the lab, release, the trip, the bedside, the ends.
BAG_STATES = (
    Series("filled", "Filled", "#d1d5db", DARK),
    Series("quarantined", "Quarantined", "#f59e0b", DARK),
    Series("stored", "Stored (quarantine)", "#b45309"),
    Series("released", "Released", "#16a34a"),
    Series("allocated", "Allocated", OK),
    Series("shipped", "Shipped", "#93c5fd", DARK),
    Series("received", "Received", "#1d4ed8"),
    Series("thawed", "Thawed", "#7c3aed"),
    Series("verified", "Verified", "#c4b5fd", DARK),
    Series("infused", "Infused", "#1d2a3a"),
    Series("returned", "Returned", "#f9a8d4", DARK),
    Series("discarded", "Discarded", "#6b7280"),
    Series("rejected", "Rejected", STOP),
)


@dataclass(frozen=True)
class Segment:
    key: str
    label: str
    value: int
    x: float
    width: float
    colour: str
    ink: str
    # Its number is printed inside: in a stack (a lone bar has its total beside it), if it fits.
    labelled: bool

    @property
    def middle(self) -> float:
        return round(self.x + self.width / 2, 1)


@dataclass(frozen=True)
class Row:
    label: str
    y: float
    height: float
    total: int
    total_x: float
    segments: list[Segment]

    @property
    def middle(self) -> float:
        return round(self.y + self.height / 2, 1)

    @property
    def short_label(self) -> str:
        return self.label if len(self.label) <= MAX_LABEL else self.label[: MAX_LABEL - 1] + "…"


@dataclass(frozen=True)
class LegendItem:
    label: str
    colour: str
    x: float
    y: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: float
    top: float
    plot_width: float
    plot_height: float
    rows: list[Row]
    summary: str
    ticks: list[Tick] = field(default_factory=list)
    legend: list[LegendItem] = field(default_factory=list)

    @property
    def bottom(self) -> float:
        return self.top + self.plot_height

    @property
    def right(self) -> float:
        return self.left + self.plot_width


def bar_chart(counts: Mapping[str, int], series: Sequence[Series], width: int = WIDTH) -> BarChart:
    """One bar per series (in the series' order), as long as its count; zero bars stay named."""
    rows = [(s.label, {s.key: counts.get(s.key, 0)}) for s in series]
    return stacked_bar_chart(rows, series, legend=False, width=width)


def stacked_bar_chart(
    rows: Sequence[tuple[str, Mapping[str, int]]],
    series: Sequence[Series],
    legend: bool = True,
    width: int = WIDTH,
) -> BarChart:
    """A bar per row, made of a segment per series with a count above zero, in the series'
    order; the scale is shared so bars compare. The legend lists only the series drawn."""
    totals = [sum(counts.get(s.key, 0) for s in series) for _, counts in rows]
    ticks_at = count_ticks(max(totals, default=0))
    scale_max = ticks_at[-1]
    plot_w = width - LEFT - RIGHT
    plot_h = len(rows) * (ROW + GAP) + GAP

    def x(value: float) -> float:
        return round(LEFT + value / scale_max * plot_w, 1)

    drawn = [
        _row(label, counts, series, TOP + GAP + n * (ROW + GAP), x)
        for n, (label, counts) in enumerate(rows)
    ]
    used = [s for s in series if any(seg.key == s.key for r in drawn for seg in r.segments)]
    keys = _legend(used, TOP + plot_h + AXIS + 6, width) if legend else []
    legend_h = (keys[-1].y - (TOP + plot_h + AXIS + 6) + LEGEND_ROW) if keys else 0
    return BarChart(
        width=width,
        height=int(TOP + plot_h + AXIS + legend_h + 8),
        left=LEFT,
        top=TOP,
        plot_width=plot_w,
        plot_height=plot_h,
        rows=drawn,
        summary=_summary(rows, series, totals),
        ticks=[Tick(x(v), str(v)) for v in ticks_at],
        legend=keys,
    )


def _row(label: str, counts: Mapping[str, int], series: Sequence[Series], y: float, x) -> Row:
    stacked = len(counts) > 1
    segments, start = [], 0
    for s in series:
        value = counts.get(s.key, 0)
        if value <= 0:
            continue
        left, width = x(start), round(x(start + value) - x(start), 1)
        fits = width >= DIGIT_WIDTH * len(str(value)) + 6
        segments.append(
            Segment(s.key, s.label, value, left, width, s.colour, s.ink, stacked and fits)
        )
        start += value
    return Row(label, y, ROW, start, round(x(start) + 6, 1), segments)


def count_ticks(largest: int) -> list[int]:
    """Whole-number ticks from 0 to at least `largest`, in round steps (1, 2, 5 × 10^n), at
    most six of them: a count axis never shows 2.5 bags."""
    step, growth = 1, itertools.cycle((2, 2.5, 2))  # 1, 2, 5, 10, 20, 50, 100, …
    while -(-largest // step) > 5:
        step = int(step * next(growth))
    top = max(-(-largest // step) * step, step)
    return list(range(0, top + 1, step))


def _legend(series: Sequence[Series], top: float, width: int) -> list[LegendItem]:
    per_line = max(int((width - LEFT) // LEGEND_COLUMN), 1)
    return [
        LegendItem(
            s.label,
            s.colour,
            LEFT + (n % per_line) * LEGEND_COLUMN,
            top + (n // per_line) * LEGEND_ROW,
        )
        for n, s in enumerate(series)
    ]


def _summary(
    rows: Sequence[tuple[str, Mapping[str, int]]], series: Sequence[Series], totals: list[int]
) -> str:
    """The chart in words, for screen readers (the SVG's <desc>)."""
    parts = []
    for (label, counts), total in zip(rows, totals, strict=True):
        detail = ", ".join(
            f"{counts[s.key]} {s.label.lower()}" for s in series if counts.get(s.key, 0) > 0
        )
        parts.append(f"{label}: {total}" + (f" ({detail})" if detail and len(counts) > 1 else ""))
    return "; ".join(parts) + "."
