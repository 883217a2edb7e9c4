"""Both product lines in one run: the shipped credit-card and rec-lending contracts together
over a mixed corpus (generated documents of each line with edge cases, plus documents that
cannot be represented), on every live target: every document is logged exactly once, no
internal error, and the tables equal the oracle's rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from xmlmigrate.config import MigrationConfig
from xmlmigrate.contract import load_contracts
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.ledger import ledger_problems
from xmlmigrate.mock import generator_for, insert_documents
from xmlmigrate.run.pipeline import run_migration
from xmlmigrate.testing import tables
from xmlmigrate.testing.expected import expected_outcome

from .conftest import drop_every_table

BOTH = load_contracts(["provenir_cc", "provenir_rl"])
SCHEMA = build_schema(BOTH)


def _unrepresentable(rl_xml: str, app_id: int) -> dict[int, str]:
    """What the spec says rejects an application, whatever its line."""
    docs = {
        90_001: rl_xml.replace("</IL_application>", "</IL_applicatio>", 1),  # malformed
        90_002: rl_xml.replace("<IL_application ", "<XX_application ", 1).replace(
            "</IL_application>", "</XX_application>", 1
        ),  # an application element of neither line
        90_003: "<NotProvenir/>",
        90_004: rl_xml.replace('Request ID="', 'Request IDX="', 1),  # no app id
    }
    old = f'Request ID="{app_id}"'
    return {k: v.replace(old, f'Request ID="{k}"', 1) for k, v in docs.items()}


def test_cc_and_rl_together_equal_the_oracle(db_url: str) -> None:
    engine = make_engine(db_url)
    drop_every_table(engine)
    SCHEMA.create(engine)
    gen = generator_for(BOTH, seed=811, size_profile="small", edge_rate=0.05)
    docs = list(gen.generate(160))
    rl = next(d for d in docs if "<IL_application" in d.xml)
    extra = _unrepresentable(rl.xml, rl.app_id)
    insert_documents(engine, SCHEMA, docs)
    with engine.begin() as conn:
        conn.execute(sa.insert(SCHEMA.source), [{"app_id": k, "xml": v} for k, v in extra.items()])

    stats = run_migration(MigrationConfig(db_url=db_url, batch_size=40), BOTH)
    assert stats.records == len(docs) + len(extra)
    assert stats.failed == 0  # no internal or database error

    log: dict[int, list[Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(sa.select(SCHEMA.log).order_by(SCHEMA.log.c.log_id)):
            log.setdefault(int(r.app_id), []).append(r)
    assert sorted(log) == sorted([d.app_id for d in docs] + list(extra))
    assert all(len(entries) == 1 for entries in log.values())
    outcomes = {d.app_id: expected_outcome(d.model, BOTH) for d in docs}
    for app_id, want in outcomes.items():
        got = log[app_id][0]
        assert got.status == want.status, (app_id, got.reason, want.code)
        if want.status == "rejected":
            assert got.reason.startswith(want.code or "?"), (app_id, got.reason, want.code)
    reasons = {k: log[k][0].reason.split(":")[0] for k in extra}
    assert reasons == {
        90_001: "malformed",
        90_002: "no_application",  # no application element of any line
        90_003: "not_provenir",
        90_004: "app_id_missing",
    }
    lines = {"RL": 0, "CC": 0}
    for d in docs:
        lines["RL" if "<IL_application" in d.xml else "CC"] += 1
    assert min(lines.values()) >= 60  # both lines, about half each

    want_rows = tables.expected_table_rows(
        SCHEMA.targets, (o.rows for o in outcomes.values() if o.status == "success")
    )
    got_rows = tables.table_rows(engine, SCHEMA.targets)
    for name, rows in want_rows.items():
        assert got_rows[name] == rows, name
    assert sum(len(r) for r in got_rows.values()) > 1000
    assert got_rows["app_collateral_rl"] and got_rows["app_operational_cc"]
    assert ledger_problems(engine, SCHEMA) == []
    engine.dispose()


def test_long_and_non_ascii_text_arrives_intact(db_url: str) -> None:
    """Text of 128 characters or more (MariaDB Connector/ODBC garbled it as UTF-16) and
    characters outside ASCII, up to the column's length, on every target."""
    rl = load_contracts(["provenir_rl"])
    schema = build_schema(rl)
    engine = make_engine(db_url)
    drop_every_table(engine)
    schema.create(engine)
    notes = {1: "x", 2: "é" * 127, 3: "Zoë 漢字 " * 16, 4: "ü" * 200, 5: "a" * 128}
    rows = [
        {
            "app_id": k,
            "xml": f'<Provenir><Request ID="{k}"><CustData><IL_application '
            'app_receive_date="1/2/2020" app_entry_date="1/2/2020" parent_dealer_number="7">'
            '<IL_app_decision_info override_capacity="R1" '
            f'override_type_code_notes="{text}"/></IL_application></CustData></Request>'
            "</Provenir>",
        }
        for k, text in notes.items()
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.source), rows)
    stats = run_migration(MigrationConfig(db_url=db_url, contracts=(Path(rl.source),)), rl)
    assert stats.success == len(notes), stats.to_dict()
    table = schema.metadata.tables["app_policy_exceptions_rl"]
    with engine.connect() as conn:
        stored = {
            r.app_id: r.notes
            for r in conn.execute(sa.select(table.c.app_id, table.c.notes).distinct())
        }
    assert stored == {k: v.strip() for k, v in notes.items()}
    engine.dispose()
