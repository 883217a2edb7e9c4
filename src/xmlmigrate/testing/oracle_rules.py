"""A contract's declarations as the oracle reads them, and its own conversion of each type.

The oracle reads the contract's TOML text (what the contract was compiled from), never the
compiled closures: each rule below — whole and rounded numbers, decimals, dates, truth
tables, enum codes, patterns, extraction, constants and defaults — is a plain
implementation of what the contract documentation says, kept apart from the engine's
(:mod:`xmlmigrate.contract.converters`, :mod:`xmlmigrate.contract.kinds`) so that the
end-to-end tests compare two readings of one contract.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from xmlmigrate.mock.model import INVALID
from xmlmigrate.testing.oracle_dates import (
    builtin_date_parts,
    clamped,
    declared_date_parts,
    moment,
    possible,
)

INT_RANGE = {"int": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}
TRUE_CODES = frozenset({"Y", "YES", "TRUE", "T", "1"})  # a bit column's codes unless declared
FALSE_CODES = frozenset({"N", "NO", "FALSE", "F", "0"})


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    kind: str  # attr const parent app_id expr unpivot_name unpivot_value unpivot_field
    nullable: bool
    subpath: str | None = None
    attr: str | None = None  # the attribute read, or the listed pairs' field (unpivot_field)
    const: Any = None
    parent_column: str | None = None
    expr: str | None = None
    default: Any = None
    default_when: str = "always"
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    codes: dict[str, int] | None = None  # an enum column's codes
    truth: tuple[frozenset[str], frozenset[str], frozenset[str]] | None = None  # true false null
    formats: tuple[str, ...] | None = None
    pattern: str | None = None
    extract: str | None = None
    rounds: bool = False
    on_overflow: str = "truncate"
    on_invalid: str = "null"
    on_impossible: str = "invalid"

    @property
    def from_document(self) -> bool:
        """Does a value here count as the document's data (not a key or a constant)?"""
        return self.kind in ("attr", "expr", "unpivot_value")


@dataclass(frozen=True, slots=True)
class Pair:
    name: str
    subpath: str | None
    attr: str  # "" for a grouped row
    fields: dict[str, str]
    reads: dict[str, tuple[str | None, str]]
    also: dict[str, tuple[str | None, str]]


@dataclass(frozen=True, slots=True)
class Unpivot:
    attributes: tuple[str, ...] | None
    prefix: str | None
    pairs: tuple[Pair, ...] | None
    ignore: frozenset[str]
    only: frozenset[str] | None

    def kept(self, text: str | None) -> bool:
        """Does this value make a row (blank and ignored values do not)?"""
        t = (text or "").strip().lower()
        if self.only is not None:
            return t in self.only
        return t != "" and t not in self.ignore


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    parent: str | None
    rows: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    where: tuple[str, frozenset[str]] | None = None  # attribute, the values kept
    dedup: tuple[str, str | None, dict[str, int]] | None = None  # by, prefer attr, its ranks
    meaningful: tuple[str, ...] | None = None
    unpivot: Unpivot | None = None
    skip_if_null: tuple[str, ...] = ()
    skip_empty: bool = False


@dataclass(frozen=True, slots=True)
class Check:
    code: str
    table: str
    when: str | None
    where: str | None
    min_rows: int | None


@dataclass(frozen=True, slots=True)
class Declarations:
    tables: tuple[Table, ...]
    checks: tuple[Check, ...] = field(default=())


def split_path(path: str) -> tuple[str | None, str]:
    """``a/b/@x`` → (``a/b``, ``x``); ``@x`` → (None, ``x``)."""
    if path.startswith("@"):
        return None, path[1:]
    head, _, attr = path.rpartition("/@")
    return head, attr


def declarations(text: str) -> Declarations:
    """The tables and checks of a contract's TOML text, in order."""
    data = tomllib.loads(text)
    enums: dict[str, dict[str, int]] = data.get("enums", {})
    tables = [_table(name, spec, enums) for name, spec in data["tables"].items()]
    checks = tuple(
        Check(c["code"], c["table"], c.get("when"), c.get("where"), c.get("min_rows"))
        for c in data.get("checks", [])
    )
    return Declarations(tuple(tables), checks)


