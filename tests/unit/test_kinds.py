"""The column type and column source registries (xmlmigrate.contract.kinds): every entry's
validation, reading and conversion, and that no place dispatching on them can miss one."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from tests.contracts import app_base_contract

from xmlmigrate.contract import CompiledContract
from xmlmigrate.contract.compiled import COLUMN_KEYS
from xmlmigrate.contract.errors import ContractError, InvalidValue
from xmlmigrate.contract.kinds import (
    DEFAULT_TRUTH,
    SOURCE_KINDS,
    TYPE_KEYS,
    TYPES,
    TruthTable,
)
from xmlmigrate.db.layout import column_type
from xmlmigrate.mock.from_contract import DRAW
from xmlmigrate.model import MappedApp, RawRecord
from xmlmigrate.run.transform import transform_record
from xmlmigrate.stages.coverage import READERS, measure


def _contract(columns: str, more: str = "") -> CompiledContract:
    return app_base_contract(columns, more, source="t.toml")


def _doc(app_attrs: str = "", inner: str = "") -> str:
    return (
        f'<Provenir><Request ID="7"><CustData><application {app_attrs}>{inner}'
        "</application></CustData></Request></Provenir>"
    )


def _mapped(c: CompiledContract, xml: str) -> MappedApp:
    result = transform_record(RawRecord(7, xml), c)
    assert isinstance(result, MappedApp), result
    return result


# -- column types ----------------------------------------------------------------------------

# per type: a declaration (attr "v"), the document's text, the value it reads as
READING: dict[str, tuple[str, str, Any]] = {
    "int": ("round = true", "611.5", 612),
    "bigint": ("", "9000000000", 9_000_000_000),
    "decimal": ("precision = 6, scale = 2", "1,234.567", Decimal("1234.57")),
    "string": ("length = 5", "abc", "abc"),
    "date": ("", "6/1/2020", date(2020, 6, 1)),
    "datetime": ("", "6/1/2020 10:12:15 PM", datetime(2020, 6, 1, 22, 12, 15)),
    "bit": ('true = ["J"], false = ["N"], null = ["U"]', "j", True),
    "enum": ('enum = "kind"', "b", 2),
}
# per type: a declaration and text its converter refuses
REFUSED: dict[str, tuple[str, str]] = {
    "int": ("", "611.5"),
    "bigint": ("", "9223372036854775808"),
    "decimal": ("precision = 4, scale = 2", "100.00"),
    "string": ("length = 5", ""),  # no refusal: blank never reaches a converter
    "date": ("", "2/30/2020"),
    "datetime": ('formats = ["YYYY-MM-DD HH:M"]', "6/1/2020"),
    "bit": ("", "maybe"),
    "enum": ('enum = "kind"', "C"),
}
# per type: a declaration, a calculation's result, the column's value
CONVERSION: dict[str, tuple[str, Any, Any]] = {
    "int": ("", Decimal("2.5"), 3),
    "bigint": ("", Decimal("-2.5"), -3),
    "decimal": ("precision = 6, scale = 2", Decimal("1.005"), Decimal("1.01")),
    "string": ("length = 5", Decimal("12.5"), "12.5"),
    "date": ("", datetime(2020, 1, 2, 3, 4), date(2020, 1, 2)),
    "datetime": ("", date(2020, 1, 2), datetime(2020, 1, 2)),
    "bit": ("", False, False),
    "enum": ('enum = "kind"', Decimal("1.5"), 2),
}
# per type: a declaration of its own keys that is wrong, and what the error says
VALIDATION: dict[str, tuple[str, str]] = {
    "int": ('round = "yes"', "round must be true or false"),
    "bigint": ("round = 1", "round must be true or false"),
    "decimal": ("precision = 4", "decimal columns need a scale"),
    "string": ("", "string columns need a length"),
    "date": ("formats = []", "formats must be a non-empty list"),
    "datetime": ('formats = ["HH:M"]', "has no year"),
    "bit": ('true = ["Y"]', "a truth table needs both true = [...] and false = [...]"),
    "enum": ('enum = "nope"', "enum 'nope' is not defined in [enums]"),
}


def _column(ctype: str, declared: str, source: str = 'attr = "v"') -> Any:
    extra = f", {declared}" if declared else ""
    c = _contract(f'v = {{ {source}, type = "{ctype}"{extra} }}\n')
    return c.tables[0].column("v")


def test_every_type_has_its_tests() -> None:
    """A type added to the registry needs an entry in each table above."""
    for table in (READING, REFUSED, CONVERSION, VALIDATION):
        assert set(table) == set(TYPES)


def test_the_format_accepts_exactly_the_registry() -> None:
    for name, entry in TYPES.items():
        assert entry.name == name
        assert set(entry.keys) <= set(TYPE_KEYS)
        assert entry.expr_type in entry.expr_results
    assert set(TYPE_KEYS) <= COLUMN_KEYS
    assert {k for t in TYPES.values() for k in t.keys} == set(TYPE_KEYS)  # each has an owner
    # the compiler accepts every name of the registry (test_reading) and nothing else
    with pytest.raises(ContractError, match=re.escape(f"is not one of {list(TYPES)}")):
        _column("text", "")


@pytest.mark.parametrize("ctype", list(TYPES))
def test_reading(ctype: str) -> None:
    declared, text, value = READING[ctype]
    assert _column(ctype, declared).convert(text) == value
    row = _mapped(
        _contract(f'v = {{ attr = "v", type = "{ctype}", {declared or "nullable = true"} }}\n'),
        _doc(f'v=" {text} "'),
    ).rows["app_base"][0]
    assert row["v"] == value and type(row["v"]) is type(value)


@pytest.mark.parametrize("ctype", [t for t in TYPES if t != "string"])
def test_refused_text_is_an_invalid_value(ctype: str) -> None:
    declared, text = REFUSED[ctype]
    col = _column(ctype, declared)
    with pytest.raises(InvalidValue):
        col.convert(text)
    c = _contract(f'v = {{ attr = "v", type = "{ctype}"{", " + declared if declared else ""} }}\n')
    result = _mapped(c, _doc(f'v="{text}"'))
    assert result.rows["app_base"][0]["v"] is None
    assert [w.code for w in result.warnings] == ["invalid_value"]


@pytest.mark.parametrize("ctype", list(TYPES))
def test_conversion_of_a_calculated_result(ctype: str) -> None:
    declared, result, value = CONVERSION[ctype]
    converted = _column(ctype, declared).coerce(result)
    assert converted == value and type(converted) is type(value)


def test_conversion_through_the_mapper() -> None:
    """Each type's conversion is what a calculated column of that type stores."""
    c = _contract(
        'n = { attr = "n", type = "decimal", precision = 6, scale = 3 }\n'
        'd = { attr = "d", type = "datetime" }\n'
        'i = { expr = "n", type = "int" }\n'
        'b = { expr = "n", type = "bigint" }\n'
        'x = { expr = "n", type = "decimal", precision = 6, scale = 1 }\n'
        's = { expr = "n", type = "string", length = 3 }\n'
        'e = { expr = "n", type = "enum", enum = "kind" }\n'
        'day = { expr = "d", type = "date" }\n'
        'moment = { expr = "day", type = "datetime" }\n'
        'flag = { expr = "n > 1", type = "bit" }\n'
    )
    result = _mapped(c, _doc('n="1.55" d="2020-01-02 03:04:05"'))
    row = result.rows["app_base"][0]
    assert (row["i"], row["b"], row["x"], row["e"]) == (2, 2, Decimal("1.6"), 2)
    assert row["s"] == "1.5" and [w.code for w in result.warnings] == ["truncated"]
    assert (row["day"], row["moment"]) == (date(2020, 1, 2), datetime(2020, 1, 2))
    assert row["flag"] is True
    too_big = _contract(
        'n = { attr = "n", type = "decimal", precision = 12, scale = 0 }\n'
        'i = { expr = "n", type = "int" }\n'
    )
    out = _mapped(too_big, _doc('n="99999999999"'))
    assert out.rows["app_base"][0]["i"] is None
    assert [w.code for w in out.warnings] == ["invalid_value"]


