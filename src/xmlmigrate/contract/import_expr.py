"""The predecessor's ``calculated_field`` expressions (reference §11) → this tool's expression
language (docs/contract.md, "Calculated fields").

The predecessor evaluates text against a dictionary of attribute texts; this tool's language
is typed and reads the document through ``VALUE('path/@attr')`` or a row element's ``@attr``.
The translation is therefore done against a *resolver* (a name of the predecessor's context →
an expression giving that attribute's trimmed text) and a *target type* (the column's): text
is turned into numbers with ``NUMBER()`` and into dates with ``DATE()`` where the predecessor
compared or calculated with them.

Where the predecessor's evaluation is a defect the translation follows the evident intent and
reports it through ``defect(predecessor, instead)``: an unquoted number in a comparison is a
number (the predecessor looks it up as a name, so ``x > 0`` means "x is not blank"), literals
in AND/OR conditions keep their case (the predecessor upper-cases them). Where it merely works
differently, ``differs(predecessor, instead)``. Anything outside the grammar is a ValueError
with the reason: nothing is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from xmlmigrate.contract.converters import to_datetime
from xmlmigrate.contract.errors import InvalidValue

Resolver = Callable[[str], str]  # predecessor name → expression of its trimmed text
Report = Callable[[str, str], None]  # (what the predecessor does, what the import does)

TEXT, NUMBER, DATE, DATETIME, BIT = "text", "number", "date", "datetime", "bit"
OPERATORS = ("!=", "<=", ">=", "=", "<", ">")  # the predecessor's search order
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)\Z")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
_ARITH_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_.]*)|(\*\*|//|[-+*/()]))")
_DATEADD = re.compile(r"DATEADD\s*\(\s*(\w+)\s*,\s*(.+?)\s*,\s*(.+)\)\s*\Z", re.IGNORECASE | re.S)
_DATE_FN = re.compile(r"DATE\s*\(\s*(.+?)\s*\)\s*\Z", re.IGNORECASE | re.S)
_PARSE_DATE = to_datetime()


@dataclass
class Translation:
    expr: str
    names: set[str]


def sql_text(text: str) -> str:
    """A text literal of the expression language: quotes doubled, anything else as it is."""
    return "'" + text.replace("'", "''") + "'"


def value_of(path: str) -> str:
    """``VALUE('path')``: the one way an expression reads the document; the path is quoted
    as a text literal (a predicate's quotes doubled), never pasted."""
    return f"VALUE({sql_text(path)})"


def _is_date_text(text: str) -> bool:
    try:
        _PARSE_DATE(text.strip())
    except InvalidValue:
        return False
    return True


def _quoted(text: str) -> str | None:
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    return None


def _has_grouping(text: str) -> bool:
    """Parentheses other than those of DATE(...)."""
    bare = re.sub(r"(?:\bDATE|\sIN)\s*\([^()]*\)", "", text, flags=re.IGNORECASE)
    return bool(re.search(r"[()]", bare))


def _split_top(text: str, word: str) -> list[str]:
    """``text`` split on the whitespace-delimited ``word`` outside quotes and brackets."""
    parts: list[str] = []
    depth, quote, start, i = 0, "", 0, 0
    pattern = re.compile(r"\s*,\s*" if word == "," else rf"\s+{word}\s+", re.IGNORECASE)
    while i < len(text):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and (ch.isspace() or ch == word):
            m = pattern.match(text, i)
            if m:
                parts.append(text[start:i].strip())
                start = i = m.end()
                continue
        i += 1
    parts.append(text[start:].strip())
    return parts


def _unwrapped(text: str) -> str:
    """``text`` without brackets around the whole of it."""
    while text.startswith("(") and text.endswith(")"):
        depth = 0
        for i, ch in enumerate(text):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(text) - 1:
                return text
        text = text[1:-1].strip()
    return text


def _predecessor_reading(text: str) -> str:
    """What the predecessor's unparsed reading of a condition with parentheses tests (spec
    §16.1): it splits on AND (else OR) and an operand glued to a bracket is an unknown name,
    blank; so is an unquoted number."""
    word = "AND" if re.search(r"\sAND\s", text, re.IGNORECASE) else "OR"
    parts = re.split(rf"\s+{word}\s+", text, flags=re.IGNORECASE)
    return f" {word} ".join(f"({_part_reading(p.strip())})" for p in parts)


def _part_reading(part: str) -> str:
    op = next((o for o in OPERATORS if o in part), None)
    if op is None:
        return f"{part!r} with any bracketed name blank"
    left, right = (x.strip() for x in part.split(op, 1))
    left_blank = not _NAME.match(left)
    right_blank = _quoted(right) is None and not (_NAME.match(right) and not _NUMBER.match(right))
    if left_blank and right_blank:
        return "always true" if op in ("=", "<=", ">=") else "always false"
    if right_blank or left_blank:
        # one side blank: "field OP ''" (or "'' OP field", the operator mirrored)
        field, mirrored = (left, op) if right_blank else (right, _MIRRORED[op])
        return {
            ">": f"{field} is not blank",
            "!=": f"{field} is not blank",
            ">=": "always true",
            "<": "always false",
        }.get(mirrored, f"{field} is blank")
    return f"{left} {op} {right}"


_MIRRORED = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}


