"""Pipeline throughput against what parsing alone costs, on the same documents, in one go.

1. Reference: read every pending document from ``app_xml`` and parse it with lxml, nothing
   else, in one process — the least any tool pays for these documents on this machine.
2. Empty the target (cascade from the root table, and the log).
3. Run the migration with the given config, noting when each batch commits.

Reported: both rates, their ratio, and the rate of the first and the last tenth of the run
(a pipeline that slows down over time shows here).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from lxml import etree

from xmlmigrate.config import MigrationConfig
from xmlmigrate.contract import CompiledContract, load_contracts
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.ledger import reset_target
from xmlmigrate.model import RawRecord, RunStats
from xmlmigrate.run.pipeline import run_migration
from xmlmigrate.run.workers import reset_peak_rss
from xmlmigrate.sources import TableSource
from xmlmigrate.stages.xml import hardened_parser


@dataclass
class SpeedReport:
    records: int
    megabytes: float
    parse_only_per_min: float
    pipeline_per_min: float
    first_tenth_per_min: float
    last_tenth_per_min: float
    stats: RunStats

    @property
    def ratio(self) -> float:
        return self.pipeline_per_min / self.parse_only_per_min if self.parse_only_per_min else 0.0

    @property
    def decay(self) -> float:
        return (
            self.last_tenth_per_min / self.first_tenth_per_min if self.first_tenth_per_min else 0.0
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "megabytes": round(self.megabytes, 1),
            "parse_only_rec_per_min": round(self.parse_only_per_min),
            "pipeline_rec_per_min": round(self.pipeline_per_min),
            "ratio_to_parse_only": round(self.ratio, 3),
            "first_tenth_rec_per_min": round(self.first_tenth_per_min),
            "last_tenth_rec_per_min": round(self.last_tenth_per_min),
            "last_to_first_tenth": round(self.decay, 3),
            "run": self.stats.to_dict(),
        }


def reference_pages(
    engine: sa.Engine, contract: CompiledContract, config: MigrationConfig
) -> Iterator[list[RawRecord]]:
    """The documents the run takes (``--limit``, ranges, modulo; ``--source``: the table the
    run reads), read as the reference reads them: in pages of 200."""
    schema = build_schema(contract, config.source_ref)
    return TableSource(engine, schema, replace(config, batch_size=200)).pages()


def reference_parse(xml: bytes | str, parser: etree.XMLParser) -> int:
    """What the reference does with each document — lxml's whole parse; its size in bytes."""
    data = xml if isinstance(xml, bytes) else xml.encode("utf-8")
    etree.fromstring(data, parser)
    return len(data)


def parse_only(
    config: MigrationConfig, contract: CompiledContract | None = None
) -> tuple[int, int, float]:
    """(documents, bytes, seconds) to read and lxml-parse every pending document."""
    contract = contract or load_contracts(config.contracts)
    engine = make_engine(config.db_url)
    try:
        n = size = 0
        parser = hardened_parser()
        started = time.perf_counter()
        for page in reference_pages(engine, contract, config):
            for record in page:
                if record.xml is not None:
                    size += reference_parse(record.xml, parser)
                    n += 1
        return n, size, time.perf_counter() - started
    finally:
        engine.dispose()


def measure(config: MigrationConfig, contract: CompiledContract | None = None) -> SpeedReport:
    """The reference pass, then the run (``contract``: else the config's contracts)."""
    contract = contract or load_contracts(config.contracts)
    schema = build_schema(contract)
    engine = make_engine(config.db_url)
    try:
        reset_target(engine, schema)
    finally:
        engine.dispose()
    n, size, seconds = parse_only(config, contract)
    reset_peak_rss()  # the run's peak memory is the run's, not the reference pass's
    marks: list[tuple[float, int]] = []

    def on_batch(_stats: RunStats, done: int) -> None:
        marks.append((time.perf_counter(), done))

    marks.append((time.perf_counter(), 0))
    stats = run_migration(config, contract, on_batch=on_batch)
    tenth = max(1, stats.records // 10)
    return SpeedReport(
        records=stats.records,
        megabytes=size / 1e6,
        parse_only_per_min=n / seconds * 60 if seconds else 0.0,
        pipeline_per_min=stats.rec_per_min,
        first_tenth_per_min=_rate(marks, 0, tenth),
        last_tenth_per_min=_rate(marks, stats.records - tenth, stats.records),
        stats=stats,
    )


def _rate(marks: list[tuple[float, int]], lo: int, hi: int) -> float:
    """Records per minute between the last mark at or before ``lo`` and the first at or after
    ``hi`` (marks are batch commits)."""
    if len(marks) < 2:
        return 0.0
    t0, d0 = next(((t, d) for t, d in reversed(marks) if d <= lo), marks[0])
    t1, d1 = next(((t, d) for t, d in marks if d >= hi), marks[-1])
    return (d1 - d0) / (t1 - t0) * 60 if t1 > t0 else 0.0
