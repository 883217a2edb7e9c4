"""The highest pipeline/parse-only ratio this machine allows, from what each document costs.

``perf pipeline`` divides the run's rate by the rate of reading every document and parsing it
whole with lxml (the reference). Whatever a pipeline does in parallel, it cannot do less CPU
work per document than reading it (the same reader as the reference, the database server's
share included when it runs here: the PostgreSQL backends of this process's connections, read
as the CI gate reads them, ``bench.probe``), proving it well-formed, and parsing, validating and mapping
the part the contract reads. This measures those costs on the pending documents, one thread,
and gives the ratio a pipeline would reach if everything else — writing the rows, the
database's share of it, shipping between processes — were free and every core were busy:

* on ``c`` cores shared with a local database server: ``c × reference / (read's CPU, client
  and server + check + transform)``;
* held to one core, with the server on another: ``reference / (read's client CPU + check +
  transform)``.

A target above the ceiling cannot be met by any pipeline that reads, checks and maps each
document, whatever its mechanism — only by cheaper stages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from xmlmigrate.bench.probe import tracker
from xmlmigrate.bench.speed import reference_pages, reference_parse
from xmlmigrate.config import MigrationConfig
from xmlmigrate.contract import CompiledContract, load_contracts
from xmlmigrate.db import make_engine
from xmlmigrate.model import RawRecord
from xmlmigrate.run.transform import transform_record
from xmlmigrate.stages.xml import hardened_parser

_LOCAL_HOSTS = {None, "", "127.0.0.1", "::1", "localhost"}


@dataclass(frozen=True)
class StageCosts:
    """Milliseconds per document (``documents`` of them)."""

    documents: int
    read_wall_ms: float  # reading a page and taking its documents, as the reference does
    read_client_ms: float  # this process's CPU for it
    # a local server's CPU for it; None: elsewhere, or not measured (only PostgreSQL's backends
    # through psycopg are: a local MariaDB's share, or pyodbc's, is missing, the ceiling too high)
    read_server_ms: float | None
    parse_ms: float  # lxml's whole-document parse: the reference's other half
    check_ms: float  # proving the document well-formed
    transform_ms: float  # scoped parse + validate + map, no check

    @property
    def reference_ms(self) -> float:
        return self.read_wall_ms + self.parse_ms

    def ceiling(self, cores: int) -> float:
        """The highest ratio to the reference's rate on ``cores`` cores (1: the tool held to
        one core, the server on another)."""
        needed = self.check_ms + self.transform_ms
        if cores <= 1:
            needed += self.read_client_ms
            return self.reference_ms / needed if needed else 0.0
        needed += self.read_client_ms + (self.read_server_ms or 0.0)
        return cores * self.reference_ms / needed if needed else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            **{
                name: round(value, 3) if value is not None else None
                for name, value in (
                    ("read_wall_ms", self.read_wall_ms),
                    ("read_client_ms", self.read_client_ms),
                    ("read_server_ms", self.read_server_ms),
                    ("parse_ms", self.parse_ms),
                    ("check_ms", self.check_ms),
                    ("transform_ms", self.transform_ms),
                    ("reference_ms", self.reference_ms),
                )
            },
        }


def shares_these_cores(url: sa.URL) -> bool:
    """Whether the database server runs on this machine (so its work takes these cores)."""
    return url.host in _LOCAL_HOSTS


def _thread_ms(records: list[RawRecord], work: Callable[[RawRecord], object]) -> float:
    started = time.thread_time()
    for record in records:
        work(record)
    return (time.thread_time() - started) * 1e3


def measure_stage_costs(
    config: MigrationConfig, contract: CompiledContract | None = None
) -> StageCosts:
    """Read the pending documents page by page (``--limit`` and ranges apply), as the
    reference does, and time each stage over each page in this thread before the next."""
    compiled = contract or load_contracts(config.contracts)
    parser = hardened_parser()

    def parse(record: RawRecord) -> None:
        reference_parse(record.xml or b"", parser)

    def checked(record: RawRecord) -> None:
        transform_record(record, compiled)

    def unchecked(record: RawRecord) -> None:
        transform_record(record, compiled, check_well_formed=False)

    stages = (parse, checked, unchecked)
    spent = [0.0] * len(stages)  # ms
    n = 0
    read_wall = read_cpu = 0.0
    backends = tracker()
    engine = make_engine(config.db_url)
    try:
        backends.begin()
        pages = reference_pages(engine, compiled, config)
        while True:
            wall, cpu = time.perf_counter(), time.process_time()
            page = next(pages, None)
            read_wall += time.perf_counter() - wall
            read_cpu += time.process_time() - cpu
            if page is None:
                break
            records = [r for r in page if r.xml is not None]
            n += len(records)
            for i, stage in enumerate(stages):
                spent[i] += _thread_ms(records, stage)
        server_ns, _wait = backends.collect()  # the backends idle while the stages are timed
    finally:
        engine.dispose()
    url, dialect = engine.url, engine.dialect
    # the tracker knows a backend's pid through psycopg only
    measured = dialect.name == "postgresql" and dialect.driver == "psycopg"
    measured = measured and shares_these_cores(url)
    if not n:  # nothing pending: nothing to measure
        return StageCosts(0, 0.0, 0.0, None, 0.0, 0.0, 0.0)
    parse_ms, checked_ms, unchecked_ms = (ms / n for ms in spent)
    return StageCosts(
        documents=n,
        read_wall_ms=read_wall * 1e3 / n,
        read_client_ms=read_cpu * 1e3 / n,
        read_server_ms=server_ns / 1e6 / n if measured else None,
        parse_ms=parse_ms,
        check_ms=max(0.0, checked_ms - unchecked_ms),
        transform_ms=unchecked_ms,
    )
