"""The oracle's own readers (dates, conversions, the expression language) give what the
engine gives on the cases the contract documentation names — two readings of one rule,
written apart, checked against each other here and end to end in test_oracle_mutations."""

from __future__ import annotations

import ast
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from tests.contracts import APP_BASE, contract_section

from xmlmigrate.contract import compile_contract
from xmlmigrate.contract import converters as tf
from xmlmigrate.contract import expressions as ex
from xmlmigrate.contract.errors import InvalidValue
from xmlmigrate.mock.model import INVALID
from xmlmigrate.testing import expected
from xmlmigrate.testing import oracle_expr as ox
from xmlmigrate.testing.oracle_rules import convert, declarations
from xmlmigrate.testing.oracle_rules import literal as oracle_literal

DATES = (
    "1/25/2016",
    "01-25-2016",
    "1/25-2016",
    "2016-01-25",
    "2016-1-5 7:08",
    "2016-01-25T10:11:12.5",
    "6/1/2020 10:12:15 PM",
    "6/1/2020 12:00 AM",
    "6/1/2020 13:00 PM",
    "02/30/2016",
    "2016-02-30",
    "2016-1-25 25:61:88.000",
    "13/01/2016",
    "0000-01-01",
    "25.01.2016",
    "１/25/2016",
    "2016-01-25 10:11",
)
FORMATS = (["DD.MM.YYYY"], ["YYYYMMDD", "M/D/YYYY H:M"], ["DD.MM.YYYY HH:MM:SS.fff"])
DECLARED = ("25.01.2016", "20160125", "1/25/2016 7:05", "31.02.2016", "25.01.2016 10:11:12.25")


def _engine(convert: tf.Converter, text: str) -> Any:
    try:
        value = convert(text)
    except InvalidValue:
        return INVALID
    return value.value if isinstance(value, tf.Clamped) else value


def _column_contract(columns: str) -> str:
    return (
        contract_section()
        + """
[enums.kind]
A = 1
b = 2
"""
        + APP_BASE
        + columns
    )


COLUMNS = """
n = { attr = "n", type = "int" }
r = { attr = "r", type = "bigint", round = true }
d = { attr = "d", type = "decimal", precision = 6, scale = 2 }
s = { attr = "s", type = "string", length = 5, pattern = '[A-Z0-9 -]+' }
x = { attr = "x", type = "string", length = 9, extract = "digits" }
m = { attr = "m", type = "decimal", precision = 9, scale = 1, extract = "number" }
f = { attr = "f", type = "bit" }
t = { attr = "t", type = "bit", true = ["R", "U"], false = ["N"], null = ["P"] }
u = { attr = "u", type = "bit", null = ["U"] }
e = { attr = "e", type = "enum", enum = "kind" }
k = { attr = "k", type = "date", on_impossible = "clamp" }
w = { attr = "w", type = "datetime", formats = ["DD.MM.YYYY HH:MM"] }
"""
TEXTS = (
    "12",
    "-7",
    "1,250.5",
    "2,147,483,648",
    "2147483648",
    "611.0",
    "999.995",
    "12abc",
    "ab-12",
    "664-50-2346",
    "Up to $40",
    "N/A",
    "y",
    "YES",
    "r",
    "p",
    "U",
    "maybe",
    "a",
    "B",
    "c",
    "02/30/2016",
    "2016-02-30 10:00",
    "25.01.2016 10:11",
    "NaN",
    "1e5",
)


@pytest.mark.parametrize("text", DATES)
def test_built_in_dates_read_as_the_engine_reads_them(text: str) -> None:
    for ctype, factory in (("date", tf.to_date), ("datetime", tf.to_datetime)):
        for clamp in (False, True):
            contract = _column_contract(
                f'v = {{ attr = "v", type = "{ctype}"'
                + (', on_impossible = "clamp"' if clamp else "")
                + " }"
            )
            (col,) = [c for c in declarations(contract).tables[0].columns if c.name == "v"]
            assert convert(col, text) == _engine(factory(None, clamp), text), (ctype, clamp)


@pytest.mark.parametrize("formats", FORMATS)
def test_declared_date_formats_read_as_the_engine_reads_them(formats: list[str]) -> None:
    listed = ", ".join(f'"{f}"' for f in formats)
    contract = _column_contract(f'v = {{ attr = "v", type = "datetime", formats = [{listed}] }}')
    (col,) = [c for c in declarations(contract).tables[0].columns if c.name == "v"]
    for text in DECLARED + DATES:
        assert convert(col, text) == _engine(tf.to_datetime(formats), text), text


def test_every_column_type_converts_as_the_engine_converts() -> None:
    text = _column_contract(COLUMNS)
    engine = compile_contract(text).tables[0]
    mine = {c.name: c for c in declarations(text).tables[0].columns}
    for col in engine.columns[1:]:
        for raw in TEXTS:
            if col.pattern is not None and not col.pattern.fullmatch(raw):
                want: Any = INVALID
            else:
                extracted: str | None = raw
                if col.extract is not None:
                    try:
                        extracted = col.extract(raw)
                    except InvalidValue:
                        extracted = None
                want = INVALID if extracted is None else _engine(col.convert, extracted)
            assert convert(mine[col.name], raw) == want, (col.name, raw)