class ExpressionTranslator:
    def __init__(self, resolve: Resolver, defect: Report, differs: Report) -> None:
        self.resolve = resolve
        self.defect = defect
        self.differs = differs

    # -- entry point ---------------------------------------------------------------------
    def translate(self, text: str, target: str) -> str:
        """The expression for a column of ``target`` type (TEXT, NUMBER, DATE or BIT)."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("calculated_field needs an expression")
        if re.search(r"case", text, re.IGNORECASE):
            return self._case(text, target)
        return self._value(text.strip(), target)

    def _case(self, text: str, target: str) -> str:
        body = re.sub(r"\bCASE\b|\bEND\b", " ", text, flags=re.IGNORECASE).strip()
        if re.search(r"case|\bend\b", body, re.IGNORECASE):
            raise ValueError("a CASE inside a CASE is not part of the predecessor's language")
        parts = re.split(r"\s+WHEN\s+", " " + body, flags=re.IGNORECASE)
        if parts[0].strip():
            raise ValueError(f"text before the first WHEN: {parts[0].strip()!r}")
        branches: list[str] = []
        otherwise = None
        for i, part in enumerate(parts[1:]):
            pieces = re.split(r"\s+THEN\s+", part, flags=re.IGNORECASE)
            if len(pieces) != 2:
                raise ValueError(f"WHEN without one THEN: {part.strip()!r}")
            cond, value = pieces
            tail = re.split(r"\s+ELSE\s+", value, flags=re.IGNORECASE)
            if len(tail) > 2 or (len(tail) == 2 and i != len(parts) - 2):
                raise ValueError("ELSE must come last, once")
            branches.append(
                f"WHEN {self._condition(cond.strip())} THEN {self._value(tail[0].strip(), target)}"
            )
            if len(tail) == 2:
                otherwise = self._value(tail[1].strip(), target)
        if not branches:
            raise ValueError("CASE without WHEN")
        tail_text = f" ELSE {otherwise}" if otherwise is not None else ""
        return f"CASE {' '.join(branches)}{tail_text} END"

    # -- conditions ----------------------------------------------------------------------
    def _condition(self, text: str) -> str:
        if _has_grouping(text):
            self.defect(
                f"does not parse the parentheses of {text!r}: it reads it as "
                f"{_predecessor_reading(text)}",
                "parses the grouping and compares as written",
            )
            return self._grouped(text)
        for word in ("AND", "OR"):
            parts = re.split(rf"\s+{word}\s+", text, flags=re.IGNORECASE)
            if len(parts) > 1:
                other = "OR" if word == "AND" else "AND"
                if any(re.search(rf"\s{other}\s", p, re.IGNORECASE) for p in parts):
                    raise ValueError(f"AND and OR mixed in {text!r}: the predecessor cannot")
                self._upper_cased_literals(text)
                return "(" + f" {word} ".join(self._simple(p.strip()) for p in parts) + ")"
        return self._simple(text)

    def _upper_cased_literals(self, text: str) -> None:
        literals = re.findall(r"'([^']*)'|\"([^\"]*)\"", text)
        if any((a or b) != (a or b).upper() for a, b in literals):
            self.defect(
                f"upper-cases the literals of {text!r}, which then only match upper-case data",
                "compares them as written",
            )

    def _grouped(self, text: str) -> str:
        """A condition with parentheses, as its author meant it: OR binds loosest."""
        text = _unwrapped(text.strip())
        for word in ("OR", "AND"):
            parts = _split_top(text, word)
            if len(parts) > 1:
                self._upper_cased_literals(text)
                return "(" + f" {word} ".join(self._grouped(p) for p in parts) + ")"
        if _has_grouping(text):
            raise ValueError(f"unbalanced or misplaced parentheses in {text!r}")
        return self._simple(text)

    def _simple(self, text: str) -> str:
        m = re.match(r"(.+?)\s+IN\s*\((.*)\)\s*\Z", text, re.IGNORECASE | re.S)
        if m:
            items = [_quoted(i) for i in _split_top(m.group(2), ",")]
            if not items or any(i is None for i in items):
                raise ValueError(f"IN needs a list of quoted texts in {text!r}")
            self.defect(
                f"has no IN, so {text!r} is never true",
                "tests whether the value is one of the list",
            )
            listed = ", ".join(sql_text(i or "") for i in items)
            return f"COALESCE(COALESCE({self._text(m.group(1).strip())}, '') IN ({listed}), FALSE)"
        m = re.match(r"(.+?)\s+IS\s+(NOT\s+)?(EMPTY|NULL)\s*\Z", text, re.IGNORECASE | re.S)
        if m:
            return f"{self._text(m.group(1))} IS {'NOT ' if m.group(2) else ''}EMPTY"
        m = re.match(r"(.+?)\s+LIKE\s+(.+)\Z", text, re.IGNORECASE | re.S)
        if m:
            pattern = _quoted(m.group(2))
            if pattern is None:
                raise ValueError(f"LIKE needs a quoted pattern in {text!r}")
            if any(ch in pattern for ch in ".^$*+?{}[]\\|()"):
                self.defect(
                    f"reads the regular-expression characters of {pattern!r} as patterns "
                    "('.' is any character)",
                    "matches them literally (only % and _ are wildcards)",
                )
            return f"UPPER(COALESCE({self._text(m.group(1))}, '')) LIKE {sql_text(pattern.upper())}"
        for op in OPERATORS:
            if op in text:
                left, right = (s.strip() for s in text.split(op, 1))
                return self._compare(left, "<>" if op == "!=" else op, right, text)
        raise ValueError(f"not a condition the predecessor knows: {text!r}")

    def _compare(self, left: str, op: str, right: str, text: str) -> str:
        if not left or not right:
            raise ValueError(f"comparison without two operands: {text!r}")
        if _quoted(left) is not None:
            raise ValueError(
                f"a quoted left operand in {text!r}: the predecessor reads it as a name"
            )
        dates = [_DATE_FN.match(s) for s in (left, right)]
        lit = _quoted(right)
        lit_date = lit is not None and not _NUMBER.match(lit.strip()) and _is_date_text(lit)
        if any(dates) or lit_date:
            if not any(dates):
                self.defect(
                    f"compares {left} with the date {lit!r} as text ('10/1/2020' > '2020-01-01')",
                    "compares them as dates",
                )
            a, b = self._date(left), self._date(right)
            return f"COALESCE({a} {op} {b}, FALSE)"
        if lit is not None:
            if _NUMBER.match(lit.strip()):
                return f"COALESCE(NUMBER({self._text(left)}) {op} {lit.strip()}, FALSE)"
            return f"COALESCE({self._text(left)}, '') {op} {sql_text(lit)}"
        if _NUMBER.match(right):
            self.defect(
                f"looks up the unquoted number {right} of {text!r} as a name, which is blank "
                "(so the condition only tests whether the field is blank)",
                "compares the number",
            )
            return f"COALESCE(NUMBER({self._text(left)}) {op} {right}, FALSE)"
        a, b = self._text(left), self._text(right)
        return f"COALESCE(NUMBER({a}) {op} NUMBER({b}), COALESCE({a}, '') {op} COALESCE({b}, ''))"

    # -- operands and values -------------------------------------------------------------
    def _text(self, operand: str) -> str:
        if not _NAME.match(operand):
            raise ValueError(f"{operand!r} is not a field name")
        return self.resolve(operand)

    def _date(self, operand: str) -> str:
        m = _DATE_FN.match(operand)
        inner = m.group(1).strip() if m else operand
        lit = _quoted(inner)
        if lit is not None:
            if not _is_date_text(lit):
                raise ValueError(f"{lit!r} is not a date the predecessor reads")
            return f"DATE({sql_text(lit)})"
        return f"DATE({self._text(inner)})"

    def _value(self, text: str, target: str) -> str:
        m = _DATEADD.match(text)
        if m:
            unit, n, d = m.groups()
            if unit.lower() != "day":
                raise ValueError(f"DATEADD unit {unit!r}: the predecessor knows only day")
            if target not in (DATE, DATETIME):
                raise ValueError("DATEADD into a column that is not a date")
            amount = n.strip() if re.fullmatch(r"-?\d+", n.strip()) else None
            if amount is None:
                amount = f"COALESCE(NUMBER({self._text(n.strip())}), 0)"
            return f"DATEADD(DAY, {amount}, {self._date(d.strip())})"
        lit = _quoted(text)
        if lit is not None:
            return self._literal(lit, target)
        if _NUMBER.match(text):
            return self._literal(text, target)
        if _NAME.match(text):
            return self._field(text, target)
        return self._arithmetic(text, target)

    def _literal(self, text: str, target: str) -> str:
        if target == TEXT:
            # the predecessor's insert stores '' as NULL (ELSE '' means no value)
            return sql_text(text) if text.strip() else "NULL"
        if target == NUMBER:
            if not _NUMBER.match(text.strip()):
                raise ValueError(f"{text!r} is not a number for a numeric column")
            return text.strip()
        if target in (DATE, DATETIME):
            if not _is_date_text(text):
                raise ValueError(f"{text!r} is not a date for a date column")
            return f"{target.upper()}({sql_text(text)})"
        truth = {"1": "TRUE", "y": "TRUE", "true": "TRUE", "0": "FALSE", "n": "FALSE"}
        if text.strip().lower() not in {**truth, "false": "FALSE"}:
            raise ValueError(f"{text!r} is not a bit value")
        return {**truth, "false": "FALSE"}[text.strip().lower()]

    def _field(self, name: str, target: str) -> str:
        value = self.resolve(name)
        if target == TEXT:
            return value
        if target == NUMBER:
            return f"NUMBER({value})"
        if target == DATE:
            return f"DATE({value})"
        if target == DATETIME:  # the time of day kept
            return f"DATETIME({value})"
        return f"UPPER({value}) IN ('1', 'Y', 'YES', 'TRUE')"

    def _arithmetic(self, text: str, target: str) -> str:
        if target != NUMBER:
            raise ValueError(
                f"arithmetic {text!r} into a {target} column (the predecessor writes a float's "
                "text such as '6.0'): not imported"
            )
        out: list[str] = []
        pos = 0
        while pos < len(text):
            m = _ARITH_TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                if text[pos:].strip():
                    raise ValueError(
                        f"{text!r}: {text[pos:].strip()[:20]!r} is not arithmetic the predecessor "
                        "evaluates (letters, digits, _ + - * / ( ) only)"
                    )
                break
            num, name, op = m.groups()
            if op in ("**", "//"):
                raise ValueError(f"{text!r}: {op} has no equivalent here")
            if name is not None:
                out.append(f"NUMBER({self.resolve(name)})")
            else:
                out.append(num if num is not None else op)
            pos = m.end()
        self.differs(
            f"counts a non-numeric field of {text!r} as 0 and divides as floats",
            "gives NULL for a non-numeric field and calculates in decimals",
        )
        return " ".join(out)