@pytest.mark.parametrize("ctype", list(TYPES))
def test_validation(ctype: str) -> None:
    declared, message = VALIDATION[ctype]
    with pytest.raises(ContractError, match="column 'v'") as info:
        _column(ctype, declared)
    assert message in str(info.value)


@pytest.mark.parametrize("ctype", list(TYPES))
def test_a_key_of_another_type_is_refused(ctype: str) -> None:
    key = next(k for k in TYPE_KEYS if k not in TYPES[ctype].keys)
    owners = "/".join(t for t in TYPES if key in TYPES[t].keys)
    declared = READING[ctype][0]
    value = '"x"' if key in ("enum", "on_impossible") else "1"
    with pytest.raises(ContractError, match=f"{key} applies only to {owners} columns"):
        _column(ctype, f"{declared + ', ' if declared else ''}{key} = {value}")


def test_every_type_has_a_database_type() -> None:
    for ctype in TYPES:
        col = _column(ctype, READING[ctype][0])
        assert isinstance(column_type(col), sa.types.TypeEngine), ctype


def test_the_generator_draws_every_type() -> None:
    """A type the generator cannot draw would make it fail on the first contract using it."""
    assert set(DRAW) == set(TYPES)


# -- truth tables ------------------------------------------------------------------------------


def test_a_bit_columns_truth_table_is_data_its_converter_agrees_with() -> None:
    col = _column("bit", 'true = ["J", "y"], false = ["n"], null = ["U"]')
    assert col.truth == TruthTable(frozenset({"J", "Y"}), frozenset({"N"}), frozenset({"U"}))
    assert col.truth.codes() == {"J": True, "Y": True, "N": False, "U": None}
    for code, value in col.truth.codes().items():
        assert col.convert(code) is value and col.convert(code.lower()) is value
    default = _column("bit", "")
    assert default.truth == DEFAULT_TRUTH
    assert {c for c, v in default.truth.codes().items() if v} == {"Y", "YES", "TRUE", "T", "1"}
    for code, value in default.truth.codes().items():
        assert default.convert(code) is value
    assert all(_column(t, READING[t][0]).truth is None for t in TYPES if t != "bit")


