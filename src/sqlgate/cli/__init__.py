"""The ``sqlgate`` command: serve, init, orgs, operator-key, keys, team, connections, query,
ask, semantic, dashboards, workflows, secrets, migrate.

Every error is one ``error: ...`` line on stderr, with exit status 2 when the command line is
wrong and 1 for anything else; a closed standard output (``sqlgate ... | head``) ends the
command quietly. Listings print a table for people, or JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sqlgate import __version__
from sqlgate.cli import (
    connections,
    dashboards,
    keys,
    orgs,
    query,
    semantic,
    setup,
    team,
    workflows,
)
from sqlgate.cli._base import CliParser, UsageError
from sqlgate.errors import SqlgateError

#: Exit statuses: the command line is wrong; anything else failed; standard output was closed
#: early (128 + SIGPIPE, as a Unix tool killed by the signal reports).
USAGE, FAILED, CLOSED_PIPE = 2, 1, 141


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(prog="sqlgate", description="sqlgate: a read-only SQL gateway.")
    parser.add_argument("--version", action="version", version=f"sqlgate {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        help="Where state lives (default: $SQLGATE_DATA_DIR or ~/.local/share/sqlgate)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups = (setup, orgs, keys, team, connections, query, semantic, dashboards, workflows)
    for group in groups:
        group.register(sub, common)
    setup.register_maintenance(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "data_dir", None):
            os.environ["SQLGATE_DATA_DIR"] = args.data_dir
        code: int = args.func(args)
        sys.stdout.flush()
        return code
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        return _error(str(exc), USAGE)
    except SqlgateError as exc:
        return _error(exc.message, FAILED)
    except BrokenPipeError:
        _silence_stdout()
        return CLOSED_PIPE
    except KeyboardInterrupt:
        return _error("interrupted", 130)
    except Exception as exc:  # a bug: still one line, naming what went wrong
        return _error(f"unexpected {type(exc).__name__}: {exc}", FAILED)


def _error(message: str, code: int) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def _silence_stdout() -> None:
    """The reader went away: send what is still buffered nowhere, so the interpreter's final
    flush does not complain about the pipe either."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # not a real file (tests); nothing to silence


__all__ = ["build_parser", "main"]
