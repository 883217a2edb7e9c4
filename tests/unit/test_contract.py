from __future__ import annotations

from pathlib import Path

import pytest
from tests.contracts import HEAD

from xmlmigrate.contract import compile_contract, load_contract
from xmlmigrate.contract.errors import ContractError


def _base(columns: str, extra_tables: str = "") -> str:
    return (
        HEAD
        + """
[tables.app_base]
rows = "."
key = ["app_id"]

[tables.app_base.columns]
app_id = { source = "app_id", type = "int", nullable = false }
"""
        + columns
        + extra_tables
    )


def test_default_contract_loads_and_compiles() -> None:
    c = load_contract()
    assert c.name == "provenir_cc"
    names = [t.name for t in c.tables]
    assert names[:3] == ["app_base", "app_contact_base", "app_operational_cc"]
    assert {"app_contact_address", "app_contact_employment", "scores", "indicators"} <= set(names)
    assert {"product_line_enum", "contact_type_enum", "address_type_enum", "decision_enum"} <= set(
        c.enums
    )
    assert c.spelling is not None  # attributes in any case, as the predecessor read them
    contact = c.table_by_name["app_contact_base"]
    assert contact.parent == "app_base"
    assert contact.where is not None and contact.where.allowed == {"PR", "AUTHU"}
    assert contact.dedup is not None and contact.dedup.prefer_rank == {"PR": 0, "AUTHU": 1}
    # columns reading the same sub-element are grouped so it is looked up once per row
    pricing = c.table_by_name["app_pricing_cc"]
    groups = {p: len(cols) for p, cols in pricing.by_subpath}
    assert groups["rmts_info"] == 23 and groups["app_product"] == 4


def test_compiled_converters_are_ready_to_use() -> None:
    c = compile_contract(
        _base('kind = { attr = "k", type = "enum", enum = "kind", default = "B" }\n')
    )
    col = c.tables[0].columns[1]
    assert col.convert("A") == 1
    assert col.default == 2  # defaults are converted once, at load time


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ('x = { attr = "x", type = "text" }', "type 'text' is not one of"),
        ('x = { attr = "x", type = "string" }', "string columns need a length"),
        ('x = { attr = "x", type = "int", length = 3 }', "length applies only to string"),
        ('x = { attr = "x", type = "decimal", precision = 4 }', "decimal columns need a scale"),
        ('x = { attr = "x", type = "decimal", precision = 4, scale = 6 }', "scale 6 must be"),
        ('x = { attr = "x", type = "enum", enum = "nope" }', "enum 'nope' is not defined"),
        ('x = { attr = "x", path = "a/@x", type = "int" }', "needs exactly one of"),
        ('x = { type = "int" }', "needs exactly one of"),
        ('x = { path = "a/b", type = "int" }', "must end in /@attribute"),
        ('x = { attr = "a/@b", type = "int" }', "bare attribute name"),
        ('x = { attr = "x", type = "int", default = "abc" }', "default 'abc' is not valid"),
        ('x = { attr = "x", type = "int", colour = "red" }', "unknown key(s) ['colour']"),
        ('x = { attr = "x", type = "int", nullable = "no" }', "nullable must be true or false"),
        ('x = { parent = "app_id", type = "int" }', "needs the table to have a parent"),
        ('x = { source = "moon", type = "int" }', "source must be one of"),
        ('x = { attr = "x", type = "string", length = 3, on_overflow = "x" }', "on_overflow"),
        ('x = "just a string"', "must be an inline table"),
    ],
)
def test_column_errors_name_file_table_column(column: str, message: str) -> None:
    with pytest.raises(ContractError) as info:
        compile_contract(_base(column + "\n"), "my.toml")
    text = str(info.value)
    assert text.startswith("my.toml: table 'app_base', column 'x': ")
    assert message in text
    assert info.value.table == "app_base" and info.value.column == "x"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '[tables.child]\nparent = "ghost"\nkey = ["app_id"]\n[tables.child.columns]\n'
            'app_id = { parent = "app_id", type = "int", nullable = false }\n',
            "parent 'ghost' is not a table defined above",
        ),
        (
            '[tables.child]\nparent = "app_base"\nkey = ["y"]\n[tables.child.columns]\n'
            'app_id = { parent = "app_id", type = "int", nullable = false }\n',
            "key column 'y' is not a column",
        ),
        (
            '[tables.child]\nparent = "app_base"\nkey = ["y"]\n[tables.child.columns]\n'
            'y = { attr = "y", type = "int" }\n',
            "key columns must be nullable = false",
        ),
        (
            '[tables.child]\nparent = "app_base"\nrows = "c"\nkey = ["y"]\n[tables.child.columns]\n'
            'y = { attr = "y", type = "int", nullable = false }\n',
            "must carry the parent's key",
        ),
        (
            '[tables.child]\nparent = "app_base"\nrows = "c/@x"\nkey = ["app_id"]\n'
            '[tables.child.columns]\napp_id = { parent = "app_id", type = "int", nullable = false }\n',
            "rows must be '.' or an element path",
        ),
        (
            '[tables.child]\nparent = "app_base"\nrows = "c"\nkey = ["app_id"]\nwhere = "x"\n'
            '[tables.child.columns]\napp_id = { parent = "app_id", type = "int", nullable = false }\n',
            "where must be",
        ),
        (
            '[tables.child]\nparent = "app_base"\nrows = "c"\nkey = ["app_id"]\ncolour = 1\n'
            '[tables.child.columns]\napp_id = { parent = "app_id", type = "int", nullable = false }\n',
            "unknown key(s) ['colour']",
        ),
    ],
)
def test_table_errors_name_the_table(extra: str, message: str) -> None:
    with pytest.raises(ContractError) as info:
        compile_contract(_base("", extra), "my.toml")
    assert str(info.value).startswith("my.toml: table 'child'")
    assert message in str(info.value)


def test_contract_level_errors() -> None:
    with pytest.raises(ContractError, match=r"my.toml: not valid TOML: .*line 1"):
        compile_contract("[contract\n", "my.toml")
    with pytest.raises(ContractError, match="missing \\[contract\\] section"):
        compile_contract("[tables]\n", "my.toml")
    with pytest.raises(ContractError, match="'root' is required"):
        compile_contract(HEAD.replace('root = "Provenir"\n', ""), "my.toml")
    with pytest.raises(ContractError, match="no \\[tables"):
        compile_contract(HEAD, "my.toml")
    with pytest.raises(ContractError, match="enum 'kind': code 'A' must map to an integer"):
        compile_contract(_base("").replace("A = 1", 'A = "one"'), "my.toml")
    with pytest.raises(ContractError, match="unknown top-level section"):
        compile_contract(_base("") + "[extra]\nx = 1\n", "my.toml")


def test_missing_file_is_a_contract_error(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="cannot read contract"):
        load_contract(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    "option",
    [
        'meaningful = { any_of = [], warn = "x" }',
        'meaningful = { any_of = ["a"], warn = "Not A Code" }',
        'meaningful = { any_of = ["a"] }',
        'skip_warn = "dropped"',  # needs skip_if_null
    ],
)
def test_row_dropping_options_are_checked(option: str) -> None:
    text = _base("").replace('key = ["app_id"]', f'key = ["app_id"]\n{option}', 1)
    with pytest.raises(ContractError, match=r"meaningful must be|skip_warn must be"):
        compile_contract(text)


def test_warn_needs_a_default() -> None:
    column = 'd = { attr = "d", type = "date", warn = "required_value_defaulted" }\n'
    with pytest.raises(ContractError, match="warn needs a default"):
        compile_contract(_base(column))
