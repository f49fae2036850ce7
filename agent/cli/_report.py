"""`faithcheck report`: render the HTML report of one run or several side by side, or a Markdown summary."""

from __future__ import annotations

from pathlib import Path

import click

from agent.cli._app import main


@main.command("report")
@click.argument(
    "run_dirs",
    nargs=-1,
    required=True,
    metavar="RUN_DIR [RUN_DIR ...]",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write [html default: RUN_DIR/report.html, required when combining runs; markdown: stdout].",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["html", "markdown"]),
    default="html",
    show_default=True,
    help="html: the full report; markdown: a table per test, for a CI job summary or a pull-request comment.",
)
@click.option(
    "--link",
    default=None,
    metavar="URL",
    help="Markdown: where the HTML report can be opened (e.g. a CI artifact URL) [default: the run's report.html].",
)
@click.option(
    "--compare/--no-compare",
    default=True,
    show_default=True,
    help="With several runs: compare each with the first, items matched by id (paired differences per test).",
)
def report_command(
    run_dirs: tuple[Path, ...], out: Path | None, output_format: str, link: str | None, compare: bool
) -> None:
    """Render report.html from a run directory written by `faithcheck audit`, or a Markdown summary of it.

    With several RUN_DIRs the runs are combined: one chart (and table) per test with a row per model and scenario,
    and each run is compared with the first on the scenarios they share: per test, the difference of the headlines
    over the items both judged (matched by id) with a paired 95% interval, and which items could not be paired.
    Runs that share no scenario cannot be compared (exit 2; --no-compare shows them side by side).
    The HTML page is self-contained and runs no script, so it can be shared or opened offline. For CI:
    `faithcheck report RUN_DIR --format markdown >> "$GITHUB_STEP_SUMMARY"`.
    """
    from agent.report import markdown_report, render_report

    if output_format == "html":
        click.echo(str(render_report(list(run_dirs), out, compare)))
        return
    text = markdown_report(list(run_dirs), link, compare)
    if out is None:
        click.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    click.echo(str(out))