def test_constants_and_defaults_are_typed_as_written() -> None:
    text = _column_contract(
        """
a = { const = 7, type = "int" }
b = { attr = "b", type = "string", length = 4, default = "" }
c = { attr = "c", type = "bit", default = true }
d = { attr = "d", type = "date", default = 2016-01-25 }
e = { attr = "e", type = "enum", enum = "kind", default = "B" }
g = { attr = "g", type = "decimal", precision = 5, scale = 2, default = 1.5 }
"""
    )
    engine = {c.name: c for c in compile_contract(text).tables[0].columns}
    mine = {c.name: c for c in declarations(text).tables[0].columns}
    assert mine["a"].const == engine["a"].const == 7
    for name in "bcdeg":
        assert mine[name].default == engine[name].default, name
    assert oracle_literal(mine["b"], " x ") == " x "  # as written: not trimmed


EXPRESSIONS = (
    "a * 12 + COALESCE(b, 0)",
    "a / 4",
    "a / 0",
    "-a % 4",
    "dec % 2",
    "a - dec * 2",
    "b + 1",
    "ROUND(dec, 0)",
    "ROUND(-2.5, 0)",
    "ROUND(dec, 1)",
    "ABS(-a) + LEN(s)",
    "UPPER(s) || '-' || LOWER(s) || TRIM('  x ')",
    "s || NULL",
    "CASE WHEN a > 10 THEN 'big' WHEN a IS NULL THEN 'none' ELSE 'small' END",
    "CASE WHEN b = 1 THEN 'one' END",
    "a = 12 AND b IS NULL",
    "b = 1 OR a = 12",
    "b = 1 AND a = 1",
    "NOT (b = 1)",
    "s LIKE 'ab%'",
    "s LIKE '_B_D%'",
    "s NOT LIKE '%z%'",
    "a IN (1, 12, b)",
    "a IN (1, b)",
    "a NOT IN (1, 2)",
    "s IS EMPTY OR blank IS EMPTY",
    "blank IS NOT EMPTY",
    "day = moment",
    "day < moment",
    "day IN (DATE(moment))",
    "DATEADD(MONTH, 1, DATE(2016, 1, 31))",
    "DATEADD(YEAR, 1, DATE(2016, 2, 29))",
    "DATEADD(DAY, 30, day)",
    "DATEADD(HOUR, 5, day)",
    "DATEADD('MINUTE', -90, moment)",
    "DATEDIFF(YEAR, day, DATE(2017, 1, 1))",
    "DATEDIFF(MONTH, day, moment)",
    "DATEDIFF(DAY, moment, DATE(2016, 3, 1))",
    "DATEDIFF(HOUR, day, moment)",
    "DATE(2016, 2, 30)",
    "DATE(moment)",
    "DATE('6/1/2020 10:12:15 PM')",
    "DATETIME('2016-01-25T10:11:12.5')",
    "DATETIME(day)",
    "DATE('not a date')",
    "NUMBER('1,250.50') * 2",
    "NUMBER('12') + 1",
    "NUMBER('NaN')",
    "NUMBER(VALUE('sub/@n')) * 12",
    "VALUE('sub[@t=''X'']/@n')",
    "VALUE('sub[last]/@n')",
    "VALUE('sub/@missing') IS NULL",
    "@code = 'PR' AND UPPER(@name) LIKE 'ANN%'",
    "app_base.a + a",
)


def _engine_env() -> tuple[ex.Scope, ex.Env, ox.Env]:
    row = {
        "a": 12,
        "b": None,
        "dec": Decimal("7.25"),
        "s": "abcd",
        "blank": "  ",
        "day": date(2016, 1, 25),
        "moment": datetime(2016, 1, 25, 0, 0),
    }
    types = {
        "a": ex.NUMBER,
        "b": ex.NUMBER,
        "dec": ex.NUMBER,
        "s": ex.STRING,
        "blank": ex.STRING,
        "day": ex.DATE,
        "moment": ex.DATETIME,
    }
    ancestors = {"app_base": {"a": 30}}
    scope = ex.Scope(types, {"app_base": {"a": ex.NUMBER}})
    element = etree.fromstring(
        "<contact code=' PR ' name='anna'><sub t='X' n='1,250'/><sub t='Y' n='7'/></contact>"
    )

    def value(path: str) -> str | None:
        head, _, attr = path.rpartition("/@")
        holder = element.find(head.replace("[last]", "[last()]"))
        return None if holder is None else holder.get(attr)

    return (
        scope,
        ex.Env(row, ancestors, element),
        ox.Env(row, ancestors, element.get, value),
    )


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_the_oracle_evaluates_each_expression_form_as_the_engine_does(text: str) -> None:
    scope, engine_env, oracle_env = _engine_env()
    want = ex.compile_expression(text, scope).evaluate(engine_env)
    got = ox.evaluate(ox.parse(text), oracle_env)
    assert got == want and type(got) is type(want), (got, want)


def test_the_oracle_imports_none_of_the_engines_rules() -> None:
    """Only the contract's plain data (its text, members) and the generator's model: not the
    mapping stage, the converters, the expression engine or the compiled contract's code."""
    folder = Path(expected.__file__).parent
    allowed = {
        "xmlmigrate.contract",  # CompiledContract: its text, members and widened columns
        "xmlmigrate.mock.model",
        "xmlmigrate.model",
        "xmlmigrate.testing",
        "xmlmigrate.testing.oracle_dates",
        "xmlmigrate.testing.oracle_expr",
        "xmlmigrate.testing.oracle_rules",
    }
    for name in ("expected.py", "oracle_rules.py", "oracle_dates.py", "oracle_expr.py"):
        tree = ast.parse((folder / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("xmlmigrate"):
                assert node.module in allowed, (name, node.module)
                if node.module == "xmlmigrate.contract":
                    assert [a.name for a in node.names] == ["CompiledContract"], name
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("xmlmigrate") for a in node.names), name
