"""Every knob of a run, in one frozen value. The CLI and the perf suite build it; nothing else reads settings.

Each field that has a command-line option declares it on the field (``metadata[OPTION]``): its
flag, help and how its text is read — and, for a tuning knob, its row of the knob table
(:func:`knob_table`). The CLI builds its options from there (``cli/common.py``)."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from xmlmigrate.contract.model import SourceRef, parse_source
from xmlmigrate.db.locks import DEFAULT_LOCK_TIMEOUT_S, check_lock_timeout

DEFAULT_DB_URL = "sqlite:///xmlmigrate.db"
DB_URL_ENV = "XMLMIGRATE_DB_URL"
DEFAULT_BATCH_SIZE = 100  # measured faster than 200 on PostgreSQL, and half the memory
IN_PROCESS_BATCHES = 4  # automatic workers: runs of up to this many batches stay in-process
# A page is also cut once its documents reach max_batch_bytes (never fewer than one document),
# and the documents read and not yet committed stay within IN_FLIGHT_PAGES such pages (one
# larger document aside). 16 MiB: on 10,000 realistic documents (~260 KB each: pages of ~64)
# on PostgreSQL it ran as fast as 256 MiB (pages of 100) with 56 % of the whole run's memory,
# where 8 and 12 MiB were slower (the knob sweep in the README).
DEFAULT_MAX_BATCH_BYTES = 16 * 2**20
IN_FLIGHT_PAGES = 4
MAX_BATCH_BYTES_LIMIT = 2**40  # 1 TiB: past any machine's memory, and every database's integers


def default_db_url() -> str:
    return os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL


WORKERS_PER_CORE = 4  # --workers cap: past a few per core, processes only compete for them


THREADS_PER_CORE = 4  # --threads cap: past a few per core, threads only wait for the GIL


def usable_cores() -> int:
    """The CPU cores this process may run on: its affinity (``taskset``, a container's
    cpuset), not every core of the machine."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def max_threads() -> int:
    return THREADS_PER_CORE * usable_cores()


def max_workers() -> int:
    return WORKERS_PER_CORE * usable_cores()


# -- how an option's text is read -------------------------------------------------------------


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


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


# -- the declaration of an option ---------------------------------------------------------------

OPTION = "option"  # the key of a field's metadata that holds its Option


@dataclass(frozen=True, slots=True)
class Knob:
    """A tuning knob's row of the knob table: what it changes, the counter of the run's
    summary that shows it acting, and its default in words where the value says too little."""

    changes: str
    counter: str = "—"
    default: str | None = None


@dataclass(frozen=True, slots=True)
class Option:
    """A field's command-line option. ``help`` is argparse's (``%(default)s`` names the
    default; a literal percent sign is ``%%``); a field whose default is a bool is a switch
    (``--flag`` when off by default, ``--flag / --no-flag`` when on). ``cli_default``: the
    command line's default where it is not the field's, computed when the parser is built.
    ``knob``: a tuning knob, in the perf suite's sweeps, the knob table and its own group of
    the run's help."""

    flag: str
    help: str
    metavar: str | None = None
    parse: Callable[[str], Any] | None = None  # argparse's type
    action: str | None = None  # "append": the option repeats
    nargs: str | None = None  # "*": the option takes a list
    cli_default: Callable[[], object] | None = None
    knob: Knob | None = None

    @property
    def dest(self) -> str:
        """The option's name in argparse's namespace (``--batch-size``: ``batch_size``)."""
        return self.flag.removeprefix("--").replace("-", "_")


_T = TypeVar("_T")


def _option(default: _T, option: Option) -> _T:
    return field(default=default, metadata={OPTION: option})


def _not_given() -> None:
    """The command line's default of an option whose absence must be told apart."""
    return None


