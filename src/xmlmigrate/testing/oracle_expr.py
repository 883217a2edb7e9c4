"""The oracle's own reading of the contract expression language (calculated fields, checks).

A deliberately plain tree-walking interpreter, written apart from the engine's compiled
closures (:mod:`xmlmigrate.contract.expressions`) so that a bug in one is not silently shared
by the other: the end-to-end tests compare the two. It trusts the contract to be valid (the
loader type-checks every expression) and decides by the values it meets, where the engine
decides by the types it inferred — the language's rules, as the contract documentation states
them:

- NULL propagates through arithmetic, comparisons, functions and ``||``; division by zero is
  NULL; ``%`` keeps the dividend's sign; a whole quotient is an integer;
- AND / OR / NOT are three-valued; a CASE branch is taken only when its condition is TRUE;
- a date compares equal to the datetime at its midnight; ``IS EMPTY`` is NULL or blank text;
- ``LIKE`` matches ``%`` (any run) and ``_`` (one character) in any case;
- ``@name`` and ``VALUE('path/@name')`` give an attribute's trimmed text (NULL if absent).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any

from xmlmigrate.testing.oracle_dates import builtin_date_parts, moment, possible

Node = tuple[Any, ...]  # (operator, operand, ...)

_KEYWORDS = frozenset(
    {"AND", "OR", "NOT", "IS", "NULL", "EMPTY", "LIKE", "IN", "CASE", "WHEN", "THEN", "ELSE"}
    | {"END", "TRUE", "FALSE"}
)
_TWO_CHAR_OPS = ("<>", "!=", "<=", ">=", "||")
_ONE_CHAR_OPS = "-+*/%=<>(),."


@dataclass(frozen=True, slots=True)
class Env:
    """What an expression sees: its row so far, the rows above it, and its element's texts
    (``attribute(name)``, ``value(path)``: raw text or None)."""

    row: Mapping[str, Any]
    ancestors: Mapping[str, Mapping[str, Any]]
    attribute: Callable[[str], str | None]
    value: Callable[[str], str | None]


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) pairs: num, str, name, kw, attr, op — scanned one character at a time."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch.isascii() and ch.isdigit():
            j = i
            while j < n and text[j].isascii() and text[j].isdigit():
                j += 1
            if j + 1 < n and text[j] == "." and text[j + 1].isascii() and text[j + 1].isdigit():
                j += 1
                while j < n and text[j].isascii() and text[j].isdigit():
                    j += 1
            out.append(("num", text[i:j]))
            i = j
        elif ch == "'":
            j, parts = i + 1, []
            while True:
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        parts.append("'")
                        j += 2
                        continue
                    break
                parts.append(text[j])
                j += 1
            out.append(("str", "".join(parts)))
            i = j + 1
        elif ch == "@" or ch == "_" or (ch.isascii() and ch.isalpha()):
            j = i + 1
            extra = "_.-" if ch == "@" else "_"
            while j < n and text[j].isascii() and (text[j].isalnum() or text[j] in extra):
                j += 1
            word = text[i:j]
            if ch == "@":
                out.append(("attr", word[1:]))
            elif word.upper() in _KEYWORDS:
                out.append(("kw", word.upper()))
            else:
                out.append(("name", word))
            i = j
        elif text[i : i + 2] in _TWO_CHAR_OPS:
            out.append(("op", text[i : i + 2]))
            i += 2
        elif ch in _ONE_CHAR_OPS:
            out.append(("op", ch))
            i += 1
        else:
            raise ValueError(f"the oracle cannot read {text!r} at {i + 1}")
    out.append(("end", ""))
    return out


class _Reader:
    """Recursive descent, loosest first: OR, AND, NOT, comparison, + - ||, * / %, unary -."""

    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> tuple[str, str]:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def is_(self, kind: str, text: str | None = None) -> bool:
        k, t = self.peek()
        return k == kind and (text is None or t == text)

    def take(self, kind: str | None = None, text: str | None = None) -> str:
        k, t = self.peek()
        if (kind is not None and k != kind) or (text is not None and t != text):
            raise ValueError(f"the oracle expected {text or kind}, found {t!r}")
        self.i += 1
        return t

    def whole(self) -> Node:
        node = self.or_()
        self.take("end")
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.is_("kw", "OR"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.is_("kw", "AND"):
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.is_("kw", "NOT"):
            self.take()
            return ("not", self.not_())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.sum_()
        kind, text = self.peek()
        if kind == "op" and text in ("=", "<>", "!=", "<", "<=", ">", ">="):
            self.take()
            return ("cmp", "<>" if text == "!=" else text, left, self.sum_())
        if kind == "kw" and text == "IS":
            self.take()
            negated = self.is_("kw", "NOT")
            if negated:
                self.take()
            what = self.take("kw")
            node: Node = ("is_null" if what == "NULL" else "is_empty", left)
            return ("not", node) if negated else node
        negated = False
        if kind == "kw" and text == "NOT" and self.peek(1) in (("kw", "LIKE"), ("kw", "IN")):
            self.take()
            negated = True
        if self.is_("kw", "LIKE"):
            self.take()
            node = ("like", left, self.sum_())
            return ("not", node) if negated else node
        if self.is_("kw", "IN"):
            self.take()
            self.take("op", "(")
            items = [self.sum_()]
            while self.is_("op", ","):
                self.take()
                items.append(self.sum_())
            self.take("op", ")")
            node = ("in", left, tuple(items))
            return ("not", node) if negated else node
        return left

    def sum_(self) -> Node:
        node = self.product()
        while self.peek()[0] == "op" and self.peek()[1] in ("+", "-", "||"):
            op = self.take()
            node = ("concat", node, self.product()) if op == "||" else (op, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.peek()[0] == "op" and self.peek()[1] in ("*", "/", "%"):
            op = self.take()
            node = (op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.is_("op", "-"):
            self.take()
            return ("neg", self.unary())
        return self.atom()

    def atom(self) -> Node:
        kind, text = self.peek()
        self.i += 1
        if kind == "num":
            return ("lit", Decimal(text) if "." in text else int(text))
        if kind == "str":
            return ("lit", text)
        if kind == "attr":
            return ("attr", text)
        if kind == "kw" and text in ("NULL", "TRUE", "FALSE"):
            return ("lit", None if text == "NULL" else text == "TRUE")
        if kind == "kw" and text == "CASE":
            branches = []
            while self.is_("kw", "WHEN"):
                self.take()
                condition = self.or_()
                self.take("kw", "THEN")
                branches.append((condition, self.or_()))
            otherwise: Node = ("lit", None)
            if self.is_("kw", "ELSE"):
                self.take()
                otherwise = self.or_()
            self.take("kw", "END")
            return ("case", tuple(branches), otherwise)
        if kind == "op" and text == "(":
            node = self.or_()
            self.take("op", ")")
            return node
        if kind == "name":
            if self.is_("op", "("):
                self.take()
                return self.call(text.upper())
            if self.is_("op", "."):
                self.take()
                return ("ref", text, self.take("name"))
            return ("ref", None, text)
        raise ValueError(f"the oracle cannot read {text!r} here")

    def call(self, name: str) -> Node:
        args: list[Any] = []
        if name in ("DATEADD", "DATEDIFF"):
            args.append(self.take().upper())  # the unit, a bare word or quoted
            self.take("op", ",")
        if not self.is_("op", ")"):
            args.append(self.or_())
            while self.is_("op", ","):
                self.take()
                args.append(self.or_())
        self.take("op", ")")
        return ("call", name, tuple(args))


@cache
def parse(text: str) -> Node:
    """The expression as a tree of tuples (cached: contracts repeat their expressions)."""
    return _Reader(text).whole()


def evaluate(node: Node, env: Env) -> Any:
    op = node[0]
    if op == "lit":
        return node[1]
    if op == "ref":
        _, table, name = node
        if table is None:
            return env.row.get(name)
        above = env.ancestors.get(table)
        return None if above is None else above.get(name)
    if op == "attr":
        return _trimmed(env.attribute(node[1]))
    if op == "and":
        return _and(evaluate(node[1], env), lambda: evaluate(node[2], env))
    if op == "or":
        return _or(evaluate(node[1], env), lambda: evaluate(node[2], env))
    if op == "not":
        x = evaluate(node[1], env)
        return None if x is None else not x
    if op == "is_null":
        return evaluate(node[1], env) is None
    if op == "is_empty":
        x = evaluate(node[1], env)
        return x is None or (isinstance(x, str) and x.strip() == "")
    if op == "cmp":
        return _compare(node[1], evaluate(node[2], env), evaluate(node[3], env))
    if op == "like":
        x, pattern = evaluate(node[1], env), evaluate(node[2], env)
        return None if x is None or pattern is None else _like(x.lower(), pattern.lower())
    if op == "in":
        x = evaluate(node[1], env)
        if x is None:
            return None
        unknown = False
        for item in node[2]:
            y = evaluate(item, env)
            if y is None:
                unknown = True
            elif _compare("=", x, y):
                return True
        return None if unknown else False
    if op == "case":
        for condition, result in node[1]:
            if evaluate(condition, env) is True:
                return evaluate(result, env)
        return evaluate(node[2], env)
    if op == "neg":
        x = evaluate(node[1], env)
        return None if x is None else -x
    if op == "concat":
        x, y = evaluate(node[1], env), evaluate(node[2], env)
        return None if x is None or y is None else str(x) + str(y)
    if op in ("+", "-", "*", "/", "%"):
        return _arithmetic(op, evaluate(node[1], env), evaluate(node[2], env))
    if op == "call":
        return _call(node[1], node[2], env)
    raise ValueError(f"the oracle has no rule for {op!r}")


def _trimmed(text: str | None) -> str | None:
    return None if text is None else text.strip()


def _and(x: Any, rest: Callable[[], Any]) -> Any:
    if x is False:
        return False
    y = rest()
    if y is False:
        return False
    return None if x is None or y is None else True


def _or(x: Any, rest: Callable[[], Any]) -> Any:
    if x is True:
        return True
    y = rest()
    if y is True:
        return True
    return None if x is None or y is None else False


def _midnight(d: date) -> datetime:
    return d if isinstance(d, datetime) else datetime(d.year, d.month, d.day)


def _compare(op: str, x: Any, y: Any) -> Any:
    if x is None or y is None:
        return None
    if isinstance(x, date) and isinstance(y, date) and type(x) is not type(y):
        x, y = _midnight(x), _midnight(y)
    if op == "=":
        return x == y
    if op == "<>":
        return x != y
    if op == "<":
        return x < y
    if op == "<=":
        return x <= y
    if op == ">":
        return x > y
    return x >= y


def _like(text: str, pattern: str) -> bool:
    """``%`` any run, ``_`` one character, everything else itself (both already lower case)."""
    # positions of the pattern reachable after reading text[:k], as a set
    reach = {0}
    reach = _close(reach, pattern)
    for ch in text:
        after = set()
        for p in reach:
            if p < len(pattern):
                if pattern[p] == "%":
                    after.add(p)
                elif pattern[p] == "_" or pattern[p] == ch:
                    after.add(p + 1)
        reach = _close(after, pattern)
        if not reach:
            return False
    return len(pattern) in reach


def _close(reach: set[int], pattern: str) -> set[int]:
    """Add the positions past any ``%`` (which may match nothing)."""
    out = set(reach)
    for p in sorted(reach):
        while p < len(pattern) and pattern[p] == "%":
            p += 1
            out.add(p)
    return out


_RING: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
}


def _arithmetic(op: str, x: Any, y: Any) -> Any:
    """NULL in, NULL out; a zero divisor is NULL; ``%`` is SQL's remainder (the dividend's
    sign); ``/`` is exact, an integral quotient an int."""
    if x is None or y is None:
        return None
    if op in _RING:
        return _RING[op](x, y)
    if not y:
        return None
    if op == "%":
        if Decimal in (type(x), type(y)):
            return Decimal(x) % Decimal(y)  # Decimal's remainder keeps the dividend's sign
        return abs(x) % abs(y) * (-1 if x < 0 else 1)
    try:
        quotient = Decimal(x) / Decimal(y)
    except InvalidOperation:
        return None
    return int(quotient) if quotient == quotient.to_integral_value() else quotient


def _call(name: str, args: tuple[Any, ...], env: Env) -> Any:
    if name == "VALUE":
        return _trimmed(env.value(args[0][1]))
    if name == "COALESCE":
        for arg in args:
            x = evaluate(arg, env)
            if x is not None:
                return x
        return None
    if name in ("DATEADD", "DATEDIFF"):
        unit = args[0].strip("'")
        a, b = evaluate(args[1], env), evaluate(args[2], env)
        if a is None or b is None:
            return None
        return _date_add(unit, int(a), b) if name == "DATEADD" else _date_diff(unit, a, b)
    values = [evaluate(arg, env) for arg in args]
    if name == "DATE" and len(values) == 3:
        if any(v is None for v in values):
            return None
        try:
            return date(int(values[0]), int(values[1]), int(values[2]))
        except ValueError:
            return None
    (x, *rest) = values
    if x is None:
        return None
    if name == "DATE":
        if isinstance(x, str):
            parsed = text_datetime(x)
            return None if parsed is None else parsed.date()
        return x.date() if isinstance(x, datetime) else x
    if name == "DATETIME":
        return text_datetime(x) if isinstance(x, str) else _midnight(x)
    if name == "NUMBER":
        return text_number(x)
    if name == "ROUND":
        digits = rest[0]
        if digits is None:
            return None
        rounded = Decimal(str(x)).quantize(Decimal(1).scaleb(-int(digits)), ROUND_HALF_UP)
        return int(rounded) if int(digits) <= 0 else rounded
    one: dict[str, Callable[[Any], Any]] = {
        "ABS": abs,
        "LEN": len,
        "UPPER": str.upper,
        "LOWER": str.lower,
        "TRIM": str.strip,
    }
    return one[name](x)


def _shift_months(d: date, months: int) -> date:
    index = d.year * 12 + (d.month - 1) + months
    year, month = index // 12, index % 12 + 1
    return d.replace(year=year, month=month, day=min(d.day, calendar.monthrange(year, month)[1]))


_UNIT_SECONDS = {"HOUR": 3600, "MINUTE": 60, "SECOND": 1}


def _date_add(unit: str, n: int, d: date) -> date:
    if unit == "YEAR":
        return _shift_months(d, 12 * n)
    if unit == "MONTH":
        return _shift_months(d, n)
    if unit == "DAY":
        return d + timedelta(days=n)
    seconds = _UNIT_SECONDS[unit] * n
    return _midnight(d) + timedelta(seconds=seconds)


def _date_diff(unit: str, a: date, b: date) -> int:
    """Unit boundaries crossed from a to b."""
    if unit == "YEAR":
        return b.year - a.year
    if unit == "MONTH":
        return 12 * (b.year - a.year) + (b.month - a.month)
    if unit == "DAY":
        day_a = a.date() if isinstance(a, datetime) else a
        day_b = b.date() if isinstance(b, datetime) else b
        return (day_b - day_a).days
    span = (_midnight(b) - _midnight(a)).total_seconds()
    return int(span // _UNIT_SECONDS[unit])


def text_number(x: Any) -> Any:
    """NUMBER(text): ``1,250.5`` and the like as a number, else NULL (numbers pass)."""
    if not isinstance(x, str):
        return x
    try:
        number = Decimal(x.strip().replace(",", ""))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    whole = number == number.to_integral_value() and abs(number) < 2**63
    return int(number) if whole else number


def text_datetime(text: str) -> datetime | None:
    """DATETIME(text): the built-in date formats with their time, else NULL."""
    parts = builtin_date_parts(text.strip()) if text.strip() else None
    return None if parts is None or not possible(parts) else moment(parts)
