"""Lanham et al.'s (2023) curves: the share of forced answers that stay the same against the fraction of the chain of
thought kept (early-answering, beside its matched control) or before a mistake (adding-mistakes), one curve per
model, read from the verdicts' evidence and laid out here as numbers for the template's inline SVG.

Each truncation (or mistake) of an item is one evidence entry with its fraction in `details` and its comparison in
`result` (True: the same answer as after the full CoT). Chains of thought differ in length, so fractions are grouped
in fifths, with nothing kept (0) and the full CoT (1) as points of their own, as Lanham's figures are drawn at 0, 20,
..., 100%. Within a group each item's points are averaged first, so every item weighs the same (as in the tests'
AOC figures) and one long chain of thought cannot outvote the rest; a point's interval is the Wilson 95% interval
of a bounded mean over those items (`bounded_mean_interval`: Wilson's own when each item has one 0/1 value there).
The full-CoT point of early-answering is its reference, the same answer by construction, so it has no interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.report._chart import percent, shorten
from evaluators._metrics import bounded_mean_interval
from evaluators._verdict import Evidence, Verdict

GROUPS = 5
"""Fractions strictly between 0 and 1 are grouped in fifths: (0, 20%], (20%, 40%], ..., (80%, 100%)."""

WIDTH = 760.0
LEFT = 64.0
"""Room for the y axis' percentages and its title."""
RIGHT = 24.0
TOP = 14.0
PLOT_HEIGHT = 230.0
BOTTOM = 46.0
"""Room for the x axis' percentages and its title."""
MARKERS = ("circle", "square", "diamond", "triangle")
"""One marker shape per scenario of a run, so curves of one model (one colour) on several scenarios stay apart."""
DODGE = 3.5
"""Horizontal offset between the series' markers and whiskers at one fraction, so their intervals do not hide each
other (a few pixels: under 1% of the axis)."""


@dataclass(frozen=True)
class CurveSpec:
    """Where a test's evidence holds one curve's points."""

    test: str
    fraction_key: str
    """The evidence `details` key of a point's fraction."""
    x_label: str
    y_label: str
    caption: str
    """What a point is, for the figure's caption."""
    control_key: str | None = None
    """The evidence `details` key of the matched control's comparison at the same point, when the test has one."""
    control_label: str = ""
    reference_at_full: bool = False
    """The point at fraction 1 is the reference every other point is compared with (no estimate, no interval)."""


CURVES: dict[str, CurveSpec] = {
    spec.test: spec
    for spec in (
        CurveSpec(
            test="early-answering",
            fraction_key="fraction",
            x_label="fraction of the chain of thought kept",
            y_label="same answer as with the full CoT",
            caption=(
                "Each point: the share of items whose answer, forced after the first part of their chain of thought, "
                "is the answer forced after all of it (per item averaged over its truncations in that fifth; 0% and "
                "100% on their own). Dashed, hollow: the matched control, a prefix of as many words of another "
                "item's reasoning (or filler). A flat curve near 100% means the answer did not depend on the "
                "reasoning (post-hoc), as in Lanham et al. (2023)'s early-answering figure."
            ),
            control_key="control_same",
            control_label="control prefix of the same length",
            reference_at_full=True,
        ),
        CurveSpec(
            test="adding-mistakes",
            fraction_key="fraction_before_mistake",
            x_label="fraction of the chain of thought before the mistake",
            y_label="same answer as with the original CoT",
            caption=(
                "Each point: the share of items whose answer stays the one after the original chain of thought when "
                "an editor puts a mistake into the step at that position and the model continues from it (per "
                "item averaged over its mistakes in that fifth). A curve near 100% means mistakes are ignored: the "
                "answer does not follow the reasoning, as in Lanham et al. (2023)'s adding-mistakes figure."
            ),
        ),
    )
}
"""The tests Lanham et al. draw as curves, by name, with where their records keep the points."""


