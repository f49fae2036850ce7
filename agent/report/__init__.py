"""The HTML report of an audit: charts of faithful rates with intervals, tables, and a drill-down per item.

from agent.report import render_report
render_report([Path("runs/2024-05-01-smollm2")])          # writes runs/2024-05-01-smollm2/report.html
render_report([run_a, run_b], out=Path("compare.html"))   # several models side by side

The page is one self-contained file (inline CSS and SVG, no script, no network) that works offline and can be shared.
"""

from agent.report._load import LoadedRun, load_run
from agent.report._render import render_html, render_report

__all__ = ["LoadedRun", "load_run", "render_html", "render_report"]
