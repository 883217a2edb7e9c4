"""Loading, validating and compiling a mapping contract.

A contract is a TOML file (see ``provenir_cc.toml`` for the shipped one and
``docs/contract.md`` for the format). Loading checks everything that can be
checked without a document — types, options, paths, enum names, expressions
(parsed and type-checked) — and reports the file, table, column and what is
wrong. Compilation turns every column into a converter closure and every path
into pre-split steps, so mapping a document does O(1) work per field.

Why one long module: it is the contract format's single validator — every key of every
section is checked next to the compiled form it becomes, and every error is built by one
``err`` that names the file, table and column. Split by section, each part would need the
others' compiled types and the same error plumbing.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, TypeGuard, cast

from lxml import etree

from xmlmigrate.contract import converters as tf
from xmlmigrate.contract import expressions as ex
from xmlmigrate.contract.paths import check_element_path, locate, path_steps, split_path
from xmlmigrate.contract.scope import Scope
from xmlmigrate.errors import UserError
from xmlmigrate.identifiers import RESERVED_TABLES, identifier_problem

COLUMN_TYPES = ("int", "bigint", "decimal", "string", "date", "datetime", "bit", "enum")
# The longest text column any supported database declares: PostgreSQL's varchar(10485760).
# The others hold less, and `init` says so for its database (xmlmigrate.db.schema): SQL Server's
# NVARCHAR 4000, MariaDB's and MySQL's VARCHAR 16383 (utf8mb4); longer is length = 'max'.
MAX_STRING_LENGTH = 10_485_760
MAX_PRECISION = 38  # SQL Server's DECIMAL, the smallest of the supported databases
SOURCE_KEYS = ("attr", "path", "const", "parent", "source", "expr", "unpivot")
SPECIAL_SOURCES = ("app_id",)
OVERFLOW_POLICIES = ("truncate", "reject")
INVALID_POLICIES = ("null", "reject")
IMPOSSIBLE_POLICIES = ("invalid", "clamp")
DEFAULT_WHEN = ("always", "row_has_values")
COLUMN_KEYS = frozenset(
    {
        *SOURCE_KEYS,
        "type",
        "nullable",
        "length",
        "precision",
        "scale",
        "enum",
        "default",
        "default_when",
        "on_overflow",
        "on_invalid",
        "on_impossible",
        "formats",
        "extract",
        "round",
        "true",
        "false",
        "null",
        "pattern",
        "warn",
        "doc",
    }
)
TABLE_KEYS = frozenset(
    {
        "parent",
        "rows",
        "key",
        "where",
        "dedup",
        "columns",
        "doc",
        "unpivot",
        "skip_if_null",
        "skip_warn",
        "meaningful",
        "on_duplicate",
        "skip_empty",
    }
)
DUPLICATE_POLICIES = ("reject", "keep_existing")
CONTRACT_KEYS = frozenset(
    {
        "name",
        "version",
        "description",
        "root",
        "app_id",
        "application",
        "product_line",
        "other_product_lines",
        "source",
        "attributes_any_case",
    }
)
CHECK_KEYS = frozenset({"code", "table", "message", "when", "where", "min_rows"})
EXPR_TYPE_OF = {
    "int": ex.NUMBER,
    "bigint": ex.NUMBER,
    "decimal": ex.NUMBER,
    "enum": ex.NUMBER,
    "string": ex.STRING,
    "bit": ex.BOOL,
    "date": ex.DATE,
    "datetime": ex.DATETIME,
}
EXPR_RESULTS_FOR = {
    "int": {ex.NUMBER},
    "bigint": {ex.NUMBER},
    "decimal": {ex.NUMBER},
    "enum": {ex.NUMBER},
    "string": {ex.STRING, ex.NUMBER},
    "bit": {ex.BOOL},
    "date": {ex.DATE, ex.DATETIME},
    "datetime": {ex.DATE, ex.DATETIME},
}


class ContractError(UserError, ValueError):
    """A contract that cannot be used, with where and why (one line: names are shown as
    escaped, shortened literals, whatever they hold)."""

    def __init__(
        self, source: str, message: str, table: str | None = None, column: str | None = None
    ) -> None:
        where = source
        if table is not None:
            where += f": table {_shown(table)}"
        if column is not None:
            where += f", column {_shown(column)}"
        super().__init__(f"{where}: {message}")
        self.source = source
        self.message = message
        self.table = table
        self.column = column

    def __reduce__(self) -> tuple[type[ContractError], tuple[str, str, str | None, str | None]]:
        # raised in worker processes and Dask tasks: it must cross a pickle (the default
        # rebuilds it from the formatted text alone and fails for want of ``message``)
        return (type(self), (self.source, self.message, self.table, self.column))


_WARNING_CODE = re.compile(r"[a-z][a-z0-9_]*\Z")


def _shown(name: str) -> str:
    return repr(name) if len(name) <= 80 else repr(name[:80]) + f"… ({len(name)} characters)"


@dataclass(frozen=True, slots=True)
class CompiledColumn:
    name: str
    type: str
    nullable: bool
    # "attr" | "const" | "parent" | "app_id" | "expr" | "unpivot_name" | "unpivot_value" |
    # "unpivot_field" (a listed pair's constant; ``attr`` names the field)
    kind: str
    subpath: str | None  # element path relative to the row element, for kind "attr"
    attr: str | None
    const: Any
    parent_column: str | None
    convert: tf.Converter
    extract: Callable[[str], str] | None
    default: Any
    default_when: str
    length: int | None
    precision: int | None
    scale: int | None
    enum: str | None
    on_overflow: str
    on_invalid: str
    on_impossible: str  # date/datetime: "invalid" or "clamp" (also bound into convert)
    expr: ex.Compiled | None
    pattern: re.Pattern[str] | None
    warn: str | None  # warning code when the default replaces a missing or unusable value
    plain: bool  # a string read as is: no extraction, no pattern (the mapper's fast path)
    simple_null: bool  # blank means NULL: nullable, no default
    rounds: bool = False  # int/bigint `round = true`: a decimal number is rounded half-up

    @property
    def is_data(self) -> bool:
        """Does the value come from the document (as opposed to keys and constants)?"""
        return self.kind in ("attr", "expr", "unpivot_value")

    def where(self) -> str:
        if self.kind == "attr":
            return f"{self.subpath}/@{self.attr}" if self.subpath else f"@{self.attr}"
        if self.kind == "expr" and self.expr is not None:
            text = self.expr.text  # a real contract's CASE runs to thousands of characters
            return f"expr {text if len(text) <= 80 else text[:77] + '…'!r}"
        return self.kind


@dataclass(frozen=True, slots=True)
class RowFilter:
    attr: str
    allowed: frozenset[str]
    warn: str


@dataclass(frozen=True, slots=True)
class Meaningful:
    """Row elements carrying none of ``any_of`` (all blank or absent) are dropped with
    ``warn``: e.g. a contact with no name, birth date or SSN says nothing to migrate."""

    any_of: tuple[str, ...]
    warn: str

    def keeps(self, get: Callable[[str], str | None]) -> bool:
        return any((get(a) or "").strip() for a in self.any_of)


@dataclass(frozen=True, slots=True)
class Dedup:
    by: str
    prefer_attr: str | None
    prefer_rank: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Pair:
    """One listed key/value row: its name, where its value is (relative to the row element),
    and constants for the table's other columns."""

    name: str
    subpath: str | None  # None with attr "": a grouped row (no single value; see reads)
    attr: str
    fields: Mapping[str, str]
    # grouped rows: column → (subpath, attr) read per row; a value in ``reads`` makes the row,
    # one in ``also`` (flags) only fills its column
    reads: Mapping[str, tuple[str | None, str]] = field(default_factory=dict)
    also: Mapping[str, tuple[str | None, str]] = field(default_factory=dict)

    def read(self, el: etree._Element) -> dict[str, str]:
        """The constant fields with every value read from the document added."""
        out = dict(self.fields)
        for column, (subpath, attr) in (*self.reads.items(), *self.also.items()):
            holder = locate(el, subpath)
            text = holder.get(attr) if holder is not None else None
            if text is not None:
                out[column] = text
        return out