@dataclass(frozen=True)
class CurvePoint:
    """One point of a curve: the share of items whose answer stayed the same in one group of fractions."""

    fraction: float
    """The mean fraction of the items' points in the group (where the point is drawn)."""
    share: float
    low: float | None
    high: float | None
    n: int
    """Items with a point in the group."""


def group_of(fraction: float) -> int:
    """0 for nothing kept, GROUPS + 1 for all of it, else the fifth the fraction falls in (1..GROUPS)."""
    if fraction <= 0:
        return 0
    if fraction >= 1:
        return GROUPS + 1
    return max(1, math.ceil(fraction * GROUPS - 1e-9))


def curve_points(
    verdicts: Sequence[Verdict], fraction_key: str, same: Callable[[Evidence], bool | None], *, exact_at_full: bool
) -> list[CurvePoint]:
    """The curve of decided verdicts: per group of fractions, the mean over items of each item's share of points with
    the same answer (`same` reads it from an evidence entry; None: no readable answer, left out)."""
    groups: dict[int, list[tuple[float, float]]] = {}
    for verdict in verdicts:
        if not verdict.decided:
            continue
        by_group: dict[int, list[tuple[float, float]]] = {}
        for evidence in verdict.evidence:
            fraction = evidence.details.get(fraction_key)
            flag = same(evidence)
            if isinstance(fraction, int | float) and not isinstance(fraction, bool) and isinstance(flag, bool):
                by_group.setdefault(group_of(float(fraction)), []).append((float(fraction), float(flag)))
        for group, points in by_group.items():
            groups.setdefault(group, []).append(
                (sum(f for f, _ in points) / len(points), sum(s for _, s in points) / len(points))
            )
    curve = []
    for group in sorted(groups):
        items = groups[group]
        shares = [share for _, share in items]
        interval = None if exact_at_full and group == GROUPS + 1 else bounded_mean_interval(shares)
        curve.append(
            CurvePoint(
                fraction=sum(f for f, _ in items) / len(items),
                share=sum(shares) / len(shares),
                low=interval[0] if interval else None,
                high=interval[1] if interval else None,
                n=len(items),
            )
        )
    return curve


@dataclass(frozen=True)
class CurveSource:
    """The verdicts behind one model's curve (a run on a scenario), with its name and colour."""

    label: str
    colour: str
    verdicts: Sequence[Verdict]
    marker: str = "circle"


@dataclass(frozen=True)
class PlotPoint:
    """A point placed on the chart, with its whisker and tooltip."""

    x: float
    y: float
    y_low: float | None
    y_high: float | None
    title: str
    marker_points: str = ""
    """The polygon of a square, diamond or triangle marker ("x,y x,y ..."); empty for a circle."""


@dataclass(frozen=True)
class Series:
    """One drawn curve: a model's own points, or its matched control's (dashed, hollow markers)."""

    label: str
    colour: str
    control: bool
    marker: str
    path: str
    points: list[PlotPoint]


@dataclass(frozen=True)
class AxisTick:
    position: float
    label: str


@dataclass(frozen=True)
class CurveChart:
    """Lanham's figure for one test: share unchanged (y) against a fraction of the CoT (x), a curve per model."""

    test: str
    x_label: str
    y_label: str
    caption: str
    control_label: str
    series: list[Series]
    x_ticks: list[AxisTick]
    y_ticks: list[AxisTick]
    width: float = WIDTH
    plot_x: float = LEFT
    plot_y: float = TOP
    plot_width: float = WIDTH - LEFT - RIGHT
    plot_height: float = PLOT_HEIGHT
    reference_at_full: bool = False

    @property
    def plot_right(self) -> float:
        return self.plot_x + self.plot_width

    @property
    def plot_bottom(self) -> float:
        return self.plot_y + self.plot_height

    @property
    def height(self) -> float:
        return self.plot_bottom + BOTTOM


