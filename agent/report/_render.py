"""Render runs to one self-contained HTML file: inline CSS and SVG, no script, nothing loaded from anywhere.

Model text is untrusted: the Jinja2 environment autoescapes everything, and a Content-Security-Policy allows only
the page's own stylesheet (by hash), so even a slip in escaping could not run a script or load a resource.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import jinja2
from markupsafe import Markup

from agent.errors import ConfigurationError
from agent.records import REPORT_FILE
from agent.report._load import LoadedRun, load_run
from agent.report._view import build_view
from agent.visible_text import visible

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def _shown(value: object) -> object:
    """Every `{{ value }}`: text shows its control and invisible characters as <U+XXXX> (then it is escaped)."""
    return visible(value) if isinstance(value, str) and not isinstance(value, Markup) else value


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # HTML: every value from a record is escaped unless it is our own Markup
        finalize=_shown,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _stylesheet() -> tuple[Markup, str]:
    """The page's CSS (our own file, so it may go in unescaped) and its CSP hash source."""
    css = (TEMPLATES_DIR / "report.css").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return Markup(css), f"'sha256-{digest}'"


def render_html(runs: Sequence[LoadedRun], compare: bool = True) -> str:
    """The report for loaded runs, as an HTML document (with several runs and `compare`, a paired comparison of
    each with the first)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        faithcheck_version = version("faithcheck")
    except PackageNotFoundError:
        faithcheck_version = "unknown"
    css, css_hash = _stylesheet()
    # No default source and no script source: nothing is fetched, nothing runs; only our stylesheet applies.
    csp = f"default-src 'none'; style-src {css_hash}; img-src data:; base-uri 'none'; form-action 'none'"
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            view=build_view(runs, compare),
            css=css,
            csp=csp,
            generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            version=faithcheck_version,
        )
    )


def render_report(run_dirs: Sequence[Path], out: Path | None = None, compare: bool = True) -> Path:
    """Render `report.html` for one run directory (written inside it by default) or several combined (pass `out`).

    Combined runs are grouped by test, one bar and table row per model (and scenario); with `compare`, each run after
    the first is compared with it, item by item (see agent.report._compare). Returns the file written.
    """
    unique = list(dict.fromkeys(Path(d).resolve() for d in run_dirs))
    if not unique:
        raise ConfigurationError("no run directory given: pass the directory `faithcheck audit` wrote")
    if out is None:
        if len(unique) > 1:
            raise ConfigurationError(f"combining {len(unique)} runs needs an output file: pass --out FILE")
        out = unique[0] / REPORT_FILE
    html = render_html([load_run(d) for d in unique], compare)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a reader never sees half a report.
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