NO_FIELDS: Mapping[str, str] = {}


@dataclass(frozen=True, slots=True)
class Unpivot:
    attributes: tuple[str, ...] | None
    prefix: str | None
    listed: tuple[Pair, ...] | None = None
    ignore: frozenset[str] = frozenset()  # values (any case) that count as blank
    only: frozenset[str] | None = None  # if set: values (any case) that make a row

    def pairs(self, el: etree._Element) -> list[tuple[str, str, Mapping[str, str]]]:
        """(name, text, fields) for every non-blank value this table turns into a row."""
        out: list[tuple[str, str, Mapping[str, str]]] = []
        if self.listed is not None:
            for pair in self.listed:
                fields: Mapping[str, str] = pair.fields
                if pair.reads or pair.also:
                    fields = pair.read(el)
                    if not pair.attr:  # a grouped row: made by its reads
                        if any(self._kept(fields[c]) for c in pair.reads if c in fields):
                            out.append((pair.name, "", fields))
                        continue
                holder = locate(el, pair.subpath)
                text = holder.get(pair.attr) if holder is not None else None
                if text is not None and self._kept(text):
                    out.append((pair.name, text, fields))
        elif self.attributes is not None:
            for name in self.attributes:
                text = el.get(name)
                if text is not None and self._kept(text):
                    out.append((name, text, NO_FIELDS))
        else:
            prefix = self.prefix or ""
            cut = len(prefix)
            items = cast(list[tuple[str, str]], el.items())  # lxml gives str for str input
            if self.only is None and not self.ignore:  # the common case, kept tight
                return [
                    (k[cut:], v, NO_FIELDS) for k, v in items if k.startswith(prefix) and v.strip()
                ]
            out = [
                (k[cut:], v, NO_FIELDS) for k, v in items if k.startswith(prefix) and self._kept(v)
            ]
        return out

    def _kept(self, text: str) -> bool:
        stripped = text.strip().lower()
        if self.only is not None:
            return stripped in self.only
        return bool(stripped) and stripped not in self.ignore


@dataclass(frozen=True, slots=True)
class CompiledTable:
    name: str
    parent: str | None
    ancestors: tuple[str, ...]  # nearest first
    rows: str  # "." for the parent's own element, else a child path
    key: tuple[str, ...]
    columns: tuple[CompiledColumn, ...]
    where: RowFilter | None
    dedup: Dedup | None
    unpivot: Unpivot | None
    skip_if_null: tuple[str, ...]
    skip_warn: str | None  # warning code when a row is dropped for a NULL in skip_if_null
    meaningful: Meaningful | None  # row elements kept only if they carry some data
    # columns grouped by the sub-element they read, resolved once per row
    by_subpath: tuple[tuple[str | None, tuple[CompiledColumn, ...]], ...]
    fixed: tuple[CompiledColumn, ...]  # parent / const / app_id / unpivot columns
    computed: tuple[CompiledColumn, ...]  # expr columns, in order
    # a row whose key another app already wrote: "reject" the app (duplicate_key), or
    # "keep_existing": drop the row with a duplicate_existing warning naming that app
    on_duplicate: str = "reject"
    # skip_empty: a row none of whose values came from the document (keys, constants and
    # defaults only) is not written — unless the table has a bit column (the predecessor
    # counts a bit, even its 0 for a missing code, as data)
    skip_empty: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> CompiledColumn:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True, slots=True)
class CompiledCheck:
    code: str
    table: str
    message: str
    when: ex.Compiled | None
    where: ex.Compiled | None
    min_rows: int | None


@dataclass(frozen=True, slots=True)
class SourceRef:
    """The table a contract's documents are read from: one integer key column, one text
    column (the predecessor's ``source_table``/``source_column``; schema-qualified allowed)."""

    table: str = "app_xml"
    key: str = "app_id"
    document: str = "xml"
    schema: str | None = None

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table

    @property
    def is_default(self) -> bool:
        """The tool's own ``app_xml(app_id, xml)``, which ``init`` creates."""
        return self.schema is None and (self.table, self.key, self.document) == (
            "app_xml",
            "app_id",
            "xml",
        )


DEFAULT_SOURCE = SourceRef()
_SOURCE_SPEC = re.compile(r"\s*([^\s(),]+)\s*(?:\(\s*([^\s(),]+)\s*,\s*([^\s(),]+)\s*\))?\s*\Z")


def parse_source(spec: Any) -> SourceRef:
    """``{ table = "[schema.]name", key = "app_id", document = "xml" }`` (a contract) or
    ``"[schema.]name[(key, document)]"`` (``run --source``); ValueError says what is wrong.
    Every name must be a plain identifier: they are quoted, never pasted, into SQL."""
    if isinstance(spec, str):
        m = _SOURCE_SPEC.match(spec)
        if m is None:
            raise ValueError(
                f"source {spec[:80]!r} must be TABLE, SCHEMA.TABLE or TABLE(KEY, DOCUMENT)"
            )
        table, key, document = m.group(1), m.group(2) or "app_id", m.group(3) or "xml"
    elif isinstance(spec, dict):
        unknown = set(spec) - {"table", "key", "document"}
        if unknown:
            raise ValueError(f"source: unknown key(s) {sorted(unknown)} (table, key, document)")
        table, key, document = (
            spec.get("table"),
            spec.get("key", "app_id"),
            spec.get("document", "xml"),
        )
        if not isinstance(table, str):
            raise ValueError('source needs table = "[schema.]name"')
    else:
        raise ValueError("source must be { table = ..., key = ..., document = ... }")
    parts = table.split(".")
    if len(parts) > 2:
        raise ValueError(f"source table {table[:80]!r}: at most one schema qualifier")
    for what, name in (("table", parts[-1]), ("key", key), ("document", document)):
        if (problem := identifier_problem(name)) is not None:
            raise ValueError(f"source {what}: {problem}")
    if len(parts) == 2 and (problem := identifier_problem(parts[0])) is not None:
        raise ValueError(f"source schema: {problem}")
    if parts[-1].lower() in RESERVED_TABLES - {"app_xml"}:
        raise ValueError(f"source table {parts[-1]!r} is a table of the tool itself")
    return SourceRef(parts[-1], str(key), str(document), parts[0] if len(parts) == 2 else None)


