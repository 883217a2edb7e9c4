"""Mapping contracts: the file format, its validation and its compiled form."""

from xmlmigrate.contract.combine import combine_contracts
from xmlmigrate.contract.compiled import compile_contract
from xmlmigrate.contract.errors import ContractError
from xmlmigrate.contract.load import default_contract_path, load_contract, load_contracts
from xmlmigrate.contract.model import (
    CompiledColumn,
    CompiledContract,
    CompiledTable,
    SourceRef,
    parse_source,
)

__all__ = [
    "CompiledColumn",
    "CompiledContract",
    "CompiledTable",
    "ContractError",
    "SourceRef",
    "combine_contracts",
    "compile_contract",
    "default_contract_path",
    "load_contract",
    "load_contracts",
    "parse_source",
]
