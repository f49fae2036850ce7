"""The report as Markdown, for a CI job summary or a pull-request comment: a table per test, a link to the HTML.

    faithcheck report runs/nightly --format markdown >> "$GITHUB_STEP_SUMMARY"

It is built from the same view as the HTML report (agent.report._view), so both show the same rows, rates and
intervals. Text from records (model, scenario and test names) is escaped, so it cannot break a table or add links
or markup to the page it is posted on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from agent.errors import ConfigurationError
from agent.records import REPORT_FILE
from agent.report._load import LoadedRun, load_run
from agent.report._view import ComparisonView, FigureRow, TableRow, TestSection, build_view, number

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")
# Control characters and bidirectional overrides would garble or disguise text where the summary is shown.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def markdown_text(text: str) -> str:
    """`text` as literal Markdown: specials backslash-escaped, line breaks as spaces, invisible characters shown."""
    flat = " ".join(text.split())
    visible = _INVISIBLE.sub(lambda match: f"U+{ord(match.group()):04X}", flat)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", visible)


def markdown_report(run_dirs: Sequence[Path], html_link: str | None = None, compare: bool = True) -> str:
    """The Markdown summary of one run directory or several combined (with `compare`, a table of paired
    differences of each run against the first). Without `html_link`, a single run links its own report.html when
    there is one."""
    unique = list(dict.fromkeys(Path(d).resolve() for d in run_dirs))
    if not unique:
        raise ConfigurationError("no run directory given: pass the directory `faithcheck audit` wrote")
    if html_link is None and len(unique) == 1 and (unique[0] / REPORT_FILE).is_file():
        html_link = str(unique[0] / REPORT_FILE)
    return render_markdown([load_run(d) for d in unique], html_link, compare)


def render_markdown(runs: Sequence[LoadedRun], html_link: str | None = None, compare: bool = True) -> str:
    """The runs' results as Markdown: a heading, the runs' status, the comparisons (several runs, `compare`), then a
    table per test; `html_link` names the HTML report (a path or URL) and is linked under the heading."""
    view = build_view(runs, compare)
    lines = [f"## Faithfulness: {markdown_text(view.title)}", ""]
    if html_link:
        lines += [f"Full report with every item's evidence: [{markdown_text(html_link)}](<{html_link}>)", ""]
    for run_view in view.runs:
        lines.append(f"- {markdown_text(run_view.label)}: {_status(run_view.run)}")
    lines.append("")
    for comparison in view.comparisons:
        lines += _comparison(comparison)
    for section in view.tests:
        lines += _section(section, several_runs=len(view.runs) > 1)
    return "\n".join(lines).rstrip() + "\n"


def _status(run: LoadedRun) -> str:
    records = run.records
    status = "completed" if run.completed else "**incomplete** (stopped before the end)"
    status += f", {len(run.verdicts)} verdicts"
    if records.errors:
        errors = f"{len(records.errors)} (item, test) pair(s) ended in error"
        status += f", **{errors}** (`faithcheck audit --resume` judges them again)"
    return status


def _section(section: TestSection, *, several_runs: bool) -> list[str]:
    title = f"### {markdown_text(section.name)}"
    if section.description:
        title += f": {markdown_text(section.description)}"
    lines = [title, ""]
    if section.reference:
        lines += [f"_{markdown_text(section.reference)}_", ""]
    headings = (["model"] if several_runs else []) + [
        "scenario",
        "faithful rate",
        "95% CI",
        "decided",
        "faithful",
        "unfaithful",
        "n/a",
        "unreadable",
        "errors",
    ]
    names = 2 if several_runs else 1  # left-aligned name columns, then right-aligned numbers
    lines.append("| " + " | ".join(headings) + " |")
    lines.append("|" + "|".join([":--"] * names + ["--:"] * (len(headings) - names)) + "|")
    lines += [_row(row, several_runs=several_runs) for row in section.rows]
    lines.append("")
    if section.figures:
        lines += [_figure(figure, section.rows) for figure in section.figures]
        lines.append("")
    return lines


def _row(row: TableRow, *, several_runs: bool) -> str:
    s = row.summary
    cells = [markdown_text(row.run.label)] if several_runs else []
    cells += [
        markdown_text(row.scenario) or "–",
        f"**{row.rate}**",
        row.interval or "–",
        f"{s.n_tested} / {s.n_items}",
        str(s.n_faithful),
        str(s.n_unfaithful),
        str(s.n_not_applicable),
        str(s.n_parse_failure),
        str(s.n_error),
    ]
    return "| " + " | ".join(cells) + " |"


def _figure(figure: FigureRow, rows: Sequence[TableRow]) -> str:
    """One test-specific figure across the rows, as a bullet."""
    values = []
    for row, cell in zip(rows, figure.cells, strict=True):
        if cell is None:
            continue
        where = " · ".join(part for part in (row.run.label, row.scenario) if part)
        values.append(f"{markdown_text(where)}: {cell.value}" + (f" {cell.interval}" if cell.interval else ""))
    described = f" ({markdown_text(figure.description)})" if figure.description else ""
    return f"- {markdown_text(figure.name)}{described}: " + "; ".join(values or [number(None)])


def _comparison(comparison: ComparisonView) -> list[str]:
    """The second run against the first: a row per shared test with the paired difference and its interval."""
    first, second = markdown_text(comparison.first.label), markdown_text(comparison.second.label)
    lines = [f"### {second} against {first}", ""]
    lines += [f"- {markdown_text(note)}" for note in comparison.notes]
    if comparison.notes:
        lines.append("")
    if not comparison.rows:
        return lines
    headings = ["test", "scenario", "compared", first, second, "difference", "paired 95% CI", "paired items"]
    lines.append("| " + " | ".join([*headings, "items not paired"]) + " |")
    lines.append("|" + "|".join([":--"] * 3 + ["--:"] * 5 + [":--"]) + "|")
    for row in comparison.rows:
        unpaired = "; ".join(part for part in (row.items_note, row.note) if part) or "none"
        cells = [
            markdown_text(row.comparison.test),
            markdown_text(row.comparison.scenario or "") or "–",
            row.measure,
            row.first,
            row.second,
            "no verdict" if row.blocked else f"**{row.difference}**",
            row.interval or "–",
            str(row.paired),
            markdown_text(unpaired),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines
