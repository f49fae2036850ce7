"""The `faithcheck` command. Each subcommand lives in its own module and registers itself on `main`."""

from __future__ import annotations

import sys

from agent.cli._app import main as _group
from agent.errors import FaithcheckError

# Importing a subcommand module registers it on the group.
from agent.cli import _explain, _models  # noqa: F401  isort: skip
from agent.cli import _scenarios  # noqa: F401  isort: skip
from agent.cli import _audit  # noqa: F401  isort: skip
from agent.cli import _report  # noqa: F401  isort: skip


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; a FaithcheckError becomes a one-line message and exit status 2."""
    try:
        _group.main(args=argv, prog_name="faithcheck", standalone_mode=False)
    except FaithcheckError as exc:
        print(f"faithcheck: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("faithcheck: interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click's own usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            print("faithcheck: aborted", file=sys.stderr)
            sys.exit(130)
        raise


__all__ = ["main"]
