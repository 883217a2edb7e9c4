"""An imported predecessor contract, end to end on a live target: ``contract import`` →
``contract check`` → ``init`` → source rows → ``run`` → the tables equal what the mapping of
each document gives, and every document is logged once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.unit.test_cli import run_cli
from tests.unit.test_import import RL, RL_DOC

from xmlmigrate.contract import load_contract
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.model import MappedApp, RawRecord
from xmlmigrate.run.transform import transform_record
from xmlmigrate.testing import tables

from .conftest import drop_every_table, target_url

VARIANTS = [
    {},
    {'zz_officer="x9"': 'zz_officer="K2"', 'zz_c2_used="Y"': 'zz_c2_used="N" zz_c2_vin="V2"'},
    {'app_receive_date="2016-1-25 11:21:37.976"': 'app_receive_date="aGVsbG8="'},  # encrypted
    {'zz_pe_capacity="DTI"': 'zz_pe_capacity="' + "X" * 30 + '"'},  # too long: rejected
    {"<IL_application ": "<application ", "</IL_application>": "</application>"},  # CC
]


def _documents() -> dict[int, str]:
    docs = {}
    for i, changes in enumerate(VARIANTS):
        doc = RL_DOC.replace('Request ID="77"', f'Request ID="{100 + i}"')
        for old, new in changes.items():
            doc = doc.replace(old, new)
        docs[100 + i] = doc
    return docs


@pytest.mark.parametrize(
    "backend", ["sqlite", "postgresql+psycopg", "postgresql+pyodbc", "mysql+pyodbc"]
)
def test_import_check_init_run_and_compare(
    backend: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = target_url(backend, worker, tmp_path_factory.getbasetemp())
    toml = tmp_path / "rl.toml"
    cleaner = make_engine(url)
    drop_every_table(cleaner)
    cleaner.dispose()
    steps = [
        ("contract", "import", str(RL), "--out", str(toml)),
        ("contract", "check", str(toml)),
        ("init", "--db", url, "--contract", str(toml), "--drop", "--yes"),
    ]
    for args in steps:
        out = run_cli(*args)
        assert out.returncode == 0, (args, out.stderr)
    contract = load_contract(toml)
    schema = build_schema(contract)
    engine = make_engine(url)
    docs = _documents()
    # the documents stay where the predecessor reads them: its staging table, which the
    # imported contract names (app_xml_staging_rl, column app_XML)
    assert (schema.source.name, schema.source.c.xml.name) == ("app_xml_staging_rl", "app_XML")
    schema.source.create(engine, checkfirst=True)
    with engine.begin() as conn:
        conn.execute(sa.delete(schema.source))
        conn.execute(sa.insert(schema.source), [{"app_id": k, "xml": v} for k, v in docs.items()])
    out = run_cli("run", "--db", url, "--contract", str(toml), "-q")
    assert out.returncode == 0, out.stderr

    want: dict[str, list[dict[str, object]]] = {}
    statuses = {}
    for app_id, xml in docs.items():
        mapped = transform_record(RawRecord(app_id, xml), contract)
        if isinstance(mapped, MappedApp) and app_id != 103:
            statuses[app_id] = "success"
            for name, rows in mapped.rows.items():
                want.setdefault(name, []).extend(rows)
        else:
            statuses[app_id] = "rejected"
    assert statuses == {
        100: "success",
        101: "success",
        102: "success",
        103: "rejected",
        104: "rejected",
    }
    got = tables.table_rows(engine, schema.targets)
    assert got == tables.expected_table_rows(schema.targets, [want])
    base = {r["app_id"]: r for r in got["app_base"]}
    assert base[102]["receive_date"].year == 1900  # encrypted required date: the sentinel
    with engine.connect() as conn:
        log = conn.execute(
            sa.select(schema.log.c.app_id, schema.log.c.status, schema.log.c.reason)
        ).all()
    assert sorted(r.app_id for r in log) == sorted(docs)
    by_app = {r.app_id: r for r in log}
    assert by_app[103].reason.startswith("value_too_long")
    assert by_app[104].reason.startswith("wrong_product_line")
    engine.dispose()