def _table(name: str, spec: dict[str, Any], enums: dict[str, dict[str, int]]) -> Table:
    unpivot = _unpivot(spec.get("unpivot"))
    columns = tuple(_column(n, c, enums) for n, c in spec["columns"].items())
    where = spec.get("where")
    dedup = spec.get("dedup")
    prefer = (dedup or {}).get("prefer")
    meaningful = spec.get("meaningful")
    # a bit read from the document always counts as data: such a table writes every row
    has_bit = any(c.type == "bit" and c.kind in ("attr", "expr") for c in columns)
    return Table(
        name=name,
        parent=spec.get("parent"),
        rows=spec.get("rows", "."),
        key=tuple(spec["key"]),
        columns=columns,
        where=None if where is None else (where["attr"], frozenset(str(v) for v in where["in"])),
        dedup=None
        if dedup is None
        else (
            dedup["by"],
            None if prefer is None else str(prefer["attr"]),
            {} if prefer is None else {str(v): i for i, v in enumerate(prefer["order"])},
        ),
        meaningful=None if meaningful is None else tuple(meaningful["any_of"]),
        unpivot=unpivot,
        skip_if_null=tuple(spec.get("skip_if_null", ())),
        skip_empty=bool(spec.get("skip_empty", False)) and not has_bit,
    )


def _unpivot(spec: dict[str, Any] | None) -> Unpivot | None:
    if spec is None:
        return None
    ignore = frozenset(v.strip().lower() for v in spec.get("ignore", ()))
    only = spec.get("only")
    kept = None if only is None else frozenset(v.strip().lower() for v in only)
    pairs = None
    if "pairs" in spec:
        pairs = tuple(
            Pair(
                name=p["name"],
                subpath=split_path(p["path"])[0] if "path" in p else None,
                attr=split_path(p["path"])[1] if "path" in p else "",
                fields=dict(p.get("fields", {})),
                reads={k: split_path(v) for k, v in p.get("read", {}).items()},
                also={k: split_path(v) for k, v in p.get("also", {}).items()},
            )
            for p in spec["pairs"]
        )
    attributes = tuple(spec["attributes"]) if "attributes" in spec else None
    return Unpivot(attributes, spec.get("prefix"), pairs, ignore, kept)


def _column(name: str, spec: dict[str, Any], enums: dict[str, dict[str, int]]) -> Column:
    ctype = spec["type"]
    truth = None
    if ctype == "bit":
        declared = {"true", "false"} & set(spec)
        sets = []
        for key, fallback in (("true", TRUE_CODES), ("false", FALSE_CODES), ("null", None)):
            if key in spec:
                sets.append(frozenset(str(v).upper() for v in spec[key]))
            else:
                sets.append(fallback if fallback is not None and not declared else frozenset())
        truth = (sets[0], sets[1], sets[2])
    length = spec.get("length")
    column = Column(
        name=name,
        type=ctype,
        kind="attr",
        nullable=spec.get("nullable", True),
        length=None if length == "max" else length,
        precision=spec.get("precision"),
        scale=spec.get("scale"),
        codes=dict(enums[spec["enum"]]) if ctype == "enum" else None,
        truth=truth,
        formats=tuple(spec["formats"]) if "formats" in spec else None,
        pattern=spec.get("pattern"),
        extract=spec.get("extract"),
        rounds=spec.get("round", False) is True,
        on_overflow=spec.get("on_overflow", "truncate"),
        on_invalid=spec.get("on_invalid", "null"),
        on_impossible=spec.get("on_impossible", "invalid"),
        default_when=spec.get("default_when", "always"),
    )
    changes: dict[str, Any] = {}
    if "default" in spec:
        changes["default"] = literal(column, spec["default"])
    if "attr" in spec:
        changes["attr"] = spec["attr"]
    elif "path" in spec:
        changes["subpath"], changes["attr"] = split_path(spec["path"])
    elif "const" in spec:
        changes.update(kind="const", const=literal(column, spec["const"]))
    elif "parent" in spec:
        changes.update(kind="parent", parent_column=spec["parent"])
    elif "expr" in spec:
        changes.update(kind="expr", expr=spec["expr"])
    elif "unpivot" in spec:
        role = spec["unpivot"]
        if role in ("name", "value"):
            changes["kind"] = f"unpivot_{role}"
        else:
            changes.update(kind="unpivot_field", attr=role)
    else:
        changes["kind"] = spec["source"]  # app_id
    return dataclasses.replace(column, **changes)