def test_a_truth_table_keeps_its_lists_apart() -> None:
    with pytest.raises(ContractError, match=r"codes \['Y'\] appear in more than one"):
        _column("bit", 'true = ["Y"], false = ["N"], null = ["y"]')
    with pytest.raises(ContractError, match="null must be a list of codes"):
        _column("bit", 'null = "U"')


# -- column sources ----------------------------------------------------------------------------

EVERY_SOURCE = (
    'c = { const = "K", type = "string", length = 3 }\n'
    'a = { attr = "a", type = "int" }\n'
    'p = { path = "sub/@p", type = "string", length = 5 }\n'
    'x = { expr = "a + 1", type = "int" }\n',
    '[tables.kv]\nparent = "app_base"\nrows = "."\nkey = ["app_id", "name"]\n'
    'unpivot = { pairs = [{ name = "N1", path = "sub/@q", fields = { tag = "T" } }] }\n'
    "[tables.kv.columns]\n"
    'app_id = { parent = "app_id", type = "int", nullable = false }\n'
    'name = { unpivot = "name", type = "string", length = 5, nullable = false }\n'
    'value = { unpivot = "value", type = "int" }\n'
    'tag = { unpivot = "tag", type = "string", length = 5 }\n',
)
# per source kind: (table, column) of EVERY_SOURCE and the value the document below gives
SOURCE_READS: dict[str, tuple[str, str, Any]] = {
    "attr": ("app_base", "a", 4),
    "const": ("app_base", "c", "K"),
    "parent": ("kv", "app_id", 7),
    "app_id": ("app_base", "app_id", 7),
    "expr": ("app_base", "x", 5),
    "unpivot_name": ("kv", "name", "N1"),
    "unpivot_value": ("kv", "value", 9),
    "unpivot_field": ("kv", "tag", "T"),
}


def test_every_source_kind_is_compiled_and_read() -> None:
    c = _contract(*EVERY_SOURCE)
    kinds = {col.kind for t in c.tables for col in t.columns}
    assert kinds == set(SOURCE_KINDS) == set(SOURCE_READS)
    result = _mapped(c, _doc('a="4"', '<sub p="here" q="9"/>'))
    for kind, (table, column, value) in SOURCE_READS.items():
        assert c.table_by_name[table].column(column).kind == kind
        assert result.rows[table][0][column] == value, kind
    assert result.rows["app_base"][0]["p"] == "here"
    assert c.table_by_name["app_base"].column("p").kind == "attr"  # a path is an attribute


def test_each_source_kind_has_one_role_in_the_row_builder() -> None:
    c = _contract(*EVERY_SOURCE)
    for table in c.tables:
        placed = {
            "document": [col for _, cols in table.by_subpath for col in cols],
            "fixed": list(table.fixed),
            "computed": list(table.computed),
        }
        for col in table.columns:
            role = SOURCE_KINDS[col.kind].role
            assert [r for r, cols in placed.items() if col in cols] == [role], col.name
        assert sum(len(cols) for cols in placed.values()) == len(table.columns)
    data = {col.name for t in c.tables for col in t.columns if col.is_data}
    assert data == {"a", "p", "x", "value"}
    assert c.field_count == 4  # a, p, x, value: what comes from the document
    for kind in SOURCE_KINDS.values():
        assert kind.declared_by in COLUMN_KEYS


def test_coverage_reads_exactly_the_kinds_documents_carry() -> None:
    assert set(READERS) == {k for k, v in SOURCE_KINDS.items() if v.exercised}
    c = _contract(*EVERY_SOURCE)
    seen = measure(c, [(7, _doc('a="4"', '<sub q="9"/>'))])
    assert seen.never_matched(c) == ["app_base.p: sub/@p"]
    nothing = measure(c, [(7, _doc("", '<sub p="x"/>'))])
    assert nothing.never_matched(c) == ["app_base.a: @a", "kv.value: unpivot_value"]