@dataclass(frozen=True, slots=True)
class CompiledContract:
    name: str
    version: int
    source: str
    root: str
    app_id_path: str
    app_id_attr: str
    application: str
    product_line: str
    other_product_lines: tuple[str, ...]
    enums: Mapping[str, Mapping[str, int]]
    tables: tuple[CompiledTable, ...]
    checks: tuple[CompiledCheck, ...]
    table_by_name: Mapping[str, CompiledTable] = field(repr=False)
    scope: Scope | None = None  # the only part of a document the contract reads, if known
    # several contracts in one run (see combine_contracts): each document is mapped by the
    # member whose application element it has; tables and enums are the members' union
    members: tuple[CompiledContract, ...] = ()
    # per member: table → the union's columns it does not map (its rows get them as NULL)
    pads: tuple[Mapping[str, tuple[str, ...]], ...] = ()
    # per member: table → its date columns the union widens to datetime (written as such)
    widened: tuple[Mapping[str, tuple[str, ...]], ...] = ()
    documents: SourceRef = DEFAULT_SOURCE  # where its documents are read from
    # attributes_any_case: lower-cased name → the contract's spelling, for every attribute it
    # reads; a document's attribute spelled otherwise is read as the contract spells it
    spelling: Mapping[str, str] | None = None
    # the TOML text it was compiled from (compile_contract): what the processes mapping for
    # a run compile again, instead of opening a file that may have changed since
    # (xmlmigrate.contract.shipped)
    text: str | None = field(default=None, repr=False, compare=False)

    @property
    def sources(self) -> tuple[SourceRef, ...]:
        """Each distinct source table of the contract or of its members, in order."""
        refs = [m.documents for m in (self.members or (self,))]
        return tuple(dict.fromkeys(refs))

    def route(self, root: etree._Element) -> CompiledContract:
        """The contract that maps this document: itself, or the first member whose
        application element the document has (else the first member, whose validation then
        says ``wrong_product_line`` or ``no_application``)."""
        if not self.members:
            return self
        for member in self.members:
            if root.find(member.application) is not None:
                return member
        return self.members[0]

    @property
    def root_table(self) -> CompiledTable:
        return self.tables[0]

    @property
    def app_id_max(self) -> int:
        """The largest app id the root table's app id column holds."""
        col = next((c for c in self.root_table.columns if c.kind == "app_id"), None)
        return 2**63 - 1 if col is not None and col.type == "bigint" else 2**31 - 1

    @property
    def field_count(self) -> int:
        """Columns whose values come from the document (attributes and calculations)."""
        return sum(1 for t in self.tables for c in t.columns if c.is_data)


def combine_contracts(contracts: Sequence[CompiledContract]) -> CompiledContract:
    """Several contracts as one (``run --contract cc.toml --contract rl.toml``): documents are
    routed to the contract whose application element it has; the schema is the union of
    the contracts' tables. A table two contracts share has one layout: the same parent and
    key, and a column both map has the same type, length and scale in both; a column only
    some of them map is created nullable (each contract still requires what it requires, and
    the other's rows leave it NULL). An enum two contracts share is the union of their codes;
    where the same enum name gives a code other ids, each contract keeps its own (seeded as
    ``NAME@PRODUCT_LINE``)."""
    if len(contracts) == 1:
        return contracts[0]
    first = contracts[0]
    tables: dict[str, CompiledTable] = {}
    owner: dict[str, str] = {}
    for contract in contracts:
        for table in contract.tables:
            known = tables.get(table.name)
            if known is None:
                tables[table.name] = table
                owner[table.name] = contract.source
                continue
            theirs = {c.name: c for c in known.columns}
            differ = [
                c.name
                for c in table.columns
                if c.name in theirs
                and _signature_column(theirs[c.name]) != _signature_column(c)
                and not _widens(theirs[c.name], c)
            ]
            if (known.parent, known.key) != (table.parent, table.key):
                differ = ["its parent or key", *differ]
            if differ:
                raise ContractError(
                    contract.source,
                    f"shares table {table.name!r} with {owner[table.name]} but differs in "
                    f"{', '.join(differ[:10])}",
                    table.name,
                )
            extra = tuple(c for c in table.columns if c.name not in theirs)
            wider = {
                c.name for c in table.columns if c.name in theirs and _widens(theirs[c.name], c)
            }
            if extra or wider:
                columns = tuple(
                    replace(c, type="datetime") if c.name in wider else c for c in known.columns
                )
                tables[table.name] = replace(known, columns=columns + extra)
            if table.on_duplicate != known.on_duplicate:  # a row another app wrote: kept
                tables[table.name] = replace(tables[table.name], on_duplicate="keep_existing")
    # a column some contract writing the table does not map: nullable in the database
    pads: list[dict[str, tuple[str, ...]]] = []
    for contract in contracts:
        pad = {}
        for table in contract.tables:
            mine = set(table.column_names)
            missing = tuple(n for n in tables[table.name].column_names if n not in mine)
            if missing:
                pad[table.name] = missing
        pads.append(pad)
    widened: list[dict[str, tuple[str, ...]]] = []
    for contract in contracts:
        wide = {}
        for table in contract.tables:
            union = tables[table.name]
            names = tuple(
                c.name
                for c in table.columns
                if c.type == "date" and union.column(c.name).type == "datetime"
            )
            if names:
                wide[table.name] = names
        widened.append(wide)
    for name, table in list(tables.items()):
        optional = {n for pad in pads for n in pad.get(name, ())}
        optional |= {  # a column one contract leaves NULL
            c.name
            for contract in contracts
            for t in contract.tables
            if t.name == name
            for c in t.columns
            if c.nullable
        }
        if optional:
            tables[name] = replace(
                table,
                columns=tuple(
                    replace(c, nullable=True) if c.name in optional else c for c in table.columns
                ),
            )
    enums: dict[str, dict[str, int]] = {}
    for contract in contracts:
        for name, codes in contract.enums.items():
            merged = enums.get(name)
            if merged is None:
                enums[name] = dict(codes)
            elif all(merged.get(code, value) == value for code, value in codes.items()):
                merged.update(codes)
            else:
                # the same name with other ids (the predecessor's decision_enum of each
                # product line): each contract keeps its own dictionary, seeded apart
                enums[scoped_enum_name(name, contract.product_line)] = dict(codes)
    scopes = {c.scope for c in contracts}
    return CompiledContract(
        name="+".join(c.name for c in contracts),
        version=first.version,
        source=", ".join(c.source for c in contracts),
        root=first.root,
        app_id_path=first.app_id_path,
        app_id_attr=first.app_id_attr,
        application=first.application,
        product_line="+".join(c.product_line for c in contracts),
        other_product_lines=(),
        enums=enums,
        tables=tuple(tables.values()),
        checks=(),
        table_by_name=tables,
        scope=scopes.pop() if len(scopes) == 1 else None,
        members=tuple(contracts),
        pads=tuple(pads),
        widened=tuple(widened) if any(widened) else (),
    )


def scoped_enum_name(name: str, product_line: str) -> str:
    """The seed type of a contract's own enum whose name another contract uses with other
    ids (``app_enums.enum_type`` holds 50 characters)."""
    return f"{name}@{product_line}"[:50]


def _widens(known: CompiledColumn, other: CompiledColumn) -> bool:
    """A date column one contract maps and another maps as datetime (the predecessor's
    birth_date): the shared column becomes the wider datetime."""
    return {known.type, other.type} == {"date", "datetime"}


