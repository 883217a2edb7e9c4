"""Loading, validating and compiling a mapping contract.

A contract is a TOML file (see ``provenir_cc.toml`` for the shipped one and
``docs/contract.md`` for the format). Loading checks everything that can be
checked without a document and reports the file, table, column and what is
wrong. Compilation turns every column into a converter closure and every path
into pre-split steps, so mapping a document does O(1) work per field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from xmlmigrate import transforms as tf

COLUMN_TYPES = ("int", "bigint", "decimal", "string", "date", "datetime", "bit", "enum")
SOURCE_KEYS = ("attr", "path", "const", "parent", "source")
SPECIAL_SOURCES = ("app_id",)
OVERFLOW_POLICIES = ("truncate", "reject")
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
        "on_overflow",
        "doc",
    }
)
TABLE_KEYS = frozenset({"parent", "rows", "key", "where", "dedup", "columns", "doc"})
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
    }
)


class ContractError(ValueError):
    """A contract that cannot be used, with where and why."""

    def __init__(
        self, source: str, message: str, table: str | None = None, column: str | None = None
    ) -> None:
        where = source
        if table is not None:
            where += f": table {table!r}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")
        self.source = source
        self.table = table
        self.column = column


@dataclass(frozen=True, slots=True)
class CompiledColumn:
    name: str
    type: str
    nullable: bool
    kind: str  # "attr" | "const" | "parent" | "app_id"
    subpath: str | None  # element path relative to the row element, for kind "attr"
    attr: str | None
    const: Any
    parent_column: str | None
    convert: tf.Converter
    default: Any
    length: int | None
    precision: int | None
    scale: int | None
    enum: str | None
    on_overflow: str


@dataclass(frozen=True, slots=True)
class RowFilter:
    attr: str
    allowed: frozenset[str]


@dataclass(frozen=True, slots=True)
class Dedup:
    by: str
    prefer_attr: str | None
    prefer_rank: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class CompiledTable:
    name: str
    parent: str | None
    rows: str  # "." for the parent's own element, else a child path
    key: tuple[str, ...]
    columns: tuple[CompiledColumn, ...]
    where: RowFilter | None
    dedup: Dedup | None
    # columns grouped by the sub-element they read, resolved once per row
    by_subpath: tuple[tuple[str | None, tuple[CompiledColumn, ...]], ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def foreign_key(self) -> tuple[str, ...]:
        """Columns of this table that reference the parent's key (same names)."""
        return tuple(c.name for c in self.columns if c.kind == "parent")


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
    table_by_name: Mapping[str, CompiledTable] = field(repr=False)

    @property
    def root_table(self) -> CompiledTable:
        return self.tables[0]


def default_contract_path() -> Path:
    return Path(str(resources.files("xmlmigrate.contract").joinpath("provenir_cc.toml")))


def load_contract(path: str | Path | None = None) -> CompiledContract:
    """Load and compile a contract file (the shipped ``provenir_cc`` when ``path`` is None)."""
    file = Path(path) if path is not None else default_contract_path()
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
    return _Compiler(source, data).compile()


def _split_path(path: str) -> tuple[str | None, str]:
    """'a/b/@x' → ('a/b', 'x'); '@x' → (None, 'x')."""
    head, sep, attr = path.rpartition("@")
    if not sep or not attr or "/" in attr:
        raise ValueError(f"path {path!r} must end in /@attribute")
    head = head.rstrip("/")
    return (head or None), attr


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
            app_id_path, app_id_attr = _split_path(head["app_id"])
        except ValueError as exc:
            raise self.err(f"[contract]: app_id: {exc}") from None
        enums = self._enums()
        tables_data = self.data.get("tables")
        if not isinstance(tables_data, dict) or not tables_data:
            raise self.err("no [tables.*] defined")
        unknown_top = set(self.data) - {"contract", "enums", "tables"}
        if unknown_top:
            raise self.err(f"unknown top-level section(s) {sorted(unknown_top)}")
        tables: list[CompiledTable] = []
        by_name: dict[str, CompiledTable] = {}
        for tname, tdata in tables_data.items():
            table = self._table(tname, tdata, enums, by_name)
            tables.append(table)
            by_name[tname] = table
        if tables[0].parent is not None:
            raise self.err("the first table must be the root table (no parent)", tables[0].name)
        roots = [t.name for t in tables if t.parent is None]
        if len(roots) != 1:
            raise self.err(f"exactly one table may have no parent, found {roots}")
        others = head.get("other_product_lines", [])
        if not isinstance(others, list) or not all(isinstance(o, str) for o in others):
            raise self.err("[contract]: other_product_lines must be a list of element paths")
        version = head.get("version", 1)
        if not isinstance(version, int):
            raise self.err("[contract]: version must be an integer")
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
            table_by_name=by_name,
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
            enums[ename] = dict(codes)
        return enums

    def _table(
        self,
        tname: str,
        tdata: Any,
        enums: Mapping[str, Mapping[str, int]],
        known: Mapping[str, CompiledTable],
    ) -> CompiledTable:
        if not isinstance(tdata, dict):
            raise self.err("must be a table", tname)
        unknown = set(tdata) - TABLE_KEYS
        if unknown:
            raise self.err(f"unknown key(s) {sorted(unknown)}", tname)
        parent_name = tdata.get("parent")
        parent = None
        if parent_name is not None:
            parent = known.get(parent_name)
            if parent is None:
                raise self.err(
                    f"parent {parent_name!r} is not a table defined above this one", tname
                )
        rows = tdata.get("rows", ".")
        if not isinstance(rows, str) or not rows or "@" in rows:
            raise self.err("rows must be '.' or an element path (no attribute)", tname)
        cols_data = tdata.get("columns")
        if not isinstance(cols_data, dict) or not cols_data:
            raise self.err("has no columns", tname)
        columns = tuple(
            self._column(tname, cname, cdata, enums, parent) for cname, cdata in cols_data.items()
        )
        names = {c.name for c in columns}
        key = tdata.get("key")
        if not isinstance(key, list) or not key or not all(isinstance(k, str) for k in key):
            raise self.err("key must be a non-empty list of column names", tname)
        for k in key:
            if k not in names:
                raise self.err(f"key column {k!r} is not a column of the table", tname)
            col = next(c for c in columns if c.name == k)
            if col.nullable:
                raise self.err("key columns must be nullable = false", tname, k)
        if parent is not None:
            fk = [c.name for c in columns if c.kind == "parent"]
            if sorted(fk) != sorted(parent.key):
                raise self.err(
                    f"must carry the parent's key {list(parent.key)} as columns with "
                    f"parent = '<column>' (found {fk})",
                    tname,
                )
        where = self._where(tname, tdata.get("where"))
        dedup = self._dedup(tname, tdata.get("dedup"))
        groups: dict[str | None, list[CompiledColumn]] = {}
        for c in columns:
            if c.kind == "attr":
                groups.setdefault(c.subpath, []).append(c)
        return CompiledTable(
            name=tname,
            parent=parent_name,
            rows=rows,
            key=tuple(key),
            columns=columns,
            where=where,
            dedup=dedup,
            by_subpath=tuple((p, tuple(cs)) for p, cs in groups.items()),
        )

    def _where(self, tname: str, data: Any) -> RowFilter | None:
        if data is None:
            return None
        if (
            not isinstance(data, dict)
            or set(data) != {"attr", "in"}
            or not isinstance(data["attr"], str)
            or not isinstance(data["in"], list)
        ):
            raise self.err("where must be { attr = '<name>', in = ['A', 'B'] }", tname)
        return RowFilter(data["attr"], frozenset(str(v) for v in data["in"]))

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
        length = cdata.get("length")
        precision = cdata.get("precision")
        scale = cdata.get("scale")
        enum_name = cdata.get("enum")
        on_overflow = cdata.get("on_overflow", "truncate")
        if on_overflow not in OVERFLOW_POLICIES:
            raise err(f"on_overflow must be one of {list(OVERFLOW_POLICIES)}")
        convert: tf.Converter
        if ctype == "string":
            if not isinstance(length, int) or length <= 0:
                raise err("string columns need a positive integer length")
            convert = tf.to_string()
        elif length is not None:
            raise err("length applies only to string columns")
        if ctype == "decimal":
            if not isinstance(precision, int) or not isinstance(scale, int):
                raise err("decimal columns need integer precision and scale")
            if not 0 <= scale <= precision <= 38:
                raise err("decimal needs 0 <= scale <= precision <= 38")
            convert = tf.to_decimal(precision, scale)
        elif precision is not None or scale is not None:
            raise err("precision/scale apply only to decimal columns")
        if ctype == "enum":
            if not isinstance(enum_name, str) or enum_name not in enums:
                raise err(f"enum {enum_name!r} is not defined in [enums]")
            convert = tf.to_enum(enums[enum_name], enum_name)
        elif enum_name is not None:
            raise err("enum applies only to type = 'enum'")
        if ctype == "int":
            convert = tf.to_int(tf.INT32)
        elif ctype == "bigint":
            convert = tf.to_int(tf.INT64)
        elif ctype == "date":
            convert = tf.to_date()
        elif ctype == "datetime":
            convert = tf.to_datetime()
        elif ctype == "bit":
            convert = tf.to_bit()

        kind = sources[0]
        subpath: str | None = None
        attr: str | None = None
        const: Any = None
        parent_column: str | None = None
        if kind == "attr":
            attr = cdata["attr"]
            if not isinstance(attr, str) or not attr or "/" in attr or "@" in attr:
                raise err("attr must be a bare attribute name (use path = 'a/b/@x' for others)")
        elif kind == "path":
            try:
                subpath, attr = _split_path(str(cdata["path"]))
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
        else:
            special = cdata["source"]
            if special not in SPECIAL_SOURCES:
                raise err(f"source must be one of {list(SPECIAL_SOURCES)}")
            kind = special
        default = None
        if "default" in cdata:
            default = self._typed(cdata["default"], convert, err, "default")
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
            default=default,
            length=length,
            precision=precision,
            scale=scale,
            enum=enum_name,
            on_overflow=on_overflow,
        )

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
            return convert(value)
        except tf.InvalidValue as exc:
            raise err(f"{what} {value!r} is not valid for the column type: {exc}") from None
