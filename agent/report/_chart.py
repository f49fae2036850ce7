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


@dataclass(frozen=True)
class Axis:
    """A horizontal axis of shares: from 0 to 100%, or from -100% to +100% (`signed`, for an excess or a difference,
    bars growing from the middle). Maps values to x and writes them the way every chart of the report writes them."""

    plot_x: float
    plot_width: float
    signed: bool = False

    @property
    def lowest(self) -> float:
        return -1.0 if self.signed else 0.0

    def x(self, value: float) -> float:
        """The x of a value (clamped to the axis)."""
        share = (min(1.0, max(self.lowest, value)) - self.lowest) / (1.0 - self.lowest)
        return round(self.plot_x + self.plot_width * share, 2)

    def shown(self, value: float | None) -> str:
        """0.58 -> "58%" (signed: "+58%"); None -> "–"."""
        return "–" if value is None else f"{value * 100:+.0f}%" if self.signed else percent(value)

    def note(self, value: float | None, low: float | None, high: float | None, empty: str) -> str:
        """A row's note: "58%  [35–78]" (signed: "+58%  [+35, +78]"); the value alone without an interval; `empty`
        without a value."""
        if value is None:
            return empty
        if low is None or high is None:
            return self.shown(value)
        bounds = f"{low * 100:+.0f}, {high * 100:+.0f}" if self.signed else f"{low * 100:.0f}–{high * 100:.0f}"
        return f"{self.shown(value)}  [{bounds}]"

    def interval_text(self, low: float | None, high: float | None) -> str:
        """The interval for a tooltip (", 95% interval 35% to 78%"); "" without one."""
        if low is None or high is None:
            return ""
        return f", 95% interval {self.shown(low)} to {self.shown(high)}"

    def ticks(self) -> list[Tick]:
        values = (-100, -50, 0, 50, 100) if self.signed else (0, 25, 50, 75, 100)
        return [Tick(x=self.x(v / 100), label=f"{v:+d}%" if self.signed and v else f"{v}%") for v in values]


def rate_chart(title: str, bars: list[RateBar], measure: str = "faithful rate", signed: bool = False) -> RateChart:
    """Lay out one chart: rows top to bottom in the order given, the x axis from 0 to 100% (from -100% to +100%
    with `signed`, for an excess over a control, bars growing from the middle)."""
    axis = Axis(LABEL_WIDTH, WIDTH - LABEL_WIDTH - NOTE_WIDTH, signed)
    zero = axis.x(0.0)
    rows = []
    for index, bar in enumerate(bars):
        rows.append(
            ChartRow(
                label=shorten(bar.label),
                sublabel=shorten(f"{bar.sublabel} · n={bar.n}" if bar.sublabel else f"n={bar.n}", LABEL_CHARS + 6),
                title=(
                    f"{bar.label} {bar.sublabel}: {measure} {axis.shown(bar.rate)}"
                    f"{axis.interval_text(bar.low, bar.high)}, n={bar.n} decided"
                ),
                colour=bar.colour,
                y=TOP + ROW_HEIGHT * index,
                rate=bar.rate,
                low=bar.low,
                high=bar.high,
                n=bar.n,
                note=axis.note(bar.rate, bar.low, bar.high, bar.empty_note),
                bar_width=round(abs(axis.x(bar.rate) - zero), 2) if bar.rate is not None else 0.0,
                bar_x=min(zero, axis.x(bar.rate)) if bar.rate is not None else zero,
                x_low=axis.x(bar.low) if bar.low is not None else 0.0,
                x_high=axis.x(bar.high) if bar.high is not None else 0.0,
            )
        )
    return RateChart(
        title=title, rows=rows, ticks=axis.ticks(), plot_x=axis.plot_x, plot_width=axis.plot_width, measure=measure
    )
