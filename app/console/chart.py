"""A horizontal bar chart as inline SVG, drawn on the server (the console ships no
charting library and needs no script).

Each bar carries its label and exact figure in ``data-label``/``data-value``, so a test
(or a screen reader, through the ``<title>``) reads the same figures the table shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

# A narrow drawing, scaled to its box: its text stays readable on a 390-pixel screen
# (the stylesheet caps how wide it grows on a large one).
BAR_HEIGHT = 18
GAP = 6
LABEL_WIDTH = 110
VALUE_WIDTH = 70
WIDTH = 400
LONGEST_LABEL = 16  # characters; longer labels are cut with an ellipsis


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: Decimal
    shown: str
    """The figure as written beside the bar (a money string)."""


def _short(label: str) -> str:
    return label if len(label) <= LONGEST_LABEL else label[: LONGEST_LABEL - 1] + "…"


def bar_chart(bars: list[Bar], title: str) -> Markup:
    """An SVG scaled to its container's width; bars proportional to the largest value."""
    height = max(len(bars), 1) * (BAR_HEIGHT + GAP) + GAP
    track = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    largest = max((bar.value for bar in bars), default=Decimal(0))
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'preserveAspectRatio="xMinYMin meet" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    if not bars:
        parts.append(f'<text x="0" y="{BAR_HEIGHT}" class="chart-empty">No figures</text>')
    for index, bar in enumerate(bars):
        y = GAP + index * (BAR_HEIGHT + GAP)
        length = float(bar.value / largest * track) if largest > 0 and bar.value > 0 else 0.0
        middle = y + BAR_HEIGHT / 2
        parts.append(
            f'<g class="bar" data-label="{escape(bar.label)}" data-value="{escape(bar.shown)}">'
            f"<title>{escape(bar.label)}: {escape(bar.shown)}</title>"
            f'<text x="{LABEL_WIDTH - 6}" y="{middle}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(_short(bar.label))}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.2f}" height="{BAR_HEIGHT}"/>'
            f'<text x="{LABEL_WIDTH + length + 6:.2f}" y="{middle}" '
            f'dominant-baseline="middle">{escape(bar.shown)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped
