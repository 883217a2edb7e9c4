"""Contract files: the shipped ones, one given by its path, several combined."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from xmlmigrate.contract.combine import combine_contracts
from xmlmigrate.contract.compiled import compile_contract
from xmlmigrate.contract.errors import ContractError
from xmlmigrate.contract.model import CompiledContract


def load_contracts(paths: Sequence[str | Path] = ()) -> CompiledContract:
    """The shipped contract (no paths), one contract, or several combined."""
    if not paths:
        return load_contract()
    return combine_contracts([load_contract(p) for p in paths])


SHIPPED_CONTRACTS = ("provenir_cc", "provenir_rl")  # credit card (the default), rec lending


def default_contract_path(name: str = "provenir_cc") -> Path:
    return Path(str(resources.files("xmlmigrate.contract").joinpath(f"{name}.toml")))


def load_contract(path: str | Path | None = None) -> CompiledContract:
    """Load and compile a contract file (the shipped ``provenir_cc`` when ``path`` is None;
    ``provenir_cc`` / ``provenir_rl`` name the shipped contracts where no such file exists)."""
    file = Path(path) if path is not None else default_contract_path()
    shipped = file.name.removesuffix(".toml")
    if not file.exists() and file.parent == Path(".") and shipped in SHIPPED_CONTRACTS:
        file = default_contract_path(shipped)
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ContractError(name, f"cannot read contract: {exc.strerror or exc}") from None
    return compile_contract(text, name)
