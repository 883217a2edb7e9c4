"""generate → run → the database holds exactly what the generator's model implies."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.contracts import engine_contract, engine_generator

from xmlmigrate.config import MigrationConfig
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import Schema, build_schema
from xmlmigrate.errors import SourceMissing
from xmlmigrate.ledger import reset_target
from xmlmigrate.mock import GeneratedDoc, insert_documents
from xmlmigrate.run.pipeline import run_migration
from xmlmigrate.testing import tables
from xmlmigrate.testing.expected import expected_rows
from xmlmigrate.testing.tables import Rows

CONTRACT = engine_contract()
SCHEMA = build_schema(CONTRACT)


def table_rows(engine: sa.Engine, schema: Schema) -> Rows:
    return tables.table_rows(engine, schema.targets)


def expected_tables(docs: list[GeneratedDoc]) -> Rows:
    return tables.expected_table_rows(
        SCHEMA.targets, (expected_rows(doc.model, CONTRACT) for doc in docs)
    )


def log_rows(engine: sa.Engine) -> list[tuple[int, str]]:
    log = SCHEMA.log
    with engine.connect() as conn:
        return [
            (int(a), str(s))
            for a, s in conn.execute(sa.select(log.c.app_id, log.c.status).order_by(log.c.app_id))
        ]


@pytest.fixture(scope="module")
def corpus() -> list[GeneratedDoc]:
    return list(engine_generator(seed=2016, size_profile="realistic").generate(200))


@pytest.fixture
def loaded(tmp_path: Path, corpus: list[GeneratedDoc]) -> tuple[str, sa.Engine]:
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    engine = make_engine(url)
    SCHEMA.create(engine)
    insert_documents(engine, SCHEMA, corpus)
    return url, engine


def test_generate_run_equals_model_and_second_run_changes_nothing(
    loaded: tuple[str, sa.Engine], corpus: list[GeneratedDoc]
) -> None:
    url, engine = loaded
    stats = run_migration(MigrationConfig(db_url=url, batch_size=64), CONTRACT)
    assert (stats.records, stats.success, stats.failed, stats.rejected) == (200, 200, 0, 0)
    assert stats.batches == 4  # 64 + 64 + 64 + 8
    got = table_rows(engine, SCHEMA)
    want = expected_tables(corpus)
    for name in want:
        assert len(got[name]) == len(want[name]), name
        assert got[name] == want[name], name
    assert dict(stats.rows_per_table) == {k: len(v) for k, v in want.items()}
    assert log_rows(engine) == [(d.app_id, "success") for d in corpus]

    again = run_migration(MigrationConfig(db_url=url), CONTRACT)
    assert again.records == 0
    assert table_rows(engine, SCHEMA) == got
    assert len(log_rows(engine)) == 200
    engine.dispose()


def test_limit_and_resume(loaded: tuple[str, sa.Engine], corpus: list[GeneratedDoc]) -> None:
    url, engine = loaded
    first = run_migration(MigrationConfig(db_url=url, batch_size=30, limit=70), CONTRACT)
    assert first.records == 70
    assert [a for a, _ in log_rows(engine)] == [d.app_id for d in corpus[:70]]
    rest = run_migration(MigrationConfig(db_url=url, batch_size=500), CONTRACT)
    assert rest.records == 130
    assert table_rows(engine, SCHEMA) == expected_tables(corpus)
    engine.dispose()


def test_clean_resets_target_and_keeps_source(loaded: tuple[str, sa.Engine]) -> None:
    url, engine = loaded
    run_migration(MigrationConfig(db_url=url), CONTRACT)
    reset_target(engine, SCHEMA)
    assert all(not rows for rows in table_rows(engine, SCHEMA).values())
    assert log_rows(engine) == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(SCHEMA.source)).scalar() == 200
    # and the same documents migrate again
    assert run_migration(MigrationConfig(db_url=url), CONTRACT).success == 200
    engine.dispose()


def test_bad_documents_are_logged_once_and_good_ones_migrate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mixed.db'}"
    engine = make_engine(url)
    SCHEMA.create(engine)
    docs = list(engine_generator(seed=5, size_profile="small").generate(6))
    good = {d.app_id: d.xml for d in docs}
    # app 2 reuses app 1's contact id: the database rejects it on the key, nothing else is lost
    good[2] = good[2].replace(f'con_id="{2 * 8}"', f'con_id="{1 * 8}"')
    good[3] = "<Provenir><Request"  # not well-formed
    good[4] = (
        good[4]
        .replace("<application", "<IL_application")
        .replace("</application>", "</IL_application>")
    )
    with engine.begin() as conn:
        conn.execute(sa.insert(SCHEMA.source), [{"app_id": k, "xml": v} for k, v in good.items()])
    stats = run_migration(MigrationConfig(db_url=url, batch_size=10), CONTRACT)
    assert (stats.success, stats.failed, stats.rejected) == (3, 1, 2)
    with engine.connect() as conn:
        log = {r.app_id: r for r in conn.execute(sa.select(SCHEMA.log))}
        base_ids = {r[0] for r in conn.execute(sa.select(SCHEMA.root.c.app_id))}
    assert sorted(log) == [1, 2, 3, 4, 5, 6]
    assert log[2].status == "failed" and log[2].stage == "write"
    assert "app_contact_base" in log[2].reason and "con_id" in log[2].reason
    assert log[3].status == "rejected" and log[3].reason.startswith("malformed")
    assert log[4].status == "rejected" and log[4].reason.startswith("wrong_product_line")
    assert base_ids == {1, 5, 6}
    engine.dispose()


def test_missing_source_table_is_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(SourceMissing, match=r"no table 'app_xml'.*xmlmigrate generate"):
        run_migration(MigrationConfig(db_url=url), CONTRACT)
