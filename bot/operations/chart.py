"""The reports chart as server-rendered SVG: no charting script to ship or trust.

The SVG uses presentation attributes only (``fill``, ``stroke``), never ``style``, so it
may be placed in a page whose Content-Security-Policy forbids inline styles. It carries
its own text alternative (``<title>`` and ``<desc>`` naming each area's figures); the
dashboard also shows the same numbers as a table.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape, quoteattr

WIDTH = 960
HEIGHT = 320
LEFT, RIGHT, TOP, BOTTOM = 48, 170, 16, 36

COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")
"""Okabe and Ito's palette, told apart by people with the common colour blindnesses."""
DASHES = ("", "6 3", "2 3", "8 3 2 3", "12 4", "1 2")
"""A dash pattern per line as well, so colour is never the only cue."""


def _label(area: dict[str, Any]) -> str:
    place = area.get("place") or ""
    return f"{area['area_code']} {place}".strip()


def _nice_top(peak: int) -> int:
    """A round upper bound for the y axis (at least 4, so the grid has whole steps)."""
    for step in (4, 8, 12, 20, 40, 60, 100, 200, 400, 1000, 2000, 4000, 10000):
        if peak <= step:
            return step
    return peak


def describe(reports: dict[str, Any]) -> str:
    """The chart in words, for screen readers and as the figure's caption."""
    top = reports["top"]
    if not top:
        return "No reports in the last 24 hours."
    parts = []
    for area in top:
        counts = area["counts"]
        peak = max(counts)
        last_hour = sum(counts[-12:])
        parts.append(
            f"{_label(area)}: {sum(counts)} in 24 h, {last_hour} in the last hour, "
            f"peak {peak} per 5 min"
        )
    return (
        f"Reports per 5 minutes over the last 24 hours, top {len(top)} areas. "
        + "; ".join(parts)
        + "."
    )


def render(reports: dict[str, Any]) -> str:
    """An SVG line chart of the top areas' reports per bucket over the last 24 hours."""
    top = reports["top"]
    start = datetime.fromisoformat(reports["start"])
    minutes = int(reports["bucket_minutes"])
    buckets = len(top[0]["counts"]) if top else 24 * 60 // minutes
    peak = _nice_top(max((max(a["counts"]) for a in top), default=0))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x(index: int) -> float:
        return LEFT + plot_w * index / max(1, buckets - 1)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / peak)

    summary = describe(reports)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="chart-title chart-desc" class="chart">',
        '<title id="chart-title">Reports per area, last 24 hours</title>',
        f'<desc id="chart-desc">{escape(summary)}</desc>',
    ]
    for step in range(5):
        value = peak * step / 4
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'stroke="#d8dce3" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#3b4250">{value:g}</text>'
        )
    per_hour = 60 // minutes
    for index in range(0, buckets, per_hour * 3):
        moment = start + timedelta(minutes=minutes * index)
        out.append(
            f'<text x="{x(index):.1f}" y="{HEIGHT - 12}" text-anchor="middle" font-size="12" '
            f'fill="#3b4250">{moment:%H:%M}</text>'
        )
    for number, area in enumerate(top):
        colour = COLOURS[number % len(COLOURS)]
        dash = DASHES[number % len(DASHES)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(area["counts"]))
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.6"'
            f"{dashed}><title>{escape(_label(area))}</title></polyline>"
        )
        legend_y = TOP + 14 + number * 20
        out.append(
            f'<line x1="{WIDTH - RIGHT + 12}" x2="{WIDTH - RIGHT + 36}" y1="{legend_y - 4}" '
            f'y2="{legend_y - 4}" stroke="{colour}" stroke-width="3"{dashed}/>'
        )
        out.append(
            f'<text x="{WIDTH - RIGHT + 42}" y="{legend_y}" font-size="12" fill="#1d1d1f" '
            f"data-area={quoteattr(area['area_code'])}>{escape(_label(area)[:18])}</text>"
        )
    if not top:
        out.append(
            f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" '
            'font-size="16" fill="#5f6673">No reports in the last 24 hours</text>'
        )
    out.append("</svg>")
    return "".join(out)
