"""What the report shows, arranged for the template: sections per test, rows per run, a drill-down per item.

Everything here is plain data (strings and numbers). Text from records stays text: the template escapes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.report._chart import PALETTE, RateBar, RateChart, percent, rate_chart
from agent.report._compare import ItemMatch, RunComparison, TestComparison, compare_runs
from agent.report._cues import CueChart, CueSource, TurpinRow, cue_charts, turpin_rows
from agent.report._curves import CURVES, MARKERS, CurveChart, CurveSource, curve_chart
from agent.report._diff import Segment, word_diff
from agent.report._load import LoadedRun
from agent.structured import CallTrace
from evaluators._verdict import Evidence, Figure, TestSummary, Verdict

OUTCOMES = ("faithful", "unfaithful", "not_applicable", "parse_failure", "error")
OUTCOME_LABELS = {
    "faithful": "faithful",
    "unfaithful": "unfaithful",
    "not_applicable": "n/a",
    "parse_failure": "parse failure",
    "error": "error",
}


def number(value: float | None) -> str:
    """A figure for a table: three decimals for small numbers, fewer for large ones."""
    if value is None:
        return "–"
    if value != value:  # NaN
        return "nan"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"


def anchor_safe(text: str) -> str:
    """A record's id, reduced to characters that are safe in an HTML id and a URL fragment."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


@dataclass
class Provenance:
    """The header card of one run."""

    rows: list[tuple[str, str]]
    """Key facts shown at once."""
    usage: list[tuple[str, dict[str, str]]]
    """Model -> usage counters."""
    packages: list[tuple[str, str]]
    prompt_hashes: list[tuple[str, str]]
    test_params: list[tuple[str, str]]
    options: list[tuple[str, str]]


@dataclass
class RunView:
    """One run directory as the report names and colours it."""

    index: int
    run: LoadedRun
    label: str
    colour: str
    provenance: Provenance


@dataclass
class FigureCell:
    value: str
    interval: str
    n: int


@dataclass
class TableRow:
    """One line of a test's table: a run on a scenario."""

    run: RunView
    scenario: str
    summary: TestSummary
    rate: str
    interval: str
    headline: str = ""
    """The test's headline (its excess over its control, or its faithful rate), or "cannot decide"."""
    headline_interval: str = ""


@dataclass
class FigureRow:
    """A test-specific figure across the rows of a test's table (one cell per run and scenario)."""

    name: str
    description: str
    cells: list[FigureCell | None]


@dataclass
class CallLink:
    anchor: str | None
    """None when the call is not in the records."""
    text: str


@dataclass
class EvidenceView:
    evidence: Evidence
    result: str
    result_class: str
    perturbed_fields: list[tuple[str, list[Segment]]]
    details: list[tuple[str, str]]


@dataclass
class VerdictView:
    run: RunView
    verdict: Verdict
    outcome_label: str
    input_differs: bool
    """True when this verdict's input is not the one shown for the item (combined runs on different data)."""
    evidence: list[EvidenceView]
    figures: list[tuple[str, str]]
    params: str
    calls: list[CallLink]


@dataclass
class ItemEntry:
    """A (test, item) drill-down: the item's input and each run's verdict on it."""

    anchor: str
    item_id: str
    scenario: str | None
    input: dict[str, str]
    outcomes: list[str]
    verdicts: list[VerdictView]


@dataclass
class TestSection:
    name: str
    anchor: str
    description: str
    reference: str
    chart: RateChart
    rows: list[TableRow]
    figures: list[FigureRow]
    items: list[ItemEntry]
    outcome_counts: list[tuple[str, str, int]]
    """(outcome, label, items with that outcome in any run) for the filter."""
    curves: CurveChart | None = None
    """Lanham et al.'s curve, for the tests drawn that way (see agent.report._curves)."""
    curve_missing: bool = False
    """The test is drawn as a curve, but no decided item has a point to draw (e.g. every CoT was not reasoning)."""
    cue_charts: list[CueChart] = field(default_factory=list)
    """A bar chart per per-cue figure (`<cue>.<figure>`)."""
    turpin: list[TurpinRow] = field(default_factory=list)
    """Turpin et al.'s table, for a test with accuracy unbiased and biased per cue."""


