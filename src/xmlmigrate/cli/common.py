"""What every command shares: the consoles, the options declared once (database, contract,
seed, size profile, logging; the run's options as MigrationConfig declares them on its
fields), the progress bar, and the database helper."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import Field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

from xmlmigrate.config import MigrationConfig, Option, option_of, options
from xmlmigrate.config import positive as positive  # the commands' integer options read it
from xmlmigrate.contract import load_contracts
from xmlmigrate.db import make_engine
from xmlmigrate.db.engine import sqlite_file
from xmlmigrate.db.schema import Schema, build_schema
from xmlmigrate.errors import UserError
from xmlmigrate.mock import SIZE_PROFILES

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


Options = argparse.ArgumentParser | argparse._ArgumentGroup  # where options are added


def config_option(p: Options, name: str) -> None:
    """The option of MigrationConfig's field ``name``, as the field declares it."""
    _add_config_option(p, *option_of(name))


def _add_config_option(p: Options, f: Field[Any], option: Option) -> None:
    default = option.cli_default() if option.cli_default is not None else f.default
    kwargs: dict[str, Any] = {"default": default, "help": option.help}
    if isinstance(f.default, bool):  # a switch: --flag / --no-flag when on by default
        kwargs["action"] = argparse.BooleanOptionalAction if f.default else "store_true"
    else:
        given = {
            "type": option.parse,
            "metavar": option.metavar,
            "action": option.action,
            "nargs": option.nargs,
        }
        kwargs.update((k, v) for k, v in given.items() if v is not None)
    p.add_argument(option.flag, **kwargs)


def db_option(p: Options, purpose: str | None = None) -> None:
    """``--db URL``: the target, with its default (``$XMLMIGRATE_DB_URL`` or the SQLite
    file) — or, with ``purpose`` (its help), a database the command may use, with no
    default."""
    if purpose is None:
        config_option(p, "db_url")
        return
    _, option = option_of("db_url")
    p.add_argument(option.flag, metavar=option.metavar, help=purpose)


def contract_option(p: Options) -> None:
    config_option(p, "contracts")


def seed_option(p: Options) -> None:
    p.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")


def size_profile_option(p: Options) -> None:
    p.add_argument(
        "--size-profile",
        choices=SIZE_PROFILES,
        default="realistic",
        help="document sizes: small (8-25 KB), realistic (real distribution, median ~150 KB, "
        "up to 2 MB), large (0.5-2 MB); default %(default)s",
    )


def run_arguments(r: argparse.ArgumentParser) -> None:
    """The run's options: every MigrationConfig field that has one (the tuning knobs in a
    group of their own), then the command's own (--cluster, --max-rejected, --metrics-out)."""
    tuning = r.add_argument_group("tuning (the perf suite sweeps these)")
    for f, option in options():
        _add_config_option(tuning if option.knob is not None else r, f, option)
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
        "--max-rejected",
        metavar="N|PCT%",
        help="exit with status 4 when more apps than this are rejected: a count or a share "
        f"of the run's records (default {DEFAULT_MAX_REJECTED.replace('%', '%%')}: a wrong contract or source is "
        "caught)",
    )
    r.add_argument(
        "--metrics-out",
        type=Path,
        metavar="FILE",
        help="write the run's config, counts, rows per table and stage times as JSON",
    )


def tuning_config(args: argparse.Namespace) -> MigrationConfig:
    """The MigrationConfig of the run's options; an option not given leaves its field's
    default (a list given is held as a tuple)."""
    if (args.modulo is None) != (args.modulo_instance is None):
        raise UserError("--modulo and --modulo-instance go together")
    given: dict[str, Any] = {}
    for f, option in options():
        value = getattr(args, option.dest, None)
        if value is not None:
            given[f.name] = tuple(value) if isinstance(value, list) else value
    try:
        return MigrationConfig(**given)
    except ValueError as exc:
        raise UserError(str(exc)) from None


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


def write_metrics(path: Path, metrics: dict[str, Any]) -> None:
    """--metrics-out: the run's figures as JSON (written before the summary is printed, so a
    closed stdout cannot lose them)."""
    path.write_text(json.dumps(metrics, indent=2, default=str) + "\n", encoding="utf-8")
