"""The SVG bar chart: one bar per figure, each as long as its share of the largest,
carrying its label and figure, and every text escaped."""

from __future__ import annotations

import re
from decimal import Decimal

from app.console.chart import LABEL_WIDTH, VALUE_WIDTH, WIDTH, Bar, bar_chart


def _bars(svg: str) -> list[tuple[str, str, float]]:
    return [
        (label, value, float(width))
        for label, value, width in re.findall(
            r'<g class="bar" data-label="([^"]*)" data-value="([^"]*)">.*?width="([\d.]+)"', svg
        )
    ]


def test_bars_are_proportional_to_their_figures() -> None:
    svg = bar_chart(
        [
            Bar("acme", Decimal("58.80"), "58.80"),
            Bar("globex", Decimal("117.60"), "117.60"),
            Bar("idle", Decimal("0.00"), "0.00"),
        ],
        "Total cost by tenant",
    )
    track = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    assert _bars(str(svg)) == [
        ("acme", "58.80", track / 2),
        ("globex", "117.60", float(track)),
        ("idle", "0.00", 0.0),
    ]
    assert "<title>Total cost by tenant</title>" in svg


def test_labels_are_escaped_and_an_empty_chart_says_so() -> None:
    svg = str(bar_chart([Bar('<b>"x"</b>', Decimal(1), "1.00")], "t"))
    assert "<b>" not in svg and "&lt;b&gt;" in svg
    assert "No figures" in str(bar_chart([], "t"))
