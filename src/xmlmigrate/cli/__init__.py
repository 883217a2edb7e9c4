"""The ``xmlmigrate`` command: one module per command group (``migrate``, ``contract``,
``perf``) keeps its arguments beside its handlers, options shared by many commands are
declared once (``common``), results are shown by ``render``; ``main`` maps every failure to
one line on stderr and an exit code (``xmlmigrate.errors``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
from collections.abc import Sequence

import sqlalchemy as sa

from xmlmigrate import __version__
from xmlmigrate.bench.render import print_gate
from xmlmigrate.cli import contract, migrate, perf
from xmlmigrate.cli.common import console, error_line, log, logging_options
from xmlmigrate.cli.render import print_summary
from xmlmigrate.db.engine import check_connection, check_url
from xmlmigrate.errors import (
    EXIT_FAILED,
    EXIT_INFRASTRUCTURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    XmlMigrateError,
    exit_codes_help,
)

__all__ = ["build_parser", "console", "main", "print_gate", "print_summary"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xmlmigrate",
        description=textwrap.fill(
            "Migrate Provenir XML documents stored one per row in app_xml(app_id, xml) into "
            "normalized tables, following a mapping contract. Every processed app gets one "
            "row in processing_log, committed with its data, so runs can be repeated safely.",
            78,
        ),
        epilog=exit_codes_help(),  # kept as laid out: one line per exit status
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    logging_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (migrate, contract, perf):
        group.register(sub)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    level_name = getattr(args, "log_level", None)
    verbose = getattr(args, "verbose", 0) or 0
    if level_name:
        level = getattr(logging, level_name.upper())
    else:
        level = logging.WARNING - 10 * min(verbose, 2)  # -v info, -vv debug
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _foreignerror_line(exc: BaseException) -> tuple[str, int]:
    """A message and exit code for an exception from a library (not the tool's own)."""
    module = type(exc).__module__.split(".")[0]
    if isinstance(exc, MemoryError):
        return "out of memory: the run stopped; committed batches stay", EXIT_INFRASTRUCTURE
    if isinstance(exc, sa.exc.DBAPIError | sa.exc.OperationalError) or module in (
        "psycopg",
        "pyodbc",
        "sqlite3",
    ):
        orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig else exc
        reason = next(iter(str(orig).strip().splitlines()), "") or type(orig).__name__
        return (
            f"database error ({type(orig).__name__}): {reason[:300]} — the run stopped; "
            "committed batches stay, the rest stays pending",
            EXIT_INFRASTRUCTURE,
        )
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return f"database error: {str(exc).splitlines()[0][:300]}", EXIT_INFRASTRUCTURE
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}", EXIT_USAGE
    log.debug("internal error", exc_info=exc)
    return (
        f"internal error: {type(exc).__name__}: {str(exc)[:300]} (a bug: please report it; "
        "--log-level debug shows the traceback)",
        EXIT_FAILED,
    )


def _stdout_closed() -> None:
    """Stdout's reader quit (``xmlmigrate run … | head -1``): what is still printed goes
    to /dev/null and the command carries on, so a run finishes, writes ``--metrics-out`` and
    exits with its own status — no traceback, no "Exception ignored" at exit. (Rich's own
    handler exits 1 at once, silently.)"""
    console.quiet = True
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        error_line("interrupted: nothing was done")
        return EXIT_INTERRUPTED
    _configure_logging(args)
    console.on_broken_pipe = _stdout_closed  # type: ignore[method-assign]
    try:
        if isinstance(getattr(args, "db", None), str):
            check_url(args.db)
            check_connection(args.db)  # --db mistakes: exit 2, before any progress bar
        code: int = args.func(args)
        sys.stdout.flush()  # here, not at exit: a closed stdout is then no "Exception ignored"
        return code
    except XmlMigrateError as exc:
        error_line(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        error_line("interrupted: what was committed before stays, nothing else was written")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # a plain print to a stdout whose reader quit: nothing to say
        _stdout_closed()
        return EXIT_FAILED
    except Exception as exc:  # one line, never a traceback (--log-level debug shows it)
        message, code = _foreignerror_line(exc)
        error_line(message)
        return code