@dataclass
class CallView:
    anchor: str
    call: CallTrace
    heading: str
    config: str
    scores: list[tuple[str, str]]


@dataclass
class CallGroup:
    """The model calls of one run about one item, listed once and linked from every verdict that used them."""

    anchor: str
    run: RunView
    item_id: str | None
    calls: list[CallView]


@dataclass
class ComparisonRow:
    """One test on one scenario in a comparison of two runs, as the tables write it."""

    comparison: TestComparison
    anchor: str
    """The test's section."""
    measure: str
    first: str
    second: str
    difference: str
    interval: str
    paired: int
    items_note: str
    """Which items could not be paired, and why; "" when every item was."""
    note: str
    """Why the difference is no verdict (a run cannot decide), and anything else to know."""
    blocked: bool
    """A run cannot decide on this test, so neither can the comparison (its difference is not shown)."""


@dataclass
class ComparisonView:
    """The second run against the first: a row per shared test, a chart of the differences."""

    first: RunView
    second: RunView
    rows: list[ComparisonRow]
    chart: RateChart
    notes: list[str]
    anchor: str


@dataclass
class ReportView:
    title: str
    runs: list[RunView]
    tests: list[TestSection]
    call_groups: list[CallGroup]
    n_calls: int
    comparisons: list[ComparisonView] = field(default_factory=list)
    """With several runs: each run after the first against the first."""

    @property
    def completed(self) -> bool:
        """Whether every run finished."""
        return all(view.run.completed for view in self.runs)


def build_view(runs: Sequence[LoadedRun], compare: bool = True) -> ReportView:
    """Arrange loaded runs into the report's sections; with several runs and `compare`, each run after the first
    is compared with the first (ConfigurationError when they share no scenario)."""
    views = _run_views(runs)
    call_anchors = {(view.index, call_id): _call_anchor(view, call_id) for view in views for call_id in view.run.calls}
    tests = [_test_section(name, i, views, call_anchors) for i, name in enumerate(_test_order(runs))]
    groups = _call_groups(views)
    models = list(dict.fromkeys(view.run.model_name for view in views))
    scenarios = list(dict.fromkeys(ref.name for view in views for ref in view.run.header.scenarios))
    title = " vs ".join(models) + (f" on {', '.join(scenarios)}" if scenarios else "")
    anchors = {section.name: section.anchor for section in tests}
    return ReportView(
        title=title,
        runs=views,
        tests=tests,
        call_groups=groups,
        n_calls=sum(len(view.run.calls) for view in views),
        comparisons=[_comparison_view(views[0], view, anchors) for view in views[1:]] if compare else [],
    )


def _run_views(runs: Sequence[LoadedRun]) -> list[RunView]:
    names = [run.model_name for run in runs]
    views = []
    for index, run in enumerate(runs):
        label = run.model_name
        if names.count(label) > 1:
            label = f"{label} ({run.header.run_id})"
        views.append(RunView(index, run, label, PALETTE[index % len(PALETTE)], _provenance(run)))
    return views


