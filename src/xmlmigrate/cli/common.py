"""What every command shares: the consoles, the options declared once (database, contract,
the run's knobs, logging), the progress bar, and the database helper."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from xmlmigrate.config import (
    DB_URL_ENV,
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_BATCH_BYTES,
    IN_FLIGHT_PAGES,
    MAX_BATCH_BYTES_LIMIT,
    MigrationConfig,
    default_db_url,
)
from xmlmigrate.contract import load_contracts
from xmlmigrate.db import make_engine
from xmlmigrate.db.engine import sqlite_file
from xmlmigrate.db.locks import DEFAULT_LOCK_TIMEOUT_S
from xmlmigrate.db.schema import Schema, build_schema
from xmlmigrate.errors import UserError

console = Console(soft_wrap=True)
err_console = Console(stderr=True)
log = logging.getLogger("xmlmigrate")
DEFAULT_MAX_REJECTED = "50%"

Handler = Callable[[argparse.Namespace], int]
if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # not subscriptable at run time before Python 3.12
    Commands = argparse._SubParsersAction


def command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    func: Handler,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """A command with the options every command has (-q, -v, --log-level)."""
    p = sub.add_parser(name, help=help_text, description=description or help_text)
    p.set_defaults(func=func)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    logging_options(p, top=False)
    return p


def db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        default=default_db_url(),
        metavar="URL",
        help=f"SQLAlchemy database URL (default: ${DB_URL_ENV} or %(default)s)",
    )


def contract_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--contract",
        type=Path,
        action="append",
        default=None,
        metavar="FILE",
        help="mapping contract file, or provenir_cc / provenir_rl for the shipped credit-card "
        "(the default) and rec-lending contracts; repeat it to migrate several product lines "
        "in one run: each document goes to the contract whose application element it has",
    )


def run_arguments(r: argparse.ArgumentParser) -> None:
    """The run's options: target, contract, selection and every tuning knob."""
    db_option(r)
    contract_option(r)
    r.add_argument(
        "--batch-size",
        type=positive,
        default=DEFAULT_BATCH_SIZE,
        help="apps per transaction (default %(default)s)",
    )
    max_batch_bytes_option(r)
    r.add_argument("--limit", type=positive, help="migrate at most N apps in this run")
    r.add_argument(
        "--cluster",
        metavar="local:N|tcp://HOST:PORT",
        help="run on Dask distributed: local:N starts N worker processes here; tcp://HOST:8786 "
        "uses a running scheduler (workers started with 'dask worker tcp://HOST:8786' on any "
        "machine that reaches both databases). The pending apps are split into app-id ranges, "
        "one task each, each holding its lease; a lost worker's task is run again and resumes. "
        "Needs a server database and pip install 'xmlmigrate[dask]'",
    )
    r.add_argument(
        "--source",
        metavar="TABLE",
        help="read the documents from this table instead of each contract's own source "
        "([contract] source; default app_xml(app_id, xml)): [SCHEMA.]TABLE, with its key and "
        "document columns as TABLE(KEY, DOCUMENT), e.g. 'dbo.app_xml_staging_rl(app_id, app_XML)'",
    )
    r.add_argument("--app-id-start", type=int, metavar="ID", help="only apps with app_id >= ID")
    r.add_argument("--app-id-end", type=int, metavar="ID", help="only apps with app_id <= ID")
    r.add_argument(
        "--modulo",
        type=positive,
        metavar="N",
        help="split app_xml in N partitions by app_id %% N (several processes or machines)",
    )
    r.add_argument(
        "--modulo-instance", type=int, metavar="I", help="the partition this run takes, 0..N-1"
    )
    r.add_argument(
        "--lock-timeout",
        type=float,
        default=DEFAULT_LOCK_TIMEOUT_S,
        metavar="SECONDS",
        help="how long any statement waits for a database lock (an ALTER TABLE, another "
        "session's open transaction) before the run stops with exit 3 and a line naming that "
        "session; a rerun continues (default %(default)g)",
    )
    r.add_argument(
        "--max-rejected",
        metavar="N|PCT%",
        help="exit with status 4 when more apps than this are rejected: a count or a share "
        f"of the run's records (default {DEFAULT_MAX_REJECTED.replace('%', '%%')}: a wrong contract or source is "
        "caught)",
    )
    r.add_argument(
        "--retry-failed",
        action="store_true",
        help="also take apps whose earlier attempts failed (rejected ones stay rejected)",
    )
    r.add_argument(
        "--changed",
        action="store_true",
        help="also take apps whose document changed since its outcome was logged (the "
        "digest processing_log recorded differs from the document's now): their earlier rows "
        "are replaced in the batch's transaction — catch-up runs beside a live system; "
        "'xmlmigrate status --changed' counts them first. Not yet safe with shared rows: a "
        "replaced app's keep_existing rows (shared contacts) go with it, also where other "
        "apps had kept them instead of theirs; and a new version that is rejected or fails "
        "leaves the app with no rows",
    )
    r.add_argument(
        "--retry-rejected",
        nargs="*",
        metavar="REASON",
        help="also take apps that were rejected — all of them, or only those rejected for "
        "these reason codes (e.g. --retry-rejected wrong_product_line after a run that lacked "
        "a contract)",
    )

    tuning = r.add_argument_group("tuning (the perf suite sweeps these)")
    tuning.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="transform processes; 0 = in the main process (default: in-process for runs of "
        "up to 4 batches, else one per CPU core)",
    )
    bool_flag = argparse.BooleanOptionalAction
    tuning.add_argument(
        "--pooling",
        action=bool_flag,
        default=True,
        help="one long-lived database connection (--no-pooling: a new one per batch)",
    )
    tuning.add_argument(
        "--pipelined",
        action=bool_flag,
        default=True,
        help="transform the next batches while one is written (--no-pipelined: strictly serial)",
    )
    tuning.add_argument(
        "--dedup-cache",
        action=bool_flag,
        default=True,
        help="remember keys written in this run so known duplicates fail before reaching the "
        "database (--no-dedup-cache: always let the database find them)",
    )
    tuning.add_argument(
        "--check-well-formed",
        action=bool_flag,
        default=True,
        help="prove every whole document well-formed; --no-check-well-formed parses only the "
        "part the contract reads and does NOT reject documents broken elsewhere",
    )
    r.add_argument(
        "--metrics-out",
        type=Path,
        metavar="FILE",
        help="write the run's config, counts, rows per table and stage times as JSON",
    )


