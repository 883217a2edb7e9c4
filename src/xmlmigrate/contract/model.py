"""A compiled contract's data types: tables, columns, row filters, unpivot pairs, checks,
and the source table of its documents.

Built by :mod:`xmlmigrate.contract.compiled` from a contract file; read by the mapper, the
coverage report, the schema and the mock documents. An unpivot table's listed pairs read
their own values from a row element (:meth:`Unpivot.pairs`), so every reader of the
document makes the same rows of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from lxml import etree

from xmlmigrate.contract import converters as tf
from xmlmigrate.contract import expressions as ex
from xmlmigrate.contract.kinds import SOURCE_KINDS, Coerce, TruthTable
from xmlmigrate.contract.paths import locate
from xmlmigrate.contract.scope import Scope
from xmlmigrate.identifiers import RESERVED_TABLES, identifier_problem


@dataclass(frozen=True, slots=True)
class CompiledColumn:
    name: str
    type: str  # a name of xmlmigrate.contract.kinds.TYPES
    nullable: bool
    # where the value comes from: a name of xmlmigrate.contract.kinds.SOURCE_KINDS — "attr" |
    # "const" | "parent" | "app_id" | "expr" | "unpivot_name" | "unpivot_value" |
    # "unpivot_field" (a listed pair's constant; ``attr`` names the field)
    kind: str
    subpath: str | None  # element path relative to the row element, for kind "attr"
    attr: str | None
    const: Any
    parent_column: str | None
    convert: tf.Converter  # document text → value: the type's (xmlmigrate.contract.kinds)
    coerce: Coerce  # a calculation's result (not NULL) → the column's value, as the type says
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
    truth: TruthTable | None = None  # a bit column's truth table (its converter looks it up)

    @property
    def is_data(self) -> bool:
        """Does the value come from the document (as opposed to keys and constants)?"""
        return SOURCE_KINDS[self.kind].is_data

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