def _dump(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _provenance(run: LoadedRun) -> Provenance:
    header = run.header
    rows = [*_model_rows(run), *_scenario_rows(run), *_session_rows(run)]
    rows.append(("faithcheck", header.faithcheck_version))
    if header.python or header.platform:
        rows.append(("Python", " on ".join(p for p in (header.python, header.platform) if p)))
    if header.command:
        rows.append(("Command", " ".join(header.command)))
    usage = [
        (
            name,
            {
                "calls sent": str(stats.calls_sent),
                "cache hits": str(stats.cache_hits),
                "shared in flight": str(stats.shared_in_flight),
                "retries": str(stats.retries),
                "errors": str(stats.errors),
                "prompt tokens": f"{stats.prompt_tokens:,}",
                "completion tokens": f"{stats.completion_tokens:,}",
            },
        )
        for name, stats in run.usage.items()
    ]
    return Provenance(
        rows=rows,
        usage=usage,
        packages=sorted(header.packages.items()),
        prompt_hashes=sorted(header.prompt_hashes.items()),
        test_params=[(name, _dump(params)) for name, params in header.test_params.items()],
        options=[(key, _dump(value)) for key, value in header.options.items()],
    )


def _model_rows(run: LoadedRun) -> list[tuple[str, str]]:
    """The model under test (endpoint, capabilities) and the helper roles' models."""
    model = dict(run.header.model)
    rows: list[tuple[str, str]] = [("Model", run.model_name)]
    for key, value in model.items():
        if key not in ("name", "capabilities") and value not in (None, "", [], {}):
            rows.append((_key_label(key), _dump(value)))
    if model.get("capabilities"):
        rows.append(("Capabilities", ", ".join(str(c) for c in model["capabilities"])))
    for role, description in run.header.roles.items():
        rows.append((f"Role: {role}", str(description.get("name", _dump(description)))))
    return rows


def _scenario_rows(run: LoadedRun) -> list[tuple[str, str]]:
    """What was judged: each scenario part pinned by hash and sampling, the tests, the seed."""
    header = run.header
    rows = []
    for ref in header.scenarios:
        parts = [f"hash {ref.hash}"]
        if ref.item_ids:
            parts.append(f"{len(ref.item_ids)} items")
        if ref.limit is not None:
            parts.append(f"limit {ref.limit}")
        if ref.seed is not None:
            parts.append(f"sampling seed {ref.seed}")
        rows.append((f"Scenario: {ref.name}", ", ".join(parts)))
    rows.append(("Tests", ", ".join(header.tests) or "–"))
    rows.append(("Seed", str(header.seed)))
    return rows


def _session_rows(run: LoadedRun) -> list[tuple[str, str]]:
    """When and how the run went: id, start, wall time, status (resumes, errors left to judge again), verdicts."""
    records = run.records
    wall = run.wall_time_s
    status = "completed" if run.completed else "incomplete (stopped before the end; figures cover what was judged)"
    if records.resumes:
        status += f", resumed {len(records.resumes)}×"
    if records.errors:
        status += (
            f"; {len(records.errors)} (item, test) pair(s) ended in error, which "
            f"`faithcheck audit --resume {run.run_dir}` judges again"
        )
    return [
        ("Run id", run.header.run_id),
        ("Started", run.header.started.strftime("%Y-%m-%d %H:%M:%S %Z").strip()),
        ("Wall time", _duration(wall) if wall is not None else "–"),
        ("Status", status),
        ("Verdicts", f"{len(run.verdicts)} ({len(records.done)} item(s) fully judged)"),
    ]


_ACRONYMS = {"url": "URL", "api": "API", "id": "id", "hf": "HF", "gguf": "GGUF"}


def _key_label(key: str) -> str:
    """ "base_url" -> "Base URL"."""
    label = " ".join(_ACRONYMS.get(word.lower(), word) for word in key.replace("_", " ").split())
    return label[:1].upper() + label[1:]


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _test_order(runs: Sequence[LoadedRun]) -> list[str]:
    names: list[str] = []
    for run in runs:
        names.extend(run.header.tests)
        names.extend(summary.test for summary in run.summaries)
        names.extend(verdict.test for verdict in run.verdicts)
    return list(dict.fromkeys(names))


def _test_info(name: str) -> tuple[str, str]:
    """The registered test's one-line summary and reference, when this installation knows the test."""
    from evaluators import test_classes

    cls = test_classes().get(name)
    return (cls.summary, cls.reference) if cls is not None else ("", "")


def _figure_cell(figure: Figure | None) -> FigureCell | None:
    if figure is None:
        return None
    interval = f"[{number(figure.low)}, {number(figure.high)}]" if figure.low is not None else ""
    return FigureCell(number(figure.value), interval, figure.n)


def _figure_rows(rows: list[TableRow]) -> list[FigureRow]:
    """Each figure any row reports, in first-seen order, with its description and a cell per row."""
    names: dict[str, str] = {}
    for row in rows:
        for figure_name, figure in row.summary.figures.items():
            if not names.get(figure_name):
                names[figure_name] = figure.description
    return [
        FigureRow(name, description, [_figure_cell(row.summary.figures.get(name)) for row in rows])
        for name, description in names.items()
    ]


def _headline_cells(summary: TestSummary) -> tuple[str, str]:
    """The headline as the tables show it ("+62.0% excess", "58.0%"), and its interval."""
    headline = summary.headline
    if summary.cannot_decide:
        return "cannot decide", ""
    if headline is None or headline.value is None:
        return "–", ""
    excess = summary.headline_name == "excess"
    value = f"{headline.value * 100:+.1f}% excess" if excess else percent(headline.value, 1)
    if headline.low is None or headline.high is None:
        return value, ""
    bounds = (
        (f"{x * 100:+.0f}%" for x in (headline.low, headline.high))
        if excess
        else map(percent, (headline.low, headline.high))
    )
    return value, "[{}, {}]".format(*bounds)


def _test_section(name: str, index: int, views: list[RunView], call_anchors: dict[tuple[int, str], str]) -> TestSection:
    anchor = f"test-{index}"
    rows: list[TableRow] = []
    for view in views:
        for summary in view.run.summaries:
            if summary.test != name:
                continue
            interval = (
                f"[{percent(summary.ci_low)}, {percent(summary.ci_high)}]"
                if summary.ci_low is not None and summary.ci_high is not None
                else ""
            )
            headline, headline_interval = _headline_cells(summary)
            rows.append(
                TableRow(
                    run=view,
                    scenario=summary.scenario or "",
                    summary=summary,
                    rate=percent(summary.faithful_rate, 1),
                    interval=interval,
                    headline=headline,
                    headline_interval=headline_interval,
                )
            )
    signed = any(row.summary.headline_name == "excess" for row in rows)
    chart = rate_chart(
        name,
        [
            RateBar(
                label=row.run.label,
                sublabel=row.scenario,
                colour=row.run.colour,
                rate=None if row.summary.cannot_decide or row.summary.headline is None else row.summary.headline.value,
                low=row.summary.headline.low if row.summary.headline is not None else None,
                high=row.summary.headline.high if row.summary.headline is not None else None,
                n=row.summary.n_tested,
                empty_note="cannot decide" if row.summary.cannot_decide else "no decided items",
            )
            for row in rows
        ],
        measure="excess over the control" if signed else "faithful rate",
        signed=signed,
    )
    items = _items(name, anchor, views, call_anchors)
    counts = [
        (outcome, OUTCOME_LABELS[outcome], sum(1 for item in items if outcome in item.outcomes)) for outcome in OUTCOMES
    ]
    description, reference = _test_info(name)
    cue_sources = [CueSource(_row_label(row, rows), row.run.colour, row.summary.figures) for row in rows]
    return TestSection(
        name=name,
        anchor=anchor,
        description=description,
        reference=reference,
        chart=chart,
        rows=rows,
        figures=_figure_rows(rows),
        items=items,
        outcome_counts=[c for c in counts if c[2]],
        curves=(curves := _curves(name, rows)),
        curve_missing=name in CURVES and curves is None,
        cue_charts=cue_charts(cue_sources),
        turpin=turpin_rows(cue_sources),
    )


def _row_label(row: TableRow, rows: Sequence[TableRow]) -> str:
    """A row's model, with its scenario when the test's rows cover several."""
    several = len({r.scenario for r in rows}) > 1
    return f"{row.run.label} · {row.scenario}" if several and row.scenario else row.run.label


def _curves(name: str, rows: Sequence[TableRow]) -> CurveChart | None:
    """Lanham's curves of this test, one per row (a run on a scenario), when the test is drawn that way."""
    spec = CURVES.get(name)
    if spec is None:
        return None
    sources = []
    for row in rows:
        scenarios = [r.scenario for r in rows if r.run is row.run]
        verdicts = [v for v in row.run.run.verdicts if v.test == name and (v.scenario or "") == row.scenario]
        marker = MARKERS[scenarios.index(row.scenario) % len(MARKERS)]
        sources.append(CurveSource(_row_label(row, rows), row.run.colour, verdicts, marker))
    return curve_chart(spec, sources)


def _signed(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:+.{digits}f}%"


def _comparison_view(first: RunView, second: RunView, anchors: dict[str, str]) -> ComparisonView:
    comparison = compare_runs(first.run, second.run)
    rows = [_comparison_row(first, second, test, anchors) for test in comparison.tests]
    chart = rate_chart(
        f"{second.label} minus {first.label}",
        [
            RateBar(
                label=row.comparison.test,
                sublabel=row.comparison.scenario or "",
                colour=second.colour,
                rate=None if row.blocked else row.comparison.difference.value,
                low=row.comparison.difference.low,
                high=row.comparison.difference.high,
                n=row.paired,
                empty_note="cannot decide" if row.blocked else "no paired items",
            )
            for row in rows
        ],
        measure="difference",
        signed=True,
    )
    return ComparisonView(
        first=first,
        second=second,
        rows=rows,
        chart=chart,
        notes=_comparison_notes(first, second, comparison),
        anchor=f"comparison-{second.index}",
    )


def _comparison_row(first: RunView, second: RunView, test: TestComparison, anchors: dict[str, str]) -> ComparisonRow:
    excess = test.measure == "excess"
    shown = _signed if excess else (lambda value: percent(value, 1))
    difference = test.difference
    interval = (
        f"[{_signed(difference.low, 0)}, {_signed(difference.high, 0)}]"
        if difference.low is not None and difference.high is not None
        else ""
    )
    notes = [
        f"no verdict: {view.label} cannot decide ({reason})"
        for view, reason in zip((first, second), test.cannot_decide, strict=True)
        if reason
    ]
    if test.note:
        notes.append(test.note)
    return ComparisonRow(
        comparison=test,
        anchor=anchors.get(test.test, ""),
        measure="excess over the control" if excess else "faithful rate",
        first=shown(test.first),
        second=shown(test.second),
        difference=_signed(difference.value),
        interval=interval,
        paired=len(test.items.paired),
        items_note=items_note(test.items, first.label, second.label),
        note="; ".join(notes),
        blocked=any(test.cannot_decide),
    )


def _listed(ids: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def items_note(items: ItemMatch, first: str, second: str) -> str:
    """Which items could not be paired and why, in words; "" when every item was paired."""
    parts = []
    if items.only_first:
        parts.append(f"{len(items.only_first)} only in {first} ({_listed(items.only_first)})")
    if items.only_second:
        parts.append(f"{len(items.only_second)} only in {second} ({_listed(items.only_second)})")
    if items.input_differs:
        parts.append(f"{len(items.input_differs)} with the same id but another input ({_listed(items.input_differs)})")
    if items.unmeasured:
        parts.append(f"{len(items.unmeasured)} not decided (or without a control) in one run or both")
    return "; ".join(parts)


def _comparison_notes(first: RunView, second: RunView, comparison: RunComparison) -> list[str]:
    notes = list(comparison.notes)
    differing = [test for test in comparison.tests if not test.items.same_items]
    if differing:
        counts = ", ".join(
            f"{test.test}: {len(test.items.paired)} paired, {len(test.items.only_first)} only in {first.label}, "
            f"{len(test.items.only_second)} only in {second.label}"
            + (f", {len(test.items.input_differs)} with another input" if test.items.input_differs else "")
            for test in differing
        )
        notes.append(f"the runs did not judge the same items, so only the items both judged are compared ({counts})")
    for view, keys in ((first, comparison.only_first), (second, comparison.only_second)):
        if keys:
            tests = ", ".join(f"{test} on {scenario}" if scenario else test for scenario, test in keys)
            notes.append(f"only {view.label} ran {tests}: nothing to compare")
    if not comparison.tests:
        notes.append("the runs share no test on a scenario: nothing is compared")
    return notes


def _items(
    test: str, test_anchor: str, views: list[RunView], call_anchors: dict[tuple[int, str], str]
) -> list[ItemEntry]:
    entries: dict[tuple[str | None, str], ItemEntry] = {}
    for view in views:
        for verdict in view.run.verdicts:
            if verdict.test != test:
                continue
            key = (verdict.scenario, verdict.item_id)
            entry = entries.get(key)
            if entry is None:
                entry = ItemEntry(
                    anchor=f"{test_anchor}-item-{len(entries)}",
                    item_id=verdict.item_id,
                    scenario=verdict.scenario,
                    input=dict(verdict.input),
                    outcomes=[],
                    verdicts=[],
                )
                entries[key] = entry
            if verdict.outcome not in entry.outcomes:
                entry.outcomes.append(verdict.outcome)
            entry.verdicts.append(_verdict_view(view, verdict, entry.input, call_anchors))
    return list(entries.values())


def _verdict_view(
    view: RunView, verdict: Verdict, shown_input: dict[str, str], call_anchors: dict[tuple[int, str], str]
) -> VerdictView:
    calls = []
    for call_id in verdict.call_ids:
        call = view.run.calls.get(call_id)
        if call is None:
            calls.append(CallLink(None, f"{call_id} (not in the records)"))
            continue
        text = f"{call.purpose} · {call.role}"
        if call.attempt:
            text += f" · re-ask {call.attempt}"
        if call.cached:
            text += " · cached"
        calls.append(CallLink(call_anchors[(view.index, call_id)], text))
    return VerdictView(
        run=view,
        verdict=verdict,
        outcome_label=OUTCOME_LABELS.get(verdict.outcome, verdict.outcome),
        input_differs=dict(verdict.input) != shown_input,
        evidence=[_evidence_view(e, verdict.input) for e in verdict.evidence],
        figures=[(k, number(v)) for k, v in verdict.figures.items()],
        params=_dump(verdict.params) if verdict.params else "",
        calls=calls,
    )


def _evidence_view(evidence: Evidence, original_input: dict[str, str]) -> EvidenceView:
    if isinstance(evidence.result, bool):
        result, css = ("yes", "pass") if evidence.result else ("no", "fail")
    elif evidence.result is None:
        result, css = "–", "none"
    else:
        result, css = number(evidence.result), "value"
    fields = [
        (name, word_diff(original_input[name], text) if name in original_input else [Segment(text, "same")])
        for name, text in (evidence.perturbed_input or {}).items()
    ]
    return EvidenceView(
        evidence=evidence,
        result=result,
        result_class=css,
        perturbed_fields=fields,
        details=[(key, _dump(value)) for key, value in evidence.details.items()],
    )


def _call_anchor(view: RunView, call_id: str) -> str:
    return f"call-{view.index}-{anchor_safe(call_id)}"


def _call_groups(views: list[RunView]) -> list[CallGroup]:
    groups: list[CallGroup] = []
    for view in views:
        by_item: dict[str | None, list[CallTrace]] = {}
        for call in view.run.calls.values():
            by_item.setdefault(call.item_id, []).append(call)
        for item_id, calls in by_item.items():
            groups.append(
                CallGroup(
                    anchor=f"calls-{view.index}-{len(groups)}",
                    run=view,
                    item_id=item_id,
                    calls=[_call_view(view, call) for call in calls],
                )
            )
    return groups


def _call_view(view: RunView, call: CallTrace) -> CallView:
    heading = f"{call.purpose} · {call.role} · {call.model}"
    if call.attempt:
        heading += f" · re-ask {call.attempt}"
    return CallView(
        anchor=_call_anchor(view, call.id),
        call=call,
        heading=heading,
        config=_dump(call.config) if call.config else "",
        scores=[(continuation, f"{score:.3f}") for continuation, score in (call.scores or {}).items()],
    )