def _signature_column(c: CompiledColumn) -> tuple[Any, ...]:
    """What makes a column's database layout (NOT NULL aside: see combine_contracts)."""
    return (c.type, c.length, c.precision, c.scale)


def load_contracts(paths: Sequence[str | Path] = ()) -> CompiledContract:
    """The shipped contract (no paths), one contract, or several combined."""
    if not paths:
        return load_contract()
    return combine_contracts([load_contract(p) for p in paths])


SHIPPED_CONTRACTS = ("provenir_cc", "provenir_rl")  # credit card (the default), rec lending


def default_contract_path(name: str = "provenir_cc") -> Path:
    return Path(str(resources.files("xmlmigrate.contract").joinpath(f"{name}.toml")))


def load_contract(path: str | Path | None = None) -> CompiledContract:
    """Load and compile a contract file (the shipped ``provenir_cc`` when ``path`` is None;
    ``provenir_cc`` / ``provenir_rl`` name the shipped contracts where no such file exists)."""
    file = Path(path) if path is not None else default_contract_path()
    shipped = file.name.removesuffix(".toml")
    if not file.exists() and file.parent == Path(".") and shipped in SHIPPED_CONTRACTS:
        file = default_contract_path(shipped)
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ContractError(name, f"cannot read contract: {exc.strerror or exc}") from None
    return compile_contract(text, name)


def compile_contract(text: str, source: str = "<contract>") -> CompiledContract:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ContractError(source, f"not valid TOML: {exc}") from None
    return replace(_Compiler(source, data).compile(), text=text)


def _scope_of(
    root: str, application: str, app_id_path: str | None, others: list[str]
) -> Scope | None:
    """Root/prefix/fragment when everything the contract reads lies in the application's parent
    element plus the attributes of its ancestors (Provenir: Request/CustData); else None."""
    steps = application.split("/")
    plain = re.compile(r"[A-Za-z_][\w.\-]*\Z")
    if len(steps) < 2 or not all(plain.match(s) for s in steps):
        return None
    prefix, fragment = tuple(steps[:-2]), steps[-2]
    ancestors = {"/".join(prefix[:n]) for n in range(1, len(prefix) + 1)}
    if app_id_path is not None and app_id_path not in ancestors:
        return None
    parent = "/".join(steps[:-1]) + "/"
    if any(not o.startswith(parent) for o in others):
        return None
    return Scope(root, prefix, fragment)


def _within_scope(tables: Sequence[CompiledTable], checks: Sequence[CompiledCheck]) -> bool:
    """False when a path climbs (``..``) out of what the scoped parse keeps: the application's
    parent element and the attributes of its ancestors. Counted from the application element
    (a contact row climbs one level to reach it): ``../x/@a`` (beside the application) and
    ``../../@a`` (an ancestor's attribute) stay inside; ``../../x/@a`` does not. Rows found by
    a path that is not plain steps (``//``) count as out of scope: such a contract just parses
    whole documents."""
    depth: dict[str, int | None] = {}
    for t in tables:
        steps = [s for s in path_steps(t.rows) if s != "."] if t.rows != "." else []
        above = 0 if t.parent is None else depth.get(t.parent)
        plain = all(s and s != ".." for s in steps)
        depth[t.name] = above + len(steps) if above is not None and plain else None
    for t in tables:
        paths = [c.subpath for c in t.columns if c.subpath]
        for c in t.columns:
            if c.expr is not None:
                paths += [split_path(p)[0] or "" for p in c.expr.paths]
        if t.unpivot is not None and t.unpivot.listed:
            for pair in t.unpivot.listed:
                paths += [pair.subpath or ""]
                paths += [sub or "" for sub, _ in (*pair.reads.values(), *pair.also.values())]
        for check in checks:
            if check.table == t.name:
                for e in (check.when, check.where):
                    paths += [split_path(p)[0] or "" for p in (e.paths if e else ())]
        for path in paths:
            steps = path_steps(path)
            if ".." not in steps:
                continue
            level = depth[t.name]
            if level is None:
                return False
            up = next((i for i, s in enumerate(steps) if s != ".."), len(steps))
            if ".." in steps[up:]:
                return False
            beyond = up - level  # levels above the application element
            if beyond >= 2 and up < len(steps):
                return False
    return True


_ATTRIBUTE_IN_TEXT = re.compile(r"@([^\W\d][\w.\-]*)")
_PREDICATE_VALUE = re.compile(r"'[^']*'|\"[^\"]*\"")  # [@type='X']: X is no name
_TEXT_LITERAL = re.compile(r"'(?:[^']|'')*'")
_VALUE_PATH = re.compile(r"\bVALUE\s*\(\s*'((?:[^']|'')*)'", re.IGNORECASE)


def _path_attributes(path: str) -> list[str]:
    """The ``@name``s of an element path, outside its predicates' quoted values."""
    return _ATTRIBUTE_IN_TEXT.findall(_PREDICATE_VALUE.sub("", path))


def _expression_attributes(text: str) -> list[str]:
    """The ``@name``s an expression reads: outside its text literals, and in the paths of
    its VALUE('...') calls — never in a literal's text (a code such as 'X@Y')."""
    names = _ATTRIBUTE_IN_TEXT.findall(_TEXT_LITERAL.sub("''", text))
    for path in _VALUE_PATH.findall(text):
        names += _path_attributes(path.replace("''", "'"))
    return names


def _attribute_names(data: Any) -> set[str]:
    """Every attribute name a contract's tables and checks read: ``attr``/``by`` values,
    ``any_of``/``attributes`` lists, each ``@name`` of a path (``path``, ``rows``, a pair's
    ``read``/``also``) and of an expression (``expr``, a check's ``when``/``where``). Not
    the text of codes, constants, messages or documentation, whatever it holds."""
    out: set[str] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in ("attr", "by") and isinstance(value, str):
                    out.add(value)
                elif key in ("any_of", "attributes") and _str_list(value):
                    out.update(value)
                elif key in ("path", "rows") and isinstance(value, str):
                    out.update(_path_attributes(value))
                elif key in ("read", "also") and isinstance(value, dict):
                    paths = [v for v in value.values() if isinstance(v, str)]
                    out.update(n for path in paths for n in _path_attributes(path))
                elif key in ("expr", "when", "where") and isinstance(value, str):
                    out.update(_expression_attributes(value))
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
    return out


def respell(root: etree._Element, spelling: Mapping[str, str]) -> None:
    """Rename, throughout the tree, each attribute spelled otherwise than the contract spells
    it (``Partner_URL_ID`` for ``partner_url_id``) — unless the element also carries the
    contract's own spelling, which then wins (the predecessor: exact match first, else the
    first match in any case)."""
    for el in root.iter():
        attrib = el.attrib
        if not attrib:
            continue
        renames = None
        for name in cast(list[str], attrib.keys()):  # lxml gives str for str input
            wanted = spelling.get(name.lower())
            if wanted is not None and wanted != name and wanted not in attrib:
                renames = renames or []
                renames.append((name, wanted))
        for old, new in renames or ():
            if new not in attrib:  # the first in any case wins
                attrib[new] = attrib[old]
            del attrib[old]


