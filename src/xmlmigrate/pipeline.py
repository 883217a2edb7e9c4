"""The coordinator: source pages → transform → loader, with stats and progress.

This is the serial pipeline (one process): read a page of ``batch_size``
records, transform each, commit the batch with its log rows, repeat until the
source has nothing pending. Stage times are measured here so every run can
say where its time went.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter

from xmlmigrate.config import MigrationConfig
from xmlmigrate.contract import CompiledContract, load_contract
from xmlmigrate.db import make_engine, open_writer
from xmlmigrate.db.engine import redact_url
from xmlmigrate.ledger import finish_run, new_run_id, start_run
from xmlmigrate.loader import Loader
from xmlmigrate.model import MappedApp, Rejection, RunStats
from xmlmigrate.schema import SOURCE_TABLE, build_schema
from xmlmigrate.sources import TableSource
from xmlmigrate.transform import transform_record

ProgressCallback = Callable[[RunStats, int], None]


class SourceMissing(RuntimeError):
    pass


def run_migration(
    config: MigrationConfig,
    contract: CompiledContract | None = None,
    on_start: Callable[[int], None] | None = None,
    on_batch: ProgressCallback | None = None,
) -> RunStats:
    """Migrate every pending app of ``config.db_url``; return the run's stats.

    ``on_start(pending)`` is called once with the number of records to do,
    ``on_batch(stats, done)`` after every committed batch.
    """
    contract = contract or load_contract(config.contract)
    schema = build_schema(contract)
    engine = make_engine(config.db_url)
    try:
        missing = schema.missing_tables(engine)
        if SOURCE_TABLE in missing:
            raise SourceMissing(
                f"the database has no table {SOURCE_TABLE!r}: create and fill it with "
                f"'xmlmigrate generate --count N --db URL', or load your documents into "
                f"{SOURCE_TABLE}(app_id INT PRIMARY KEY, xml TEXT NOT NULL)"
            )
        if missing:
            schema.create(engine)
        stats = RunStats(run_id=new_run_id())
        start_run(engine, schema, stats.run_id, _describe(config))
        source = TableSource(engine, schema, config)
        if on_start is not None:
            on_start(source.pending_count())
        writer = open_writer(engine, contract)
        loader = Loader(writer, stats.run_id)
        times = stats.stage_seconds
        started = perf_counter()
        try:
            pages = source.pages()
            while True:
                t0 = perf_counter()
                page = next(pages, None)
                times["read"] += perf_counter() - t0
                if page is None:
                    break
                results: list[MappedApp | Rejection] = [
                    transform_record(rec, contract, times) for rec in page
                ]
                t1 = perf_counter()
                committed = loader.commit(results, {rec.app_id: rec.attempt for rec in page})
                times["write"] += perf_counter() - t1
                for outcome, app in committed:
                    stats.add_outcome(outcome)
                    if app is not None:
                        stats.truncated_values += app.truncated
                        stats.defaulted_values += app.defaulted
                        stats.clamped_values += app.clamped
                        stats.invalid_values += app.invalid
                        for table, rows in app.rows.items():
                            stats.rows_per_table[table] += len(rows)
                stats.batches += 1
                stats.elapsed = perf_counter() - started
                if on_batch is not None:
                    on_batch(stats, stats.records)
        finally:
            writer.close()
        stats.elapsed = perf_counter() - started
        finish_run(engine, schema, stats)
        return stats
    finally:
        engine.dispose()


def _describe(config: MigrationConfig) -> dict[str, object]:
    """The config as stored with the run: every knob, the URL without its password."""
    described: dict[str, object] = {}
    for name in config.__dataclass_fields__:
        value = getattr(config, name)
        described[name] = (
            redact_url(value)
            if name == "db_url"
            else (str(value) if value is not None and not isinstance(value, int | bool) else value)
        )
    return described
