"""The contracts the tests share: the small contracts' header, the engine's feature contract."""

from __future__ import annotations

from pathlib import Path

from xmlmigrate.contract import CompiledContract, compile_contract, load_contract
from xmlmigrate.mock import ContractGenerator


def contract_section(name: str = "t") -> str:
    return f"""
[contract]
name = "{name}"
root = "Provenir"
app_id = "Request/@ID"
application = "Request/CustData/application"
product_line = "CC"
"""


HEAD = (
    contract_section()
    + """
[enums.kind]
A = 1
B = 2
"""
)


# one root table, app_base, keyed by the app id: the columns under test follow
APP_BASE = (
    '[tables.app_base]\nrows = "."\nkey = ["app_id"]\n[tables.app_base.columns]\n'
    'app_id = { source = "app_id", type = "int", nullable = false }\n'
)


def app_base_contract(
    columns: str, more: str = "", head: str = HEAD, source: str = "<contract>"
) -> CompiledContract:
    """``head`` (the contract section and enums), app_base with ``columns``, then ``more``."""
    return compile_contract(head + APP_BASE + columns + more, source)


# the engine's feature contract (every column kind, truth tables, warning defaults, checks)
# over the invented credit-card shape the XML fixtures were written for; the shipped
# contracts read real documents instead (tests/unit/test_census_shape.py)
ENGINE_CC = Path(__file__).resolve().parent / "fixtures" / "contracts" / "engine_cc.toml"


def engine_contract() -> CompiledContract:
    return load_contract(ENGINE_CC)


def engine_generator(
    seed: int = 0, size_profile: str = "realistic", start_app_id: int = 1, edge_rate: float = 0.0
) -> ContractGenerator:
    """Documents for :data:`ENGINE_CC`."""
    return ContractGenerator(engine_contract(), seed, size_profile, start_app_id, edge_rate)
