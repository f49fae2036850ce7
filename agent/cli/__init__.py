"""The `faithcheck` command. Each subcommand lives in its own module and registers itself on `main`."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from typing import NoReturn

import click

from agent.cli._app import main as _group
from agent.errors import FaithcheckError

# Importing a subcommand module registers it on the group.
from agent.cli import _explain, _models  # noqa: F401  isort: skip
from agent.cli import _scenarios  # noqa: F401  isort: skip
from agent.cli import _audit  # noqa: F401  isort: skip
from agent.cli import _report  # noqa: F401  isort: skip

BAD_INPUT = 2
"""The exit status of every error the user can fix: a bad flag, file, value or configuration."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI. Bad input of any kind (a FaithcheckError, a click usage error) becomes one line on
    stderr and exit status 2; Ctrl-C exits with 130."""
    args = sys.argv[1:] if argv is None else list(argv)
    # The values to mask; the masker itself is built when something is logged or fails (see _app.main), since
    # building it imports agent.run, which `faithcheck --help` should not wait for.
    masker = _flag_values(args, "--api-key")
    try:
        status = _group.main(args=args, prog_name="faithcheck", standalone_mode=False, obj=masker)
    except FaithcheckError as exc:
        _fail(str(exc), masker)
    except click.exceptions.NoArgsIsHelpError as exc:  # `faithcheck` alone: the help, not an error line
        exc.show()
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "faithcheck"
        _fail(f"{exc.format_message().rstrip('.')}; see '{command} --help'", masker)
    except click.ClickException as exc:
        _fail(exc.format_message(), masker)
    except (KeyboardInterrupt, click.exceptions.Abort):
        print("faithcheck: interrupted", file=sys.stderr)
        sys.exit(130)
    if isinstance(status, int) and status:  # `--help` and `--version` end the run early, with their own status
        sys.exit(status)


def _fail(message: str, secrets: list[str]) -> NoReturn:
    """Print `message` as exactly one line, `secrets` (and every secret shape) masked and control characters
    visible, and exit 2."""
    from agent.run import SecretMasker
    from agent.visible_text import visible

    line = visible(" ".join(SecretMasker(secrets).scrub(message).split()))
    print(f"faithcheck: error: {line}", file=sys.stderr)
    sys.exit(BAD_INPUT)


def _flag_values(args: Sequence[str], flag: str) -> list[str]:
    """The values given to `flag` on a command line (`--flag VALUE` or `--flag=VALUE`), to mask them in output."""
    values = [arg.partition("=")[2] for arg in args if arg.startswith(f"{flag}=")]
    values += [value for name, value in itertools.pairwise(args) if name == flag]
    return values


__all__ = ["main"]
