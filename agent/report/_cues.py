"""Figures per cue: a test that reports a figure for each cue (or variant) names it `<cue>.<figure>`
(biasing-features: `suggested-answer.accuracy_drop`; the hint tests: `<cue>.faithfulness`, ...). They are drawn as
bars, one chart per figure with a group of bars per cue and a bar per model (as Chen et al. 2025 draw faithfulness
per hint; a test with one cue gets one chart, a group per figure), and, where a test reports accuracy with and
without each cue, set out as Turpin et al.'s (2023) table.

Only shares are drawn (every value and bound within [0, 1], or within [-1, 1] for a signed figure such as a drop):
a count or a length has no common axis with them and stays in the test's figure table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from agent.report._chart import LABEL_CHARS, LABEL_WIDTH, NOTE_WIDTH, Axis, Tick, percent, shorten
from evaluators._verdict import Figure

WIDTH = 760.0
ROW_HEIGHT = 18.0
BAR_HEIGHT = 11.0
HEADING_HEIGHT = 18.0
"""A group's cue name sits on a line of its own above its bars when there are several models."""
GROUP_GAP = 8.0
TOP = 6.0
AXIS_HEIGHT = 26.0


def split_cue(name: str) -> tuple[str, str] | None:
    """A per-cue figure's name split, "suggested-answer.accuracy_drop" -> ("suggested-answer", "accuracy_drop");
    None for a figure of the test as a whole. The figure is the part after the last dot (figure names are
    identifiers; a cue name may hold a dot)."""
    cue, dot, figure = name.rpartition(".")
    return (cue, figure) if dot and cue and figure else None


@dataclass(frozen=True)
class CueSource:
    """One row of a test's table (a run on a scenario): its name, colour and summary figures."""

    label: str
    colour: str
    figures: Mapping[str, Figure]


@dataclass(frozen=True)
class CueBar:
    """One model's bar in a cue's group."""

    label: str
    title: str
    colour: str
    y: float
    value: float | None
    low: float | None
    high: float | None
    note: str
    bar_x: float
    bar_width: float
    x_low: float
    x_high: float

    @property
    def centre(self) -> float:
        return self.y + ROW_HEIGHT / 2

    @property
    def bar_y(self) -> float:
        return self.centre - BAR_HEIGHT / 2


@dataclass(frozen=True)
class CueGroup:
    cue: str
    heading_y: float
    """Baseline of the cue's name when it has a line of its own."""
    bars: list[CueBar]


@dataclass(frozen=True)
class CueChart:
    """One figure across cues and models (groups are cues), or, for a test with one cue, its figures (groups are
    figure names)."""

    title: str
    """The figure's name, or the single cue's."""
    grouped_by: Literal["cue", "figure"]
    description: str
    groups: list[CueGroup]
    ticks: list[Tick]
    signed: bool
    height: float
    headings: bool
    """Whether cue names have lines of their own (several models), or label their single bar."""
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
        return self.height - AXIS_HEIGHT

    @property
    def n_bars(self) -> int:
        return sum(len(group.bars) for group in self.groups)


def cue_layout(sources: Sequence[CueSource]) -> tuple[list[str], list[str]]:
    """The cues and the per-cue figure names the sources report, each in first-seen order."""
    cues: dict[str, None] = {}
    figures: dict[str, None] = {}
    for source in sources:
        for name in source.figures:
            split = split_cue(name)
            if split is not None:
                cues.setdefault(split[0])
                figures.setdefault(split[1])
    return list(cues), list(figures)


def _bounds(figure: Figure) -> list[float]:
    return [v for v in (figure.value, figure.low, figure.high) if v is not None]


def cue_charts(sources: Sequence[CueSource]) -> list[CueChart]:
    """Bars (with their intervals) of the per-cue figures that are shares, a bar per source.

    With several cues, one chart per figure and a group of bars per cue, so cues can be compared on each figure (as
    Chen et al. 2025 draw faithfulness per hint); with a single cue, one chart whose groups are its figures (nine
    one-bar charts would say less)."""
    cues, names = cue_layout(sources)
    shares = [
        name for name in names if _is_share([f for s in sources for c in cues if (f := s.figures.get(f"{c}.{name}"))])
    ]
    if len(cues) == 1:
        (cue,) = cues
        cells = [
            (name, source, figure)
            for name in shares
            for source in sources
            if (figure := source.figures.get(f"{cue}.{name}")) is not None
        ]
        return [_chart(cue, "figure", "", cells, headings=len(sources) > 1)] if cells else []
    charts = []
    for name in shares:
        cells = [
            (cue, source, figure)
            for cue in cues
            for source in sources
            if (figure := source.figures.get(f"{cue}.{name}")) is not None
        ]
        description = next((figure.description for _, _, figure in cells if figure.description), "")
        charts.append(_chart(name, "cue", description, cells, headings=len(sources) > 1))
    return charts


