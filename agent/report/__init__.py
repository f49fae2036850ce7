"""The report of an audit: charts of faithful rates with intervals, tables, and a drill-down per item.

from agent.report import markdown_report, render_report
render_report([Path("runs/2024-05-01-smollm2")])          # writes runs/2024-05-01-smollm2/report.html
render_report([run_a, run_b], out=Path("compare.html"))   # several models side by side
print(markdown_report([run_a]))                           # the tables as Markdown, for CI

The HTML page is one self-contained file (inline CSS and SVG, no script, no network) that works offline and can be
shared; the Markdown summary (a table per test) suits a CI job summary or a pull-request comment.
"""

from agent.report._load import LoadedRun, load_run
from agent.report._markdown import markdown_report, render_markdown
from agent.report._render import render_html, render_report

__all__ = ["LoadedRun", "load_run", "markdown_report", "render_html", "render_markdown", "render_report"]
