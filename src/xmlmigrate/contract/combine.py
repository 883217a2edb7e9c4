"""Several contracts as one: ``run --contract cc.toml --contract rl.toml``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from xmlmigrate.contract.errors import ContractError
from xmlmigrate.contract.model import CompiledColumn, CompiledContract, CompiledTable


def combine_contracts(contracts: Sequence[CompiledContract]) -> CompiledContract:
    """Several contracts as one (``run --contract cc.toml --contract rl.toml``): documents are
    routed to the contract whose application element it has; the schema is the union of
    the contracts' tables. A table two contracts share has one layout: the same parent and
    key, and a column both map has the same type, length and scale in both; a column only
    some of them map is created nullable (each contract still requires what it requires, and
    the other's rows leave it NULL). An enum two contracts share is the union of their codes;
    where the same enum name gives a code other ids, each contract keeps its own (seeded as
    ``NAME@PRODUCT_LINE``)."""
    if len(contracts) == 1:
        return contracts[0]
    first = contracts[0]
    tables: dict[str, CompiledTable] = {}
    owner: dict[str, str] = {}
    for contract in contracts:
        for table in contract.tables:
            known = tables.get(table.name)
            if known is None:
                tables[table.name] = table
                owner[table.name] = contract.source
                continue
            theirs = {c.name: c for c in known.columns}
            differ = [
                c.name
                for c in table.columns
                if c.name in theirs
                and _signature_column(theirs[c.name]) != _signature_column(c)
                and not _widens(theirs[c.name], c)
            ]
            if (known.parent, known.key) != (table.parent, table.key):
                differ = ["its parent or key", *differ]
            if differ:
                raise ContractError(
                    contract.source,
                    f"shares table {table.name!r} with {owner[table.name]} but differs in "
                    f"{', '.join(differ[:10])}",
                    table.name,
                )
            extra = tuple(c for c in table.columns if c.name not in theirs)
            wider = {
                c.name for c in table.columns if c.name in theirs and _widens(theirs[c.name], c)
            }
            if extra or wider:
                columns = tuple(
                    # the combined tables describe the database: each document is mapped by
                    # its own member contract, whose column keeps its date
                    replace(c, type="datetime") if c.name in wider else c
                    for c in known.columns
                )
                tables[table.name] = replace(known, columns=columns + extra)
            if table.on_duplicate != known.on_duplicate:  # a row another app wrote: kept
                tables[table.name] = replace(tables[table.name], on_duplicate="keep_existing")
    # a column some contract writing the table does not map: nullable in the database
    pads: list[dict[str, tuple[str, ...]]] = []
    for contract in contracts:
        pad = {}
        for table in contract.tables:
            mine = set(table.column_names)
            missing = tuple(n for n in tables[table.name].column_names if n not in mine)
            if missing:
                pad[table.name] = missing
        pads.append(pad)
    widened: list[dict[str, tuple[str, ...]]] = []
    for contract in contracts:
        wide = {}
        for table in contract.tables:
            union = tables[table.name]
            names = tuple(
                c.name
                for c in table.columns
                if c.type == "date" and union.column(c.name).type == "datetime"
            )
            if names:
                wide[table.name] = names
        widened.append(wide)
    for name, table in list(tables.items()):
        optional = {n for pad in pads for n in pad.get(name, ())}
        optional |= {  # a column one contract leaves NULL
            c.name
            for contract in contracts
            for t in contract.tables
            if t.name == name
            for c in t.columns
            if c.nullable
        }
        if optional:
            tables[name] = replace(
                table,
                columns=tuple(
                    replace(c, nullable=True) if c.name in optional else c for c in table.columns
                ),
            )
    enums: dict[str, dict[str, int]] = {}
    for contract in contracts:
        for name, codes in contract.enums.items():
            merged = enums.get(name)
            if merged is None:
                enums[name] = dict(codes)
            elif all(merged.get(code, value) == value for code, value in codes.items()):
                merged.update(codes)
            else:
                # the same name with other ids (the predecessor's decision_enum of each
                # product line): each contract keeps its own dictionary, seeded apart
                enums[scoped_enum_name(name, contract.product_line)] = dict(codes)
    scopes = {c.scope for c in contracts}
    return CompiledContract(
        name="+".join(c.name for c in contracts),
        version=first.version,
        source=", ".join(c.source for c in contracts),
        root=first.root,
        app_id_path=first.app_id_path,
        app_id_attr=first.app_id_attr,
        application=first.application,
        product_line="+".join(c.product_line for c in contracts),
        other_product_lines=(),
        enums=enums,
        tables=tuple(tables.values()),
        checks=(),
        table_by_name=tables,
        scope=scopes.pop() if len(scopes) == 1 else None,
        members=tuple(contracts),
        pads=tuple(pads),
        widened=tuple(widened) if any(widened) else (),
    )


def scoped_enum_name(name: str, product_line: str) -> str:
    """The seed type of a contract's own enum whose name another contract uses with other
    ids (``app_enums.enum_type`` holds 50 characters)."""
    return f"{name}@{product_line}"[:50]


def _widens(known: CompiledColumn, other: CompiledColumn) -> bool:
    """A date column one contract maps and another maps as datetime (the predecessor's
    birth_date): the shared column becomes the wider datetime."""
    return {known.type, other.type} == {"date", "datetime"}


def _signature_column(c: CompiledColumn) -> tuple[Any, ...]:
    """What makes a column's database layout (NOT NULL aside: see combine_contracts)."""
    return (c.type, c.length, c.precision, c.scale)
