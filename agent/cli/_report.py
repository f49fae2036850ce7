"""`faithcheck report`: (re)render the HTML report of one run, or of several runs side by side."""

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
    help="Where to write the HTML [default: RUN_DIR/report.html; required when combining several runs].",
)
def report_command(run_dirs: tuple[Path, ...], out: Path | None) -> None:
    """Render report.html from a run directory written by `faithcheck audit`.

    With several RUN_DIRs the runs are combined: one chart per test with a bar per model (and scenario).
    The page is self-contained and runs no script, so it can be shared or opened offline.
    """
    from agent.report import render_report

    written = render_report(list(run_dirs), out)
    click.echo(str(written))