def tuning_config(args: argparse.Namespace) -> MigrationConfig:
    modulo, instance = args.modulo, args.modulo_instance
    if (modulo is None) != (instance is None):
        raise UserError("--modulo and --modulo-instance go together")
    try:
        return MigrationConfig(
            db_url=args.db,
            contracts=tuple(args.contract or ()),
            batch_size=args.batch_size,
            max_batch_bytes=args.max_batch_bytes,
            limit=args.limit,
            app_id_start=args.app_id_start,
            app_id_end=args.app_id_end,
            modulo=modulo,
            modulo_instance=instance or 0,
            retry_failed=args.retry_failed,
            changed=args.changed,
            retry_rejected=(
                tuple(args.retry_rejected) if args.retry_rejected is not None else None
            ),
            workers=args.workers,
            pooling=args.pooling,
            pipelined=args.pipelined,
            dedup_cache=args.dedup_cache,
            check_well_formed=args.check_well_formed,
            source=getattr(args, "source", None),
            lock_timeout=args.lock_timeout,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None


def max_batch_bytes_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-batch-bytes",
        type=byte_size,
        default=DEFAULT_MAX_BATCH_BYTES,
        metavar="SIZE",
        help="also end a batch once its documents reach this size (never fewer than one "
        f"document); at most {IN_FLIGHT_PAGES} batches of documents are read and not yet "
        f"committed at once: memory follows bytes, not the document count (default "
        f"{format_bytes(DEFAULT_MAX_BATCH_BYTES)}, sized for a 24 GB machine); bytes, or with "
        "a unit: 512KiB, 64MiB, 1GiB, 100MB",
    )


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS.update({"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40})
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")


def byte_size(text: str) -> int:
    """A size in bytes: ``268435456``, ``256MiB``, ``1.5 GiB``, ``100MB``."""
    found = _SIZE.fullmatch(text.strip().lower())
    if found is None or found.group(2) not in _UNITS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size: give bytes, or a number with a unit (KiB, MiB, GiB, KB, "
            "MB, GB), e.g. 256MiB"
        )
    value = int(float(found.group(1)) * _UNITS[found.group(2)])
    if not 1 <= value <= MAX_BATCH_BYTES_LIMIT:
        raise argparse.ArgumentTypeError(f"must be 1 byte to 1 TiB, got {text!r}")
    return value


def format_bytes(n: int) -> str:
    """``268435456`` → ``256 MiB``."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} bytes"


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def logging_options(p: argparse.ArgumentParser, top: bool) -> None:
    """-v / --log-level, before or after the command (a command's own default must not
    overwrite what was given before it)."""
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if top else argparse.SUPPRESS,
        help="log more: -v progress of the run, -vv debugging details",
    )
    p.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default=None if top else argparse.SUPPRESS,
        help="log level of the standard logging module (overrides -v)",
    )


def progress_bar(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
        transient=False,
    )


@contextmanager
def database(
    args: argparse.Namespace, must_exist: bool = False
) -> Iterator[tuple[Schema, sa.Engine]]:
    """The schema of --contract and an engine for --db, disposed of afterwards. ``must_exist``:
    a SQLite file that does not exist is an error (connecting would create it empty)."""
    schema = build_schema(load_contracts(args.contract or ()))
    if must_exist and (path := sqlite_file(args.db)) is not None and not path.exists():
        raise UserError(
            f"no such SQLite file: {path} (create it with 'xmlmigrate init' or "
            "'xmlmigrate generate')"
        )
    engine = make_engine(args.db)
    try:
        yield schema, engine
    finally:
        engine.dispose()


def error_line(message: str) -> None:
    """One line on stderr, never wrapped, so scripts and people can read it."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
