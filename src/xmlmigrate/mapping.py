"""Document → rows, driven by a compiled contract. Pure: no I/O, no globals.

Tables are mapped in contract order (parents before children). Each table's
rows come from its parent's rows: for every parent row, the parent's element
itself (``rows = "."``) or each matching child element, filtered by ``where``
and de-duplicated by ``dedup``. A value that cannot be converted becomes the
column's default or NULL and is reported as a warning; a NOT NULL column left
without a value rejects the whole application, naming table and column.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from xmlmigrate.contract import CompiledContract, CompiledTable
from xmlmigrate.contract.compiled import CompiledColumn
from xmlmigrate.model import MappedApp, Rejection, Row
from xmlmigrate.transforms import InvalidValue

MAX_WARNINGS = 50


class _Reject(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class _Ctx:
    __slots__ = ("app_id", "defaulted", "truncated", "warnings")

    def __init__(self, app_id: int) -> None:
        self.app_id = app_id
        self.warnings: list[str] = []
        self.truncated = 0
        self.defaulted = 0

    def warn(self, text: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(text)


def map_application(
    app_id: int, application: etree._Element, contract: CompiledContract
) -> MappedApp | Rejection:
    ctx = _Ctx(app_id)
    rows: dict[str, list[Row]] = {}
    instances: dict[str, list[tuple[etree._Element, Row]]] = {}
    try:
        for table in contract.tables:
            parents: list[tuple[etree._Element, Row | None]]
            if table.parent is None:
                parents = [(application, None)]
            else:
                parents = list(instances[table.parent])
            out_rows: list[Row] = []
            out_inst: list[tuple[etree._Element, Row]] = []
            for parent_el, parent_row in parents:
                for el in _row_elements(table, parent_el, ctx):
                    row = _build_row(table, el, parent_row, ctx)
                    out_rows.append(row)
                    out_inst.append((el, row))
            rows[table.name] = out_rows
            instances[table.name] = out_inst
    except _Reject as exc:
        return Rejection(app_id, exc.code, exc.detail, stage="map")
    return MappedApp(app_id, rows, ctx.warnings, ctx.truncated, ctx.defaulted)


def _row_elements(
    table: CompiledTable, parent_el: etree._Element, ctx: _Ctx
) -> list[etree._Element]:
    if table.rows == ".":
        return [parent_el]
    elements: list[etree._Element] = parent_el.findall(table.rows)
    where = table.where
    if where is not None:
        kept = []
        for el in elements:
            code = (el.get(where.attr) or "").strip()
            if code in where.allowed:
                kept.append(el)
            else:
                ctx.warn(
                    f"{table.name}: skipped <{table.rows}> with {where.attr}={code!r} "
                    f"(allowed: {', '.join(sorted(where.allowed))})"
                )
        elements = kept
    dedup = table.dedup
    if dedup is not None and len(elements) > 1:
        chosen: dict[str, etree._Element] = {}
        worst = len(dedup.prefer_rank)
        for el in elements:
            key = (el.get(dedup.by) or "").strip()
            current = chosen.get(key)
            if current is None:
                chosen[key] = el
                continue
            if dedup.prefer_attr is not None:
                new_rank = dedup.prefer_rank.get((el.get(dedup.prefer_attr) or "").strip(), worst)
                old_rank = dedup.prefer_rank.get(
                    (current.get(dedup.prefer_attr) or "").strip(), worst
                )
                keep_new = new_rank <= old_rank
            else:
                keep_new = True
            ctx.warn(
                f"{table.name}: duplicate {dedup.by}={key!r} in one document, "
                f"kept the {'later' if keep_new else 'earlier'} one"
            )
            if keep_new:
                chosen[key] = el
        elements = list(chosen.values())
    return elements


def _build_row(table: CompiledTable, el: etree._Element, parent_row: Row | None, ctx: _Ctx) -> Row:
    row: Row = {}
    for col in table.columns:
        kind = col.kind
        if kind == "parent":
            assert parent_row is not None
            row[col.name] = parent_row[col.parent_column]  # type: ignore[index]
        elif kind == "const":
            row[col.name] = col.const
        elif kind == "app_id":
            row[col.name] = ctx.app_id
    for subpath, cols in table.by_subpath:
        holder = el if subpath is None else el.find(subpath)
        for col in cols:
            raw = holder.get(col.attr) if holder is not None else None  # type: ignore[arg-type]
            row[col.name] = _value(table, col, raw, ctx)
    return row


def _value(table: CompiledTable, col: CompiledColumn, raw: str | None, ctx: _Ctx) -> Any:
    text = raw.strip() if raw is not None else ""
    value: Any = None
    if text:
        try:
            value = col.convert(text)
        except InvalidValue as exc:
            ctx.warn(f"{table.name}.{col.name}: {exc}")
            value = None
        else:
            if col.length is not None and len(value) > col.length:
                if col.on_overflow == "reject":
                    raise _Reject(
                        "value_too_long",
                        f"{table.name}.{col.name}: {len(value)} characters, column holds "
                        f"{col.length}",
                    )
                value = value[: col.length]
                ctx.truncated += 1
                ctx.warn(f"{table.name}.{col.name}: truncated to {col.length} characters")
    if value is None and col.default is not None:
        value = col.default
        ctx.defaulted += 1
    if value is None and not col.nullable:
        what = f"invalid value {text[:40]!r}" if text else "no value"
        raise _Reject(
            "required_value_missing",
            f"{table.name}.{col.name} is NOT NULL and the document has {what} at {_where(col)}",
        )
    return value


def _where(col: CompiledColumn) -> str:
    if col.subpath:
        return f"{col.subpath}/@{col.attr}"
    return f"@{col.attr}"
