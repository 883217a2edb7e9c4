"""``xmlmigrate`` commands. Thin: parse arguments, call the library, print."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

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
from rich.table import Table

from xmlmigrate import __version__
from xmlmigrate.config import DB_URL_ENV, DEFAULT_BATCH_SIZE, MigrationConfig, default_db_url
from xmlmigrate.contract import ContractError, load_contract
from xmlmigrate.db import make_engine, redact_url
from xmlmigrate.db.factory import UnsupportedDatabase
from xmlmigrate.ledger import reset_target
from xmlmigrate.mock import SIZE_PROFILES, MockGenerator, insert_documents, next_app_id
from xmlmigrate.model import RunStats
from xmlmigrate.pipeline import SourceMissing, run_migration
from xmlmigrate.schema import SOURCE_TABLE, build_schema

console = Console(soft_wrap=True)
err_console = Console(stderr=True)

MENU = (("small", 50), ("medium", 200), ("large", 500))
DEMO_FILE = "xmlmigrate-demo.db"


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


# -- helpers ---------------------------------------------------------------


def _progress(quiet: bool) -> Progress:
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


def _ask_count() -> int:
    console.print("How many documents?")
    for i, (name, n) in enumerate(MENU, 1):
        console.print(f"  {i}) {name} ({n})")
    console.print(f"  {len(MENU) + 1}) custom")
    while True:
        choice = console.input("Choice [1]: ").strip() or "1"
        if choice.isdigit() and 1 <= int(choice) <= len(MENU):
            return MENU[int(choice) - 1][1]
        if choice == str(len(MENU) + 1):
            text = console.input("Count: ").strip()
            if text.isdigit() and int(text) > 0:
                return int(text)
        console.print("Please answer with a number from the list.")


def print_summary(stats: RunStats, db_url: str, batch_size: int) -> None:
    console.print(
        f"\n[bold]Run {stats.run_id[:12]}[/bold] on {redact_url(db_url)} (batch size {batch_size})"
    )
    console.print(
        f"Records: [bold]{stats.records:,}[/bold]   success {stats.success:,}   "
        f"failed {stats.failed:,}   rejected {stats.rejected:,}   "
        f"warnings {stats.warnings:,}"
    )
    console.print(
        f"Values: truncated {stats.truncated_values:,}   defaulted {stats.defaulted_values:,}   "
        f"invalid→NULL {stats.invalid_values:,}   clamped {stats.clamped_values:,}"
    )
    if stats.warning_codes:
        console.print(
            "Warnings by code: "
            + ", ".join(f"{code} {n:,}" for code, n in stats.warning_codes.most_common())
        )
    if stats.reasons:
        console.print("Top reasons:")
        for reason, n in stats.reasons.most_common(5):
            console.print(f"  {n:>6,}  {reason}")
    if stats.rows_per_table:
        rows = Table(title="Rows written", show_edge=False)
        rows.add_column("table")
        rows.add_column("rows", justify="right")
        for table, n in stats.rows_per_table.items():
            rows.add_row(table, f"{n:,}")
        console.print(rows)
    console.print(f"Elapsed {stats.elapsed:.2f} s   [bold]{stats.rec_per_min:,.0f} rec/min[/bold]")
    total = sum(stats.stage_seconds.values())
    other = max(0.0, stats.elapsed - total)
    split = Table(title="Time by stage", show_edge=False)
    split.add_column("stage")
    split.add_column("seconds", justify="right")
    split.add_column("share", justify="right")
    for stage, secs in [*stats.stage_seconds.items(), ("other", other)]:
        share = secs / stats.elapsed * 100 if stats.elapsed else 0.0
        split.add_row(stage, f"{secs:.2f}", f"{share:.0f} %")
    console.print(split)


def _generate(db_url: str, count: int, seed: int, profile: str, quiet: bool) -> None:
    contract = load_contract()
    schema = build_schema(contract)
    engine = make_engine(db_url)
    try:
        schema.create(engine)
        start = next_app_id(engine, schema)
        gen = MockGenerator(seed=seed, size_profile=profile, start_app_id=start)
        with _progress(quiet) as progress:
            task = progress.add_task("generate", total=count, rate="")

            def advance(done: int, size: int) -> None:
                progress.update(task, completed=done, rate=f"{size / 1e6:,.0f} MB")

            n, size = insert_documents(engine, schema, gen.generate(count), on_chunk=advance)
    finally:
        engine.dispose()
    console.print(
        f"Inserted {n:,} documents ({size / 1e6:,.1f} MB, profile {profile}, seed {seed}) into "
        f"{SOURCE_TABLE}, app ids {start:,}–{start + n - 1:,}, in {redact_url(db_url)}"
    )


def _run(config: MigrationConfig, quiet: bool) -> RunStats:
    contract = load_contract(config.contract)  # errors here must not start a progress bar
    with _progress(quiet) as progress:
        task = progress.add_task("migrate", total=None, rate="")

        def started(pending: int) -> None:
            progress.update(task, total=pending)

        def batch(stats: RunStats, done: int) -> None:
            progress.update(task, completed=done, rate=f"{stats.rec_per_min:,.0f} rec/min")

        stats = run_migration(config, contract, on_start=started, on_batch=batch)
    print_summary(stats, config.db_url, config.batch_size)
    return stats


# -- commands --------------------------------------------------------------


def cmd_generate(args: argparse.Namespace) -> int:
    count = args.count
    if count is None:
        if not sys.stdin.isatty():
            raise UserError("--count is required when not run from a terminal")
        count = _ask_count()
    if count < 1:
        raise UserError("--count must be at least 1")
    _generate(args.db, count, args.seed, args.size_profile, args.quiet)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    config = MigrationConfig(
        db_url=args.db, contract=args.contract, batch_size=args.batch_size, limit=args.limit
    )
    _run(config, args.quiet)
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    schema = build_schema(load_contract(args.contract))
    engine = make_engine(args.db)
    try:
        missing = set(schema.missing_tables(engine))
        if schema.root.name in missing or schema.log.name in missing:
            console.print(f"Nothing to clean: no migrated tables in {redact_url(args.db)}")
            return 0
        reset_target(engine, schema)
        with engine.connect() as conn:
            kept = conn.execute(sa.select(sa.func.count()).select_from(schema.source)).scalar_one()
    finally:
        engine.dispose()
    console.print(
        f"Deleted every migrated row and the processing log in {redact_url(args.db)}; "
        f"kept {kept:,} documents in {SOURCE_TABLE}"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    path = Path(args.file).resolve()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    db_url = f"sqlite:///{path}"
    console.print(f"Demo database: {path}")
    _generate(db_url, args.count, args.seed, args.size_profile, args.quiet)
    _run(MigrationConfig(db_url=db_url, batch_size=args.batch_size), args.quiet)
    return 0


# -- parser ----------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xmlmigrate",
        description=(
            "Migrate Provenir XML documents stored one per row in app_xml(app_id, xml) into "
            "normalized tables, following a mapping contract. Every processed app gets one "
            "row in processing_log, committed with its data, so runs can be repeated safely."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, help_text: str, func: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
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
            default=None,
            metavar="FILE",
            help="mapping contract file (default: the shipped provenir_cc contract)",
        )

    g = add("generate", "insert realistic mock Provenir documents into app_xml", cmd_generate)
    db_option(g)
    g.add_argument("--count", type=int, help="documents to generate (asked for on a terminal)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    g.add_argument(
        "--size-profile",
        choices=SIZE_PROFILES,
        default="realistic",
        help="document sizes: small (8-25 KB), realistic (real distribution, median ~150 KB, "
        "up to 2 MB), large (0.5-2 MB); default %(default)s",
    )

    r = add("run", "migrate every app of app_xml not yet in processing_log", cmd_run)
    db_option(r)
    contract_option(r)
    r.add_argument(
        "--batch-size",
        type=_positive,
        default=DEFAULT_BATCH_SIZE,
        help="apps per transaction (default %(default)s)",
    )
    r.add_argument("--limit", type=_positive, help="migrate at most N apps in this run")

    c = add(
        "clean",
        "delete migrated rows (cascading from app_base) and the log; keep app_xml",
        cmd_clean,
    )
    db_option(c)
    contract_option(c)

    d = add(
        "demo",
        "create a fresh SQLite file here, generate documents, migrate them, print the summary",
        cmd_demo,
    )
    d.add_argument(
        "--file", default=DEMO_FILE, help="SQLite file to (re)create (default %(default)s)"
    )
    d.add_argument("--count", type=_positive, default=1000, help="documents (default %(default)s)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    d.add_argument("--size-profile", choices=SIZE_PROFILES, default="realistic")
    d.add_argument("--batch-size", type=_positive, default=DEFAULT_BATCH_SIZE)
    return parser


def _error(message: str) -> None:
    """One line on stderr, never wrapped, so scripts and people can read it."""
    print(f"error: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except (UserError, ContractError, SourceMissing, UnsupportedDatabase) as exc:
        _error(str(exc))
        return 2
    except sa.exc.ArgumentError as exc:
        _error(f"bad database URL: {exc}")
        return 2
    except sa.exc.SQLAlchemyError as exc:
        reason = str(exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig else exc)
        _error(f"database error: {reason.splitlines()[0][:300]}")
        return 1
    except KeyboardInterrupt:
        _error("interrupted: finished batches are committed, the rest stays pending")
        return 130


if __name__ == "__main__":
    sys.exit(main())
