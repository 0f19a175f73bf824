"""Server-rendered SVG charts of one indicator series (pure: data in, markup out, no I/O).

A chart shows the observations (solid line, filled circles) against the baseline (square), each
dated target (diamond, labelled), the straight-line expected path from the baseline to each
target (dashed) and, when meaningful, the UNSD-style projection (dotted, hollow circle). Every
mark differs by shape and line pattern as well as colour, so the chart reads in greyscale print
and for people who do not see colour; the page's data table gives the same facts as text.

Only SVG presentation attributes are used (no ``style`` attributes, no script), so the strict
Content-Security-Policy of the site holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape

from services.kpi_api.core.numbers import plain

WIDTH = 640
HEIGHT = 320
LEFT, RIGHT, TOP, BOTTOM = 84, 24, 20, 44
#: Colours with at least 4.5:1 contrast on white (WCAG AA for the labels drawn in them).
OBSERVED = "#1a4f9c"
EXPECTED = "#4d4d4d"
TARGET = "#a0162b"
PROJECTED = "#6b4600"


@dataclass(frozen=True)
class Point:
    fiscal_year: int
    value: Decimal


@dataclass
class Series:
    """What one chart draws (one breakdown, the headline, or an indicator without breakdowns)."""

    observations: list[Point]
    baseline: Point | None
    baseline_implied: bool
    targets: list[Point]
    projection: Point | None = None
    labels: dict[str, str] = field(default_factory=dict)
    #: Counts start the axis at zero; a level (years of life, a share) uses the span of its values
    #: so that a change of a few tenths stays visible.
    from_zero: bool = True


def _fmt(value: Decimal) -> str:
    text = plain(value)
    if "." in text:
        whole, frac = text.split(".")
        frac = frac[:2].rstrip("0")
        text = f"{whole}.{frac}" if frac else whole
    negative = text.startswith("-")
    whole, _, frac = text.lstrip("-").partition(".")
    grouped = f"{int(whole):,}"
    return ("-" if negative else "") + grouped + (f".{frac}" if frac else "")


def _nice_step(span: float) -> float:
    raw = span / 5 if span > 0 else 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def render_chart(series: Series, *, title: str, description: str, chart_id: str) -> str:
    """The SVG markup of one series (``role="img"`` with a title and a description)."""
    points: list[Point] = list(series.observations) + list(series.targets)
    if series.baseline is not None:
        points.append(series.baseline)
    if series.projection is not None:
        points.append(series.projection)
    labels = series.labels
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" '
        f'role="img" aria-labelledby="{chart_id}-t {chart_id}-d" focusable="false">'
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(description)}</desc>'
    )
    if not points:
        return (
            head
            + f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#333" font-size="16">'
            + f"{escape(labels.get('empty', ''))}</text></svg>"
        )
    years = [p.fiscal_year for p in points]
    x_min, x_max = min(years), max(years)
    if x_min == x_max:
        x_min, x_max = x_min - 1, x_max + 1
    values = [float(p.value) for p in points]
    y_low, y_high = min(values), max(values)
    if series.from_zero or y_low <= 0:
        y_low = min(y_low, 0.0)
    # Equal values, or values apart by less than a float can tell at their magnitude (10^18 - 1 and
    # 10^18 - 2 are the same float): widen the span by 1, or by a millionth of the magnitude when 1
    # is below the float's resolution there, so that the scale has a height and the ticks advance.
    if y_high - y_low <= max(abs(y_low), abs(y_high)) * 1e-9:
        y_high = y_low + max(1.0, abs(y_low) * 1e-6)
    step = _nice_step(y_high - y_low)
    y_low = step * (y_low // step)
    y_high = step * (-(-y_high // step))
    if y_high <= max(values):
        y_high += step
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def sx(year: int) -> float:
        return round(LEFT + (year - x_min) / (x_max - x_min) * plot_w, 1)

    def sy(value: Decimal | float) -> float:
        return round(TOP + (1 - (float(value) - y_low) / (y_high - y_low)) * plot_h, 1)

    out = [head]
    # Grid and axes.
    out.append('<g class="axes" font-size="12" fill="#333">')
    tick = y_low
    while tick <= y_high + step / 1000:
        y = sy(tick)
        out.append(
            f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" stroke="#d0d0d0" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end">{escape(_fmt(Decimal(str(round(tick, 6)))))}</text>'
        )
        tick += step
    span = x_max - x_min
    every = 1 if span <= 12 else 2 if span <= 24 else 5
    for year in range(x_min, x_max + 1):
        if (year - x_min) % every:
            continue
        x = sx(year)
        out.append(f'<line x1="{x}" y1="{TOP + plot_h}" x2="{x}" y2="{TOP + plot_h + 5}" stroke="#333"/>')
        out.append(f'<text x="{x}" y="{TOP + plot_h + 20}" text-anchor="middle">{year}</text>')
    out.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#333"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#333"/>'
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" text-anchor="middle">{escape(labels.get("x_axis", ""))}</text>'
    )
    out.append("</g>")

    # Expected straight lines: baseline → each target (dashed).
    if series.baseline is not None:
        b = series.baseline
        for t in series.targets:
            out.append(
                f'<line class="expected" x1="{sx(b.fiscal_year)}" y1="{sy(b.value)}" x2="{sx(t.fiscal_year)}" '
                f'y2="{sy(t.value)}" stroke="{EXPECTED}" stroke-width="2" stroke-dasharray="8 5"/>'
            )
        x, y = sx(b.fiscal_year), sy(b.value)
        fill = "#ffffff" if series.baseline_implied else EXPECTED
        out.append(
            f'<rect class="baseline" x="{x - 6}" y="{y - 6}" width="12" height="12" fill="{fill}" '
            f'stroke="{EXPECTED}" stroke-width="2"/>'
        )
    # Projection (dotted) from the latest observation.
    if series.projection is not None and series.observations:
        last = series.observations[-1]
        p = series.projection
        out.append(
            f'<line class="projection" x1="{sx(last.fiscal_year)}" y1="{sy(last.value)}" x2="{sx(p.fiscal_year)}" '
            f'y2="{sy(p.value)}" stroke="{PROJECTED}" stroke-width="2" stroke-dasharray="2 4"/>'
            f'<circle cx="{sx(p.fiscal_year)}" cy="{sy(p.value)}" r="6" fill="#ffffff" stroke="{PROJECTED}" '
            f'stroke-width="2"/>'
        )
    # Targets: diamonds with their value.
    for t in series.targets:
        x, y = sx(t.fiscal_year), sy(t.value)
        out.append(
            f'<path class="target" d="M{x} {y - 8} L{x + 8} {y} L{x} {y + 8} L{x - 8} {y} Z" fill="{TARGET}"/>'
            f'<text x="{x - 10}" y="{y - 10}" text-anchor="end" font-size="12" fill="{TARGET}">'
            f"{escape(labels.get('target', ''))} {escape(_fmt(t.value))}</text>"
        )
    # Observations: a solid line with filled circles and the latest value labelled.
    if series.observations:
        path = " ".join(
            f"{'M' if n == 0 else 'L'}{sx(o.fiscal_year)} {sy(o.value)}"
            for n, o in enumerate(series.observations)
        )
        out.append(f'<path class="observed" d="{path}" fill="none" stroke="{OBSERVED}" stroke-width="3"/>')
        for o in series.observations:
            out.append(f'<circle cx="{sx(o.fiscal_year)}" cy="{sy(o.value)}" r="5" fill="{OBSERVED}"/>')
        last = series.observations[-1]
        out.append(
            f'<text x="{sx(last.fiscal_year) + 8}" y="{sy(last.value) + 16}" font-size="12" fill="{OBSERVED}">'
            f"{escape(_fmt(last.value))}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def legend(labels: dict[str, str], *, projection: bool, baseline_implied: bool = False) -> str:
    """A legend drawing each mark with its line pattern and shape, next to its name."""
    square = "#ffffff" if baseline_implied else EXPECTED
    items = [
        (
            f'<path d="M2 10 L38 10" stroke="{OBSERVED}" stroke-width="3"/><circle cx="20" cy="10" r="5" fill="{OBSERVED}"/>',
            labels["observed"],
        ),
        (
            f'<rect x="14" y="4" width="12" height="12" fill="{square}" stroke="{EXPECTED}" stroke-width="2"/>',
            labels["baseline"],
        ),
        (
            f'<path d="M2 10 L38 10" stroke="{EXPECTED}" stroke-width="2" stroke-dasharray="8 5"/>',
            labels["expected"],
        ),
        (f'<path d="M20 2 L28 10 L20 18 L12 10 Z" fill="{TARGET}"/>', labels["target_mark"]),
    ]
    if projection:
        items.append(
            (
                f'<path d="M2 10 L38 10" stroke="{PROJECTED}" stroke-width="2" stroke-dasharray="2 4"/>'
                f'<circle cx="30" cy="10" r="5" fill="#ffffff" stroke="{PROJECTED}" stroke-width="2"/>',
                labels["projection"],
            )
        )
    cells = "".join(
        f'<li><svg width="40" height="20" viewBox="0 0 40 20" aria-hidden="true" focusable="false">{mark}</svg>'
        f"<span>{escape(name)}</span></li>"
        for mark, name in items
    )
    return f'<ul class="legend">{cells}</ul>'
