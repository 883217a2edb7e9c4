"""The same migration against every live target: SQLite, PostgreSQL (psycopg COPY and pyodbc
through psqlODBC) and MariaDB (pyodbc through Connector/ODBC)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from tests.contracts import engine_generator

from xmlmigrate.config import MigrationConfig
from xmlmigrate.db import make_engine
from xmlmigrate.ledger import ledger_problems
from xmlmigrate.mock import GeneratedDoc, insert_documents
from xmlmigrate.run.pipeline import run_migration
from xmlmigrate.sources import TableSource
from xmlmigrate.testing import tables
from xmlmigrate.testing.expected import expected_outcome
from xmlmigrate.testing.tables import Rows

from .conftest import CONTRACT, SCHEMA


def table_rows(engine: sa.Engine) -> Rows:
    return tables.table_rows(engine, SCHEMA.targets)


def log_by_app(engine: sa.Engine) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(sa.select(SCHEMA.log).order_by(SCHEMA.log.c.log_id)):
            out.setdefault(int(r.app_id), []).append(r)
    return out


def corpus() -> tuple[list[GeneratedDoc], dict[int, str]]:
    """Generated documents with edge cases, plus three that real data has: a con_id reused by
    another application, a document that is not well-formed, one of the other product line."""
    docs = list(engine_generator(seed=404, size_profile="small", edge_rate=0.05).generate(90))
    owner, donor = engine_generator(seed=405, size_profile="small", start_app_id=5001).generate(2)
    docs += [owner, donor]
    con_id = owner.model.contacts[0].value("con_id")

    def renumber(xml: str, old: int, new: int) -> str:
        return xml.replace(f'Request ID="{old}"', f'Request ID="{new}"', 1)

    twin = donor.xml.replace(f'con_id="{donor.app_id * 8}"', f'con_id="{con_id}"', 1)
    broken = docs[2].xml.replace("</Journals>", "</Journal>", 1)
    other_line = (
        docs[3]
        .xml.replace("<application ", "<IL_application ", 1)
        .replace("</application>", "</IL_application>", 1)
    )
    extra = {
        10_001: renumber(twin, donor.app_id, 10_001),
        10_002: renumber(broken, docs[2].app_id, 10_002),
        10_003: renumber(other_line, docs[3].app_id, 10_003),
    }
    return docs, extra


def expected_tables(docs: list[GeneratedDoc]) -> Rows:
    return tables.expected_table_rows(
        SCHEMA.targets, (expected_outcome(doc.model, CONTRACT).rows for doc in docs)
    )


def load(url: str, docs: list[GeneratedDoc], extra: dict[int, str]) -> sa.Engine:
    engine = make_engine(url)
    insert_documents(engine, SCHEMA, docs)
    if extra:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(SCHEMA.source), [{"app_id": k, "xml": v} for k, v in extra.items()]
            )
    return engine


def test_every_app_accounted_for_once_and_tables_equal_the_model(db_url: str) -> None:
    docs, extra = corpus()
    engine = load(db_url, docs, extra)
    stats = run_migration(MigrationConfig(db_url=db_url, batch_size=25), CONTRACT)
    assert stats.records == len(docs) + len(extra)

    log = log_by_app(engine)
    assert sorted(log) == sorted([d.app_id for d in docs] + list(extra))
    assert all(len(entries) == 1 for entries in log.values())
    for doc in docs:
        expected = expected_outcome(doc.model, CONTRACT)
        assert log[doc.app_id][0].status == expected.status, (doc.app_id, log[doc.app_id][0])
    assert log[10_001][0].status == "failed" and log[10_001][0].stage == "write"
    assert log[10_002][0].status == "rejected" and log[10_002][0].reason.startswith("malformed")
    assert log[10_003][0].status == "rejected"
    assert log[10_003][0].reason.startswith("wrong_product_line")

    got = table_rows(engine)
    want = expected_tables(docs)
    for name, rows in want.items():
        assert len(got[name]) == len(rows), name
        assert got[name] == rows, name
    with engine.connect() as conn:
        codes = {r[0] for r in conn.execute(sa.select(SCHEMA.warnings.c.code))}
        enums = conn.execute(sa.select(sa.func.count()).select_from(SCHEMA.enums)).scalar_one()
    assert {"invalid_value", "truncated"} <= codes
    assert enums == sum(len(c) for c in CONTRACT.enums.values())
    assert ledger_problems(engine, SCHEMA) == []

    again = run_migration(MigrationConfig(db_url=db_url), CONTRACT)
    assert again.records == 0
    assert table_rows(engine) == got
    engine.dispose()


def test_retry_failed_takes_failures_again_with_a_new_attempt(db_url: str) -> None:
    docs, extra = corpus()
    owner = docs[-2]
    engine = load(db_url, [owner], {10_001: extra[10_001]})
    run_migration(MigrationConfig(db_url=db_url), CONTRACT)
    assert [e.status for e in log_by_app(engine)[10_001]] == ["failed"]
    # the owner of the contested con_id goes away; the failed app can now migrate
    with engine.begin() as conn:
        conn.execute(sa.delete(SCHEMA.root).where(SCHEMA.root.c.app_id == owner.app_id))
    assert run_migration(MigrationConfig(db_url=db_url), CONTRACT).records == 0
    retry = run_migration(MigrationConfig(db_url=db_url, retry_failed=True), CONTRACT)
    assert (retry.records, retry.success) == (1, 1)
    entries = log_by_app(engine)[10_001]
    assert [(e.status, e.attempt) for e in entries] == [("failed", 1), ("success", 2)]
    engine.dispose()


def test_modulo_partitions_and_id_ranges_split_the_work_exactly(db_url: str) -> None:
    docs, _ = corpus()
    engine = load(db_url, docs[:30], {})
    ids = [d.app_id for d in docs[:30]]
    ranged = run_migration(
        MigrationConfig(db_url=db_url, app_id_start=ids[5], app_id_end=ids[9]), CONTRACT
    )
    assert ranged.records == 5
    for instance in range(3):
        run_migration(MigrationConfig(db_url=db_url, modulo=3, modulo_instance=instance), CONTRACT)
    log = log_by_app(engine)
    assert sorted(log) == sorted(ids)
    assert all(len(entries) == 1 for entries in log.values())
    engine.dispose()


def test_a_page_of_a_bounded_range_never_sorts_the_documents_of_the_rest(db_url: str) -> None:
    """A page is chosen by app id, then joined to its documents: reading a page of an app-id
    range costs what a page of the whole table costs (PostgreSQL once sorted every remaining
    document of the range for each page, with statistics taken while the table was small:
    15x slower partitions). Measured by the server: EXPLAIN ANALYZE's buffers and temporary
    files."""
    if not db_url.startswith("postgresql+psycopg"):
        pytest.skip("reads PostgreSQL's EXPLAIN (ANALYZE, BUFFERS)")
    engine = make_engine(db_url)
    docs = list(engine_generator(seed=3, size_profile="realistic").generate(150))
    with engine.connect() as conn:
        conn.execute(sa.text("ALTER TABLE app_xml SET (autovacuum_enabled = false)"))
        conn.commit()
    insert_documents(engine, SCHEMA, docs[:3])
    with engine.connect() as conn:  # statistics of a table that was small, as after a load
        conn.execute(sa.text("ANALYZE app_xml"))
        conn.commit()
    insert_documents(engine, SCHEMA, docs[3:])

    def explain(**bounds: int) -> dict[str, Any]:
        config = MigrationConfig(db_url=db_url, batch_size=10, **bounds)
        page = TableSource(engine, SCHEMA, config)._readers[0].page.compile(dialect=engine.dialect)
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            with raw.cursor() as cur:  # type: ignore[union-attr]
                cur.execute(
                    "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + str(page),
                    {**page.params, "after": 0, "n": 10},
                )
                plan: dict[str, Any] = cur.fetchone()[0][0]["Plan"]
        assert plan["Actual Rows"] == 10
        return plan

    def touched(plan: dict[str, Any]) -> int:
        return int(plan["Shared Hit Blocks"] + plan["Shared Read Blocks"])

    # the page's own ten documents (ids 1-10), uncompressed, three times over: a bound that a
    # plan reading the other 140 documents of the range (~14x that) cannot meet
    page_blocks = sum(len(d.xml.encode()) for d in docs[:10]) / 8192
    for plan in (explain(), explain(app_id_start=1, app_id_end=10**9)):
        assert plan.get("Temp Written Blocks", 0) == 0, plan
        assert touched(plan) < 3 * page_blocks, (touched(plan), page_blocks)
    engine.dispose()
