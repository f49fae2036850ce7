"""The report of an audit: charts of faithful rates with intervals, tables, and a drill-down per item.

from agent.report import markdown_report, render_report
render_report([Path("runs/2024-05-01-smollm2")])          # writes runs/2024-05-01-smollm2/report.html
render_report([run_a, run_b], out=Path("compare.html"))   # side by side, run_b compared with run_a item by item
compare_runs(load_run(run_a), load_run(run_b)).tests      # per test: paired difference, interval, unpaired items
print(markdown_report([run_a]))                           # the tables as Markdown, for CI

The HTML page is one self-contained file (inline CSS and SVG, no script, no network) that works offline and can be
shared; besides a chart per test it draws Lanham et al.'s curves, Turpin et al.'s table and per-cue bars (see
docs/report.md); the Markdown summary (a table per test) suits a CI job summary or a pull-request comment.
"""

from agent.report._compare import RunComparison, TestComparison, compare_runs
from agent.report._load import LoadedRun, load_run
from agent.report._markdown import markdown_report, render_markdown
from agent.report._render import render_html, render_report

__all__ = [
    "LoadedRun",
    "RunComparison",
    "TestComparison",
    "compare_runs",
    "load_run",
    "markdown_report",
    "render_html",
    "render_markdown",
    "render_report",
]
