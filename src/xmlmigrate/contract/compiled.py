"""Validating and compiling a mapping contract.

A contract is a TOML file (see ``provenir_cc.toml`` for the shipped one and
``docs/contract.md`` for the format). Compiling checks everything that can be
checked without a document — types, options, paths, enum names, expressions
(parsed and type-checked) — and reports the file, table, column and what is
wrong. Compilation turns every column into a converter closure and every path
into pre-split steps, so mapping a document does O(1) work per field.

This module is the contract format's validator: every key of every section is checked next
to the compiled form it becomes (:mod:`xmlmigrate.contract.model`), and every error is built
by one ``err`` that names the file, table and column. What a column's type accepts and how it
converts is the type's own (:mod:`xmlmigrate.contract.kinds`); reading files
(:mod:`~xmlmigrate.contract.load`), combining contracts (:mod:`~xmlmigrate.contract.combine`),
the part of a document a contract reads (:mod:`~xmlmigrate.contract.scope`) and attribute
spellings (:mod:`~xmlmigrate.contract.spelling`) live beside it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from xmlmigrate.contract import converters as tf
from xmlmigrate.contract import expressions as ex
from xmlmigrate.contract.errors import ContractError, ExprError, InvalidValue
from xmlmigrate.contract.kinds import (
    COLUMN_TYPES,
    SOURCE_KINDS,
    TYPE_KEYS,
    TYPES,
    Declared,
    check_type_keys,
    str_list,
)
from xmlmigrate.contract.model import (
    DEFAULT_SOURCE,
    CompiledCheck,
    CompiledColumn,
    CompiledContract,
    CompiledTable,
    Dedup,
    Meaningful,
    Pair,
    RowFilter,
    Unpivot,
    parse_source,
)
from xmlmigrate.contract.paths import check_element_path, split_path
from xmlmigrate.contract.scope import scope_of, within_scope
from xmlmigrate.contract.spelling import attribute_names
from xmlmigrate.identifiers import RESERVED_TABLES, identifier_problem

SOURCE_KEYS = ("attr", "path", "const", "parent", "source", "expr", "unpivot")
SPECIAL_SOURCES = ("app_id",)
OVERFLOW_POLICIES = ("truncate", "reject")
INVALID_POLICIES = ("null", "reject")
IMPOSSIBLE_POLICIES = ("invalid", "clamp")
DEFAULT_WHEN = ("always", "row_has_values")
COLUMN_KEYS = frozenset(
    {
        *SOURCE_KEYS,
        *TYPE_KEYS,  # the keys some types own (xmlmigrate.contract.kinds)
        "type",
        "nullable",
        "default",
        "default_when",
        "on_overflow",
        "on_invalid",
        "extract",
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
_WARNING_CODE = re.compile(r"[a-z][a-z0-9_]*\Z")


def compile_contract(text: str, source: str = "<contract>") -> CompiledContract:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ContractError(source, f"not valid TOML: {exc}") from None
    return replace(_Compiler(source, data).compile(), text=text)


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
        if not str_list(others):
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
            for name in sorted(attribute_names([tables_data, self.data.get("checks", [])])):
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
                scope_of(head["root"], head["application"], app_id_path, others)
                if within_scope(tables, checks)
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
        except ExprError as exc:
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
            {c.name: TYPES[c.type].expr_type for c in columns},
            {a: {c.name: TYPES[c.type].expr_type for c in known[a].columns} for a in ancestors},
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
            above[column.name] = TYPES[column.type].expr_type
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
        if not str_list(key) or not key:
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
        if not str_list(skip) or any(s not in names for s in skip):
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
        roles: dict[str, list[CompiledColumn]] = {"document": [], "fixed": [], "computed": []}
        for c in columns:
            roles[SOURCE_KINDS[c.kind].role].append(c)
            if SOURCE_KINDS[c.kind].role == "document":
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
            fixed=tuple(roles["fixed"]),
            computed=tuple(roles["computed"]),
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
            or not str_list(ignore)
            or (only is not None and (not str_list(only) or not only or ignore))
        ):
            raise self.err(usage, tname)
        ignored = frozenset(i.strip().lower() for i in ignore)
        kept = None if only is None else frozenset(o.strip().lower() for o in only)
        if "attributes" in data and str_list(data["attributes"]):
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
            or not str_list(data["any_of"])
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
        check_type_keys(ctype, cdata, err)
        typed = TYPES[ctype].compile(Declared(cdata, enums, err))
        convert = typed.convert
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
            except ExprError as exc:
                raise err(f"expr: {exc}") from None
            if (
                compiled_expr.type != ex.NULL
                and compiled_expr.type not in TYPES[ctype].expr_results
            ):
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
            coerce=typed.coerce,
            truth=typed.truth,
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
            typed = convert(value)
        except InvalidValue as exc:
            raise err(f"{what} {value!r} is not valid for the column type: {exc}") from None
        if isinstance(typed, tf.Clamped):  # a literal must be right as written
            raise err(f"{what} {value!r} is not valid for the column type: {typed}")
        return typed