def literal(col: Column, value: Any) -> Any:
    """A constant or default as the column's type: written as a document would carry it."""
    if isinstance(value, bool):
        value = "Y" if value else "N"
    elif not isinstance(value, str):
        value = str(value)
    return typed(col, value)  # as written: no trimming, pattern or extraction


_NUMBER_INSIDE = re.compile(r"-?[0-9][0-9,]*(?:\.[0-9]+)?|-?\.[0-9]+")


def convert(col: Column, text: str | None) -> Any:
    """What the column makes of a document's text: None for blank, :data:`INVALID` for
    text the column does not accept, else the typed value (an impossible date the column
    clamps: the clamped date). The length of text is the caller's (truncate or reject)."""
    s = (text or "").strip()
    if not s:
        return None
    if col.pattern is not None and re.fullmatch(col.pattern, s) is None:
        return INVALID
    if col.extract == "digits":
        s = "".join(ch for ch in s if ch in "0123456789")
        if not s:
            return INVALID
    elif col.extract == "number":
        found = _NUMBER_INSIDE.search(s)
        if found is None:
            return INVALID
        s = found.group(0).replace(",", "")
    return typed(col, s)


def typed(col: Column, s: str) -> Any:
    """Non-blank text as the column's type, or INVALID."""
    t = col.type
    if t == "string":
        return s
    if t in ("int", "bigint"):
        return _whole(col, s)
    if t == "decimal":
        return _decimal(col, s)
    if t == "bit":
        assert col.truth is not None
        trues, falses, nulls = col.truth
        code = s.upper()
        if code in trues:
            return True
        if code in falses:
            return False
        return None if code in nulls else INVALID
    if t == "enum":
        assert col.codes is not None
        if s in col.codes:
            return col.codes[s]
        for code, value in col.codes.items():
            if code.upper() == s.upper():
                return value
        return INVALID
    return _when(col, s)


def _whole(col: Column, s: str) -> Any:
    low, high = INT_RANGE[col.type]
    if re.fullmatch(r"-?[0-9]+", s):
        number = int(s)
    elif col.rounds:
        try:
            exact = Decimal(s.replace(",", "").strip())
        except InvalidOperation:
            return INVALID
        if not exact.is_finite() or abs(exact) > 2 * high:
            return INVALID
        number = int(exact.quantize(Decimal(1), ROUND_HALF_UP))
    else:
        return INVALID
    return number if low <= number <= high else INVALID


def fits_decimal(col: Column, value: Decimal) -> Any:
    """``value`` rounded half-up to the column's scale, or INVALID if too large for it."""
    limit = Decimal(10) ** ((col.precision or 18) - (col.scale or 0))
    if not value.is_finite() or abs(value) >= limit:
        return INVALID
    rounded = value.quantize(Decimal(1).scaleb(-(col.scale or 0)), ROUND_HALF_UP)
    return INVALID if abs(rounded) >= limit else rounded


def _decimal(col: Column, s: str) -> Any:
    try:
        value = Decimal(s.replace(",", ""))
    except InvalidOperation:
        return INVALID
    return fits_decimal(col, value)


def _when(col: Column, s: str) -> Any:
    parts = declared_date_parts(list(col.formats), s) if col.formats else builtin_date_parts(s)
    if parts is None:
        return INVALID
    if not possible(parts):
        if col.on_impossible != "clamp":
            return INVALID
        parts = clamped(parts)
    value = moment(parts)
    return value.date() if col.type == "date" else value


def calculated(col: Column, value: Any) -> Any:
    """A calculation's result stored in the column's type (INVALID where it does not fit)."""
    if value is None:
        return None
    t = col.type
    if t in ("int", "bigint", "enum"):
        try:
            whole = int(Decimal(value).quantize(Decimal(1), ROUND_HALF_UP))
        except InvalidOperation:
            return INVALID
        if t == "enum":
            return whole
        low, high = INT_RANGE[t]
        return whole if low <= whole <= high else INVALID
    if t == "decimal":
        try:
            return fits_decimal(col, Decimal(str(value)))
        except InvalidOperation:
            return INVALID
    if t == "string":
        return str(value)
    if t == "date" and isinstance(value, datetime):
        return value.date()
    if t == "datetime" and isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return value
