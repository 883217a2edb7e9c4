"""A small, safe expression language for calculated fields and checks.

Parsed and type-checked when the contract loads, then compiled into nested
Python closures: nothing is ever handed to ``eval``, and evaluation cannot
reach anything but the values of the row being mapped.

Syntax (keywords in any case)::

    years_at_residence * 12 + COALESCE(months_at_residence, 0)
    CASE WHEN decision_enum = 50 THEN 'A' WHEN decision_enum IS NULL THEN 'U' ELSE 'D' END
    app_base.receive_date                      -- a column of an ancestor row
    @ac_role_tp_c = 'PR' AND first_name IS EMPTY   -- @: raw attribute text of the row's element
    email LIKE '%@example.com'   ·   state IN ('TX', 'OK')   ·   NOT (a OR b)
    DATEDIFF(YEAR, birth_date, app_base.receive_date)   ·   DATEADD(DAY, 30, receive_date)
    DATE(2016, 1, 25)   ·   DATE(decision_date)   ·   ABS(x) ROUND(x, 2) LEN(s) UPPER(s) LOWER(s) TRIM(s)

Why one long module: the tokenizer, parser, type checker and compiler of one small language
share its node and type definitions and its error positions; split, each would be read
against the others. ``tests/unit/test_expressions.py`` lists every operator, function and
error message.

Types: number, string, bool, date, datetime. NULL propagates through
arithmetic and comparisons; AND/OR/NOT use three-valued logic; a CASE branch
is taken only when its condition is true; division by zero gives NULL.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from lxml import etree

from xmlmigrate.contract.converters import to_datetime
from xmlmigrate.contract.errors import ExprError, InvalidValue
from xmlmigrate.contract.paths import locate, split_path

NUMBER, STRING, BOOL, DATE, DATETIME, NULL = "number", "string", "bool", "date", "datetime", "null"
DATE_UNITS = ("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND")


# Bounds that keep parsing, compiling and evaluating far from Python's recursion limit,
# whatever a contract holds: longer or deeper expressions are a located contract error.
MAX_EXPRESSION_CHARS = 20_000  # real per-slot collateral CASEs merge to ~6,000
MAX_NODES = 5_000  # operators, operands and calls in one expression
MAX_NESTING = 32  # brackets, function arguments, CASE, NOT and unary minus inside each other
MAX_DEPTH = 100  # operators applied to operators (a chain of 100 '+' is 100 deep)


@dataclass(frozen=True, slots=True)
class Env:
    """What an expression may read while one row is mapped."""

    row: Mapping[str, Any]
    ancestors: Mapping[str, Mapping[str, Any]]
    element: etree._Element | None
    # VALUE('…') results for this row's element: real contracts read one path many times
    # (a CASE over the same attribute, the same COALESCE in several columns)
    values: dict[str, Any] = field(default_factory=dict)


Evaluator = Callable[[Env], Any]


@dataclass(frozen=True, slots=True)
class Compiled:
    text: str
    type: str
    evaluate: Evaluator
    references: frozenset[str]  # plain column names of the same row it reads
    paths: frozenset[str] = frozenset()  # element paths VALUE('...') reads, from the row element


@dataclass(frozen=True, slots=True)
class Scope:
    """Names an expression may use, with their types."""

    columns: Mapping[str, str]  # same row
    ancestors: Mapping[str, Mapping[str, str]]  # table → column → type


# -- tokens ----------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<attr>@[A-Za-z_][A-Za-z0-9_.\-]*)|(?P<op><>|!=|<=|>=|\|\||[-+*/%=<>(),.]))",
    re.ASCII,
)
KEYWORDS = frozenset(
    [
        "AND",
        "OR",
        "NOT",
        "IS",
        "NULL",
        "EMPTY",
        "LIKE",
        "IN",
        "CASE",
        "WHEN",
        "THEN",
        "ELSE",
        "END",
        "TRUE",
        "FALSE",
    ]
)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # num str name kw attr op end
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            rest = text[pos:]
            at = pos + len(rest) - len(rest.lstrip()) + 1  # where the character is, 1-based
            raise ExprError(f"unexpected character {rest.lstrip()[:1]!r} at {at}")
        kind = m.lastgroup or "op"
        value = m.group(kind)
        start = m.start(kind)
        if kind == "name" and value.upper() in KEYWORDS:
            out.append(_Tok("kw", value.upper(), start))
        else:
            out.append(_Tok(kind, value, start))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


# -- AST -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    op: str
    args: tuple[Any, ...]
    pos: int


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.nesting = 0

    def nested(self, parse: Callable[[], Node]) -> Node:
        """``parse()`` one level deeper; an error past ``MAX_NESTING`` levels."""
        if self.nesting >= MAX_NESTING:
            raise ExprError(
                f"expression nested too deeply at {self.peek().pos + 1}: at most {MAX_NESTING} "
                "levels of brackets, function calls, CASE, NOT and minus signs"
            )
        self.nesting += 1
        try:
            return parse()
        finally:
            self.nesting -= 1

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def accept(self, kind: str, text: str | None = None) -> _Tok | None:
        tok = self.peek()
        if tok.kind == kind and (text is None or tok.text == text):
            self.i += 1
            return tok
        return None

    def expect(self, kind: str, text: str | None = None) -> _Tok:
        tok = self.accept(kind, text)
        if tok is None:
            got = self.peek()
            want = text or kind
            shown = got.text or "end of expression"
            raise ExprError(f"expected {want!r} at {got.pos + 1}, found {shown!r}")
        return tok

    def parse(self) -> Node:
        node = self.or_()
        if self.peek().kind != "end":
            tok = self.peek()
            raise ExprError(f"unexpected {tok.text!r} at {tok.pos + 1}")
        return node

    def or_(self) -> Node:
        node = self.and_()
        while tok := self.accept("kw", "OR"):
            node = Node("OR", (node, self.and_()), tok.pos)
        return node

    def and_(self) -> Node:
        node = self.not_()
        while tok := self.accept("kw", "AND"):
            node = Node("AND", (node, self.not_()), tok.pos)
        return node

    def not_(self) -> Node:
        if tok := self.accept("kw", "NOT"):
            return Node("NOT", (self.nested(self.not_),), tok.pos)
        return self.cmp()

    def cmp(self) -> Node:
        node = self.add()
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("=", "<>", "!=", "<", "<=", ">", ">="):
            self.take()
            op = "<>" if tok.text == "!=" else tok.text
            return Node(op, (node, self.add()), tok.pos)
        if tok.kind == "kw" and tok.text == "IS":
            self.take()
            negate = self.accept("kw", "NOT") is not None
            what = self.take()
            if what.kind != "kw" or what.text not in ("NULL", "EMPTY"):
                raise ExprError(f"expected NULL or EMPTY after IS at {what.pos + 1}")
            out = Node(f"IS {what.text}", (node,), tok.pos)
            return Node("NOT", (out,), tok.pos) if negate else out
        negate = False
        if tok.kind == "kw" and tok.text == "NOT":
            nxt = self.toks[self.i + 1]
            if nxt.kind == "kw" and nxt.text in ("LIKE", "IN"):
                self.take()
                negate = True
                tok = self.peek()
        if self.accept("kw", "LIKE"):
            out = Node("LIKE", (node, self.add()), tok.pos)
            return Node("NOT", (out,), tok.pos) if negate else out
        if self.accept("kw", "IN"):
            self.expect("op", "(")
            items = [self.add()]
            while self.accept("op", ","):
                items.append(self.add())
            self.expect("op", ")")
            out = Node("IN", (node, tuple(items)), tok.pos)
            return Node("NOT", (out,), tok.pos) if negate else out
        return node

    def add(self) -> Node:
        node = self.mul()
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.text in ("+", "-", "||"):
                self.take()
                node = Node(tok.text, (node, self.mul()), tok.pos)
            else:
                return node

    def mul(self) -> Node:
        node = self.unary()
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.text in ("*", "/", "%"):
                self.take()
                node = Node(tok.text, (node, self.unary()), tok.pos)
            else:
                return node

    def unary(self) -> Node:
        if tok := self.accept("op", "-"):
            return Node("NEG", (self.nested(self.unary),), tok.pos)
        return self.nested(self.primary)

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "num":
            value: Any = Decimal(tok.text) if "." in tok.text else int(tok.text)
            return Node("LIT", (value, NUMBER), tok.pos)
        if tok.kind == "str":
            return Node("LIT", (tok.text[1:-1].replace("''", "'"), STRING), tok.pos)
        if tok.kind == "attr":
            return Node("ATTR", (tok.text[1:],), tok.pos)
        if tok.kind == "kw":
            if tok.text == "NULL":
                return Node("LIT", (None, NULL), tok.pos)
            if tok.text in ("TRUE", "FALSE"):
                return Node("LIT", (tok.text == "TRUE", BOOL), tok.pos)
            if tok.text == "CASE":
                return self.case(tok)
            raise ExprError(f"unexpected {tok.text} at {tok.pos + 1}")
        if tok.kind == "op" and tok.text == "(":
            node = self.or_()
            self.expect("op", ")")
            return node
        if tok.kind == "name":
            if self.accept("op", "("):
                args: list[Any] = []
                if not self.accept("op", ")"):
                    args.append(self.func_arg(tok.text.upper(), 0))
                    while self.accept("op", ","):
                        args.append(self.func_arg(tok.text.upper(), len(args)))
                    self.expect("op", ")")
                return Node("CALL", (tok.text.upper(), tuple(args)), tok.pos)
            if self.accept("op", "."):
                col = self.expect("name")
                return Node("REF", (tok.text, col.text), tok.pos)
            return Node("REF", (None, tok.text), tok.pos)
        shown = tok.text or "end of expression"
        raise ExprError(f"unexpected {shown!r} at {tok.pos + 1}")

    def func_arg(self, func: str, index: int) -> Any:
        if func in ("DATEADD", "DATEDIFF") and index == 0:
            unit = self.take()
            if unit.kind not in ("name", "str") or unit.text.strip("'").upper() not in DATE_UNITS:
                raise ExprError(
                    f"{func} needs a unit ({', '.join(DATE_UNITS)}) first, at {unit.pos + 1}"
                )
            return Node("UNIT", (unit.text.strip("'").upper(),), unit.pos)
        return self.or_()

    def case(self, start: _Tok) -> Node:
        branches: list[tuple[Node, Node]] = []
        while self.accept("kw", "WHEN"):
            cond = self.or_()
            self.expect("kw", "THEN")
            branches.append((cond, self.or_()))
        if not branches:
            raise ExprError(f"CASE needs at least one WHEN at {start.pos + 1}")
        default = self.or_() if self.accept("kw", "ELSE") else Node("LIT", (None, NULL), start.pos)
        self.expect("kw", "END")
        return Node("CASE", (tuple(branches), default), start.pos)


# -- type check + compile ----------------------------------------------------


def _err(node: Node, message: str) -> ExprError:
    return ExprError(f"{message} (at {node.pos + 1})")


def _unify(node: Node, types: list[str]) -> str:
    real = {t for t in types if t != NULL}
    if not real:
        return NULL
    if real == {DATE, DATETIME}:
        return DATETIME
    if len(real) > 1:
        raise _err(node, f"mixes types {sorted(real)}")
    return real.pop()


def _as_datetime(v: date) -> datetime:
    return v if isinstance(v, datetime) else datetime(v.year, v.month, v.day)


def _equal(x: Any, y: Any) -> bool:
    """``=`` of the language: a date equals the datetime at its midnight."""
    if isinstance(x, date) and isinstance(y, date) and type(x) is not type(y):
        return _as_datetime(x) == _as_datetime(y)
    return bool(x == y)


def _rem(x: int, y: int) -> int:
    """Integer remainder with the sign of the dividend (SQL), not Python's floor modulo."""
    r = abs(x) % abs(y)
    return -r if x < 0 else r


