"""Both made-up predecessor contracts with the real files' shapes (predecessor_shapes_*.json),
end to end on each live target, with their documents where the predecessor reads them: two
staging tables (``zz_staging_cc`` and ``zz_staging_rl``, key ``app_id``, document ``app_XML``).
``contract import`` → ``contract check`` (together) → ``init`` (the union; enums with aliases,
an id two enums share, one name with other ids) → ``run`` over both product lines → every
document migrated, once; a contact another application already wrote is kept as it is, with
a warning naming that application, whatever the number of workers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.unit.test_cli import run_cli
from tests.unit.test_import_shapes import DOCS, SHAPES_CC, SHAPES_RL

from xmlmigrate.contract import load_contracts
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.model import MappedApp, RawRecord
from xmlmigrate.run.transform import transform_record
from xmlmigrate.sources import check_source
from xmlmigrate.testing import tables

from .conftest import drop_every_table, target_url

CASES = [
    ("sqlite", "0"),
    ("sqlite", "2"),
    ("postgresql+psycopg", "0"),
    ("postgresql+psycopg", "2"),
    ("postgresql+pyodbc", "0"),
    ("mysql+pyodbc", "0"),
]


@pytest.mark.parametrize(("backend", "workers"), CASES)
def test_both_product_lines_from_their_staging_tables(
    backend: str, workers: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = target_url(backend, worker, tmp_path_factory.getbasetemp())
    engine = make_engine(url)
    drop_every_table(engine)
    cc, rl = tmp_path / "cc.toml", tmp_path / "rl.toml"
    both = ("--contract", str(cc), "--contract", str(rl))
    for args in (
        ("contract", "import", str(SHAPES_CC), "--out", str(cc)),
        ("contract", "import", str(SHAPES_RL), "--out", str(rl)),
        ("contract", "check", str(cc), str(rl)),
        ("init", "--db", url, *both),
    ):
        out = run_cli(*args)
        assert out.returncode == 0, (args, out.stdout, out.stderr)

    contract = load_contracts([cc, rl])
    schema = build_schema(contract)
    assert [s.name for s in schema.sources] == ["zz_staging_cc", "zz_staging_rl"]
    docs = {int(p.stem.split("_")[1]): p.read_text(encoding="utf-8") for p in DOCS.glob("*.xml")}
    for source in schema.sources:  # the users' tables: init neither creates nor drops them
        source.create(engine)
    with engine.begin() as conn:
        for source, ids in zip(schema.sources, ((501, 502), (601, 602)), strict=True):
            conn.execute(sa.insert(source), [{"app_id": i, "xml": docs[i]} for i in ids])
    status = run_cli("status", "--db", url, *both)
    assert status.returncode == 0, status.stderr
    assert "4 documents in zz_staging_cc and zz_staging_rl" in status.stdout
    assert "pending 4" in status.stdout

    out = run_cli("run", "--db", url, *both, "--workers", workers, "--batch-size", "1", "-q")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "success 4" in out.stdout and "duplicate_existing 2" in out.stdout

    # what each document maps to, less the rows app 601 wrote first: contact 21 and its
    # CURR address (its PREV address is new, and written)
    want: dict[str, list[dict[str, object]]] = {}
    for app_id in sorted(docs):
        mapped = transform_record(RawRecord(app_id, docs[app_id]), contract)
        assert isinstance(mapped, MappedApp), mapped
        for name, rows in mapped.rows.items():
            if app_id == 602 and name == "app_contact_base":
                rows = [r for r in rows if r["con_id"] != 21]
            if app_id == 602 and name == "app_contact_address":
                rows = [r for r in rows if r["address_type_enum"] != 320]
            want.setdefault(name, []).extend(rows)
    got = tables.table_rows(engine, schema.targets)
    assert got == tables.expected_table_rows(schema.targets, [want])
    assert {r["con_id"]: r["app_id"] for r in got["app_contact_base"]} == {
        11: 501,
        12: 501,
        13: 502,
        21: 601,
        22: 601,
    }

    with engine.connect() as conn:
        log = conn.execute(sa.select(schema.log.c.app_id, schema.log.c.status)).all()
        warnings = conn.execute(
            sa.select(schema.warnings.c.app_id, schema.warnings.c.code, schema.warnings.c.detail)
        ).all()
        seeded = conn.execute(sa.select(schema.enums.c.enum_id, schema.enums.c.enum_type)).all()
    assert sorted(log) == [(501, "success"), (502, "success"), (601, "success"), (602, "success")]
    shared = sorted(w.detail for w in warnings if w.code == "duplicate_existing")
    assert [w.app_id for w in warnings if w.code == "duplicate_existing"] == [602, 602]
    assert shared == [
        "app_contact_address (con_id=21, address_type_enum=320) was already written by app 601; "
        "that row is kept and this app's is not written",
        "app_contact_base (con_id=21) was already written by app 601; that row is kept and this "
        "app's is not written",
    ]
    assert len({i for i, _ in seeded}) == len(seeded)  # one app_enums row per id
    assert {"decision_enum", "decision_enum@IL_application"} <= {t for _, t in seeded}

    again = run_cli("run", "--db", url, *both, "-q")
    assert again.returncode == 0 and "Nothing to do" in again.stdout
    assert "zz_staging_cc and zz_staging_rl" in " ".join(again.stdout.split())
    resolved = check_source(engine, schema)  # the database's spelling of app_XML
    assert [s.c.xml.name.lower() for s in resolved.sources] == ["app_xml", "app_xml"]
    engine.dispose()


def test_run_source_names_the_table_and_its_columns(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``run --source TABLE(KEY, DOCUMENT)`` reads another table than the contract names;
    a hostile name is refused before any SQL, a missing table is named."""
    url = target_url("sqlite", "main", tmp_path)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text('CREATE TABLE "legacy docs" (id INTEGER PRIMARY KEY, body TEXT)'))
        conn.execute(sa.text("CREATE TABLE legacy (id INTEGER PRIMARY KEY, body TEXT)"))
        conn.execute(
            sa.text("INSERT INTO legacy VALUES (601, :x)"),
            {"x": (DOCS / "rl_601.xml").read_text(encoding="utf-8")},
        )
    rl = tmp_path / "rl.toml"
    assert run_cli("contract", "import", str(SHAPES_RL), "--out", str(rl)).returncode == 0
    assert run_cli("init", "--db", url, "--contract", str(rl)).returncode == 0
    missing = run_cli("run", "--db", url, "--contract", str(rl), "-q")
    assert missing.returncode == 2 and "no table 'zz_staging_rl'" in missing.stderr
    for hostile in ('"legacy docs"', "legacy; DROP TABLE app_base", "legacy(id, body", "a.b.c"):
        out = run_cli("run", "--db", url, "--contract", str(rl), "--source", hostile, "-q")
        assert out.returncode == 2, (hostile, out.stderr)
        assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1
    out = run_cli("run", "--db", url, "--contract", str(rl), "--source", "legacy(id, body)", "-q")
    assert out.returncode == 0, out.stderr
    assert "success 1" in out.stdout
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM app_base")).scalar_one() == 1
        assert conn.execute(sa.text('SELECT count(*) FROM "legacy docs"')).scalar_one() == 0
    engine.dispose()
