"""SVG charts drawn on the server (no script): the occupancy heat map and horizontal bar charts.

Every figure is written as text inside the chart as well as encoded by colour or length, so the
charts read in print, in greyscale and for people who cannot tell the colours apart; each chart
has a ``<title>``/``<desc>`` and the page gives the same figures in a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

#: Light → dark blue; text turns white from the fourth step for contrast (WCAG AA on each fill).
SCALE = ("#f7fbff", "#deebf7", "#c6dbef", "#6baed6", "#3182bd", "#08519c", "#08306b")
DARK_FROM = 3


def _fill(value: float, maximum: float) -> tuple[str, str]:
    if maximum <= 0 or value <= 0:
        return SCALE[0], "#1a1a1a"
    step = min(len(SCALE) - 1, 1 + int((value / maximum) * (len(SCALE) - 2) + 0.5))
    return SCALE[step], "#ffffff" if step >= DARK_FROM else "#1a1a1a"


def heat_map(
    values: Sequence[Sequence[float]],
    *,
    row_labels: Sequence[str],
    hours: Sequence[int],
    title: str,
    description: str,
) -> str:
    """A weekday × hour grid; each cell shows its value (2 places) on a fill proportional to it."""
    cell_w, cell_h, left, top = 46, 30, 44, 26
    width = left + cell_w * len(hours) + 4
    height = top + cell_h * len(values) + 4
    maximum = max((v for row in values for v in row), default=0.0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart heatmap" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="hm-title hm-desc">',
        f'<title id="hm-title">{escape(title)}</title><desc id="hm-desc">{escape(description)}</desc>',
    ]
    for j, hour in enumerate(hours):
        x = left + j * cell_w + cell_w / 2
        out.append(f'<text x="{x:g}" y="17" text-anchor="middle" font-size="12" fill="#1a1a1a">{hour}</text>')
    for i, row in enumerate(values):
        y = top + i * cell_h
        out.append(
            f'<text x="{left - 8}" y="{y + cell_h / 2 + 4:g}" text-anchor="end" font-size="13" '
            f'fill="#1a1a1a">{escape(row_labels[i])}</text>'
        )
        for j, value in enumerate(row):
            x = left + j * cell_w
            fill, ink = _fill(value, maximum)
            out.append(
                f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{fill}" '
                f'stroke="#9e9e9e" stroke-width="0.5"/>'
            )
            label = f"{value:.2f}" if value else "·"
            out.append(
                f'<text x="{x + (cell_w - 2) / 2:g}" y="{y + cell_h / 2 + 3:g}" text-anchor="middle" '
                f'font-size="11" fill="{ink}">{label}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def bar_chart(
    items: Sequence[tuple[str, float, str]],
    *,
    title: str,
    description: str,
    chart_id: str,
    maximum: float | None = None,
) -> str:
    """Horizontal bars: (label, value, value as text). Negative values draw no bar; the text says it."""
    row_h, label_w, bar_w, value_w = 28, 200, 360, 130
    width = label_w + bar_w + value_w
    height = max(row_h * len(items), row_h) + 6
    top = maximum if maximum is not None else max((v for _, v, _ in items), default=0.0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bars" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for i, (label, value, shown) in enumerate(items):
        y = 3 + i * row_h
        length = 0.0 if top <= 0 or value <= 0 else bar_w * min(value / top, 1.0)
        out.append(
            f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:g}" text-anchor="end" font-size="13" '
            f'fill="#1a1a1a">{escape(label)}</text>'
        )
        out.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="{row_h - 8}" fill="#f0f0f0" stroke="#bdbdbd" '
            f'stroke-width="0.5"/>'
        )
        if length > 0:
            out.append(
                f'<rect x="{label_w}" y="{y + 4}" width="{length:.1f}" height="{row_h - 8}" fill="#3182bd"/>'
            )
        out.append(
            f'<text x="{label_w + bar_w + 8}" y="{y + row_h / 2 + 4:g}" font-size="13" '
            f'fill="#1a1a1a">{escape(shown)}</text>'
        )
    out.append("</svg>")
    return "".join(out)
