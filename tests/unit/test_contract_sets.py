"""Several contracts in one run: each document goes to the contract of its product line, the
schema is the union, shared tables and enums must agree."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from lxml import etree
from tests.contracts import contract_section
from tests.unit.test_cli import run_cli

from xmlmigrate.contract import combine_contracts, compile_contract
from xmlmigrate.contract.errors import ContractError

SHARED = """
[tables.app_base]
rows = "."
key = ["app_id"]

[tables.app_base.columns]
app_id = { source = "app_id", type = "int", nullable = false }
receive_date = { attr = "app_receive_date", type = "date"%s }
"""


def line(name: str, application: str, table: str, enum: str, ids: tuple[int, int]) -> str:
    head = contract_section(name).replace(
        'application = "Request/CustData/application"', f'application = "{application}"'
    )
    return (
        head
        + 'other_product_lines = ["Request/CustData/XX_application"]\n'
        + f"\n[enums.{enum}]\nA = {ids[0]}\nB = {ids[1]}\n"
        + SHARED % ""
        + f"""
[tables.{table}]
parent = "app_base"
rows = "."
key = ["app_id"]

[tables.{table}.columns]
app_id = {{ parent = "app_id", type = "int", nullable = false }}
code_enum = {{ attr = "code", type = "enum", enum = "{enum}" }}
"""
    )


CC = line("cc", "Request/CustData/application", "cc_extra", "cc_code", (1, 2))
RL = line("rl", "Request/CustData/IL_application", "rl_extra", "rl_code", (3, 4))


def doc(app_id: int, element: str, code: str = "A") -> str:
    return (
        f'<Provenir><Request ID="{app_id}"><CustData><{element} app_receive_date="01/25/2016" '
        f'code="{code}"/></CustData></Request></Provenir>'
    )


def test_documents_are_routed_by_their_application_element() -> None:
    both = combine_contracts([compile_contract(CC, "cc.toml"), compile_contract(RL, "rl.toml")])
    assert [t.name for t in both.tables] == ["app_base", "cc_extra", "rl_extra"]
    assert set(both.enums) == {"cc_code", "rl_code"}
    for element, name in (("application", "cc"), ("IL_application", "rl"), ("XX", "cc")):
        root = etree.fromstring(doc(1, element).encode())
        assert both.route(root).name == name


def test_shared_tables_must_agree_and_the_error_says_where() -> None:
    other = RL.replace('type = "date"', 'type = "int"')
    with pytest.raises(ContractError, match=r"shares table 'app_base' .* differs in receive_date"):
        combine_contracts([compile_contract(CC, "cc.toml"), compile_contract(other, "rl.toml")])
    keyed = (
        RL.replace("rl_extra", "cc_extra")
        .replace(
            'key = ["app_id"]\n\n[tables.cc_extra.columns]',
            'key = ["app_id", "code_enum"]\n\n[tables.cc_extra.columns]',
        )
        .replace('enum = "rl_code" }', 'enum = "rl_code", nullable = false }')
    )
    with pytest.raises(ContractError, match=r"differs in its parent or key"):
        combine_contracts([compile_contract(CC, "cc.toml"), compile_contract(keyed, "rl.toml")])


def test_a_shared_table_is_the_union_of_what_each_contract_maps() -> None:
    """Each product line maps its own columns of a shared table (as the predecessor's credit
    card and rec-lending contracts do): the table has all of them, nullable where one line
    leaves them out; each line still requires what it requires."""
    rl = RL.replace(
        SHARED % "",
        SHARED % ", nullable = false"
        + '\nrl_only = { attr = "rl_only", type = "string", length = 5, nullable = false }',
    )
    both = combine_contracts([compile_contract(CC, "cc.toml"), compile_contract(rl, "rl.toml")])
    base = both.table_by_name["app_base"]
    assert base.column_names == ("app_id", "receive_date", "rl_only")
    assert base.column("rl_only").nullable and base.column("receive_date").nullable
    assert both.pads[0] == {"app_base": ("rl_only",)} and both.pads[1] == {}
    twin = CC.replace("[enums.cc_code]\nA = 1\nB = 2", "[enums.rl_code]\nA = 3\nC = 5").replace(
        'enum = "cc_code"', 'enum = "rl_code"'
    )
    merged = combine_contracts([compile_contract(twin, "cc.toml"), compile_contract(RL, "rl.toml")])
    assert merged.enums["rl_code"] == {"A": 3, "C": 5, "B": 4}
    # the same enum name with other ids (the predecessor's decision_enum of each product
    # line): each contract keeps its own dictionary, seeded under a scoped name
    clash = twin.replace("A = 3\nC = 5", "A = 6\nC = 5")
    scoped = combine_contracts(
        [compile_contract(clash, "cc.toml"), compile_contract(RL, "rl.toml")]
    )
    assert scoped.enums["rl_code"] == {"A": 6, "C": 5}
    product_line = scoped.members[1].product_line
    assert scoped.enums[f"rl_code@{product_line}"] == {"A": 3, "B": 4}
    assert scoped.members[1].table_by_name["rl_extra"].column("code_enum").convert("A") == 3


def test_a_date_and_a_datetime_column_merge_into_the_wider_datetime() -> None:
    """The predecessor's app_contact_base.birth_date is date in one contract and datetime in
    the other; both write one column."""
    other = RL.replace('type = "date"', 'type = "datetime"')
    both = combine_contracts([compile_contract(CC, "cc.toml"), compile_contract(other, "rl.toml")])
    assert both.table_by_name["app_base"].column("receive_date").type == "datetime"
    assert both.members[0].table_by_name["app_base"].column("receive_date").type == "date"


def test_an_id_shared_by_aliases_or_two_enums_seeds_one_row() -> None:
    """Aliases (two codes, one id) and an id two enums share (a typo in the predecessor's
    credit-card contract, whose value it writes as given) both load; app_enums gets one row
    per id, so init does not fail on its primary key."""
    from xmlmigrate.db.schema import build_schema

    aliased = CC.replace("[enums.cc_code]\nA = 1\nB = 2", "[enums.cc_code]\nA = 1\nB = 2\nBB = 2")
    shared = line("rl", "Request/CustData/IL_application", "rl_extra", "rl_code", (2, 4))
    both = combine_contracts(
        [compile_contract(aliased, "cc.toml"), compile_contract(shared, "rl.toml")]
    )
    rows = build_schema(both).enum_rows
    ids = [r["enum_id"] for r in rows]
    assert sorted(ids) == [1, 2, 4] and len(set(ids)) == len(ids)
    cc = both.members[0].table_by_name["cc_extra"].column("code_enum")
    assert (cc.convert("B"), cc.convert("BB")) == (2, 2)
    assert both.members[1].table_by_name["rl_extra"].column("code_enum").convert("A") == 2


@pytest.mark.parametrize("workers", ["0", "2"])
def test_one_run_migrates_both_product_lines(tmp_path: Path, workers: str) -> None:
    cc, rl = tmp_path / "cc.toml", tmp_path / "rl.toml"
    cc.write_text(CC, encoding="utf-8")
    rl.write_text(RL, encoding="utf-8")
    db = tmp_path / "mixed.db"
    url = f"sqlite:///{db}"
    init = run_cli("init", "--db", url, "--contract", str(cc), "--contract", str(rl))
    assert init.returncode == 0, init.stderr
    documents = [
        (1, doc(1, "application", "A")),
        (2, doc(2, "IL_application", "B")),
        (3, doc(3, "application", "B")),
        (4, doc(4, "IL_application", "A")),
        (5, doc(5, "XX_application")),
    ]
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO app_xml VALUES (?, ?)", documents)
    out = run_cli(
        "run", "--db", url, "--contract", str(cc), "--contract", str(rl), "--workers", workers, "-q"
    )
    assert out.returncode == 0, out.stdout + out.stderr
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        cc_rows = conn.execute(sa.text("SELECT app_id, code_enum FROM cc_extra ORDER BY 1")).all()
        rl_rows = conn.execute(sa.text("SELECT app_id, code_enum FROM rl_extra ORDER BY 1")).all()
        log = dict(conn.execute(sa.text("SELECT app_id, reason FROM processing_log")).all())
    engine.dispose()
    assert [tuple(r) for r in cc_rows] == [(1, 1), (3, 2)]
    assert [tuple(r) for r in rl_rows] == [(2, 4), (4, 3)]
    assert len(log) == 5 and log[5].startswith("wrong_product_line")
    assert all(log[i] is None for i in (1, 2, 3, 4))


def test_contract_check_takes_several_contracts(tmp_path: Path) -> None:
    cc, rl, bad = tmp_path / "cc.toml", tmp_path / "rl.toml", tmp_path / "bad.toml"
    cc.write_text(CC, encoding="utf-8")
    rl.write_text(RL, encoding="utf-8")
    bad.write_text(RL.replace('type = "date"', 'type = "int"'), encoding="utf-8")
    out = run_cli("contract", "check", str(cc), str(rl))
    assert out.returncode == 0, out.stderr
    assert "cc+rl" in out.stdout and "3 tables" in out.stdout
    refused = run_cli("contract", "check", str(cc), str(bad))
    assert refused.returncode == 2 and "differs in receive_date" in refused.stderr


def test_a_product_line_mistake_is_recoverable_and_seeds_are_kept(tmp_path: Path) -> None:
    """A run with only the credit-card contract rejects the rec-lending documents
    (wrong_product_line); ``--retry-rejected wrong_product_line`` with both contracts takes
    them again, and nothing else. One contract's ``init`` keeps the other's enum codes."""
    cc, rl = tmp_path / "cc.toml", tmp_path / "rl.toml"
    cc.write_text(
        CC.replace(
            'other_product_lines = ["Request/CustData/XX_application"]',
            'other_product_lines = ["Request/CustData/IL_application"]',
        ),
        encoding="utf-8",
    )
    rl.write_text(RL, encoding="utf-8")
    db = tmp_path / "mixed.db"
    url = f"sqlite:///{db}"
    for contract in (cc, rl, cc):  # CC, then RL, then CC again: every code stays seeded
        assert run_cli("init", "--db", url, "--contract", str(contract)).returncode == 0
    with sqlite3.connect(db) as conn:
        seeded = set(conn.execute("SELECT enum_id, enum_type, code FROM app_enums"))
    assert seeded == {
        (1, "cc_code", "A"),
        (2, "cc_code", "B"),
        (3, "rl_code", "A"),
        (4, "rl_code", "B"),
    }
    documents = [(1, doc(1, "application")), (2, doc(2, "IL_application")), (3, doc(3, "XX"))]
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO app_xml VALUES (?, ?)", documents)
    first = run_cli("run", "--db", url, "--contract", str(cc), "-q")
    assert first.returncode == 4 and "is the contract right" in first.stderr
    both = ("--contract", str(cc), "--contract", str(rl))
    again = run_cli("run", "--db", url, *both, "-q")
    assert "Nothing to do" in again.stdout and "--retry-rejected" in again.stdout
    hostile = run_cli("run", "--db", url, *both, "--retry-rejected", "x%' OR 1=1 --", "-q")
    assert hostile.returncode == 2 and "reason codes" in hostile.stderr
    other = run_cli("run", "--db", url, *both, "--retry-rejected", "malformed", "-q")
    assert "Nothing to do" in other.stdout
    retry = run_cli("run", "--db", url, *both, "--retry-rejected", "wrong_product_line", "-q")
    assert retry.returncode == 0, retry.stderr
    assert "Records: 1 " in retry.stdout and "success 1" in retry.stdout
    with sqlite3.connect(db) as conn:
        latest = dict(
            conn.execute(
                "SELECT app_id, status FROM processing_log WHERE log_id IN "
                "(SELECT max(log_id) FROM processing_log GROUP BY app_id)"
            )
        )
        rl_rows = conn.execute("SELECT app_id, code_enum FROM rl_extra").fetchall()
    # app 3 has neither element: no_application, which --retry-rejected wrong_product_line
    # leaves alone
    assert latest == {1: "success", 2: "success", 3: "rejected"}
    assert rl_rows == [(2, 3)]
    every = run_cli("run", "--db", url, *both, "--retry-rejected", "-q")
    assert "Records: 1 " in every.stdout and "rejected 1" in every.stdout