def _int_in(value: Any, low: int, high: int) -> TypeGuard[int]:
    """An integer (not true or false, which TOML's reader gives as bools) in low..high."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _given(key: str, value: Any, missing: str) -> str:
    """``key value`` as TOML writes the value, cut (``length true``, ``scale 1e+30``), or
    ``missing`` when the key is not there."""
    if value is None:
        return missing
    text = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    return f"{key} {text if len(text) <= 40 else text[:39] + '…'}"


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


class _Compiler:
    def __init__(self, source: str, data: dict[str, Any]) -> None:
        self.source = source
        self.data = data

    def err(
        self, message: str, table: str | None = None, column: str | None = None
    ) -> ContractError:
        return ContractError(self.source, message, table, column)

    def compile(self) -> CompiledContract:
        head = self.data.get("contract")
        if not isinstance(head, dict):
            raise self.err("missing [contract] section")
        unknown = set(head) - CONTRACT_KEYS
        if unknown:
            raise self.err(f"[contract]: unknown key(s) {sorted(unknown)}")
        for required in ("name", "root", "app_id", "application", "product_line"):
            if not isinstance(head.get(required), str) or not head[required]:
                raise self.err(f"[contract]: {required!r} is required and must be a string")
        try:
            app_id_path, app_id_attr = split_path(head["app_id"])
            check_element_path(head["application"])
        except ValueError as exc:
            raise self.err(f"[contract]: {exc}") from None
        unknown_top = set(self.data) - {"contract", "enums", "tables", "checks"}
        if unknown_top:
            raise self.err(f"unknown top-level section(s) {sorted(unknown_top)}")
        enums = self._enums()
        tables_data = self.data.get("tables")
        if not isinstance(tables_data, dict) or not tables_data:
            raise self.err("no [tables.*] defined")
        tables: list[CompiledTable] = []
        by_name: dict[str, CompiledTable] = {}
        lowered: dict[str, str] = {}
        for tname, tdata in tables_data.items():
            table = self._table(tname, tdata, enums, by_name)
            if (twin := lowered.setdefault(tname.lower(), tname)) != tname:
                raise self.err(
                    f"{tname!r} and {twin!r} are the same name to a database (case is ignored)",
                    tname,
                )
            tables.append(table)
            by_name[tname] = table
        if tables[0].parent is not None:
            raise self.err("the first table must be the root table (no parent)", tables[0].name)
        roots = [t.name for t in tables if t.parent is None]
        if len(roots) != 1:
            raise self.err(f"exactly one table may have no parent, found {roots}")
        others = head.get("other_product_lines", [])
        if not _str_list(others):
            raise self.err("[contract]: other_product_lines must be a list of element paths")
        version = head.get("version", 1)
        if not isinstance(version, int):
            raise self.err("[contract]: version must be an integer")
        checks = self._checks(by_name)
        try:
            documents = parse_source(head["source"]) if "source" in head else DEFAULT_SOURCE
        except ValueError as exc:
            raise self.err(f"[contract]: {exc}") from None
        any_case = head.get("attributes_any_case", False)
        if not isinstance(any_case, bool):
            raise self.err("[contract]: attributes_any_case must be true or false")
        spelling: dict[str, str] | None = None
        if any_case:
            spelling = {}
            for name in sorted(_attribute_names([tables_data, self.data.get("checks", [])])):
                spelling.setdefault(name.lower(), name)
        return CompiledContract(
            name=head["name"],
            version=version,
            source=self.source,
            root=head["root"],
            app_id_path=app_id_path or ".",
            app_id_attr=app_id_attr,
            application=head["application"],
            product_line=head["product_line"],
            other_product_lines=tuple(others),
            enums=enums,
            tables=tuple(tables),
            checks=checks,
            table_by_name=by_name,
            scope=(
                _scope_of(head["root"], head["application"], app_id_path, others)
                if _within_scope(tables, checks)
                else None
            ),
            documents=documents,
            spelling=spelling,
        )

    def _enums(self) -> dict[str, dict[str, int]]:
        raw = self.data.get("enums", {})
        if not isinstance(raw, dict):
            raise self.err("[enums] must be a table of enum tables")
        enums: dict[str, dict[str, int]] = {}
        for ename, codes in raw.items():
            if not isinstance(codes, dict) or not codes:
                raise self.err(f"enum {ename!r} must map codes to integers and be non-empty")
            for code, value in codes.items():
                if not isinstance(value, int) or isinstance(value, bool):
                    raise self.err(f"enum {ename!r}: code {code!r} must map to an integer")
                if not 0 < value < 32768:
                    raise self.err(f"enum {ename!r}: code {code!r}: ids are small ints 1..32767")
            # an id may stand for several codes (aliases) and even belong to two enums (the
            # predecessor writes the id it is given): app_enums holds one row per id
            enums[ename] = dict(codes)
        return enums

    def _checks(self, tables: Mapping[str, CompiledTable]) -> tuple[CompiledCheck, ...]:
        raw = self.data.get("checks", [])
        if not isinstance(raw, list):
            raise self.err("checks must be an array of tables ([[checks]])")
        out = []
        for i, check in enumerate(raw, 1):
            where = f"check #{i}"
            if not isinstance(check, dict):
                raise self.err(f"{where} must be a table")
            unknown = set(check) - CHECK_KEYS
            if unknown:
                raise self.err(f"{where}: unknown key(s) {sorted(unknown)}")
            code, tname = check.get("code"), check.get("table")
            if not isinstance(code, str) or not code:
                raise self.err(f"{where}: code is required")
            where = f"check {code!r}"
            table = tables.get(tname) if isinstance(tname, str) else None
            if table is None:
                raise self.err(f"{where}: table {tname!r} is not defined")
            min_rows = check.get("min_rows")
            if "when" not in check and min_rows is None:
                raise self.err(f"{where}: needs 'when' (per row) or 'min_rows' (per document)")
            if min_rows is not None and (not isinstance(min_rows, int) or min_rows < 1):
                raise self.err(f"{where}: min_rows must be a positive integer")
            scope = self._scope(table.columns, table.ancestors, tables)
            out.append(
                CompiledCheck(
                    code=code,
                    table=table.name,
                    message=str(check.get("message", code)),
                    when=self._bool_expr(check.get("when"), scope, where + ": when"),
                    where=self._bool_expr(check.get("where"), scope, where + ": where"),
                    min_rows=min_rows,
                )
            )
        return tuple(out)

    def _bool_expr(self, text: Any, scope: ex.Scope, where: str) -> ex.Compiled | None:
        if text is None:
            return None
        try:
            compiled = ex.compile_expression(text, scope)
        except ex.ExprError as exc:
            raise self.err(f"{where}: {exc}") from None
        if compiled.type not in (ex.BOOL, ex.NULL):
            raise self.err(f"{where}: must be a condition, not a {compiled.type}")
        return compiled

    @staticmethod
    def _scope(
        columns: tuple[CompiledColumn, ...],
        ancestors: tuple[str, ...],
        known: Mapping[str, CompiledTable],
    ) -> ex.Scope:
        """What an expression in a table may read: the columns given, and its ancestors' rows."""
        return ex.Scope(
            {c.name: EXPR_TYPE_OF[c.type] for c in columns},
            {a: {c.name: EXPR_TYPE_OF[c.type] for c in known[a].columns} for a in ancestors},
        )

    def _table(
        self,
        tname: str,
        tdata: Any,
        enums: Mapping[str, Mapping[str, int]],
        known: Mapping[str, CompiledTable],
    ) -> CompiledTable:
        if (problem := identifier_problem(tname)) is not None:
            raise self.err(f"invalid table name: {problem}", tname)
        if tname.lower() in RESERVED_TABLES:
            raise self.err(
                f"{tname!r} is a table of the tool itself (reserved: "
                f"{', '.join(sorted(RESERVED_TABLES))})",
                tname,
            )
        if not isinstance(tdata, dict):
            raise self.err("must be a table", tname)
        unknown = set(tdata) - TABLE_KEYS
        if unknown:
            raise self.err(f"unknown key(s) {sorted(unknown)}", tname)
        parent_name = tdata.get("parent")
        parent = None
        ancestors: tuple[str, ...] = ()
        if parent_name is not None:
            parent = known.get(parent_name)
            if parent is None:
                raise self.err(
                    f"parent {parent_name!r} is not a table defined above this one", tname
                )
            ancestors = (parent.name, *parent.ancestors)
        rows = tdata.get("rows", ".")
        if not isinstance(rows, str) or not rows or "/@" in rows or rows.startswith("@"):
            raise self.err("rows must be '.' or an element path (no attribute)", tname)
        if rows != ".":
            try:
                check_element_path(rows)
            except ValueError as exc:
                raise self.err(f"rows: {exc}", tname) from None
        unpivot = self._unpivot(tname, tdata.get("unpivot"))
        cols_data = tdata.get("columns")
        if not isinstance(cols_data, dict) or not cols_data:
            raise self.err("has no columns", tname)
        columns: list[CompiledColumn] = []
        seen: dict[str, str] = {}
        # what an expression may read: the columns listed above it (this dict grows as they
        # are compiled; an expression reads its scope only while it is compiled) and the
        # ancestors' columns — built once per table, not once per column
        above: dict[str, str] = {}
        scope = ex.Scope(above, self._scope((), ancestors, known).ancestors)
        for cname, cdata in cols_data.items():
            if (problem := identifier_problem(cname)) is not None:
                raise self.err(f"invalid column name: {problem}", tname, cname)
            if (twin := seen.setdefault(cname.lower(), cname)) != cname:
                raise self.err(
                    f"{cname!r} and {twin!r} are the same name to a database (case is ignored)",
                    tname,
                    cname,
                )
            column = self._column(tname, cname, cdata, enums, parent, unpivot, scope)
            columns.append(column)
            above[column.name] = EXPR_TYPE_OF[column.type]
        names = [c.name for c in columns]
        kinds = {c.kind for c in columns}
        needed = {"unpivot_name", "unpivot_value"}
        if unpivot is not None and unpivot.listed is not None:
            needed = {"unpivot_name"}  # listed pairs may store a constant instead of the text
        if unpivot is not None and not needed <= kinds:
            raise self.err(
                "an unpivot table needs one column with unpivot = 'name' and one with "
                "unpivot = 'value'",
                tname,
            )
        if unpivot is None and kinds & {"unpivot_name", "unpivot_value"}:
            raise self.err("unpivot columns need the table's unpivot = {...} setting", tname)
        key = tdata.get("key")
        if not _str_list(key) or not key:
            raise self.err("key must be a non-empty list of column names", tname)
        for k in key:
            if k not in names:
                raise self.err(f"key column {k!r} is not a column of the table", tname)
            if next(c for c in columns if c.name == k).nullable:
                raise self.err("key columns must be nullable = false", tname, k)
        if parent is not None:
            fk = [c.name for c in columns if c.kind == "parent"]
            if sorted(fk) != sorted(parent.key) or any(
                c.parent_column != c.name for c in columns if c.kind == "parent"
            ):
                raise self.err(
                    f"must carry the parent's key {list(parent.key)} as columns of the same "
                    f"names with parent = '<column>' (found {fk})",
                    tname,
                )
        skip = tdata.get("skip_if_null", [])
        if not _str_list(skip) or any(s not in names for s in skip):
            raise self.err("skip_if_null must list columns of the table", tname)
        skip_warn = tdata.get("skip_warn")
        if skip_warn is not None and (
            not isinstance(skip_warn, str) or not _WARNING_CODE.match(skip_warn) or not skip
        ):
            raise self.err("skip_warn must be a warning code, beside skip_if_null", tname)
        on_duplicate = tdata.get("on_duplicate", "reject")
        if on_duplicate not in DUPLICATE_POLICIES:
            raise self.err(f"on_duplicate must be one of {list(DUPLICATE_POLICIES)}", tname)
        if on_duplicate == "keep_existing" and any(
            k == "app_id" or next(c for c in columns if c.name == k).kind == "app_id" for k in key
        ):
            raise self.err(
                "on_duplicate = 'keep_existing' needs a key that other apps can share (a key "
                "holding the app id never is)",
                tname,
            )
        skip_empty = tdata.get("skip_empty", False)
        if not isinstance(skip_empty, bool):
            raise self.err("skip_empty must be true or false", tname)
        if skip_empty and parent is None:
            raise self.err("skip_empty: the root table has one row per document", tname)
        if any(c.type == "bit" and c.kind in ("attr", "expr") for c in columns):
            skip_empty = False  # a bit always counts as data
        groups: dict[str | None, list[CompiledColumn]] = {}
        for c in columns:
            if c.kind == "attr":
                groups.setdefault(c.subpath, []).append(c)
        return CompiledTable(
            name=tname,
            parent=parent_name,
            ancestors=ancestors,
            rows=rows,
            key=tuple(key),
            columns=tuple(columns),
            where=self._where(tname, tdata.get("where")),
            dedup=self._dedup(tname, tdata.get("dedup")),
            unpivot=unpivot,
            skip_if_null=tuple(skip),
            skip_warn=skip_warn,
            meaningful=self._meaningful(tname, tdata.get("meaningful")),
            by_subpath=tuple((p, tuple(cs)) for p, cs in groups.items()),
            fixed=tuple(c for c in columns if c.kind not in ("attr", "expr")),
            computed=tuple(c for c in columns if c.kind == "expr"),
            on_duplicate=on_duplicate,
            skip_empty=skip_empty,
        )

    def _unpivot(self, tname: str, data: Any) -> Unpivot | None:
        if data is None:
            return None
        usage = (
            "unpivot must be { attributes = ['a', 'b'] }, { prefix = 'hist_' } or { pairs = "
            "[{ name = 'N', path = 'sub/@attr', fields = { col = 'text' }, read = { col = "
            "'sub/@attr' }, also = { col = 'sub/@attr' } }, ...] } (a pair without path is a "
            "grouped row, made by its read values), with optionally ignore = ['null', ...] or "
            "only = ['y', ...]"
        )
        if not isinstance(data, dict):
            raise self.err(usage, tname)
        ignore = data.get("ignore", [])
        only = data.get("only")
        kinds = {"attributes", "prefix", "pairs"} & set(data)
        if (
            len(kinds) != 1
            or set(data) - {"attributes", "prefix", "pairs", "ignore", "only"}
            or not _str_list(ignore)
            or (only is not None and (not _str_list(only) or not only or ignore))
        ):
            raise self.err(usage, tname)
        ignored = frozenset(i.strip().lower() for i in ignore)
        kept = None if only is None else frozenset(o.strip().lower() for o in only)
        if "attributes" in data and _str_list(data["attributes"]):
            return Unpivot(tuple(data["attributes"]), None, None, ignored, kept)
        if "prefix" in data and isinstance(data["prefix"], str):
            return Unpivot(None, data["prefix"], None, ignored, kept)
        raw = data.get("pairs")
        if not isinstance(raw, list) or not raw:
            raise self.err(usage, tname)
        pairs = []
        for i, item in enumerate(raw):
            where = f"unpivot.pairs[{i}]"
            if (
                not isinstance(item, dict)
                or not {"name"} <= set(item) <= {"name", "path", "fields", "read", "also"}
                or not isinstance(item["name"], str)
                or not isinstance(item.get("path", ""), str)
                or ("path" not in item and not item.get("read"))
            ):
                raise self.err(f"{where}: {usage}", tname)
            reads: dict[str, dict[str, tuple[str | None, str]]] = {}
            for group in ("read", "also"):
                given = item.get(group, {})
                if not isinstance(given, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in given.items()
                ):
                    raise self.err(f"{where}: {group} must map column names to paths", tname)
                try:
                    reads[group] = {k: split_path(v) for k, v in given.items()}
                except ValueError as exc:
                    raise self.err(f"{where}: {group}: {exc}", tname) from None
            fields = item.get("fields", {})
            if not isinstance(fields, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
            ):
                raise self.err(f"{where}: fields must map column names to text", tname)
            subpath, attr = None, ""
            if "path" in item:
                try:
                    subpath, attr = split_path(item["path"])
                except ValueError as exc:
                    raise self.err(f"{where}: {exc}", tname) from None
            pairs.append(
                Pair(item["name"], subpath, attr, dict(fields), reads["read"], reads["also"])
            )
        return Unpivot(None, None, tuple(pairs), ignored, kept)

    def _where(self, tname: str, data: Any) -> RowFilter | None:
        if data is None:
            return None
        if (
            not isinstance(data, dict)
            or not {"attr", "in"} <= set(data) <= {"attr", "in", "warn"}
            or not isinstance(data["attr"], str)
            or not isinstance(data["in"], list)
        ):
            raise self.err(
                "where must be { attr = '<name>', in = ['A', 'B'], warn = '<code>' }", tname
            )
        warn = data.get("warn", "row_skipped")
        if not isinstance(warn, str) or not warn:
            raise self.err("where.warn must be a warning code", tname)
        return RowFilter(data["attr"], frozenset(str(v) for v in data["in"]), warn)

    def _meaningful(self, tname: str, data: Any) -> Meaningful | None:
        if data is None:
            return None
        if (
            not isinstance(data, dict)
            or set(data) != {"any_of", "warn"}
            or not _str_list(data["any_of"])
            or not data["any_of"]
            or not isinstance(data["warn"], str)
            or not _WARNING_CODE.match(data["warn"])
        ):
            raise self.err(
                "meaningful must be { any_of = ['<attr>', ...], warn = '<code>' }", tname
            )
        return Meaningful(tuple(data["any_of"]), data["warn"])

    def _dedup(self, tname: str, data: Any) -> Dedup | None:
        if data is None:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("by"), str):
            raise self.err(
                "dedup must be { by = '<attr>', prefer = { attr = '<attr>', order = [...] } }",
                tname,
            )
        unknown = set(data) - {"by", "prefer"}
        if unknown:
            raise self.err(f"dedup: unknown key(s) {sorted(unknown)}", tname)
        prefer = data.get("prefer")
        if prefer is None:
            return Dedup(data["by"], None, {})
        if (
            not isinstance(prefer, dict)
            or set(prefer) != {"attr", "order"}
            or not isinstance(prefer["order"], list)
        ):
            raise self.err("dedup.prefer must be { attr = '<attr>', order = [...] }", tname)
        rank = {str(code): i for i, code in enumerate(prefer["order"])}
        return Dedup(data["by"], str(prefer["attr"]), rank)

    def _column(
        self,
        tname: str,
        cname: str,
        cdata: Any,
        enums: Mapping[str, Mapping[str, int]],
        parent: CompiledTable | None,
        unpivot: Unpivot | None,
        scope: ex.Scope,
    ) -> CompiledColumn:
        def err(message: str) -> ContractError:
            return self.err(message, tname, cname)

        if not isinstance(cdata, dict):
            raise err("must be an inline table like { attr = 'x', type = 'string', length = 20 }")
        unknown = set(cdata) - COLUMN_KEYS
        if unknown:
            raise err(f"unknown key(s) {sorted(unknown)}")
        sources = [k for k in SOURCE_KEYS if k in cdata]
        if len(sources) != 1:
            raise err(f"needs exactly one of {list(SOURCE_KEYS)}, found {sources or 'none'}")
        ctype = cdata.get("type")
        if ctype not in COLUMN_TYPES:
            raise err(f"type {ctype!r} is not one of {list(COLUMN_TYPES)}")
        nullable = cdata.get("nullable", True)
        if not isinstance(nullable, bool):
            raise err("nullable must be true or false")

        def choice(key: str, allowed: tuple[str, ...], default: str) -> str:
            value = cdata.get(key, default)
            if value not in allowed:
                raise err(f"{key} must be one of {list(allowed)}, got {value!r}")
            return str(value)

        on_overflow = choice("on_overflow", OVERFLOW_POLICIES, "truncate")
        on_invalid = choice("on_invalid", INVALID_POLICIES, "null")
        on_impossible = choice("on_impossible", IMPOSSIBLE_POLICIES, "invalid")
        default_when = choice("default_when", DEFAULT_WHEN, "always")
        convert = self._converter(ctype, cdata, enums, err, on_impossible)
        length = cdata.get("length")
        if length == "max":  # a text column without limit (nvarchar(max), TEXT)
            length = None
        extract = None
        if "extract" in cdata:
            extract = tf.EXTRACTORS.get(cdata["extract"])
            if extract is None:
                raise err(f"extract must be one of {sorted(tf.EXTRACTORS)}")

        pattern = None
        if "pattern" in cdata:
            try:
                pattern = re.compile(str(cdata["pattern"]))
            except re.error as exc:
                raise err(
                    f"pattern {cdata['pattern']!r} is not a valid regular expression: {exc}"
                ) from None
        kind = sources[0]
        subpath: str | None = None
        attr: str | None = None
        const: Any = None
        parent_column: str | None = None
        compiled_expr: ex.Compiled | None = None
        if kind == "attr":
            attr = cdata["attr"]
            if not isinstance(attr, str) or not attr or any(ch in attr for ch in "/@[]"):
                raise err("attr must be a bare attribute name (use path = 'a/b/@x' for others)")
        elif kind == "path":
            try:
                subpath, attr = split_path(str(cdata["path"]))
            except ValueError as exc:
                raise err(str(exc)) from None
            kind = "attr"
        elif kind == "const":
            const = self._typed(cdata["const"], convert, err, "const")
        elif kind == "parent":
            parent_column = cdata["parent"]
            if parent is None:
                raise err("parent = ... needs the table to have a parent")
            if parent_column not in parent.column_names:
                raise err(f"parent table {parent.name!r} has no column {parent_column!r}")
        elif kind == "expr":
            try:
                compiled_expr = ex.compile_expression(cdata["expr"], scope)
            except ex.ExprError as exc:
                raise err(f"expr: {exc}") from None
            if compiled_expr.type != ex.NULL and compiled_expr.type not in EXPR_RESULTS_FOR[ctype]:
                raise err(f"expr gives a {compiled_expr.type}, the column is {ctype}")
        elif kind == "unpivot":
            if unpivot is None:
                raise err("unpivot = ... needs the table's unpivot = {...} setting")
            role = cdata["unpivot"]
            fields = {
                k for pair in unpivot.listed or () for k in (*pair.fields, *pair.reads, *pair.also)
            }
            if role in ("name", "value"):
                kind = f"unpivot_{role}"
            elif role in fields:
                kind, attr = "unpivot_field", role  # the pair's constant for this column
            else:
                allowed = ["name", "value", *sorted(fields)]
                raise err(f"unpivot must be one of {allowed}, got {role!r}")
        else:
            special = cdata["source"]
            if special not in SPECIAL_SOURCES:
                raise err(f"source must be one of {list(SPECIAL_SOURCES)}")
            kind = special
        warn = cdata.get("warn")
        if warn is not None and (not isinstance(warn, str) or not _WARNING_CODE.match(warn)):
            raise err("warn must be a warning code (lower case letters, digits, '_')")
        if warn is not None and "default" not in cdata:
            raise err("warn needs a default: it names the warning given when the default is used")
        default = None
        if "default" in cdata:
            default = self._typed(cdata["default"], convert, err, "default")
            if isinstance(default, str) and length is not None and len(default) > length:
                raise err(f"default {default!r} is longer than the column's length {length}")
        if isinstance(const, str) and length is not None and len(const) > length:
            raise err(f"const {const!r} is longer than the column's length {length}")
        return CompiledColumn(
            name=cname,
            type=ctype,
            nullable=nullable,
            kind=kind,
            subpath=subpath,
            attr=attr,
            const=const,
            parent_column=parent_column,
            convert=convert,
            extract=extract,
            default=default,
            default_when=default_when,
            length=length,
            precision=cdata.get("precision"),
            scale=cdata.get("scale"),
            enum=cdata.get("enum"),
            on_overflow=on_overflow,
            on_invalid=on_invalid,
            on_impossible=on_impossible,
            expr=compiled_expr,
            pattern=pattern,
            warn=warn,
            plain=ctype == "string" and extract is None and pattern is None and length is not None,
            simple_null=nullable and default is None,
            rounds=cdata.get("round", False) is True,
        )

    @staticmethod
    def _converter(
        ctype: str,
        cdata: dict[str, Any],
        enums: Mapping[str, Mapping[str, int]],
        err: Callable[[str], ContractError],
        on_impossible: str,
    ) -> tf.Converter:
        def only_for(keys: tuple[str, ...], types: tuple[str, ...]) -> None:
            for key in keys:
                if key in cdata and ctype not in types:
                    raise err(f"{key} applies only to {'/'.join(types)} columns")

        only_for(("length",), ("string",))
        only_for(("precision", "scale"), ("decimal",))
        only_for(("enum",), ("enum",))
        only_for(("round",), ("int", "bigint"))
        only_for(("formats",), ("date", "datetime"))
        only_for(("true", "false", "null"), ("bit",))
        if "on_impossible" in cdata and ctype not in ("date", "datetime"):
            raise err("on_impossible applies only to date/datetime columns")
        if ctype == "string":
            length = cdata.get("length")
            if length != "max" and not _int_in(length, 1, MAX_STRING_LENGTH):
                raise err(
                    f"{_given('length', length, 'string columns need a length')} must be an "
                    f"integer from 1 to {MAX_STRING_LENGTH} (PostgreSQL's longest varchar; SQL "
                    "Server's NVARCHAR takes 4000, MariaDB's VARCHAR 16383), or 'max' (no limit)"
                )
            return tf.to_string()
        if ctype == "decimal":
            precision, scale = cdata.get("precision"), cdata.get("scale")
            if not _int_in(precision, 1, MAX_PRECISION):
                raise err(
                    f"{_given('precision', precision, 'decimal columns need a precision')} must "
                    f"be an integer from 1 to {MAX_PRECISION} (SQL Server's largest decimal)"
                )
            if not _int_in(scale, 0, precision):
                raise err(
                    f"{_given('scale', scale, 'decimal columns need a scale')} must be an "
                    f"integer from 0 to {precision}, the column's precision"
                )
            return tf.to_decimal(precision, scale)
        if ctype == "enum":
            enum_name = cdata.get("enum")
            if not isinstance(enum_name, str) or enum_name not in enums:
                raise err(f"enum {enum_name!r} is not defined in [enums]")
            return tf.to_enum(enums[enum_name], enum_name)
        if ctype in ("date", "datetime"):
            formats = cdata.get("formats")
            if formats is not None:
                if not _str_list(formats) or not formats:
                    raise err("formats must be a non-empty list like ['MM/DD/YYYY']")
                for fmt in formats:
                    try:
                        tf.compile_date_format(fmt)
                    except ValueError as exc:
                        raise err(str(exc)) from None
            clamp = on_impossible == "clamp"
            return (tf.to_date if ctype == "date" else tf.to_datetime)(formats, clamp)
        if ctype == "bit":
            tables = {}
            for key, fallback in (
                ("true", tf.DEFAULT_TRUE),
                ("false", tf.DEFAULT_FALSE),
                ("null", frozenset()),
            ):
                values = cdata.get(key)
                if values is None:
                    tables[key] = fallback if not {"true", "false"} & set(cdata) else frozenset()
                    continue
                if not _str_list(values):
                    raise err(f"{key} must be a list of codes")
                tables[key] = frozenset(v.upper() for v in values)
            if {"true", "false"} & set(cdata) and not (tables["true"] and tables["false"]):
                raise err("a truth table needs both true = [...] and false = [...]")
            overlap = (tables["true"] & tables["false"]) | (
                (tables["true"] | tables["false"]) & tables["null"]
            )
            if overlap:
                raise err(f"codes {sorted(overlap)} appear in more than one of true/false/null")
            return tf.to_bit(tables["true"], tables["false"], tables["null"])
        rounding = cdata.get("round", False)
        if not isinstance(rounding, bool):
            raise err("round must be true or false")
        if ctype == "int":
            return tf.to_int(tf.INT32, rounding)
        return tf.to_int(tf.INT64, rounding)

    @staticmethod
    def _typed(
        value: Any, convert: tf.Converter, err: Callable[[str], ContractError], what: str
    ) -> Any:
        """Contract literals are written as XML would carry them and converted once, here."""
        if isinstance(value, bool):
            value = "Y" if value else "N"
        if isinstance(value, date | datetime | Decimal | int | float):
            value = str(value)
        if not isinstance(value, str):
            raise err(f"{what} must be a string or number")
        try:
            typed = convert(value)
        except tf.InvalidValue as exc:
            raise err(f"{what} {value!r} is not valid for the column type: {exc}") from None
        if isinstance(typed, tf.Clamped):  # a literal must be right as written
            raise err(f"{what} {value!r} is not valid for the column type: {typed}")
        return typed
