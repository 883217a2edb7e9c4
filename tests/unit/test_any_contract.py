"""Documents and expected rows for any contract: ``generate --contract`` renders documents
from a contract's declarations, and the oracle derives their rows from the typed model —
for the shipped rec-lending contract, for contracts imported from the predecessor's JSON,
and (as a cross-check of both generators) for the shipped credit-card contract."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.contracts import engine_generator
from tests.unit.test_cli import run_cli

from xmlmigrate.contract import CompiledContract, compile_contract, load_contract
from xmlmigrate.contract.import_ import import_contract
from xmlmigrate.mock import ContractGenerator, generator_for
from xmlmigrate.mock.model import AppModel
from xmlmigrate.model import MappedApp, RawRecord
from xmlmigrate.run.transform import transform_record
from xmlmigrate.testing.expected import disagreement, expected_outcome

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contracts"
CONTRACTS = (
    "provenir_rl",
    "provenir_cc",
    "imported:rl",
    "imported:small",
    "imported:kv",
    "imported:contacts",
)


@cache
def _contract(name: str) -> CompiledContract:
    if name.startswith("imported:"):
        source = FIXTURES / f"predecessor_{name.split(':')[1]}.json"
        return compile_contract(import_contract(source).toml, f"{name}.toml")
    return load_contract(name)


@cache
def _generator(name: str, seed: int, edge_rate: float) -> ContractGenerator:
    return ContractGenerator(_contract(name), seed, "small", 1, edge_rate)


def _agree(contract: CompiledContract, app_id: int, xml: str, model: AppModel) -> None:
    """Rows, rejection code and the contract's own checks, as the oracle derives them."""
    result = transform_record(RawRecord(app_id, xml), contract)
    assert disagreement(model, contract, result) is None


# examples from the hypothesis profile (conftest.py)
@given(
    name=st.sampled_from(CONTRACTS),
    seed=st.integers(0, 3),
    edge_rate=st.sampled_from([0.0, 0.05, 0.3]),
    index=st.integers(0, 10_000),
)
def test_generated_documents_map_to_what_the_oracle_derives(
    name: str, seed: int, edge_rate: float, index: int
) -> None:
    doc = _generator(name, seed, edge_rate).document(index)
    _agree(_contract(name), doc.app_id, doc.xml, doc.model)


def test_the_rec_lending_documents_carry_every_shape() -> None:
    rl = _contract("provenir_rl")
    docs = list(_generator("provenir_rl", 7, 0.05).generate(120))
    rows: dict[str, int] = {}
    edges: set[str] = set()
    for doc in docs:
        outcome = expected_outcome(doc.model, rl)
        edges |= {e.split(".")[-1] for e in doc.model.edges}
        for table, got in outcome.rows.items():
            rows[table] = rows.get(table, 0) + len(got)
    assert all(rows.get(t.name, 0) > 0 for t in rl.tables), rows
    assert {"where", "meaningful"} <= edges
    assert all("<IL_application" in d.xml and "</Journals>" in d.xml for d in docs)


def test_every_contract_gets_the_generator_derived_from_it() -> None:
    assert type(generator_for(load_contract("provenir_cc"))) is ContractGenerator
    assert type(generator_for(load_contract("provenir_rl"))) is ContractGenerator
    mixed = generator_for(
        compile_contract(import_contract(FIXTURES / "predecessor_rl.json").toml, "x.toml")
    )
    assert type(mixed) is ContractGenerator


def test_generate_and_run_from_the_command_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'lines.db'}"
    both = ("--contract", "provenir_cc", "--contract", "provenir_rl")
    out = run_cli("generate", "--db", db, *both, "--count", "30", "--size-profile", "small")
    assert out.returncode == 0, out.stderr
    out = run_cli("run", "--db", db, *both, "-q")
    assert out.returncode == 0, out.stderr
    assert "success 30" in out.stdout and "app_collateral_rl" in out.stdout
    assert "app_operational_cc" in out.stdout
    bad = run_cli("generate", "--db", db, "--count", "3", "--edge-rate", "2")
    assert bad.returncode == 2 and "--edge-rate" in bad.stderr


def test_the_imported_credit_card_contract_maps_the_credit_card_documents() -> None:
    """A written contract in the predecessor's format and imported back (the contract the
    speed comparison uses) migrates every document the written one does."""
    imported = _contract("imported:cc")
    mapped = 0
    for doc in engine_generator(seed=2, size_profile="small").generate(60):
        result = transform_record(RawRecord(doc.app_id, doc.xml), imported)
        if isinstance(result, MappedApp):
            mapped += 1
        else:  # a blank name the written contract defaults to '' (the predecessor: NOT NULL)
            assert result.code == "required_value_missing", result
            assert "_name is NOT NULL" in result.detail, result
    assert mapped >= 55


def test_a_dropped_row_does_not_reject_the_app_for_its_empty_required_columns() -> None:
    """A contact without con_id is dropped; that its required SSN is empty too must not
    reject the application (it did, before the drop was considered)."""
    imported = _contract("imported:cc")
    doc = next(iter(engine_generator(seed=4, size_profile="small").generate(1)))
    xml = doc.xml.replace("<contact ", '<contact ac_role_tp_c="PR" first_name="X"/><contact ', 1)
    result = transform_record(RawRecord(doc.app_id, xml), imported)
    assert isinstance(result, MappedApp), result
    assert "contact_without_con_id" in {w.code for w in result.warnings}


@pytest.mark.parametrize("name", ["provenir_rl", "imported:rl"])
def test_one_document_per_app_id_and_deterministic(name: str) -> None:
    a = [d.xml for d in _generator(name, 1, 0.05).generate(5)]
    b = [d.xml for d in ContractGenerator(_contract(name), 1, "small", 1, 0.05).generate(5)]
    assert a == b and len(set(a)) == 5


@pytest.mark.parametrize("name", ["provenir_cc", "provenir_rl", "predecessor_shapes_rl"])
def test_edge_rate_zero_gives_clean_documents(name: str) -> None:
    """Without edge cases a generated document carries no warning at all: no contact without
    con_id made for a column that reads a role the document has no contact of, no blank
    value where a default warns, no second element a key cannot tell apart, no code an enum
    of only its catch-all does not know."""
    if name.startswith("provenir_"):
        contract = load_contract(name)
    else:
        path = FIXTURES / f"{name}.json"
        contract = compile_contract(import_contract(path).toml, f"{name}.toml")
    docs = list(ContractGenerator(contract, seed=5, size_profile="small").generate(150))
    warned = {}
    for doc in docs:
        mapped = transform_record(RawRecord(doc.app_id, doc.xml), contract)
        assert isinstance(mapped, MappedApp), mapped
        for w in mapped.warnings:
            warned.setdefault(w.code, w.detail)
    assert warned == {}