@dataclass(frozen=True, slots=True)
class MigrationConfig:
    db_url: str = _option(
        DEFAULT_DB_URL,
        Option(
            "--db",
            f"SQLAlchemy database URL (default: ${DB_URL_ENV} or %(default)s)",
            metavar="URL",
            cli_default=default_db_url,
        ),
    )
    # none = the shipped provenir_cc; several = documents routed by their application element
    contracts: tuple[Path, ...] = _option(
        (),
        Option(
            "--contract",
            "mapping contract file, or provenir_cc / provenir_rl for the shipped credit-card "
            "(the default) and rec-lending contracts; repeat it to migrate several product "
            "lines in one run: each document goes to the contract whose application element it "
            "has",
            metavar="FILE",
            parse=Path,
            action="append",
            cli_default=_not_given,
        ),
    )
    # -- tuning knobs (the perf suite sweeps them) -------------------------------------------
    # None = automatic (see resolved_workers)
    workers: int | None = _option(
        None,
        Option(
            "--workers",
            "transform processes; 0 = in the main process (default: in-process for runs of up "
            f"to {IN_PROCESS_BATCHES} batches or on one core, else one per CPU core this process "
            "may use)",
            metavar="N",
            parse=int,
            knob=Knob(
                "transform processes (0 = in the main process); at most "
                f"{WORKERS_PER_CORE} per core (exit 2 above), never more than the batches "
                "pending",
                "workers",
                default=(
                    f"in-process for up to {IN_PROCESS_BATCHES} batches or on one core, else one "
                    "per core"
                ),
            ),
        ),
    )
    threads: int = _option(
        1,
        Option(
            "--threads",
            "transform threads in each transform process (in the main process with --workers "
            "0): libxml2 parses without the GIL while another thread maps; results keep the "
            f"batch's order; at most {THREADS_PER_CORE} per core (default %(default)s)",
            metavar="T",
            parse=positive,
            knob=Knob(
                "transform threads in each transform process (or the main process): libxml2 "
                "parses without the GIL while another thread maps; results keep the batch's "
                f"order; at most {THREADS_PER_CORE} per core",
                "threads",
            ),
        ),
    )
    batch_size: int = _option(
        DEFAULT_BATCH_SIZE,
        Option(
            "--batch-size",
            "apps per transaction (default %(default)s)",
            metavar="B",
            parse=positive,
            knob=Knob("apps per transaction", "transactions"),
        ),
    )
    max_batch_bytes: int = _option(
        DEFAULT_MAX_BATCH_BYTES,
        Option(
            "--max-batch-bytes",
            "also end a batch once its documents reach this size (never fewer than one "
            f"document); at most {IN_FLIGHT_PAGES} batches of documents are read and not yet "
            "committed at once: memory follows bytes, not the document count (default "
            f"{format_bytes(DEFAULT_MAX_BATCH_BYTES)}); bytes, or with a unit: 512KiB, 64MiB, "
            "1GiB, 100MB",
            metavar="SIZE",
            parse=byte_size,
            knob=Knob(
                "a batch also ends once its documents reach SIZE (never fewer than one "
                f"document); at most {IN_FLIGHT_PAGES} batches of documents are read and not "
                f"yet committed ({format_bytes(IN_FLIGHT_PAGES * DEFAULT_MAX_BATCH_BYTES)} at "
                "the default): memory follows bytes, not the document count",
                "pages read, peak memory",
                default=format_bytes(DEFAULT_MAX_BATCH_BYTES),
            ),
        ),
    )
    pooling: bool = _option(
        True,
        Option(
            "--pooling",
            "one long-lived database connection (--no-pooling: a new one per batch)",
            knob=Knob(
                "one long-lived writer connection, or a new one per batch", "connections opened"
            ),
        ),
    )
    pipelined: bool = _option(
        True,
        Option(
            "--pipelined",
            "transform the next batches while one is written (--no-pipelined: strictly serial)",
            knob=Knob(
                "transform the next batches while one is written, or strictly read → transform "
                "(split over the workers) → write",
                "waiting time",
            ),
        ),
    )
    dedup_cache: bool = _option(
        True,
        Option(
            "--dedup-cache",
            "remember keys written in this run so known duplicates fail before reaching the "
            "database (--no-dedup-cache: always let the database find them)",
            knob=Knob(
                "keys from documents (`con_id`) written in this run are remembered: an app "
                "reusing one fails before its batch reaches the database, instead of failing "
                "the transaction and bisecting",
                "duplicate keys caught before the database; transactions refused by the database",
            ),
        ),
    )
    check_well_formed: bool = _option(
        True,
        Option(
            "--check-well-formed",
            "prove every whole document well-formed; --no-check-well-formed parses only the "
            "part the contract reads and does NOT reject documents broken elsewhere",
            knob=Knob(
                "off: only `CustData` is parsed and a document broken elsewhere is **not** rejected"
            ),
        ),
    )
    scoped_parse: bool = True  # build a tree of only the part of a document the contract reads
    # -- which apps ----------------------------------------------------------------------------
    limit: int | None = _option(
        None, Option("--limit", "migrate at most N apps in this run", parse=positive)
    )
    # None: each contract's own [contract] source (default app_xml(app_id, xml))
    source: str | None = _option(
        None,
        Option(
            "--source",
            "read the documents from this table instead of each contract's own source "
            "([contract] source; default app_xml(app_id, xml)): [SCHEMA.]TABLE, with its key "
            "and document columns as TABLE(KEY, DOCUMENT), e.g. "
            "'dbo.app_xml_staging_rl(app_id, app_XML)'",
            metavar="TABLE",
        ),
    )
    app_id_start: int | None = _option(
        None,
        Option("--app-id-start", "only apps with app_id >= ID", metavar="ID", parse=int),
    )
    app_id_end: int | None = _option(
        None, Option("--app-id-end", "only apps with app_id <= ID", metavar="ID", parse=int)
    )
    # this process takes app_id % modulo == modulo_instance
    modulo: int | None = _option(
        None,
        Option(
            "--modulo",
            "split app_xml in N partitions by app_id %% N (several processes or machines)",
            metavar="N",
            parse=positive,
        ),
    )
    modulo_instance: int = _option(
        0,
        Option(
            "--modulo-instance",
            "the partition this run takes, 0..N-1",
            metavar="I",
            parse=int,
            cli_default=_not_given,  # --modulo and --modulo-instance go together
        ),
    )
    # seconds any statement waits for a database lock (db/locks.py)
    lock_timeout: float = _option(
        DEFAULT_LOCK_TIMEOUT_S,
        Option(
            "--lock-timeout",
            "how long any statement waits for a database lock (an ALTER TABLE, another "
            "session's open transaction) before the run stops with exit 3 and a line naming "
            "that session; a rerun continues (default %(default)g)",
            metavar="SECONDS",
            parse=float,
        ),
    )
    retry_failed: bool = _option(
        False,
        Option(
            "--retry-failed",
            "also take apps whose earlier attempts failed (rejected ones stay rejected)",
        ),
    )
    # processing_log.doc_digest differs from the document's now: old rows replaced in the batch
    changed: bool = _option(
        False,
        Option(
            "--changed",
            "also take apps whose document changed since its outcome was logged (the "
            "digest processing_log recorded differs from the document's now): their earlier "
            "rows are replaced in the batch's transaction — catch-up runs beside a live "
            "system; 'xmlmigrate status --changed' counts them first. Not yet safe with shared "
            "rows: a replaced app's keep_existing rows (shared contacts) go with it, also where "
            "other apps had kept them instead of theirs; and a new version that is rejected or "
            "fails leaves the app with no rows",
        ),
    )
    # None = no; () = every rejection; else rejections whose reason starts with one of these
    retry_rejected: tuple[str, ...] | None = _option(
        None,
        Option(
            "--retry-rejected",
            "also take apps that were rejected — all of them, or only those rejected for "
            "these reason codes (e.g. --retry-rejected wrong_product_line after a run that "
            "lacked a contract)",
            metavar="REASON",
            nargs="*",
        ),
    )
    cluster_run: str | None = None  # set by --cluster: the cluster run a partition's run is part of

    @property
    def source_ref(self) -> SourceRef | None:
        return parse_source(self.source) if self.source is not None else None

    def resolved_workers(self, pending: int) -> int:
        if self.workers is not None:  # never more processes than batches to give them
            return min(self.workers, max(1, -(-pending // self.batch_size)))
        cores = usable_cores()
        if pending <= IN_PROCESS_BATCHES * self.batch_size or cores == 1:
            return 0  # one core: a worker process would only add shipping to the same core
        return cores

    def __post_init__(self) -> None:
        if self.source is not None:
            parse_source(self.source)  # ValueError: what is wrong with it
        for code in self.retry_rejected or ():
            if not code or not all(c.isalnum() or c == "_" for c in code):
                raise ValueError(
                    f"--retry-rejected takes reason codes such as wrong_product_line, not "
                    f"{code[:40]!r}"
                )
        check_lock_timeout(self.lock_timeout)
        if self.workers is not None and self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        if self.workers is not None and self.workers > max_workers():
            raise ValueError(
                f"--workers {self.workers} is too many: at most {max_workers()} here "
                f"({WORKERS_PER_CORE} per CPU core; past that the processes only compete for "
                "the cores) — leave --workers out for one per core"
            )
        if not 1 <= self.threads <= max_threads():
            raise ValueError(
                f"--threads {self.threads}: from 1 to {max_threads()} here ({THREADS_PER_CORE} "
                "per CPU core; past that the threads only wait for the GIL)"
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 1 <= self.max_batch_bytes <= MAX_BATCH_BYTES_LIMIT:
            raise ValueError(f"max_batch_bytes must be 1 byte to 1 TiB, got {self.max_batch_bytes}")
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit must be >= 0, got {self.limit}")
        if self.modulo is not None and not 0 <= self.modulo_instance < self.modulo:
            raise ValueError(
                f"modulo instance must be in 0..{self.modulo - 1}, got {self.modulo_instance}"
            )
        if (
            self.app_id_start is not None
            and self.app_id_end is not None
            and self.app_id_start > self.app_id_end
        ):
            raise ValueError("app_id_start is after app_id_end")


def options() -> list[tuple[Field[Any], Option]]:
    """MigrationConfig's fields that have a command-line option, in declaration order."""
    return [(f, f.metadata[OPTION]) for f in fields(MigrationConfig) if OPTION in f.metadata]


def option_of(name: str) -> tuple[Field[Any], Option]:
    """MigrationConfig's field ``name`` and its command-line option."""
    [found] = [(f, option) for f, option in options() if f.name == name]
    return found


def knob_label(f: Field[Any], option: Option) -> str:
    """How the knob table names a knob: ``--workers N``, ``--pooling / --no-pooling``."""
    if f.default is True:  # on by default: --flag / --no-flag
        return f"{option.flag} / --no-{option.flag.removeprefix('--')}"
    return f"{option.flag} {option.metavar}"


def knob_table() -> str:
    """The tuning knobs as a Markdown table: knob, default, what it changes, the counter."""
    lines = ["| knob | default | what it changes | counter |", "|---|---|---|---|"]
    for f, option in options():
        knob = option.knob
        if knob is None:
            continue
        default = knob.default or (
            ("on" if f.default else "off") if isinstance(f.default, bool) else str(f.default)
        )
        lines.append(f"| `{knob_label(f, option)}` | {default} | {knob.changes} | {knob.counter} |")
    return "\n".join(lines) + "\n"