def _is_share(figures: Sequence[Figure]) -> bool:
    """Whether a figure can go on a share axis: some value, and every value and bound within [-1, 1]."""
    values = [v for figure in figures for v in _bounds(figure)]
    return any(figure.value is not None for figure in figures) and all(abs(v) <= 1 for v in values)


def _chart(
    title: str,
    grouped_by: Literal["cue", "figure"],
    description: str,
    cells: Sequence[tuple[str, CueSource, Figure]],
    *,
    headings: bool,
) -> CueChart:
    """Lay out one chart: a group per distinct first element of the cells (a cue, or a figure name), in order, a bar
    per cell; the axis is signed when any value or bound is negative."""
    signed = any(v < 0 for _, _, figure in cells for v in _bounds(figure))
    axis = Axis(LABEL_WIDTH, WIDTH - LABEL_WIDTH - NOTE_WIDTH, signed)
    zero = axis.x(0.0)
    groups: list[CueGroup] = []
    y = TOP
    for group in dict.fromkeys(key for key, _, _ in cells):
        heading_y = y + 13
        if headings:
            y += HEADING_HEIGHT
        bars = []
        for _, source, figure in (cell for cell in cells if cell[0] == group):
            value = figure.value
            bars.append(
                CueBar(
                    label=shorten(source.label if headings else group, LABEL_CHARS),
                    title=(
                        f"{title} · {group} · {source.label}: {axis.shown(value)}"
                        f"{axis.interval_text(figure.low, figure.high)}, n={figure.n}"
                    ),
                    colour=source.colour,
                    y=y,
                    value=value,
                    low=figure.low,
                    high=figure.high,
                    note=axis.note(value, figure.low, figure.high, "no value") + f"  n={figure.n}",
                    bar_x=min(zero, axis.x(value)) if value is not None else zero,
                    bar_width=round(abs(axis.x(value) - zero), 2) if value is not None else 0.0,
                    x_low=axis.x(figure.low) if figure.low is not None else 0.0,
                    x_high=axis.x(figure.high) if figure.high is not None else 0.0,
                )
            )
            y += ROW_HEIGHT
        groups.append(CueGroup(cue=shorten(group, LABEL_CHARS), heading_y=heading_y, bars=bars))
        y += GROUP_GAP
    return CueChart(
        title=title,
        grouped_by=grouped_by,
        description=description,
        groups=groups,
        ticks=axis.ticks(),
        signed=signed,
        height=y - GROUP_GAP + 4 + AXIS_HEIGHT,
        headings=headings,
    )


@dataclass(frozen=True)
class ShareCell:
    """A share with its interval, as the tables write it: "54.5%" and "[28%, 79%]" (signed: "+12.5%", "[+2%, +23%]")."""

    value: str
    interval: str
    n: int


def share_cell(figure: Figure | None, signed: bool = False) -> ShareCell | None:
    """A figure as a table cell; None when the test did not report it."""
    if figure is None:
        return None

    def shown(value: float, digits: int = 0) -> str:
        return f"{value * 100:+.{digits}f}%" if signed else percent(value, digits)

    value = "–" if figure.value is None else shown(figure.value, 1)
    interval = (
        f"[{shown(figure.low)}, {shown(figure.high)}]" if figure.low is not None and figure.high is not None else ""
    )
    return ShareCell(value, interval, figure.n)


@dataclass(frozen=True)
class TurpinRow:
    """One model on one cue: accuracy without and with the cue, the drop, and what the cue did to the answers."""

    label: str
    colour: str
    cue: str
    unbiased: ShareCell | None
    biased: ShareCell | None
    drop: ShareCell | None
    moved: ShareCell | None
    by_chance: ShareCell | None
    unfaithful: ShareCell | None


TURPIN_FIGURES = ("accuracy_unbiased", "accuracy_biased")
"""A test whose per-cue figures include both gets Turpin's table; the others it reads are optional."""


def turpin_rows(sources: Sequence[CueSource]) -> list[TurpinRow]:
    """Turpin et al.'s table, cue by cue, a row per source: accuracy unbiased and biased, the paired drop with its
    interval, the share of answers moved to the cue (beside chance) and the share moved silently."""
    cues, _ = cue_layout(sources)
    rows = []
    for cue in cues:
        for source in sources:
            if any(f"{cue}.{name}" not in source.figures for name in TURPIN_FIGURES):
                continue

            def cell(name: str, signed: bool = False, source: CueSource = source, cue: str = cue) -> ShareCell | None:
                return share_cell(source.figures.get(f"{cue}.{name}"), signed)

            rows.append(
                TurpinRow(
                    label=source.label,
                    colour=source.colour,
                    cue=cue,
                    unbiased=cell("accuracy_unbiased"),
                    biased=cell("accuracy_biased"),
                    drop=cell("accuracy_drop", signed=True),
                    moved=cell("moved_to_cue"),
                    by_chance=cell("moved_by_chance"),
                    unfaithful=cell("unfaithful"),
                )
            )
    return rows
