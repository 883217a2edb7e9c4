"""One entry per column type and per column source: what each accepts, reads and converts.

A contract column has a *type* (``type = 'decimal'``: how its text becomes a value) and a
*source* (``attr = …``, ``const = …``, ``expr = …``: where the value comes from). Each type's
entry here owns the keys only it accepts and their validation, the converter of document
text (built once per column, when the contract is compiled), the conversion of a calculated
result into the column's value, and the expression types it takes; a bit column's truth table
is data (:class:`TruthTable`) that readers other than the converter can use. Each source's
entry says where its values come from and whether they are the document's data.

Adding a type is one :class:`ColumnType` entry in :data:`TYPES` plus its tests: the contract
format accepts the registry's names, and the compiler, the mapper (calculated values) and the
import reach the type through it. What it is in a database is said where the tables are laid
out (``xmlmigrate.db.layout.column_type``, below which this package stays);
``tests/unit/test_kinds.py`` fails until every entry has its tests and its database type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, TypeGuard

from xmlmigrate.contract import converters as tf
from xmlmigrate.contract import expressions as ex

if TYPE_CHECKING:
    from xmlmigrate.contract.model import CompiledColumn

# The longest text column any supported database declares: PostgreSQL's varchar(10485760).
# The others hold less, and `init` says so for its database (xmlmigrate.db.schema): SQL Server's
# NVARCHAR 4000, MariaDB's and MySQL's VARCHAR 16383 (utf8mb4); longer is length = 'max'.
MAX_STRING_LENGTH = 10_485_760
MAX_PRECISION = 38  # SQL Server's DECIMAL, the smallest of the supported databases

# the column keys that belong to some types only, in the order they are checked
TYPE_KEYS = (
    "length",
    "precision",
    "scale",
    "enum",
    "round",
    "formats",
    "true",
    "false",
    "null",
    "on_impossible",
)

Err = Callable[[str], Exception]
Coerce = Callable[[Any], Any]
Parser = Callable[[Sequence[str] | None, bool], tf.Converter]
_ONE = Decimal(1)


def int_in(value: Any, low: int, high: int) -> TypeGuard[int]:
    """An integer (not true or false, which TOML's reader gives as bools) in low..high."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def given(key: str, value: Any, missing: str) -> str:
    """``key value`` as TOML writes the value, cut (``length true``, ``scale 1e+30``), or
    ``missing`` when the key is not there."""
    if value is None:
        return missing
    text = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    return f"{key} {text if len(text) <= 40 else text[:39] + '…'}"


def str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


@dataclass(frozen=True, slots=True)
class TruthTable:
    """A bit column's codes (upper case; the document's are compared in any case): ``true``
    gives 1, ``false`` 0, ``null`` NULL; any other code is an invalid value."""

    true: frozenset[str]
    false: frozenset[str]
    null: frozenset[str] = frozenset()

    def codes(self) -> dict[str, bool | None]:
        """Every code the table knows, with the value it stands for."""
        return {
            **dict.fromkeys(self.null),
            **dict.fromkeys(self.false, False),
            **dict.fromkeys(self.true, True),
        }

    def converter(self) -> tf.Converter:
        return tf.to_bit(self.true, self.false, self.null)


DEFAULT_TRUTH = TruthTable(tf.DEFAULT_TRUE, tf.DEFAULT_FALSE)


@dataclass(frozen=True, slots=True)
class Declared:
    """A column's declaration (its inline table in the contract), as its type reads it."""

    data: Mapping[str, Any]
    enums: Mapping[str, Mapping[str, int]]  # the contract's [enums]
    err: Err  # an error naming the contract, table and column

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


@dataclass(frozen=True, slots=True)
class Typed:
    """What a column's type compiles to for one column."""

    convert: tf.Converter  # document text (stripped, not blank) → value, or InvalidValue
    coerce: Coerce  # a calculation's result (not NULL) → the column's value
    truth: TruthTable | None = None  # bit columns: the codes the converter looks up


class ColumnType:
    """A column type: the keys it alone accepts, how they are validated, and the converters
    it builds for a column. Each sets these attributes and ``converter``."""

    name: str
    keys: tuple[str, ...] = ()  # the keys of TYPE_KEYS this type accepts
    expr_type: str  # what an expression reading the column sees
    expr_results: frozenset[str]  # expression types a calculation may give it

    def compile(self, col: Declared) -> Typed:
        convert = self.converter(col)
        return Typed(convert, self.coercer(convert))

    def converter(self, col: Declared) -> tf.Converter:
        raise NotImplementedError

    def coercer(self, convert: tf.Converter) -> Coerce:
        """A calculation's result as the column's value (the types were checked at load)."""
        return _same


def _same(value: Any) -> Any:
    return value


class IntegerType(ColumnType):
    """A whole number within ``bounds``; with ``round = true`` a decimal one is rounded."""

    keys = ("round",)
    expr_type = ex.NUMBER
    expr_results = frozenset({ex.NUMBER})

    def __init__(self, name: str, bounds: tuple[int, int]) -> None:
        self.name, self.bounds = name, bounds

    def converter(self, col: Declared) -> tf.Converter:
        rounding = col.get("round", False)
        if not isinstance(rounding, bool):
            raise col.err("round must be true or false")
        return tf.to_int(self.bounds, rounding)

    def coercer(self, convert: tf.Converter) -> Coerce:
        def coerce(value: Any) -> Any:
            return convert(str(Decimal(value).quantize(_ONE, rounding=ROUND_HALF_UP)))

        return coerce


class DecimalType(ColumnType):
    name = "decimal"
    keys = ("precision", "scale")
    expr_type = ex.NUMBER
    expr_results = frozenset({ex.NUMBER})

    def converter(self, col: Declared) -> tf.Converter:
        precision, scale = col.get("precision"), col.get("scale")
        if not int_in(precision, 1, MAX_PRECISION):
            raise col.err(
                f"{given('precision', precision, 'decimal columns need a precision')} must "
                f"be an integer from 1 to {MAX_PRECISION} (SQL Server's largest decimal)"
            )
        if not int_in(scale, 0, precision):
            raise col.err(
                f"{given('scale', scale, 'decimal columns need a scale')} must be an "
                f"integer from 0 to {precision}, the column's precision"
            )
        return tf.to_decimal(precision, scale)

    def coercer(self, convert: tf.Converter) -> Coerce:
        def coerce(value: Any) -> Any:
            return convert(str(value))

        return coerce


class StringType(ColumnType):
    """Text, read as it is; a calculated text longer than the column is cut (or rejected)
    by the mapper, as a document's is."""

    name = "string"
    keys = ("length",)
    expr_type = ex.STRING
    expr_results = frozenset({ex.STRING, ex.NUMBER})

    def converter(self, col: Declared) -> tf.Converter:
        length = col.get("length")
        if length != "max" and not int_in(length, 1, MAX_STRING_LENGTH):
            raise col.err(
                f"{given('length', length, 'string columns need a length')} must be an "
                f"integer from 1 to {MAX_STRING_LENGTH} (PostgreSQL's longest varchar; SQL "
                "Server's NVARCHAR takes 4000, MariaDB's VARCHAR 16383), or 'max' (no limit)"
            )
        return tf.to_string()

    def coercer(self, convert: tf.Converter) -> Coerce:
        return str


class MomentType(ColumnType):
    """A date or a datetime: the built-in renderings real documents use, or the column's
    ``formats``; an impossible one (Feb 30) is invalid, or clamped into range."""

    keys = ("formats", "on_impossible")
    expr_results = frozenset({ex.DATE, ex.DATETIME})

    def __init__(self, name: str, expr_type: str, parser: Parser, coerce: Coerce) -> None:
        self.name, self.expr_type, self.parser, self.coerce = name, expr_type, parser, coerce

    def converter(self, col: Declared) -> tf.Converter:
        formats = col.get("formats")
        if formats is not None:
            if not str_list(formats) or not formats:
                raise col.err("formats must be a non-empty list like ['MM/DD/YYYY']")
            for fmt in formats:
                try:
                    tf.compile_date_format(fmt)
                except ValueError as exc:
                    raise col.err(str(exc)) from None
        return self.parser(formats, col.get("on_impossible") == "clamp")

    def coercer(self, convert: tf.Converter) -> Coerce:
        return self.coerce


def _to_date(value: Any) -> Any:
    return value.date() if isinstance(value, datetime) else value


def _to_datetime(value: Any) -> Any:
    """A calculated date as a datetime (midnight); a datetime as it is."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return value


class BitType(ColumnType):
    """A flag: the document's code looked up in the column's truth table (``true``,
    ``false``, ``null`` lists; Y/YES/TRUE/T/1 and N/NO/FALSE/F/0 when it gives none)."""

    name = "bit"
    keys = ("true", "false", "null")
    expr_type = ex.BOOL
    expr_results = frozenset({ex.BOOL})

    def compile(self, col: Declared) -> Typed:
        truth = self.truth(col)
        return Typed(truth.converter(), _same, truth)

    @staticmethod
    def truth(col: Declared) -> TruthTable:
        declared = {"true", "false"} & set(col.data)
        tables: dict[str, frozenset[str]] = {}
        for key, fallback in (
            ("true", DEFAULT_TRUTH.true),
            ("false", DEFAULT_TRUTH.false),
            ("null", frozenset[str]()),
        ):
            values = col.get(key)
            if values is None:
                tables[key] = fallback if not declared else frozenset()
                continue
            if not str_list(values):
                raise col.err(f"{key} must be a list of codes")
            tables[key] = frozenset(v.upper() for v in values)
        if declared and not (tables["true"] and tables["false"]):
            raise col.err("a truth table needs both true = [...] and false = [...]")
        overlap = (tables["true"] & tables["false"]) | (
            (tables["true"] | tables["false"]) & tables["null"]
        )
        if overlap:
            raise col.err(f"codes {sorted(overlap)} appear in more than one of true/false/null")
        return TruthTable(tables["true"], tables["false"], tables["null"])


class EnumType(ColumnType):
    """A code of one of the contract's ``[enums]``, stored as its id."""

    name = "enum"
    keys = ("enum",)
    expr_type = ex.NUMBER
    expr_results = frozenset({ex.NUMBER})

    def converter(self, col: Declared) -> tf.Converter:
        enum_name = col.get("enum")
        if not isinstance(enum_name, str) or enum_name not in col.enums:
            raise col.err(f"enum {enum_name!r} is not defined in [enums]")
        return tf.to_enum(col.enums[enum_name], enum_name)

    def coercer(self, convert: tf.Converter) -> Coerce:
        return _enum_id


def _enum_id(value: Any) -> int:
    return int(Decimal(value).quantize(_ONE, rounding=ROUND_HALF_UP))


TYPES: Mapping[str, ColumnType] = {
    t.name: t
    for t in (
        IntegerType("int", tf.INT32),
        IntegerType("bigint", tf.INT64),
        DecimalType(),
        StringType(),
        MomentType("date", ex.DATE, tf.to_date, _to_date),
        MomentType("datetime", ex.DATETIME, tf.to_datetime, _to_datetime),
        BitType(),
        EnumType(),
    )
}
COLUMN_TYPES = tuple(TYPES)  # what a contract's ``type = …`` may say


def check_type_keys(ctype: str, cdata: Mapping[str, Any], err: Err) -> None:
    """A key some other type owns (``length`` on an int) is an error naming its owners."""
    for key in TYPE_KEYS:
        if key in cdata and key not in TYPES[ctype].keys:
            owners = "/".join(t.name for t in TYPES.values() if key in t.keys)
            raise err(f"{key} applies only to {owners} columns")


# A listed pair of an unpivoted table's row: its name, its value's text, its constant fields.
Pair = tuple[str, str, Mapping[str, str]]
# How the mapper gets a fixed column's value: from the column, the parent row, the app id and
# the row's pair (None outside unpivoted tables).
Fill = Callable[["CompiledColumn", Mapping[str, Any], int, "Pair | None"], Any]


@dataclass(frozen=True, slots=True)
class SourceKind:
    """Where a column's values come from (``CompiledColumn.kind``)."""

    name: str
    declared_by: str  # the column key that makes it (``path`` also makes an ``attr``)
    # how the mapper fills it: "document" (an attribute of the row element or below, read
    # per row in groups by element), "fixed" (a key, a constant, or the unpivot pair of the
    # row) or "computed" (a calculation over the row, after the others)
    role: str
    is_data: bool  # does the value come from the document (not keys and constants)?
    exercised: bool  # does coverage count the documents that carry it?
    fill: Fill | None = None  # role "fixed": the value, or the text to convert (reads_pair)
    reads_pair: bool = False  # fill gives the pair's text, converted to the column's type


# the fills: (column, parent row, app id, pair) → value, or the text the pair gives
def _const(col: CompiledColumn, _p: Mapping[str, Any], _a: int, _pair: Pair | None) -> Any:
    return col.const


def _parent(col: CompiledColumn, parent: Mapping[str, Any], _a: int, _pair: Pair | None) -> Any:
    return parent[col.parent_column]  # type: ignore[index]


def _app_id(_col: CompiledColumn, _p: Mapping[str, Any], app: int, _pair: Pair | None) -> int:
    return app


def _name(_col: CompiledColumn, _p: Mapping[str, Any], _a: int, pair: Pair | None) -> Any:
    return pair[0] if pair else None


def _value(_col: CompiledColumn, _p: Mapping[str, Any], _a: int, pair: Pair | None) -> Any:
    return pair[1] if pair else None


def _field(col: CompiledColumn, _p: Mapping[str, Any], _a: int, pair: Pair | None) -> Any:
    return pair[2].get(col.attr or "") if pair else None


# name, the key that declares it, role, is_data, exercised, fill, reads_pair
SOURCE_KINDS: Mapping[str, SourceKind] = {
    k.name: k
    for k in (
        SourceKind("attr", "attr", "document", True, True),
        SourceKind("const", "const", "fixed", False, False, _const),
        SourceKind("parent", "parent", "fixed", False, False, _parent),
        SourceKind("app_id", "source", "fixed", False, False, _app_id),
        SourceKind("expr", "expr", "computed", True, False),
        SourceKind("unpivot_name", "unpivot", "fixed", False, False, _name, True),
        SourceKind("unpivot_value", "unpivot", "fixed", True, True, _value, True),
        SourceKind("unpivot_field", "unpivot", "fixed", False, False, _field, True),
    )
}
