"""The calculated-field language, operator by operator, function by function, error by error:
parse, type check and evaluation (NULL propagation, three-valued logic, SQL's rounding and
remainder, dates against datetimes)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from xmlmigrate.contract.errors import ExprError
from xmlmigrate.contract.expressions import (
    BOOL,
    DATE,
    DATETIME,
    NUMBER,
    STRING,
    Env,
    Scope,
    compile_expression,
)

COLUMNS = {
    "n": NUMBER,
    "m": NUMBER,
    "x": NUMBER,
    "s": STRING,
    "t": STRING,
    "d": DATE,
    "dt": DATETIME,
    "b": BOOL,
    "u": STRING,
}
SCOPE = Scope(COLUMNS, {"app_base": {"receive_date": DATE, "code": STRING}})
ROW: dict[str, Any] = {
    "n": 7,
    "m": -7,
    "x": None,
    "s": " Ab c ",
    "t": "PR",
    "d": date(2016, 1, 25),
    "dt": datetime(2016, 1, 25, 0, 0),
    "b": True,
    "u": None,
}
DOCUMENT = etree.fromstring(
    b'<Request ID="42"><CustData><contact ac_role_tp_c=" PR " blank="" d="6/1/2020 10:12:15 PM"'
    b' amt="1,250.50" n="12"><address type="CURR" zip="1"/><address type="CURR" zip="2"/>'
    b'</contact><other v="7"/></CustData></Request>'
)
ELEMENT = DOCUMENT.find("CustData/contact")


def ev(text: str, row: dict[str, Any] | None = None, element: Any = ELEMENT) -> Any:
    compiled = compile_expression(text, SCOPE)
    env = Env(
        ROW if row is None else row, {"app_base": {"receive_date": date(2020, 2, 29)}}, element
    )
    return compiled.evaluate(env)


def typ(text: str) -> str:
    return compile_expression(text, SCOPE).type


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # arithmetic, with SQL's NULL propagation
        ("n + 1", 8),
        ("n - 10", -3),
        ("n * 3", 21),
        ("n / 2", Decimal("3.5")),
        ("n / 7", 1),
        ("n / 0", None),
        ("n % 3", 1),
        ("m % 3", -1),  # the sign of the dividend, as SQL (Python would say 2)
        ("-7.5 % 2", Decimal("-1.5")),
        ("7 % -3", 1),
        ("n % 0", None),
        ("-n", -7),
        ("- -n", 7),
        ("x + 1", None),
        ("1.25 * 4", Decimal("5.00")),
        ("(1 + 2) * 3", 9),
        ("1 + 2 * 3", 7),
        # strings
        ("s || '-' || t", " Ab c -PR"),
        ("x || 'a'", None),
        ("'it''s'", "it's"),
        # comparisons
        ("n = 7", True),
        ("n <> 7", False),
        ("n != 7", False),
        ("n < 8", True),
        ("n <= 7", True),
        ("n > 7", False),
        ("n >= 8", False),
        ("x = 1", None),
        ("d = dt", True),  # a date equals the datetime at its midnight
        ("d < DATEADD(HOUR, 1, dt)", True),
        # IS NULL / IS EMPTY
        ("x IS NULL", True),
        ("n IS NOT NULL", True),
        ("s IS EMPTY", False),
        ("x IS EMPTY", True),
        ("@blank IS EMPTY", True),
        ("@missing IS NULL", True),
        ("s IS NOT EMPTY", True),
        # LIKE, IN
        ("t LIKE 'p%'", True),  # case-insensitive
        ("t LIKE '_R'", True),
        ("t LIKE 'P'", False),
        ("t NOT LIKE 'X%'", True),
        ("u LIKE 'a'", None),
        ("t LIKE 'a.%'", False),  # '.' is a character, not a pattern
        ("t IN ('AUTHU', 'PR')", True),
        ("t NOT IN ('AUTHU', 'PR')", False),
        ("t IN ('AUTHU', NULL)", None),  # no match and a NULL item: unknown, as in SQL
        ("t IN ('PR', NULL)", True),
        ("d IN (dt)", True),  # as d = dt
        ("dt IN (DATE(2016, 1, 25))", True),
        ("x IN (1)", None),
        # three-valued logic
        ("b AND x = 1", None),
        ("NOT b AND x = 1", False),
        ("b OR x = 1", True),
        ("NOT b OR x = 1", None),
        ("NOT (x = 1)", None),
        ("NOT NOT b", True),
        ("TRUE AND FALSE", False),
        # CASE
        ("CASE WHEN n > 5 THEN 'big' WHEN n > 1 THEN 'mid' ELSE 'small' END", "big"),
        ("CASE WHEN n > 50 THEN 'big' END", None),
        ("CASE WHEN x = 1 THEN 'unknown is not true' ELSE 'else' END", "else"),
        # attributes and ancestors
        ("@ac_role_tp_c", "PR"),  # trimmed raw text
        ("@ac_role_tp_c = 'PR' AND t = 'PR'", True),
        ("app_base.receive_date", date(2020, 2, 29)),
        # functions
        ("COALESCE(x, n, 1)", 7),
        ("COALESCE(x)", None),
        ("DATE(2016, 2, 30)", None),  # impossible: NULL, not an error
        ("DATE(2016, 2, 29)", date(2016, 2, 29)),
        ("DATE(dt)", date(2016, 1, 25)),
        ("DATE(@d)", date(2020, 6, 1)),  # text in any built-in format
        ("DATE(s)", None),  # text that is no date: NULL
        ("NUMBER(@amt)", Decimal("1250.50")),
        ("NUMBER(@n) * 2", 24),
        ("NUMBER(s)", None),
        ("NUMBER(n)", 7),
        # VALUE: an attribute along a path from the row element; '..' climbs, [last] = last
        ("VALUE('@n')", "12"),
        ("VALUE('address/@zip')", "1"),
        ("VALUE('address[@type=''CURR''][last]/@zip')", "2"),
        ("VALUE('../other/@v')", "7"),
        ("VALUE('../../@ID')", "42"),
        ("VALUE('../nothing/@v')", None),
        ("ABS(m)", 7),
        ("LEN(s)", 6),
        ("UPPER(s)", " AB C "),
        ("LOWER(s)", " ab c "),
        ("TRIM(s)", "Ab c"),
        ("LEN(u)", None),
        ("ROUND(2.5, 0)", 3),  # half away from zero, as SQL and the converters
        ("ROUND(-2.5, 0)", -3),
        ("ROUND(2.345, 2)", Decimal("2.35")),
        ("ROUND(1234, -2)", 1200),
        ("ROUND(1250, -2)", 1300),
        ("ROUND(x, 1)", None),
        ("DATEADD(DAY, 30, d)", date(2016, 2, 24)),
        ("DATEADD(MONTH, 1, DATE(2016, 1, 31))", date(2016, 2, 29)),
        ("DATEADD(YEAR, 1, app_base.receive_date)", date(2021, 2, 28)),
        ("DATEADD(MINUTE, 90, dt)", datetime(2016, 1, 25, 1, 30)),
        ("DATEADD(SECOND, 1, d)", datetime(2016, 1, 25, 0, 0, 1)),
        ("DATEADD(DAY, x, d)", None),
        ("DATEDIFF(YEAR, d, app_base.receive_date)", 4),
        ("DATEDIFF(MONTH, d, app_base.receive_date)", 49),
        ("DATEDIFF(DAY, d, DATE(2016, 2, 1))", 7),
        ("DATEDIFF(HOUR, dt, DATEADD(MINUTE, 150, dt))", 2),
        ("DATEDIFF('day', d, d)", 0),
        ("datediff(day, d, d) = 0 and n is not null", True),  # keywords in any case
    ],
)
def test_operators_and_functions(text: str, value: Any) -> None:
    result = ev(text)
    assert result == value and type(result) is type(value), (text, result)


def test_attributes_without_an_element_are_null() -> None:
    assert ev("@ac_role_tp_c", element=None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n + 1", NUMBER),
        ("s || t", STRING),
        ("n > 1", BOOL),
        ("d", DATE),
        ("DATEADD(HOUR, 1, d)", DATETIME),
        ("DATEADD(DAY, 1, d)", DATE),
        ("CASE WHEN b THEN d ELSE dt END", DATETIME),
        ("NULL", "null"),
        ("COALESCE(NULL, n)", NUMBER),
    ],
)
def test_types(text: str, expected: str) -> None:
    assert typ(text) == expected


def test_references_name_the_same_row_columns_read() -> None:
    assert compile_expression("n + COALESCE(x, 0) + LEN(app_base.code)", SCOPE).references == {
        "n",
        "x",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty expression"),
        ("   ", "empty expression"),
        ("n + ", "unexpected 'end of expression' at 5"),
        ("n + $", "unexpected character '$' at 5"),
        ("(n + 1", "expected ')' at 7, found 'end of expression'"),
        ("n 1", "unexpected '1' at 3"),
        ("nope + 1", "unknown column 'nope' (this row has: b, d, dt, m, n, s, t, u, x) (at 1)"),
        ("other.col", "'other' is not an ancestor table (ancestors: app_base) (at 1)"),
        ("app_base.nope", "table 'app_base' has no column 'nope' (at 1)"),
        ("s + 1", "arithmetic needs numbers, found a string (use || to join strings)"),
        ("-s", "cannot negate a string"),
        ("n = 'a'", "mixes types ['number', 'string']"),
        ("CASE WHEN n THEN 1 END", "expected a condition, found a number"),
        ("CASE ELSE 1 END", "CASE needs at least one WHEN at 1"),
        ("CASE WHEN b THEN 1 ELSE 'a' END", "mixes types"),
        ("n IS 3", "expected NULL or EMPTY after IS at 6"),
        ("NOT n", "expected a condition, found a number"),
        ("n LIKE 'a'", "LIKE works on strings, found a number"),
        ("t IN (1, 2)", "mixes types"),
        ("n AND b", "expected a condition, found a number"),
        ("FOO(n)", "unknown function FOO"),
        ("COALESCE()", "COALESCE needs at least one argument"),
        ("DATE(1, 2)", "DATE takes (year, month, day), (date/datetime) or (text)"),
        ("NUMBER(b)", "NUMBER takes one text"),
        ("VALUE(s)", "VALUE takes one quoted path"),
        ("VALUE('a/b')", "VALUE: path 'a/b' must end in /@attribute"),
        ("VALUE('a[/@x')", "VALUE: invalid element path"),
        ("ABS(s)", "ABS takes one number"),
        ("LEN(n)", "LEN takes one string"),
        ("ROUND(n)", "ROUND takes (number, digits)"),
        ("DATEADD(WEEK, 1, d)", "DATEADD needs a unit (YEAR, MONTH, DAY, HOUR, MINUTE, SECOND)"),
        ("DATEADD(DAY, d, 1)", "DATEADD takes (unit, number, date)"),
        ("DATEDIFF(DAY, n, d)", "DATEDIFF takes (unit, date, date)"),
        ("DATEDIFF(DAY, d)", "DATEDIFF takes (unit, ..., ...)"),
        ("END", "unexpected END at 1"),
        ("(" * 40 + "1" + ")" * 40, "nested too deeply"),
        (" + ".join(["1"] * 150), "too deep"),
        ("1" + " + 1" * 5100, "characters long"),
        ("n IN (" + ",".join(["1"] * 5100) + ")", "more than 5,000 operators, operands"),
    ],
)
def test_errors_say_what_and_where(text: str, message: str) -> None:
    with pytest.raises(ExprError) as info:
        compile_expression(text, SCOPE)
    assert message in str(info.value)