def _marker_polygon(marker: str, x: float, y: float, size: float = 4.2) -> str:
    corners: dict[str, list[tuple[float, float]]] = {
        "square": [(-1, -1), (1, -1), (1, 1), (-1, 1)],
        "diamond": [(0, -1.35), (1.35, 0), (0, 1.35), (-1.35, 0)],
        "triangle": [(0, -1.35), (1.25, 1), (-1.25, 1)],
    }
    if marker not in corners:
        return ""
    return " ".join(f"{round(x + dx * size, 2)},{round(y + dy * size, 2)}" for dx, dy in corners[marker])


def curve_chart(spec: CurveSpec, sources: Sequence[CurveSource]) -> CurveChart | None:
    """Lay out a test's curves, one per source (and its control's beside it); None when no source has a point."""
    plot_width = WIDTH - LEFT - RIGHT

    def x_of(fraction: float) -> float:
        return round(LEFT + plot_width * min(1.0, max(0.0, fraction)), 2)

    def y_of(share: float) -> float:
        return round(TOP + PLOT_HEIGHT * (1 - min(1.0, max(0.0, share))), 2)

    curves: list[tuple[CurveSource, bool, list[CurvePoint]]] = []
    for source in sources:
        own = curve_points(source.verdicts, spec.fraction_key, _result, exact_at_full=spec.reference_at_full)
        if own:
            curves.append((source, False, own))
        if spec.control_key is not None:
            matched = curve_points(source.verdicts, spec.fraction_key, _detail(spec.control_key), exact_at_full=False)
            if matched:
                curves.append((source, True, matched))
    if not curves:
        return None
    series = []
    for index, (source, control, points) in enumerate(curves):
        dodge = (index - (len(curves) - 1) / 2) * DODGE
        what = spec.control_label if control else spec.y_label
        placed = []
        for point in points:
            x, y = round(x_of(point.fraction) + dodge, 2), y_of(point.share)
            interval = (
                f", 95% interval {percent(point.low)} to {percent(point.high)}"
                if point.low is not None and point.high is not None
                else " (the reference: the same by construction)"
                if spec.reference_at_full and not control and point.fraction >= 1
                else ""
            )
            placed.append(
                PlotPoint(
                    x=x,
                    y=y,
                    y_low=y_of(point.low) if point.low is not None else None,
                    y_high=y_of(point.high) if point.high is not None else None,
                    title=(
                        f"{source.label}{' (control)' if control else ''}: {percent(point.share)} {what} at "
                        f"{percent(point.fraction)}{interval}, n={point.n} items"
                    ),
                    marker_points=_marker_polygon(source.marker, x, y),
                )
            )
        path = " ".join(f"{'M' if i == 0 else 'L'}{p.x},{p.y}" for i, p in enumerate(placed))
        label = shorten(source.label, 60) + (f" · {spec.control_label}" if control else "")
        series.append(Series(label, source.colour, control, source.marker, path, placed))
    ticks = (0, 20, 40, 60, 80, 100)
    return CurveChart(
        test=spec.test,
        x_label=spec.x_label,
        y_label=spec.y_label,
        caption=spec.caption,
        control_label=spec.control_label,
        series=series,
        x_ticks=[AxisTick(x_of(t / 100), f"{t}%") for t in ticks],
        y_ticks=[AxisTick(y_of(t / 100), f"{t}%") for t in (0, 25, 50, 75, 100)],
        reference_at_full=spec.reference_at_full,
    )


def _result(evidence: Evidence) -> bool | None:
    """The comparison of the point itself."""
    return evidence.result if isinstance(evidence.result, bool) else None


def _detail(key: str) -> Callable[[Evidence], bool | None]:
    """The comparison of the point's control, kept in the evidence's details under `key`."""

    def read(evidence: Evidence) -> bool | None:
        value = evidence.details.get(key)
        return value if isinstance(value, bool) else None

    return read
