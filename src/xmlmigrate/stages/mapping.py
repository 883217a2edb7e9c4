"""Document → rows, driven by a compiled contract. Pure: no I/O, no globals.

Tables are mapped in contract order (parents before children). Each table's
rows come from its parent's rows: for every parent row, the parent's element
itself (``rows = "."``) or each matching child element, filtered by ``where``
and de-duplicated by ``dedup`` (unpivot tables make one row per non-blank
listed attribute). Per value: blank → default or NULL; not convertible →
warning and default/NULL, or a rejection when the column says
``on_invalid = "reject"``; NULL in a NOT NULL column rejects the application,
naming table, column and path. Checks run last and add warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import InvalidOperation
from typing import Any

from lxml import etree

from xmlmigrate.contract import CompiledContract, CompiledTable
from xmlmigrate.contract.converters import Clamped
from xmlmigrate.contract.errors import InvalidValue
from xmlmigrate.contract.expressions import Env
from xmlmigrate.contract.kinds import SOURCE_KINDS
from xmlmigrate.contract.model import CompiledColumn
from xmlmigrate.contract.paths import LAST, locate
from xmlmigrate.model import MappedApp, Rejection, Row, Warn

MAX_WARNINGS_PER_CODE = 5  # every code is reported; repeats of one code are capped

Ancestors = dict[str, Row]
Instance = tuple[etree._Element, Row, Ancestors]


class _Reject(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class _Ctx:
    __slots__ = (
        "app_id",
        "clamped",
        "defaulted",
        "events",
        "invalid",
        "missing",
        "per_code",
        "row_events",
        "truncated",
        "warnings",
    )

    def __init__(self, app_id: int, explain: bool = False) -> None:
        self.app_id = app_id
        # (table, row key, column, what happened) — collected only when explaining a document
        self.events: list[tuple[str, str, str, str]] | None = [] if explain else None
        self.row_events: list[tuple[str, str]] = []
        self.warnings: list[Warn] = []
        self.per_code: dict[str, int] = {}
        self.truncated = 0
        self.defaulted = 0
        self.clamped = 0
        self.invalid = 0
        # NOT NULL columns left empty in a row that a NULL skip column may still drop: the
        # app is rejected for them only if the row is kept
        self.missing: list[tuple[CompiledColumn, str]] = []

    def event(self, col: CompiledColumn, what: str) -> None:
        if self.events is not None:
            self.row_events.append((col.name, what))

    def warn(self, code: str, detail: str) -> None:
        seen = self.per_code.get(code, 0)
        self.per_code[code] = seen + 1
        if seen < MAX_WARNINGS_PER_CODE:
            self.warnings.append(Warn(code, detail))


def map_application(
    app_id: int, application: etree._Element, contract: CompiledContract, explain: bool = False
) -> MappedApp | Rejection:
    """Map one application element. With ``explain``, record which columns took defaults,
    were truncated, clamped or invalid (``MappedApp.events``); the hot path never pays for it."""
    ctx = _Ctx(app_id, explain)
    rows: dict[str, list[Row]] = {}
    instances: dict[str, list[Instance]] = {}
    try:
        for table in contract.tables:
            parents: list[Instance] = (
                [(application, {}, {})] if table.parent is None else instances[table.parent]
            )
            out_rows: list[Row] = []
            out_inst: list[Instance] = []
            for parent_el, parent_row, parent_anc in parents:
                ancestors = (
                    parent_anc if table.parent is None else {**parent_anc, table.parent: parent_row}
                )
                for el in _row_elements(table, parent_el, ctx):
                    if table.unpivot is None:
                        row = _build_row(table, el, parent_row, ancestors, ctx, None)
                        if row is not None:
                            out_rows.append(row)
                            out_inst.append((el, row, ancestors))
                        continue
                    for pair in table.unpivot.pairs(el):
                        row = _build_row(table, el, parent_row, ancestors, ctx, pair)
                        if row is not None:
                            out_rows.append(row)
                            out_inst.append((el, row, ancestors))
            keep = last_per_key(table.key, out_rows)
            if keep is not None:
                ctx.warn(
                    "duplicate_key",
                    f"{table.name}: {len(out_rows) - len(keep)} row(s) had the key of a later "
                    "row once converted (e.g. truncated); the later one is kept",
                )
                out_rows = [out_rows[i] for i in keep]
                out_inst = [out_inst[i] for i in keep]
            rows[table.name] = out_rows
            instances[table.name] = out_inst
    except _Reject as exc:
        return Rejection(app_id, exc.code, exc.detail, stage="map")
    _run_checks(contract, instances, ctx)
    return MappedApp(
        app_id,
        rows,
        ctx.warnings,
        ctx.truncated,
        ctx.defaulted,
        ctx.clamped,
        ctx.invalid,
        events=ctx.events or [],
    )


def last_per_key(key: tuple[str, ...], rows: list[Row]) -> list[int] | None:
    """Indexes of the rows to keep so no two share a primary key (the last one wins), or None
    when all keys are distinct. Dedup by attribute happens before conversion; values that
    differ in the document can still meet once truncated, and must not reach the database."""
    if len(rows) < 2:
        return None
    last = {tuple(row[k] for k in key): i for i, row in enumerate(rows)}
    return sorted(last.values()) if len(last) < len(rows) else None


def _run_checks(
    contract: CompiledContract, instances: dict[str, list[Instance]], ctx: _Ctx
) -> None:
    for check in contract.checks:
        matched = 0
        for el, row, ancestors in instances[check.table]:
            env = Env(row, ancestors, el)
            if check.where is not None and check.where.evaluate(env) is not True:
                continue
            matched += 1
            if check.when is not None and check.when.evaluate(env) is True:
                table = contract.table_by_name[check.table]
                key = ", ".join(f"{k}={row[k]}" for k in table.key)
                ctx.warn(check.code, f"{check.message} ({check.table} {key})")
        if check.min_rows is not None and matched < check.min_rows:
            ctx.warn(check.code, check.message)


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
                    where.warn,
                    f"{table.name}: skipped <{table.rows}> with {where.attr}={code!r} "
                    f"(allowed: {', '.join(sorted(where.allowed))})",
                )
        elements = kept
    meaningful = table.meaningful
    if meaningful is not None:
        kept = []
        for el in elements:
            if meaningful.keeps(el.get):
                kept.append(el)
            else:
                ctx.warn(
                    meaningful.warn,
                    f"{table.name}: dropped <{table.rows}> without any of "
                    f"{', '.join(meaningful.any_of)}",
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
            keep_new = True
            if dedup.prefer_attr is not None:
                new_rank = dedup.prefer_rank.get((el.get(dedup.prefer_attr) or "").strip(), worst)
                old_rank = dedup.prefer_rank.get(
                    (current.get(dedup.prefer_attr) or "").strip(), worst
                )
                keep_new = new_rank <= old_rank
            ctx.warn(
                f"duplicate_{dedup.by}",
                f"{table.name}: {dedup.by}={key!r} appears more than once in the document, "
                f"kept the {'later' if keep_new else 'earlier'} one",
            )
            if keep_new:
                chosen[key] = el
        elements = list(chosen.values())
    return elements


def _build_row(
    table: CompiledTable,
    el: etree._Element,
    parent_row: Row,
    ancestors: Ancestors,
    ctx: _Ctx,
    pair: tuple[str, str, Mapping[str, str]] | None,
) -> Row | None:
    row: Row = {}
    pending: list[CompiledColumn] = []
    has_data = False
    for col in table.fixed:  # keys, constants and the unpivot pair: as their kind fills them
        source = SOURCE_KINDS[col.kind]
        got = source.fill(col, parent_row, ctx.app_id, pair)  # type: ignore[misc]
        if not source.reads_pair:
            row[col.name] = got
        elif pair is not None:
            value = _convert(table, col, got, ctx)
            has_data = has_data or (source.is_data and value is not None)
            row[col.name] = _finish(table, col, value, got, ctx, pending)
    for subpath, cols in table.by_subpath:
        # (ElementPath's find directly unless a step says [last]: the hot path stays as it was)
        holder = (
            el
            if subpath is None
            else el.find(subpath)
            if LAST not in subpath
            else locate(el, subpath)
        )
        if holder is None:
            for col in cols:
                row[col.name] = _finish(table, col, None, None, ctx, pending)
            continue
        get = holder.get
        for col in cols:
            raw = get(col.attr)  # type: ignore[arg-type]
            if raw:
                # the hot path: plain strings need no conversion, only a length check
                value = raw.strip() if col.plain else _convert(table, col, raw, ctx)
                if value is not None and value != "":
                    if col.plain and len(value) > col.length:  # type: ignore[operator]
                        value = _overflow(table, col, value, ctx)
                    has_data = True
                    row[col.name] = value
                    continue
            if col.simple_null:
                row[col.name] = None
            else:
                row[col.name] = _finish(table, col, None, raw, ctx, pending)
    if table.computed:
        env = Env(row, ancestors, el)
        for col in table.computed:
            value = _expr_value(table, col, col.expr.evaluate(env), ctx)  # type: ignore[union-attr]
            if value is not None:
                has_data = True
            row[col.name] = _finish(table, col, value, None, ctx, pending)
    if table.skip_empty and not has_data:
        ctx.missing.clear()
        return None  # keys, constants and defaults only: nothing of the document's
    if pending:
        for col in pending:
            if has_data:
                row[col.name] = col.default
                ctx.defaulted += 1
                ctx.event(col, "default")
            if row[col.name] is None and not col.nullable:
                _required(table, col, "", ctx)
    if ctx.events is not None:
        key = ", ".join(f"{k}={row.get(k)}" for k in table.key)
        ctx.events.extend((table.name, key, c, what) for c, what in ctx.row_events)
        ctx.row_events = []
    for name in table.skip_if_null:
        if row[name] is None:
            if table.skip_warn is not None:
                ctx.warn(table.skip_warn, f"{table.name}: a row without {name} was dropped")
            ctx.missing.clear()
            return None
    if ctx.missing:  # the row is kept: what it lacks rejects the app
        col, text = ctx.missing[0]
        ctx.missing.clear()
        _missing(table, col, text)
    return row


def _convert(table: CompiledTable, col: CompiledColumn, raw: str | None, ctx: _Ctx) -> Any:
    """The typed value the document gives (None if blank, or invalid and not rejected)."""
    text = raw.strip() if raw is not None else ""
    if not text:
        return None
    value: Any = None
    try:
        if col.pattern is not None and col.pattern.fullmatch(text) is None:
            raise InvalidValue(f"{text[:40]!r} does not match the pattern {col.pattern.pattern!r}")
        value = col.convert(col.extract(text) if col.extract is not None else text)
        if isinstance(value, Clamped):
            ctx.clamped += 1
            ctx.event(col, "clamped")
            ctx.warn("clamped_value", f"{table.name}.{col.name}: {value}")
            return value.value
    except InvalidValue as exc:
        if col.on_invalid == "reject":
            raise _Reject(
                "invalid_value", f"{table.name}.{col.name} at {col.where()}: {exc}"
            ) from None
        ctx.invalid += 1
        ctx.event(col, "invalid → NULL")
        ctx.warn("invalid_value", f"{table.name}.{col.name}: {exc}")
    else:
        if col.length is not None and value is not None and len(value) > col.length:
            value = _overflow(table, col, value, ctx)
    return value


def _finish(
    table: CompiledTable,
    col: CompiledColumn,
    value: Any,
    raw: str | None,
    ctx: _Ctx,
    pending: list[CompiledColumn],
) -> Any:
    """Apply the default, or reject when a NOT NULL column is left without a value."""
    if value is None and col.default is not None:
        if col.default_when == "always":
            ctx.defaulted += 1
            ctx.event(col, "default")
            if col.warn is not None:  # a required value the document lacks or cannot give
                shown = f"{(raw or '').strip()[:40]!r}" if (raw or "").strip() else "no value"
                took = repr(col.default) if isinstance(col.default, str) else col.default
                ctx.warn(col.warn, f"{table.name}.{col.name}: {shown}, took {took}")
            return col.default
        pending.append(col)  # applied at the end only if the row has data
        return None
    if value is None and not col.nullable and col.name not in table.skip_if_null:
        _required(table, col, (raw or "").strip(), ctx)
    return value


def _required(table: CompiledTable, col: CompiledColumn, text: str, ctx: _Ctx) -> None:
    """A NOT NULL column without a value: the app is rejected — once the row is known to be
    kept, where a NULL skip column (a contact without con_id) drops it first."""
    if table.skip_if_null:
        ctx.missing.append((col, text))
    else:
        _missing(table, col, text)


def _missing(table: CompiledTable, col: CompiledColumn, text: str) -> None:
    what = f"invalid value {text[:40]!r}" if text else "no value"
    raise _Reject(
        "required_value_missing",
        f"{table.name}.{col.name} is NOT NULL and the document has {what} at {col.where()}",
    )


def _overflow(table: CompiledTable, col: CompiledColumn, value: str, ctx: _Ctx) -> str:
    length = col.length or 0
    if col.on_overflow == "reject":
        raise _Reject(
            "value_too_long",
            f"{table.name}.{col.name}: {len(value)} characters, column holds {length}",
        )
    ctx.truncated += 1
    ctx.event(col, "truncated")
    ctx.warn("truncated", f"{table.name}.{col.name}: {len(value)} characters cut to {length}")
    return value[:length]


def _expr_value(table: CompiledTable, col: CompiledColumn, value: Any, ctx: _Ctx) -> Any:
    """An expression's result in the column's type (the types were checked at load; the
    conversion is the type's, bound to the column when the contract was compiled)."""
    if value is None:
        return None
    try:
        value = col.coerce(value)
    except (InvalidValue, InvalidOperation, OverflowError) as exc:
        if col.on_invalid == "reject":
            raise _Reject("invalid_value", f"{table.name}.{col.name}: {exc}") from None
        ctx.invalid += 1
        ctx.warn("invalid_value", f"{table.name}.{col.name}: {exc}")
        return None
    if col.length is not None and len(value) > col.length:  # only text columns have a length
        return _overflow(table, col, value, ctx)
    return value
