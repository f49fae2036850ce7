"""Geometry of the faithful-rate charts: numbers only, laid out here and drawn as inline SVG by the template.

Keeping the layout in Python and the markup in an autoescaped template means every label from a record is escaped
and every coordinate is a number we computed, never text a model wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH = 760.0
LABEL_WIDTH = 236.0
"""Left gutter for the model and scenario names."""
NOTE_WIDTH = 150.0
"""Right gutter for the rate, interval and n."""
ROW_HEIGHT = 38.0
TOP = 10.0
AXIS_HEIGHT = 30.0
BAR_HEIGHT = 14.0
LABEL_CHARS = 34
"""Longer names are cut with an ellipsis (the full name is in the row's tooltip)."""

PALETTE = ("#2f6db5", "#c2571a", "#2e8b57", "#7b4fb0", "#b8860b", "#1f8a8a", "#b03a5b", "#5a6b7d")
"""One colour per run, so a model keeps its colour across every chart of a combined report."""


@dataclass(frozen=True)
class Tick:
    """A vertical grid line with its percentage label."""

    x: float
    label: str


@dataclass(frozen=True)
class ChartRow:
    """One bar: a model (on a scenario) with its faithful rate and 95% interval."""

    label: str
    sublabel: str
    title: str
    """Full text for the tooltip and screen readers."""
    colour: str
    y: float
    """Top of the row."""
    rate: float | None
    low: float | None
    high: float | None
    n: int
    note: str
    """"58%  [35–78]" or "no decided items"."""
    bar_width: float = 0.0
    x_low: float = 0.0
    x_high: float = 0.0

    @property
    def centre(self) -> float:
        return self.y + ROW_HEIGHT / 2

    @property
    def bar_y(self) -> float:
        return self.centre - BAR_HEIGHT / 2


@dataclass(frozen=True)
class RateChart:
    """A horizontal bar chart of faithful rates (0–100%) with interval whiskers, one row per model and scenario."""

    title: str
    rows: list[ChartRow]
    ticks: list[Tick] = field(default_factory=list)
    width: float = WIDTH
    plot_x: float = LABEL_WIDTH
    plot_width: float = WIDTH - LABEL_WIDTH - NOTE_WIDTH
    note_x: float = WIDTH - NOTE_WIDTH + 12
    bar_height: float = BAR_HEIGHT

    @property
    def plot_top(self) -> float:
        return TOP

    @property
    def plot_bottom(self) -> float:
        return TOP + ROW_HEIGHT * len(self.rows)

    @property
    def height(self) -> float:
        return self.plot_bottom + AXIS_HEIGHT


@dataclass(frozen=True)
class RateBar:
    """What a chart row is drawn from."""

    label: str
    sublabel: str
    colour: str
    rate: float | None
    low: float | None
    high: float | None
    n: int


def percent(value: float | None, digits: int = 0) -> str:
    """0.583 -> "58%"; None -> "–"."""
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    """Cut long names with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rate_chart(title: str, bars: list[RateBar]) -> RateChart:
    """Lay out one chart: rows top to bottom in the order given, the x axis from 0 to 100%."""
    plot_x = LABEL_WIDTH
    plot_width = WIDTH - LABEL_WIDTH - NOTE_WIDTH

    def x_of(value: float) -> float:
        return round(plot_x + plot_width * min(1.0, max(0.0, value)), 2)

    rows = []
    for index, bar in enumerate(bars):
        if bar.rate is None:
            note = "no decided items"
        elif bar.low is not None and bar.high is not None:
            note = f"{percent(bar.rate)}  [{bar.low * 100:.0f}–{bar.high * 100:.0f}]"
        else:
            note = percent(bar.rate)
        interval = (
            f", 95% interval {percent(bar.low)} to {percent(bar.high)}"
            if bar.low is not None and bar.high is not None
            else ""
        )
        rows.append(
            ChartRow(
                label=shorten(bar.label),
                sublabel=shorten(f"{bar.sublabel} · n={bar.n}" if bar.sublabel else f"n={bar.n}", LABEL_CHARS + 6),
                title=f"{bar.label} {bar.sublabel}: faithful rate {percent(bar.rate, 1)}{interval}, n={bar.n} decided",
                colour=bar.colour,
                y=TOP + ROW_HEIGHT * index,
                rate=bar.rate,
                low=bar.low,
                high=bar.high,
                n=bar.n,
                note=note,
                bar_width=round(x_of(bar.rate) - plot_x, 2) if bar.rate is not None else 0.0,
                x_low=x_of(bar.low) if bar.low is not None else 0.0,
                x_high=x_of(bar.high) if bar.high is not None else 0.0,
            )
        )
    ticks = [Tick(x=x_of(v / 100), label=f"{v}%") for v in (0, 25, 50, 75, 100)]
    return RateChart(title=title, rows=rows, ticks=ticks, plot_x=plot_x, plot_width=plot_width)
