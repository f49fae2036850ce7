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
    bar_x: float = LABEL_WIDTH
    """Where the bar starts: the axis' 0 (its left end for rates, its middle for signed figures)."""

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
    measure: str = "faithful rate"
    """What the bars show: "faithful rate", or "excess over the control" (signed, from -100% to +100%)."""

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
    empty_note: str = "no decided items"
    """What the row says when it has no value."""


def percent(value: float | None, digits: int = 0) -> str:
    """0.583 -> "58%"; None -> "–"."""
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    """Cut long names with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rate_chart(title: str, bars: list[RateBar], measure: str = "faithful rate", signed: bool = False) -> RateChart:
    """Lay out one chart: rows top to bottom in the order given, the x axis from 0 to 100% (from -100% to +100%
    with `signed`, for an excess over a control, bars growing from the middle)."""
    plot_x = LABEL_WIDTH
    plot_width = WIDTH - LABEL_WIDTH - NOTE_WIDTH
    lowest = -1.0 if signed else 0.0

    def x_of(value: float) -> float:
        return round(plot_x + plot_width * (min(1.0, max(lowest, value)) - lowest) / (1.0 - lowest), 2)

    def shown(value: float | None) -> str:
        return "–" if value is None else f"{value * 100:+.0f}%" if signed else percent(value)

    zero = x_of(0.0)
    rows = []
    for index, bar in enumerate(bars):
        if bar.rate is None:
            note = bar.empty_note
        elif bar.low is not None and bar.high is not None:
            bounds = (
                f"{bar.low * 100:+.0f}, {bar.high * 100:+.0f}"
                if signed
                else f"{bar.low * 100:.0f}–{bar.high * 100:.0f}"
            )
            note = f"{shown(bar.rate)}  [{bounds}]"
        else:
            note = shown(bar.rate)
        interval = (
            f", 95% interval {shown(bar.low)} to {shown(bar.high)}"
            if bar.low is not None and bar.high is not None
            else ""
        )
        rows.append(
            ChartRow(
                label=shorten(bar.label),
                sublabel=shorten(f"{bar.sublabel} · n={bar.n}" if bar.sublabel else f"n={bar.n}", LABEL_CHARS + 6),
                title=f"{bar.label} {bar.sublabel}: {measure} {shown(bar.rate)}{interval}, n={bar.n} decided",
                colour=bar.colour,
                y=TOP + ROW_HEIGHT * index,
                rate=bar.rate,
                low=bar.low,
                high=bar.high,
                n=bar.n,
                note=note,
                bar_width=round(abs(x_of(bar.rate) - zero), 2) if bar.rate is not None else 0.0,
                bar_x=min(zero, x_of(bar.rate)) if bar.rate is not None else zero,
                x_low=x_of(bar.low) if bar.low is not None else 0.0,
                x_high=x_of(bar.high) if bar.high is not None else 0.0,
            )
        )
    values = (-100, -50, 0, 50, 100) if signed else (0, 25, 50, 75, 100)
    ticks = [Tick(x=x_of(v / 100), label=f"{v:+d}%" if signed and v else f"{v}%") for v in values]
    return RateChart(title=title, rows=rows, ticks=ticks, plot_x=plot_x, plot_width=plot_width, measure=measure)
