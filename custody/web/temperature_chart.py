"""Geometry of the shipment temperature chart, drawn as inline SVG by the page's template.

Computed on the server so the chart needs no JavaScript and no library from a CDN (hospital
networks are often closed): the template only places the shapes this module measures. The
chart shows the logger's readings as a line, the storage limit as a dashed line, each
excursion as a red band and each gap in the log as a grey band.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from custody.domain.excursions import Excursion, Gap, Reading

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 60, 16, 14, 36
TICKS = 5
# More points than this are thinned to each column's lowest and highest reading, so a peak
# (an excursion) is never thinned away.
MAX_POINTS = 2 * (WIDTH - LEFT - RIGHT)


@dataclass(frozen=True)
class Band:
    x: float
    width: float
    label: str


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    top: float
    plot_width: float
    plot_height: float
    points: str
    limit_y: float
    limit_label: str
    excursions: list[Band] = field(default_factory=list)
    gaps: list[Band] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)

    @property
    def bottom(self) -> float:
        return self.top + self.plot_height

    @property
    def right(self) -> float:
        return self.left + self.plot_width


def build_chart(
    readings: Sequence[Reading],
    limit_c: float,
    excursions: Sequence[Excursion] = (),
    gaps: Sequence[Gap] = (),
) -> Chart | None:
    """The chart's shapes in SVG user units, or None when there are no readings to draw."""
    if not readings:
        return None
    readings = sorted(readings)
    t0, t1 = readings[0].recorded_at, readings[-1].recorded_at
    if t1 - t0 < timedelta(minutes=1):
        t0, t1 = t0 - timedelta(minutes=30), t1 + timedelta(minutes=30)
    low, high = _temperature_range([r.temperature_c for r in readings], limit_c)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return LEFT + (at - t0) / (t1 - t0) * plot_w

    def y(celsius: float) -> float:
        return TOP + (high - celsius) / (high - low) * plot_h

    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        top=TOP,
        plot_width=plot_w,
        plot_height=plot_h,
        points=" ".join(
            f"{x(r.recorded_at):.1f},{y(r.temperature_c):.1f}" for r in _thin(readings)
        ),
        limit_y=round(y(limit_c), 1),
        limit_label=f"limit {limit_c:g} °C",
        excursions=[_band(x(e.start), x(e.end), _excursion_words(e)) for e in excursions],
        gaps=[_band(x(g.start), x(g.end), _gap_words(g)) for g in gaps],
        y_ticks=[Tick(round(y(c), 1), f"{c:g}") for c in _steps(low, high)],
        x_ticks=[Tick(round(x(t), 1), _clock(t)) for t in _moments(t0, t1)],
    )


def _temperature_range(values: list[float], limit_c: float) -> tuple[float, float]:
    """Readings and the limit, with a margin, so the dashed line is always in view."""
    low, high = min(*values, limit_c), max(*values, limit_c)
    margin = max((high - low) * 0.08, 2.0)
    return low - margin, high + margin


def _steps(low: float, high: float) -> list[float]:
    """About TICKS round values between low and high."""
    raw = (high - low) / (TICKS - 1)
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100) if s >= raw) if raw <= 100 else 100
    first = int(low // step + 1) * step
    return [v for v in (first + i * step for i in range(TICKS + 2)) if v <= high]


def _moments(t0: datetime, t1: datetime) -> list[datetime]:
    return [t0 + (t1 - t0) * i / (TICKS - 1) for i in range(TICKS)]


def _thin(readings: list[Reading]) -> list[Reading]:
    if len(readings) <= MAX_POINTS:
        return readings
    columns = MAX_POINTS // 2
    t0, span = readings[0].recorded_at, readings[-1].recorded_at - readings[0].recorded_at
    buckets: dict[int, list[Reading]] = {}
    for r in readings:
        buckets.setdefault(min(int((r.recorded_at - t0) / span * columns), columns - 1), []).append(
            r
        )
    kept: list[Reading] = []
    for bucket in buckets.values():
        lowest = min(bucket, key=lambda r: r.temperature_c)
        highest = max(bucket, key=lambda r: r.temperature_c)
        kept.extend(sorted({lowest, highest}))
    return kept


def _band(start: float, end: float, label: str) -> Band:
    # A one-reading excursion still shows as a visible sliver.
    return Band(round(start, 1), round(max(end - start, 2.0), 1), label)


def _clock(at: datetime) -> str:
    return at.strftime("%m-%d %H:%M")


def _excursion_words(e: Excursion) -> str:
    end = "log ends above the limit" if e.ongoing else f"until {_clock(e.end)}"
    return f"Excursion from {_clock(e.start)} UTC, {end}; peak {e.peak_c:g} °C"


def _gap_words(g: Gap) -> str:
    minutes = int(g.duration.total_seconds() // 60)
    return f"No readings for {minutes} min from {_clock(g.start)} UTC"
