"""Documents that change after they were read: the log records each document's digest,
``status --changed`` counts the documents changed since, and ``run --changed`` migrates them
again, replacing their old rows in the same transaction — on every backend."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from tests.contracts import engine_generator

from xmlmigrate.cli import main
from xmlmigrate.config import MigrationConfig
from xmlmigrate.db import make_engine
from xmlmigrate.ledger import ledger_problems, ledger_status, reset_target
from xmlmigrate.mock import insert_documents
from xmlmigrate.model import RunStats
from xmlmigrate.run.pipeline import run_migration
from xmlmigrate.testing.tables import table_rows

from .conftest import CONTRACT, SCHEMA

N = 40


def _update(engine: sa.Engine, indexes: list[int], seed: int = 77) -> None:
    """New content for these documents (same app ids: another seed's documents)."""
    gen = engine_generator(seed=seed, size_profile="small")
    src = SCHEMA.source
    with engine.begin() as conn:
        for i in indexes:
            doc = gen.document(i)
            conn.execute(sa.update(src).where(src.c.app_id == doc.app_id).values(xml=doc.xml))


def _app_id(i: int) -> int:
    return engine_generator(seed=1).document(i).app_id


def _config(url: str, **knobs: object) -> MigrationConfig:
    return MigrationConfig(db_url=url, batch_size=10, workers=0, **knobs)  # type: ignore[arg-type]


def _clean_run_tables(engine: sa.Engine, url: str) -> dict[str, object]:
    """The tables a run from scratch makes of app_xml as it is now."""
    reset_target(engine, SCHEMA)
    stats = run_migration(_config(url), CONTRACT)
    assert stats.records == N
    return dict(table_rows(engine, SCHEMA.targets))


def test_changed_documents_are_counted_and_migrated_again(db_url: str) -> None:
    engine = make_engine(db_url)
    insert_documents(engine, SCHEMA, engine_generator(seed=1, size_profile="small").generate(N))
    assert run_migration(_config(db_url), CONTRACT).records == N
    with engine.connect() as conn:
        digests = [r[0] for r in conn.execute(sa.select(SCHEMA.log.c.doc_digest))]
    assert len(digests) == N and all(re.fullmatch(r"[0-9a-f]{64}", d or "") for d in digests)
    assert ledger_status(engine, SCHEMA, changed=True).changed == 0

    _update(engine, [3, 17, 31])
    status = ledger_status(engine, SCHEMA, changed=True)
    assert (status.changed, status.gone, status.pending) == (3, 0, 0)
    assert run_migration(_config(db_url), CONTRACT).records == 0  # a plain rerun: nothing
    again = run_migration(_config(db_url, changed=True), CONTRACT)
    assert again.records == 3 and again.success == 3
    assert ledger_status(engine, SCHEMA, changed=True).changed == 0
    assert ledger_problems(engine, SCHEMA) == []
    migrated = dict(table_rows(engine, SCHEMA.targets))
    assert migrated == _clean_run_tables(engine, db_url)
    engine.dispose()


def test_documents_updated_during_a_run_are_caught_up(db_url: str) -> None:
    """UPDATEs while a run goes: apps already committed keep the old content (logged with
    its digest), apps read later get the new; ``run --changed`` then makes the tables those
    of a clean run (before: success logged for the old content, never redone)."""
    engine = make_engine(db_url)
    insert_documents(engine, SCHEMA, engine_generator(seed=1, size_profile="small").generate(N))

    def meddle(stats: RunStats, _done: int) -> None:
        if stats.batches == 1:  # apps 0-9 committed, 10-29 read; 5 and 35 change: 35 unread
            _update(engine, [5, 35])

    assert run_migration(_config(db_url, pipelined=False), CONTRACT, on_batch=meddle).records == N
    status = ledger_status(engine, SCHEMA, changed=True)
    assert status.changed == 1  # app 5: migrated before its update
    caught_up = run_migration(_config(db_url, changed=True), CONTRACT)
    assert caught_up.records == 1
    migrated = dict(table_rows(engine, SCHEMA.targets))
    assert migrated == _clean_run_tables(engine, db_url)
    engine.dispose()


def test_an_app_whose_id_moved_is_reported(db_url: str) -> None:
    engine = make_engine(db_url)
    insert_documents(engine, SCHEMA, engine_generator(seed=1, size_profile="small").generate(N))
    assert run_migration(_config(db_url), CONTRACT).records == N
    src = SCHEMA.source
    with engine.begin() as conn:
        conn.execute(sa.update(src).where(src.c.app_id == _app_id(7)).values(app_id=999_999))
    status = ledger_status(engine, SCHEMA, changed=True)
    assert (status.gone, status.pending) == (1, 1)
    engine.dispose()


def test_status_changed_on_the_command_line(db_url: str, capsys: object) -> None:
    engine = make_engine(db_url)
    insert_documents(engine, SCHEMA, engine_generator(seed=1, size_profile="small").generate(N))
    assert run_migration(_config(db_url), CONTRACT).records == N
    _update(engine, [2])
    engine.dispose()
    from tests.contracts import ENGINE_CC

    assert main(["status", "--db", db_url, "--contract", str(ENGINE_CC), "--changed"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "changed since their outcome was logged: 1" in " ".join(out.split())
    code = main(["run", "--db", db_url, "--contract", str(ENGINE_CC), "--changed", "-q"])
    assert code == 0
    assert main(["status", "--db", db_url, "--contract", str(ENGINE_CC), "--changed"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "changed since their outcome was logged: 0" in " ".join(out.split())


def test_a_log_an_earlier_version_created_gains_the_digest_column(
    db_url: str, caplog: object
) -> None:
    engine = make_engine(db_url)
    insert_documents(engine, SCHEMA, engine_generator(seed=1, size_profile="small").generate(N))
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE processing_log DROP COLUMN doc_digest"))
    assert run_migration(_config(db_url), CONTRACT).records == N
    assert "added its column doc_digest" in caplog.text  # type: ignore[attr-defined]
    with engine.connect() as conn:
        n = conn.execute(
            sa.select(sa.func.count()).where(SCHEMA.log.c.doc_digest.is_not(None))
        ).scalar_one()
    assert n == N
    engine.dispose()


def test_two_runs_upgrading_one_old_log_at_once_both_go_on(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partition beside this one added the column between this run's look and its ALTER:
    the ALTER's 'column exists' is no failure (before: DuplicateColumn, exit 3, every
    partition of a cluster run on an old log)."""
    from xmlmigrate import ledger

    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE processing_log DROP COLUMN doc_digest"))
    real = ledger._table_columns
    looks: list[int] = []

    def stale_first_look(eng: sa.Engine, table: sa.Table) -> set[str]:
        looks.append(1)
        found = real(eng, table)
        if len(looks) == 1:  # the other run adds it right after this look
            with eng.begin() as conn:
                conn.execute(sa.text("ALTER TABLE processing_log ADD doc_digest VARCHAR(64)"))
        return found

    monkeypatch.setattr(ledger, "_table_columns", stale_first_look)
    assert ledger.upgrade_ledger(engine, SCHEMA) == []
    assert "doc_digest" in real(engine, SCHEMA.log)
    engine.dispose()


def test_a_batch_bytes_limit_beyond_32_bits_runs(db_url: str) -> None:
    """--max-batch-bytes up to 1 TiB is accepted: the page query's limit is a BIGINT (before:
    PostgreSQL 'integer out of range' on every page from 2 GiB on)."""
    engine = make_engine(db_url)
    insert_documents(engine, SCHEMA, engine_generator(seed=1, size_profile="small").generate(12))
    stats = run_migration(_config(db_url, max_batch_bytes=2**40), CONTRACT)
    assert stats.records == 12
    engine.dispose()


def test_a_null_document_has_a_digest_a_filled_in_one_differs_from(db_url: str) -> None:
    """A NULL document is logged with the NULL_DIGEST marker, which the database's own
    digest of NULL equals, so a document filled in later counts as changed (before: a NULL
    digest, never compared)."""
    from xmlmigrate.sources import NULL_DIGEST, digest_of, record_digest

    engine = make_engine(db_url)
    md = sa.MetaData()
    docs = sa.Table(
        "nullable_docs",
        md,
        sa.Column("app_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("xml", sa.Text, nullable=True),
    )
    md.drop_all(engine)
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(docs), [{"app_id": 1, "xml": None}, {"app_id": 2, "xml": "<a/>"}])
    with engine.connect() as conn:
        got = dict(
            (int(r[0]), r[1])
            for r in conn.execute(sa.select(docs.c.app_id, digest_of(docs.c.xml, engine)))
        )
    md.drop_all(engine)
    engine.dispose()
    assert record_digest(None) == NULL_DIGEST
    assert got == {1: NULL_DIGEST, 2: record_digest(b"<a/>")}


def test_status_on_an_old_log_changes_nothing(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """status only reads: on a log an earlier version made it says digests come with the next
    run, and adds no column (before: it ran ALTER TABLE — a read-only role got 'permission
    denied', exit 3)."""
    from tests.contracts import ENGINE_CC

    from xmlmigrate import ledger

    engine = make_engine(db_url)
    insert_documents(engine, SCHEMA, engine_generator(seed=1, size_profile="small").generate(5))
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE processing_log DROP COLUMN doc_digest"))
    assert main(["status", "--db", db_url, "--contract", str(ENGINE_CC), "--changed"]) == 0
    assert "records no document digests yet" in " ".join(capsys.readouterr().out.split())
    assert "doc_digest" not in ledger._table_columns(engine, SCHEMA.log)
    engine.dispose()


def test_runs_record_their_cluster_run_in_a_column_an_old_table_gains(db_url: str) -> None:
    """A partition's run names its cluster run in migration_run.cluster_run (before: found with
    LIKE on the config's JSON text, tied to json.dumps' spacing); a migration_run an earlier
    version made gains the column at the next run."""
    engine = make_engine(db_url)
    insert_documents(engine, SCHEMA, engine_generator(seed=1, size_profile="small").generate(6))
    drop_index = "DROP INDEX ix_migration_run_cluster_run"
    if engine.dialect.name in ("mysql", "mariadb"):
        drop_index += " ON migration_run"
    with engine.begin() as conn:
        conn.execute(sa.text(drop_index))
        conn.execute(sa.text("ALTER TABLE migration_run DROP COLUMN cluster_run"))
    run_migration(_config(db_url, cluster_run="c" * 32), CONTRACT)
    with engine.connect() as conn:
        tags = [r[0] for r in conn.execute(sa.select(SCHEMA.runs.c.cluster_run))]
    assert tags == ["c" * 32]
    engine.dispose()
