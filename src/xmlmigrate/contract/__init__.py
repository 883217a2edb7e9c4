"""Mapping contracts: the file format, its validation and its compiled form."""

from xmlmigrate.contract.compiled import (
    CompiledColumn,
    CompiledContract,
    CompiledTable,
    ContractError,
    SourceRef,
    combine_contracts,
    compile_contract,
    default_contract_path,
    load_contract,
    load_contracts,
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