def _round_half_up(x: Any, digits: int) -> Any:
    """ROUND as SQL and the converters round: halves away from zero (2.5 → 3, -2.5 → -3),
    not Python's to-even. Whole results for digits <= 0 are ints."""
    value = x if isinstance(x, Decimal) else Decimal(str(x))
    q = value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return int(q) if digits <= 0 else q


def _like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.IGNORECASE | re.DOTALL)


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return d.replace(year=year, month=month, day=day)


def _dateadd(unit: str, n: Any, d: Any) -> Any:
    if n is None or d is None:
        return None
    k = int(n)
    if unit == "YEAR":
        return _add_months(d, 12 * k)
    if unit == "MONTH":
        return _add_months(d, k)
    delta = {
        "DAY": timedelta(days=k),
        "HOUR": timedelta(hours=k),
        "MINUTE": timedelta(minutes=k),
        "SECOND": timedelta(seconds=k),
    }[unit]
    return (_as_datetime(d) if unit != "DAY" else d) + delta


def _datediff(unit: str, a: Any, b: Any) -> Any:
    """Boundaries of ``unit`` crossed from a to b (SQL Server semantics)."""
    if a is None or b is None:
        return None
    if unit == "YEAR":
        return b.year - a.year
    if unit == "MONTH":
        return (b.year - a.year) * 12 + b.month - a.month
    if unit == "DAY":
        da = a.date() if isinstance(a, datetime) else a
        db = b.date() if isinstance(b, datetime) else b
        return (db - da).days
    seconds = (_as_datetime(b) - _as_datetime(a)).total_seconds()
    step = {"HOUR": 3600, "MINUTE": 60, "SECOND": 1}[unit]
    return int(seconds // step)


class _Compiler:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.refs: set[str] = set()
        self.paths: set[str] = set()

    def compile(self, node: Node) -> tuple[str, Evaluator]:
        method = getattr(
            self,
            "c_"
            + {
                "LIT": "lit",
                "REF": "ref",
                "ATTR": "attr",
                "CALL": "call",
                "CASE": "case",
                "AND": "logic",
                "OR": "logic",
                "NOT": "not_",
                "IS NULL": "is_null",
                "IS EMPTY": "is_empty",
                "LIKE": "like",
                "IN": "in_",
                "NEG": "neg",
                "+": "arith",
                "-": "arith",
                "*": "arith",
                "/": "arith",
                "%": "arith",
                "||": "concat",
            }.get(node.op, "compare"),
        )
        result: tuple[str, Evaluator] = method(node)
        return result

    def c_lit(self, node: Node) -> tuple[str, Evaluator]:
        value, typ = node.args
        return typ, lambda env: value

    def c_ref(self, node: Node) -> tuple[str, Evaluator]:
        table, name = node.args
        if table is None:
            if name not in self.scope.columns:
                known = ", ".join(sorted(self.scope.columns)) or "none"
                raise _err(node, f"unknown column {name!r} (this row has: {known})")
            self.refs.add(name)
            return self.scope.columns[name], lambda env: env.row.get(name)
        cols = self.scope.ancestors.get(table)
        if cols is None:
            known = ", ".join(sorted(self.scope.ancestors)) or "none"
            raise _err(node, f"{table!r} is not an ancestor table (ancestors: {known})")
        if name not in cols:
            raise _err(node, f"table {table!r} has no column {name!r}")

        def ref(env: Env) -> Any:
            row = env.ancestors.get(table)
            return None if row is None else row.get(name)

        return cols[name], ref

    def c_attr(self, node: Node) -> tuple[str, Evaluator]:
        (name,) = node.args

        def attr(env: Env) -> Any:
            if env.element is None:
                return None
            value = env.element.get(name)
            return None if value is None else value.strip()

        return STRING, attr

    def _bool_operand(self, node: Node) -> Evaluator:
        typ, ev = self.compile(node)
        if typ not in (BOOL, NULL):
            raise _err(node, f"expected a condition, found a {typ}")
        return ev

    def c_logic(self, node: Node) -> tuple[str, Evaluator]:
        a, b = (self._bool_operand(n) for n in node.args)
        if node.op == "AND":

            def and_(env: Env) -> Any:
                x = a(env)
                if x is False:
                    return False
                y = b(env)
                if y is False:
                    return False
                return None if x is None or y is None else True

            return BOOL, and_

        def or_(env: Env) -> Any:
            x = a(env)
            if x is True:
                return True
            y = b(env)
            if y is True:
                return True
            return None if x is None or y is None else False

        return BOOL, or_

    def c_not_(self, node: Node) -> tuple[str, Evaluator]:
        a = self._bool_operand(node.args[0])

        def not_(env: Env) -> Any:
            x = a(env)
            return None if x is None else not x

        return BOOL, not_

    def c_is_null(self, node: Node) -> tuple[str, Evaluator]:
        _, a = self.compile(node.args[0])
        return BOOL, lambda env: a(env) is None

    def c_is_empty(self, node: Node) -> tuple[str, Evaluator]:
        _, a = self.compile(node.args[0])

        def is_empty(env: Env) -> bool:
            v = a(env)
            return v is None or (isinstance(v, str) and not v.strip())

        return BOOL, is_empty

    def c_compare(self, node: Node) -> tuple[str, Evaluator]:
        (ta, a), (tb, b) = (self.compile(n) for n in node.args)
        _unify(node, [ta, tb])
        op = node.op
        mixed_dates = {ta, tb} == {DATE, DATETIME}
        fn: Callable[[Any, Any], bool] = {
            "=": lambda x, y: x == y,
            "<>": lambda x, y: x != y,
            "<": lambda x, y: x < y,
            "<=": lambda x, y: x <= y,
            ">": lambda x, y: x > y,
            ">=": lambda x, y: x >= y,
        }[op]

        def compare(env: Env) -> Any:
            x, y = a(env), b(env)
            if x is None or y is None:
                return None
            if mixed_dates:
                x, y = _as_datetime(x), _as_datetime(y)
            return fn(x, y)

        return BOOL, compare

    def c_like(self, node: Node) -> tuple[str, Evaluator]:
        (ta, a), (tb, b) = (self.compile(n) for n in node.args)
        for t, n in ((ta, node.args[0]), (tb, node.args[1])):
            if t not in (STRING, NULL):
                raise _err(n, f"LIKE works on strings, found a {t}")
        pattern_node = node.args[1]
        fixed = (
            _like_regex(pattern_node.args[0]) if pattern_node.op == "LIT" and tb == STRING else None
        )

        def like(env: Env) -> Any:
            x = a(env)
            if x is None:
                return None
            rx = fixed
            if rx is None:
                p = b(env)
                if p is None:
                    return None
                rx = _like_regex(p)
            return rx.match(x) is not None

        return BOOL, like

    def c_in_(self, node: Node) -> tuple[str, Evaluator]:
        ta, a = self.compile(node.args[0])
        items = [self.compile(n) for n in node.args[1]]
        _unify(node, [ta, *(t for t, _ in items)])
        evs = [ev for _, ev in items]

        def in_(env: Env) -> Any:
            """SQL's IN: true on a match (dates compare with datetimes as ``=`` does), else
            unknown (NULL) when an item is NULL, else false."""
            x = a(env)
            if x is None:
                return None
            unknown = False
            for ev in evs:
                y = ev(env)
                if y is None:
                    unknown = True
                elif _equal(x, y):
                    return True
            return None if unknown else False

        return BOOL, in_

    def c_neg(self, node: Node) -> tuple[str, Evaluator]:
        t, a = self.compile(node.args[0])
        if t not in (NUMBER, NULL):
            raise _err(node, f"cannot negate a {t}")

        def neg(env: Env) -> Any:
            x = a(env)
            return None if x is None else -x

        return NUMBER, neg

    def c_arith(self, node: Node) -> tuple[str, Evaluator]:
        (ta, a), (tb, b) = (self.compile(n) for n in node.args)
        for t, n in ((ta, node.args[0]), (tb, node.args[1])):
            if t not in (NUMBER, NULL):
                raise _err(n, f"arithmetic needs numbers, found a {t} (use || to join strings)")
        op = node.op

        def arith(env: Env) -> Any:
            x, y = a(env), b(env)
            if x is None or y is None:
                return None
            if op == "+":
                return x + y
            if op == "-":
                return x - y
            if op == "*":
                return x * y
            if y == 0:
                return None
            if op == "%":  # SQL's remainder: the sign of the dividend, for ints and decimals
                return x % y if isinstance(x, Decimal) or isinstance(y, Decimal) else _rem(x, y)
            try:
                q = Decimal(x) / Decimal(y)
            except InvalidOperation:
                return None
            return int(q) if q == q.to_integral_value() else q

        return NUMBER, arith

    def c_concat(self, node: Node) -> tuple[str, Evaluator]:
        a, b = (self.compile(n)[1] for n in node.args)

        def concat(env: Env) -> Any:
            x, y = a(env), b(env)
            if x is None or y is None:
                return None
            return f"{x}{y}"

        return STRING, concat

    def c_case(self, node: Node) -> tuple[str, Evaluator]:
        branches, default = node.args
        compiled = [(self._bool_operand(c), self.compile(v)) for c, v in branches]
        td, dv = self.compile(default)
        typ = _unify(node, [td, *(t for _, (t, _) in compiled)])
        pairs = [(c, v) for c, (_, v) in compiled]

        def case(env: Env) -> Any:
            for cond, value in pairs:
                if cond(env) is True:
                    return value(env)
            return dv(env)

        return typ, case

    def c_value(self, node: Node) -> tuple[str, Evaluator]:
        """VALUE('sub/element[@t='X']/@attr'): an attribute's text (trimmed) read along an
        element path from the row's element — ``..`` climbs, ``[last]`` takes the last match."""
        (_, raw_args) = node.args
        if len(raw_args) != 1 or raw_args[0].op != "LIT" or raw_args[0].args[1] != STRING:
            raise _err(node, "VALUE takes one quoted path, e.g. VALUE('app_product/@decision')")
        text = raw_args[0].args[0]
        try:
            subpath, name = split_path(text)
        except ValueError as exc:
            raise _err(node, f"VALUE: {exc}") from None
        self.paths.add(text)

        def value(env: Env) -> Any:
            seen = env.values
            if text in seen:
                return seen[text]
            holder = env.element if env.element is None else locate(env.element, subpath)
            raw = None if holder is None else holder.get(name)
            seen[text] = got = None if raw is None else raw.strip()
            return got

        return STRING, value

    def c_call(self, node: Node) -> tuple[str, Evaluator]:
        name, raw_args = node.args
        if name in ("DATEADD", "DATEDIFF"):
            if len(raw_args) != 3:
                raise _err(node, f"{name} takes (unit, ..., ...)")
            unit = raw_args[0].args[0]
            (t1, a1), (t2, a2) = (self.compile(n) for n in raw_args[1:])
            if name == "DATEADD":
                if t1 not in (NUMBER, NULL) or t2 not in (DATE, DATETIME, NULL):
                    raise _err(node, "DATEADD takes (unit, number, date)")
                typ = DATETIME if t2 == DATETIME or unit in ("HOUR", "MINUTE", "SECOND") else DATE
                return typ, lambda env: _dateadd(unit, a1(env), a2(env))
            for t in (t1, t2):
                if t not in (DATE, DATETIME, NULL):
                    raise _err(node, "DATEDIFF takes (unit, date, date)")
            return NUMBER, lambda env: _datediff(unit, a1(env), a2(env))
        if name == "VALUE":
            return self.c_value(node)
        args = [self.compile(n) for n in raw_args]
        types = [t for t, _ in args]
        evs = [e for _, e in args]
        if name == "COALESCE":
            if not args:
                raise _err(node, "COALESCE needs at least one argument")
            typ = _unify(node, types)

            def coalesce(env: Env) -> Any:
                for ev in evs:
                    v = ev(env)
                    if v is not None:
                        return v
                return None

            return typ, coalesce
        if name == "DATE":
            if len(args) == 3 and all(t in (NUMBER, NULL) for t in types):

                def make_date(env: Env) -> Any:
                    y, m, d = (ev(env) for ev in evs)
                    if y is None or m is None or d is None:
                        return None
                    try:
                        return date(int(y), int(m), int(d))
                    except ValueError:
                        return None

                return DATE, make_date
            if len(args) == 1 and types[0] in (DATE, DATETIME, NULL):
                (ev,) = evs
                return DATE, lambda env: v.date() if isinstance(v := ev(env), datetime) else v
            if len(args) == 1 and types[0] == STRING:
                (ev,) = evs
                return DATE, lambda env: _text_to_date(ev(env))
            raise _err(node, "DATE takes (year, month, day), (date/datetime) or (text)")
        if name == "DATETIME":
            if len(args) == 1 and types[0] in (DATE, DATETIME, NULL):
                (ev,) = evs

                def widen(env: Env) -> Any:
                    v = ev(env)
                    if isinstance(v, date) and not isinstance(v, datetime):
                        return datetime(v.year, v.month, v.day)
                    return v

                return DATETIME, widen
            if len(args) == 1 and types[0] == STRING:
                (ev,) = evs
                return DATETIME, lambda env: _text_to_datetime(ev(env))
            raise _err(node, "DATETIME takes (date/datetime) or (text)")
        if name == "NUMBER":
            if len(args) != 1 or types[0] not in (STRING, NUMBER, NULL):
                raise _err(node, "NUMBER takes one text")
            (ev,) = evs
            return NUMBER, lambda env: _text_to_number(ev(env))
        one = {"ABS": NUMBER, "LEN": STRING, "UPPER": STRING, "LOWER": STRING, "TRIM": STRING}
        if name in one:
            if len(args) != 1 or types[0] not in (one[name], NULL):
                raise _err(node, f"{name} takes one {one[name]}")
            (ev,) = evs
            functions: dict[str, Callable[[Any], Any]] = {
                "ABS": abs,
                "LEN": len,
                "UPPER": str.upper,
                "LOWER": str.lower,
                "TRIM": str.strip,
            }
            fn = functions[name]
            return (
                NUMBER if name in ("ABS", "LEN") else STRING
            ), lambda env: None if (v := ev(env)) is None else fn(v)
        if name == "ROUND":
            if len(args) != 2 or any(t not in (NUMBER, NULL) for t in types):
                raise _err(node, "ROUND takes (number, digits)")
            a, b = evs

            def round_(env: Env) -> Any:
                x, n = a(env), b(env)
                if x is None or n is None:
                    return None
                return _round_half_up(x, int(n))

            return NUMBER, round_
        raise _err(node, f"unknown function {name}")


_PARSE_DATE = to_datetime()


def _text_to_datetime(text: Any) -> datetime | None:
    """DATETIME(text): the text as a date and time in any of the built-in formats (the time
    kept), else NULL."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        value = _PARSE_DATE(text.strip())
    except InvalidValue:
        return None
    return value if isinstance(value, datetime) else None


def _text_to_date(text: Any) -> date | None:
    """DATE(text): the text as a date in any of the built-in formats, else NULL."""
    value = _text_to_datetime(text)
    return value.date() if value is not None else None


def _text_to_number(text: Any) -> Any:
    """NUMBER(text): the text as a number (``1,250.5`` included), else NULL."""
    if text is None or isinstance(text, int | Decimal):
        return text
    try:
        value = Decimal(str(text).strip().replace(",", ""))
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    return int(value) if value == value.to_integral_value() and abs(value) < 2**63 else value


def _check_depth(root: Node) -> None:
    """Walk the tree without recursion; an error where it gets deeper than ``MAX_DEPTH``."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, Node):
            if isinstance(node, tuple):  # argument lists
                stack.extend((item, depth) for item in node)
            continue
        if depth > MAX_DEPTH:
            raise ExprError(
                f"expression too deep at {node.pos + 1}: more than {MAX_DEPTH} operators "
                "applied one to another; split it into calculated columns"
            )
        stack.extend((arg, depth + 1) for arg in node.args)


def _check_size(root: Node) -> None:
    """An error past ``MAX_NODES`` nodes: the compiled closures' size stays bounded."""
    count = 0
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):  # argument lists
            stack.extend(node)
            continue
        if not isinstance(node, Node):
            continue
        count += 1
        if count > MAX_NODES:
            raise ExprError(
                f"expression has more than {MAX_NODES:,} operators, operands and calls: "
                "split it into calculated columns"
            )
        stack.extend(node.args)


def compile_expression(text: str, scope: Scope) -> Compiled:
    """Parse, type-check and compile ``text``; raise :class:`ExprError` if it is not valid."""
    if not isinstance(text, str) or not text.strip():
        raise ExprError("empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExprError(
            f"expression is {len(text):,} characters long, at most {MAX_EXPRESSION_CHARS:,}: "
            "split it into calculated columns"
        )
    node = _Parser(text).parse()
    _check_depth(node)
    _check_size(node)
    compiler = _Compiler(scope)
    typ, ev = compiler.compile(node)
    return Compiled(text, typ, ev, frozenset(compiler.refs), frozenset(compiler.paths))
