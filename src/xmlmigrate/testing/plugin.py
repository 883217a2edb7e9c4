"""pytest plugin (entry point ``pytest11``): options and fixtures for performance suites.

Installed with xmlmigrate, so a user's own perf tests get the same fixtures as ours:

``perf_db_url``      the target: ``--db-url``, else ``$XMLMIGRATE_TEST_DB_URL``, else a
                     temporary SQLite file
``perf_corpus``      the generated documents (``--perf-records``, ``--perf-seed``,
                     ``--perf-profile``), once per session
``perf_source``      the target recreated and ``app_xml`` loaded with the corpus, once
``clean_target``     a ``benchmark.pedantic(setup=...)`` callable: empties the target
                     (cascade from the root table, the log) and asserts it is empty

The suite never touches a table it did not create: it records each table it creates, with its
columns, in a table of its own (``xmlmigrate_perf_marker``), and refuses a target holding any
table it would create that is not so recorded or whose columns changed since — empty or not
— unless ``--perf-allow-reset`` is given. At the end of the session it drops the tables it
recorded (the corpus in ``app_xml`` too) and the marker, unless ``--perf-keep`` is given; a
table of the user's beside them stays. (A marker of an earlier version, which recorded no
tables, vouches for the tables that have the suite's columns.)

Perf runs must not use pytest-xdist: pytest-benchmark disables itself there and every
comparison passes. ``perf_source`` refuses to start under xdist.

Tests that need an optional system library or a server call :func:`skip_or_fail`: a skip with
the reason on a developer's machine, a failure where ``XMLMIGRATE_REQUIRE_DB=1`` (CI).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa

from xmlmigrate.bench.gate_options import BENCHMARK_STORAGE
from xmlmigrate.bench.probe import ALLOW_RESET_ENV, INJECT_ENV
from xmlmigrate.bench.saved import latest_saved_run
from xmlmigrate.contract import CompiledContract, load_contract
from xmlmigrate.db import make_engine, redact_url
from xmlmigrate.db.engine import DEFAULT_ODBC_DRIVERS
from xmlmigrate.db.factory import ODBC_INSTALL
from xmlmigrate.db.schema import Schema, build_schema
from xmlmigrate.ledger import reset_target
from xmlmigrate.mock import SIZE_PROFILES, GeneratedDoc, default_generator, insert_documents
from xmlmigrate.model import RunStats
from xmlmigrate.testing import verdicts

TEST_DB_ENV = "XMLMIGRATE_TEST_DB_URL"
REQUIRE_ENV = "XMLMIGRATE_REQUIRE_DB"
MARKER_TABLE = "xmlmigrate_perf_marker"
ALLOW_RESET = "--perf-allow-reset"


def skip_or_fail(reason: str, module_level: bool = False) -> NoReturn:
    """Skip with ``reason``; fail instead where ``XMLMIGRATE_REQUIRE_DB=1`` (CI)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)")
    pytest.skip(reason, allow_module_level=module_level)


def odbc_problem(backend: str | None = None) -> str | None:
    """Why ODBC (or ``backend``'s default driver) cannot be used here; None when it can."""
    try:
        import pyodbc
    except ImportError as exc:
        return f"ODBC is not available ({exc}): {ODBC_INSTALL}"
    driver = DEFAULT_ODBC_DRIVERS.get(backend or "")
    if driver and driver not in pyodbc.drivers():
        return f"ODBC driver {driver!r} is not installed (installed: {pyodbc.drivers()})"
    return None


