"""Hostile inputs shared by the unit and live-database tests: contract names, documents."""

from __future__ import annotations

import json

from tests.contracts import contract_section

from xmlmigrate.contract import CompiledContract, compile_contract

# Names that must never reach SQL as they are: each is refused by the contract validator.
HOSTILE_NAMES = [
    "x TEXT); CREATE TABLE injected(i int); --",
    'a"; DROP TABLE app_xml; --',
    "a'b",
    "a`b",
    "a]b",
    "a;b",
    "a b",
    "a--b",
    "a/*c*/b",
    "a.b",
    "a\nb",
    "a\tb",
    "1abc",
    "",
    "$a",
    "a-b",
    "\u0430pp_base",  # Cyrillic 'а': looks like app_base
    "app\u200bbase",  # zero-width space
    "ｓｅｌｅｃｔ",  # fullwidth letters
    "é",
    "x" * 64,
    "x" * 10_000,
]
RESERVED_NAMES = ["app_xml", "PROCESSING_LOG", "processing_warning", "migration_run", "App_Enums"]
# Plain identifiers that SQL keywords or case make dangerous unless every statement quotes them.
KEYWORD_TABLES = ("order", "Select")
KEYWORD_COLUMNS = ("group", "from", "Where", "table")


def keyword_contract() -> CompiledContract:
    """A runnable contract whose table and column names are SQL keywords or mixed case."""
    text = contract_text(
        root=KEYWORD_TABLES[0],
        child=KEYWORD_TABLES[1],
        columns=KEYWORD_COLUMNS,
        child_column="Where",
    )
    return compile_contract(text, "keywords.toml")


def toml_key(name: str) -> str:
    return json.dumps(name)  # a TOML basic string: any name, escaped


def contract_text(
    root: str = "app_base",
    child: str = "contact_rows",
    columns: tuple[str, ...] = ("campaign",),
    child_column: str = "first_name",
) -> str:
    """A small runnable contract over the mock CC documents, with the given names."""
    cols = "\n".join(
        f'{toml_key(c)} = {{ attr = "campaign_num", type = "string", length = 20 }}'
        for c in columns
    )
    return (
        contract_section("hostile")
        + f"""
[tables.{toml_key(root)}]
rows = "."
key = ["app_id"]

[tables.{toml_key(root)}.columns]
app_id = {{ source = "app_id", type = "int", nullable = false }}
{cols}

[tables.{toml_key(child)}]
parent = {toml_key(root)}
rows = "contact"
key = ["con_id"]
dedup = {{ by = "con_id" }}

[tables.{toml_key(child)}.columns]
con_id = {{ attr = "con_id", type = "int", nullable = false }}
app_id = {{ parent = "app_id", type = "int", nullable = false }}
{toml_key(child_column)} = {{ attr = "first_name", type = "string", length = 50 }}
"""
    )