KEEP = "--perf-keep"
# one row per table the suite created: its name, a digest of its column names, when
MARKER = sa.Table(
    MARKER_TABLE,
    sa.MetaData(),
    sa.Column("table_name", sa.String(128), primary_key=True),
    sa.Column("layout", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
_LEGACY_MARKER = {"created_at"}  # before tables were recorded: a mark on the whole database


def layout_digest(columns: Iterable[str]) -> str:
    """What the suite records of a table it created: a digest of its column names."""
    return hashlib.sha256(",".join(sorted(c.lower() for c in columns)).encode()).hexdigest()


def _existing(engine: sa.Engine) -> dict[str, str]:
    """The database's tables by lower-cased name (SQLite's and SQL Server's names ignore case)."""
    return {name.lower(): name for name in sa.inspect(engine).get_table_names()}


def _layouts(engine: sa.Engine, names: list[str]) -> dict[str, str]:
    """The layout digest of each of these tables, by lower-cased name."""
    if not names:
        return {}
    found = sa.inspect(engine).get_multi_columns(filter_names=names)
    return {
        name.lower(): layout_digest(str(c["name"]) for c in cols)
        for (_, name), cols in found.items()
    }


def _recorded(
    engine: sa.Engine, existing: dict[str, str], schema: Schema | None
) -> tuple[dict[str, str], str]:
    """The tables the marker says the suite created (lower-cased name → layout digest), and
    which marker it is: "none", "ours", "legacy" (an earlier version's, which recorded no
    tables: it vouches for those with ``schema``'s columns) or "foreign" (a table of that name
    with other columns, the suite's no more than any other)."""
    marker = existing.get(MARKER_TABLE)
    if marker is None:
        return {}, "none"
    columns = {str(c["name"]).lower() for c in sa.inspect(engine).get_columns(marker)}
    if columns == _LEGACY_MARKER:
        tables = schema.metadata.sorted_tables if schema is not None else []
        return {t.name.lower(): layout_digest(c.name for c in t.columns) for t in tables}, "legacy"
    if columns != set(MARKER.columns.keys()):
        return {}, "foreign"
    with engine.connect() as conn:
        rows = conn.execute(sa.select(MARKER.c.table_name, MARKER.c.layout)).all()
    return {str(name).lower(): str(layout) for name, layout in rows}, "ours"


def _described(engine: sa.Engine, names: list[str]) -> str:
    out = []
    with engine.connect() as conn:
        for name in names:
            try:
                n = conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar()
            except sa.exc.DBAPIError:  # counting is only for the message
                conn.rollback()
                n = None
            out.append(f"{name} ({n:,} rows)" if n else f"{name} (empty)" if n == 0 else name)
    return ", ".join(out)


def prepare_target(engine: sa.Engine, schema: Schema, allow_reset: bool) -> None:
    """Drop and recreate the schema's tables, recording each as the suite's in the marker —
    only where every one of them that exists is the suite's (recorded, its columns unchanged)
    or with ``allow_reset``; else :class:`pytest.UsageError` naming the others, in one line,
    and nothing is touched."""
    existing = _existing(engine)
    recorded, marker = _recorded(engine, existing, schema)
    wanted = [t.name.lower() for t in schema.metadata.sorted_tables]
    present = [existing[name] for name in wanted if name in existing]
    layouts = _layouts(engine, present)
    foreign = [n for n in present if recorded.get(n.lower()) != layouts.get(n.lower())]
    if marker == "foreign":
        foreign.append(existing[MARKER_TABLE])
    if foreign and not allow_reset:
        raise pytest.UsageError(
            f"{redact_url(engine.url)} holds tables the perf suite did not create: "
            f"{_described(engine, foreign)}; it would drop and recreate them as its own. Use "
            f"an empty database, or pass {ALLOW_RESET} to let it destroy them"
        )
    schema.metadata.drop_all(engine, checkfirst=True)
    if marker in ("legacy", "foreign"):  # the suite's own marker takes its place
        sa.Table(existing[MARKER_TABLE], sa.MetaData()).drop(engine)
    schema.create(engine)
    MARKER.create(engine, checkfirst=True)
    names = [t.name for t in schema.metadata.sorted_tables]
    created = _layouts(engine, names)
    now = datetime.now()
    with engine.begin() as conn:
        conn.execute(sa.delete(MARKER).where(MARKER.c.table_name.in_(names)))
        conn.execute(
            sa.insert(MARKER),
            [{"table_name": n, "layout": created[n.lower()], "created_at": now} for n in names],
        )


def release_target(engine: sa.Engine) -> list[str]:
    """Drop the tables the marker records as the suite's (its columns unchanged since), then
    the marker once it records none; never another table. Returns the tables dropped."""
    existing = _existing(engine)
    recorded, marker = _recorded(engine, existing, None)
    if marker != "ours":
        return []
    present = [existing[n] for n in recorded if n in existing]
    layouts = _layouts(engine, present)
    mine = [n for n in present if layouts.get(n.lower()) == recorded[n.lower()]]
    if mine:
        found = sa.MetaData()
        found.reflect(engine, only=mine, resolve_fks=False)
        found.drop_all(engine)  # children first
    gone = {n.lower() for n in mine} | {n for n in recorded if n not in existing}
    with engine.begin() as conn:
        for name in recorded:
            if name in gone:
                conn.execute(sa.delete(MARKER).where(sa.func.lower(MARKER.c.table_name) == name))
        left = conn.execute(sa.select(sa.func.count()).select_from(MARKER)).scalar_one()
    if not left:
        sa.Table(existing[MARKER_TABLE], sa.MetaData()).drop(engine)
    return mine


def claim_target(engine: sa.Engine, schema: Schema, config: pytest.Config) -> None:
    """:func:`prepare_target`; a refusal ends the session with its one line and exit status 2
    (the tool's status for a user's error), not a traceback per test."""
    try:
        prepare_target(engine, schema, allow_reset(config))
    except pytest.UsageError as exc:
        pytest.exit(str(exc), returncode=2)


def keep_target(config: pytest.Config) -> bool:
    """``--perf-keep``: leave what the suite created in the target after the session."""
    return bool(config.getoption(KEEP, False))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("xmlmigrate")
    group.addoption(
        "--db-url",
        default=None,
        help=f"target database URL for perf tests (default: ${TEST_DB_ENV} or a temporary "
        "SQLite file)",
    )
    group.addoption(
        "--perf-records", type=int, default=200, help="documents in the perf corpus (default 200)"
    )
    group.addoption(
        "--perf-rounds", type=int, default=3, help="timed rounds per perf test (default 3)"
    )
    group.addoption("--perf-seed", type=int, default=20160125, help="seed of the perf corpus")
    group.addoption(
        "--perf-profile",
        default="realistic",
        choices=SIZE_PROFILES,
        help="size profile of the perf corpus (default realistic)",
    )
    group.addoption(
        ALLOW_RESET,
        action="store_true",
        default=False,
        help="let the perf suite drop and recreate tables of the names it uses that it did "
        "not create (by default such a database is refused)",
    )
    group.addoption(
        KEEP,
        action="store_true",
        default=False,
        help="keep the tables, the marker and the corpus the perf suite created in the target "
        "after the session (default: dropped at its end)",
    )
    verdicts.add_options(group)


def pytest_configure(config: pytest.Config) -> None:
    """The perf verdicts (--perf-gate, --perf-fail-over) as a plugin of their own."""
    if config.getoption(verdicts.GATE, None) or config.getoption(verdicts.FAIL_OVER, None):
        config.pluginmanager.register(verdicts.PerfVerdicts(config), "xmlmigrate-perf-verdicts")
    elif config.getoption(verdicts.INJECT, 0.0):
        os.environ[INJECT_ENV] = str(verdicts.injected(config))


def saved_results_line(config: pytest.Config) -> str | None:
    """Where pytest-benchmark saved this session's results for ``xmlmigrate perf report`` —
    or that it saved nothing; None when no benchmark ran."""
    bs = getattr(config, "_benchmarksession", None)
    if bs is None or getattr(bs, "disabled", False) or not getattr(bs, "benchmarks", None):
        return None
    where: list[str] = []
    json_file = getattr(bs, "json", None)
    if json_file:
        name = str(getattr(json_file, "name", json_file))
        where.append(f"{name} (xmlmigrate perf report {name})")
    if getattr(bs, "save", None) or getattr(bs, "autosave", None):
        storage = getattr(bs, "storage", None)
        root = getattr(storage, "path", None)
        latest = (
            latest_saved_run(Path(str(root)), getattr(bs, "machine_id", None)) if root else None
        )
        shown = _relative(latest) if latest else str(storage)
        command = "xmlmigrate perf report"
        if root and Path(str(root)).resolve() != BENCHMARK_STORAGE.resolve():
            command += f" --storage {_relative(Path(str(root)))}"
        where.append(f"{shown} ({command}: the newest saved run)")
    if not where:
        return (
            "perf results not saved: pass --benchmark-autosave (then 'xmlmigrate perf report' "
            "reads the newest run) or --benchmark-json=FILE"
        )
    return f"perf results saved in {' and '.join(where)}"


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's table
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    line = saved_results_line(config)
    if line:
        terminalreporter.write_line(line)


def under_xdist(config: pytest.Config) -> bool:
    return bool(
        getattr(config.option, "numprocesses", None) or os.environ.get("PYTEST_XDIST_WORKER")
    )


XDIST_MESSAGE = (
    "performance tests must not run under pytest-xdist (pytest-benchmark disables itself and "
    "every comparison would pass): run them with 'pytest -p no:xdist ...'"
)


@dataclass(frozen=True)
class PerfSource:
    """The loaded corpus: where it is and what was generated."""

    db_url: str
    engine: sa.Engine
    schema: Schema
    contract: CompiledContract
    docs: list[GeneratedDoc]
    total_bytes: int
    profile: str = ""

    @property
    def records(self) -> int:
        return len(self.docs)


def count_target_rows(source: PerfSource) -> int:
    with source.engine.connect() as conn:
        return sum(
            int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            for t in (*source.schema.targets, source.schema.log)
        )


def allow_reset(config: pytest.Config) -> bool:
    """``--perf-allow-reset``, or ``XMLMIGRATE_PERF_ALLOW_RESET=1`` (the perf gate's own
    side databases)."""
    return bool(config.getoption(ALLOW_RESET)) or os.environ.get(ALLOW_RESET_ENV) == "1"


def given_db_url(config: pytest.Config) -> str | None:
    """The target the user named (``--db-url`` or ``$XMLMIGRATE_TEST_DB_URL``), if any."""
    url = config.getoption("--db-url") or os.environ.get(TEST_DB_ENV)
    return str(url) if url else None


@pytest.fixture(scope="session")
def perf_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = given_db_url(request.config)
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('perf') / 'perf.db'}"


@pytest.fixture(scope="session")
def perf_corpus(request: pytest.FixtureRequest) -> list[GeneratedDoc]:
    n = int(request.config.getoption("--perf-records"))
    seed = int(request.config.getoption("--perf-seed"))
    profile = str(request.config.getoption("--perf-profile"))
    return list(default_generator(seed=seed, size_profile=profile).generate(n))


@pytest.fixture(scope="session")
def perf_source(
    request: pytest.FixtureRequest, perf_db_url: str, perf_corpus: list[GeneratedDoc]
) -> Iterator[PerfSource]:
    """The target recreated from scratch and ``app_xml`` loaded with the corpus, once."""
    if under_xdist(request.config):
        raise pytest.UsageError(XDIST_MESSAGE)
    if "+pyodbc" in perf_db_url and (problem := odbc_problem(perf_db_url.split("+")[0])):
        skip_or_fail(problem)
    contract = load_contract()
    schema = build_schema(contract)
    engine = make_engine(perf_db_url)
    claim_target(engine, schema, request.config)
    _, size = insert_documents(engine, schema, perf_corpus)
    profile = str(request.config.getoption("--perf-profile"))
    yield PerfSource(perf_db_url, engine, schema, contract, perf_corpus, size, profile)
    if not keep_target(request.config):
        release_target(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def perf_rounds(request: pytest.FixtureRequest) -> int:
    """``--perf-rounds``: timed rounds per perf test."""
    return int(request.config.getoption("--perf-rounds"))


def run_counters(stats: RunStats) -> dict[str, int]:
    """The exact counters of a migration round (what a comparison reports when they change)."""
    return {
        "records": stats.records,
        "success": stats.success,
        "rows": sum(stats.rows_per_table.values()),
        "transactions": stats.transactions,
        "statements": stats.statements,
        "source_queries": stats.source_queries,
        "connections": stats.connections_opened,
    }


def record_run(benchmark: Any, source: PerfSource, stats: RunStats, **extra: object) -> None:
    """Save with a migration benchmark's result what a reader needs beside its time
    (``benchmark.extra_info``): records, rows, transactions, connections, rec/min of the
    median round and the stage split."""
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        records=source.records,
        profile=source.profile,
        database=sa.engine.make_url(source.db_url).drivername,
        rows=sum(stats.rows_per_table.values()),
        transactions=stats.transactions,
        connections=stats.connections_opened,
        rec_per_min=round(source.records / median * 60),
        stage_seconds={k: round(v, 3) for k, v in stats.stage_seconds.items()},
        **extra,
    )


@pytest.fixture
def clean_target(perf_source: PerfSource) -> Callable[[], None]:
    """A setup callable for ``benchmark.pedantic``: empty the target and prove it is empty."""

    def reset() -> None:
        reset_target(perf_source.engine, perf_source.schema)
        left = count_target_rows(perf_source)
        assert left == 0, f"target not empty before timing: {left} rows left"

    return reset
