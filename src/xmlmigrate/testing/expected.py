"""What a contract must produce from a generated model: the oracle of the end-to-end tests.

It walks the contract's declarations (tables, row paths, filters, dedup,
unpivot, column types and policies) over the generator's *typed* model — the
values the generator chose before rendering them as text in one of the real
formats — so it never parses a document and shares no conversion code with
the mapper. Calculated fields are recomputed by hand-written Python
(:data:`CALCULATED`), independent of the expression engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from xmlmigrate.contract import CompiledContract, CompiledTable
from xmlmigrate.contract.compiled import CompiledColumn
from xmlmigrate.mock.model import INVALID, AppModel, ClampTo, MockElement
from xmlmigrate.stages.mapping import last_per_key

Row = dict[str, Any]
_STEP = re.compile(r"([A-Za-z_][\w\-]*)((?:\[@[\w\-]+='[^']*'\])*)\Z")
_PRED = re.compile(r"\[@([\w\-]+)='([^']*)'\]")


class _Reject(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Expected:
    status: str  # "success" | "rejected"
    code: str | None = None  # the rejection code
    rows: dict[str, list[Row]] = field(default_factory=dict)
    check_codes: set[str] = field(default_factory=set)


def _days(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    da = a.date() if isinstance(a, datetime) else a
    db = b.date() if isinstance(b, datetime) else b
    return (db - da).days


def _annual(row: Row) -> Any:
    salary, basis = row["salary"], row["salary_basis_enum"]
    if salary is None:
        return None
    factor = {360: 1, 361: 12, 362: 52, 363: 2080}.get(basis)
    return None if factor is None else salary * factor


CALCULATED: dict[tuple[str, str], Callable[[Row, dict[str, Row]], Any]] = {
    ("app_base", "days_to_decision"): lambda r, a: _days(r["receive_date"], r["decision_date"]),
    ("app_base", "approved_flag"): lambda r, a: (
        None if r["decision_enum"] is None else r["decision_enum"] == 50
    ),
    ("app_base", "expiration_date"): lambda r, a: (
        None if r["receive_date"] is None else r["receive_date"] + timedelta(days=30)
    ),
    ("app_pricing_cc", "annual_income"): lambda r, a: (
        None if r["monthly_income"] is None else r["monthly_income"] * 12
    ),
    ("app_solicited_cc", "days_to_respond"): lambda r, a: _days(r["mail_date"], r["response_date"]),
    ("app_contact_base", "age_at_application"): lambda r, a: (
        None
        if r["birth_date"] is None
        else a["app_base"]["receive_date"].year - r["birth_date"].year
    ),
    ("app_contact_address", "months_at_address"): lambda r, a: (
        None
        if r["years_at_residence"] is None
        else r["years_at_residence"] * 12 + (r["months_at_residence"] or 0)
    ),
    ("app_contact_employment", "annual_salary"): lambda r, a: _annual(r),
}


def _navigate(el: MockElement, path: str) -> list[MockElement]:
    current = [el]
    for step in path.split("/"):
        m = _STEP.match(step)
        if m is None:
            raise ValueError(f"path step {step!r} is beyond what the oracle models")
        tag, preds = m.group(1), _PRED.findall(m.group(2))
        current = [
            c
            for e in current
            for c in e.children
            if c.tag == tag and all(c.text(a) == v for a, v in preds)
        ]
    return current


def _typed(col: CompiledColumn, text: str | None, value: Any, enums: Any) -> Any:
    """The column value a blank/invalid/typed model value gives, before defaults."""
    if text is None or not text.strip():
        return None
    if value is INVALID:
        return INVALID
    if value is None:  # a "null" code of a truth table
        return None
    t = col.type
    if t == "enum":
        return enums[col.enum].get(value, INVALID)
    if t == "decimal":
        return Decimal(value).quantize(Decimal(1).scaleb(-(col.scale or 0)), ROUND_HALF_UP)
    if t == "date" and isinstance(value, datetime):
        return value.date()
    return value


class _Oracle:
    def __init__(self, contract: CompiledContract) -> None:
        self.contract = contract

    def finish(self, table: CompiledTable, col: CompiledColumn, value: Any) -> Any:
        if value is INVALID:
            if col.on_invalid == "reject":
                raise _Reject("invalid_value")
            value = None
        if isinstance(value, str) and col.length is not None and len(value) > col.length:
            if col.on_overflow == "reject":
                raise _Reject("value_too_long")
            value = value[: col.length]
        return value

    def column(self, table: CompiledTable, col: CompiledColumn, el: MockElement) -> Any:
        holder: MockElement | None = el
        if col.subpath is not None:
            found = _navigate(el, col.subpath)
            holder = found[0] if found else None
        if holder is None:
            return None
        text, value = holder.attrs.get(col.attr or "", (None, None))
        if isinstance(value, ClampTo):
            value = value.value if col.on_impossible == "clamp" else INVALID
        # for digits/number extraction the model already holds the extracted value
        return self.finish(table, col, _typed(col, text, value, self.contract.enums))

    def rows_for(
        self, table: CompiledTable, el: MockElement, parent: Row, ancestors: dict[str, Row]
    ) -> list[Row]:
        pairs: list[tuple[str, str] | None] = [None]
        if table.unpivot is not None:
            if (
                table.unpivot.listed is not None
                or table.unpivot.ignore
                or table.unpivot.only is not None
            ):
                raise NotImplementedError(  # the generator renders the shipped contract only
                    f"{table.name}: the oracle knows unpivot attributes and prefix only"
                )
            prefix = table.unpivot.prefix or ""
            names = table.unpivot.attributes
            pairs = [
                (name[len(prefix) :] if names is None else name, text)
                for name, (text, _) in el.attrs.items()
                if text is not None
                and text.strip()
                and (name in names if names is not None else name.startswith(prefix))
            ]
        out = []
        for pair in pairs:
            row: Row = {}
            deferred: list[CompiledColumn] = []
            has_data = False
            for col in table.columns:
                if col.kind == "parent":
                    row[col.name] = parent[col.parent_column or ""]
                    continue
                if col.kind == "const":
                    row[col.name] = col.const
                    continue
                if col.kind == "app_id":
                    row[col.name] = None  # filled by the caller
                    continue
                if col.kind in ("unpivot_name", "unpivot_value"):
                    assert pair is not None
                    text = (pair[0] if col.kind == "unpivot_name" else pair[1]).strip()
                    value = self.finish(table, col, text)
                elif col.kind == "expr":
                    value = CALCULATED[(table.name, col.name)](row, ancestors)
                    if value is not None and col.type == "decimal":
                        value = Decimal(value).quantize(
                            Decimal(1).scaleb(-(col.scale or 0)), ROUND_HALF_UP
                        )
                    if value is not None and col.type == "int":
                        value = int(value)
                    value = self.finish(table, col, value)
                else:
                    value = self.column(table, col, el)
                if col.is_data and value is not None:
                    has_data = True
                if value is None and col.default is not None:
                    if col.default_when == "always":
                        value = col.default
                    else:
                        deferred.append(col)
                row[col.name] = value
            for col in deferred:
                if has_data:
                    row[col.name] = col.default
            if any(row[name] is None for name in table.skip_if_null):
                continue  # dropped before any NOT NULL check
            for col in table.columns:
                if row[col.name] is None and not col.nullable and col.kind != "app_id":
                    raise _Reject("required_value_missing")
            out.append(row)
        return out

    def elements(self, table: CompiledTable, parent_el: MockElement) -> list[MockElement]:
        if table.rows == ".":
            return [parent_el]
        elements = _navigate(parent_el, table.rows)
        if table.where is not None:
            attr = table.where.attr
            elements = [e for e in elements if (e.text(attr) or "").strip() in table.where.allowed]
        if table.meaningful is not None:
            elements = [e for e in elements if table.meaningful.keeps(e.text)]
        dedup = table.dedup
        if dedup is not None:
            chosen: dict[str, MockElement] = {}
            worst = len(dedup.prefer_rank)
            for e in elements:
                key = (e.text(dedup.by) or "").strip()
                old = chosen.get(key)
                if old is not None and dedup.prefer_attr is not None:
                    new_rank = dedup.prefer_rank.get(
                        (e.text(dedup.prefer_attr) or "").strip(), worst
                    )
                    old_rank = dedup.prefer_rank.get(
                        (old.text(dedup.prefer_attr) or "").strip(), worst
                    )
                    if new_rank > old_rank:
                        continue
                chosen[key] = e
            elements = list(chosen.values())
        return elements


def expected_outcome(model: AppModel, contract: CompiledContract) -> Expected:
    oracle = _Oracle(contract)
    rows: dict[str, list[Row]] = {}
    instances: dict[str, list[tuple[MockElement, Row, dict[str, Row]]]] = {}
    try:
        for table in contract.tables:
            parents = (
                [(model.application, {}, {})] if table.parent is None else instances[table.parent]
            )
            out_rows: list[Row] = []
            out_inst = []
            for parent_el, parent_row, parent_anc in parents:
                ancestors = (
                    parent_anc if table.parent is None else {**parent_anc, table.parent: parent_row}
                )
                for el in oracle.elements(table, parent_el):
                    for row in oracle.rows_for(table, el, parent_row, ancestors):
                        for col in table.columns:
                            if col.kind == "app_id":
                                row[col.name] = model.app_id
                        out_rows.append(row)
                        out_inst.append((el, row, ancestors))
            keep = last_per_key(table.key, out_rows)  # the documented rule: the last one wins
            if keep is not None:
                out_rows = [out_rows[i] for i in keep]
                out_inst = [out_inst[i] for i in keep]
            rows[table.name] = out_rows
            instances[table.name] = out_inst
    except _Reject as exc:
        return Expected("rejected", exc.code)
    return Expected("success", None, rows, _check_codes(rows))


def _check_codes(rows: dict[str, list[Row]]) -> set[str]:
    """The default contract's [[checks]], recomputed."""
    contacts = rows.get("app_contact_base", [])
    codes = set()
    if not contacts:
        codes.add("no_contacts")
    primaries = [c for c in contacts if c["contact_type_enum"] == 281]
    if not primaries:
        codes.add("no_primary_contact")
    if any(not c["first_name"] or not c["last_name"] for c in primaries):
        codes.add("primary_without_names")
    return codes


def expected_rows(model: AppModel, contract: CompiledContract) -> dict[str, list[Row]]:
    """The rows of a document the contract migrates; raises if it would be rejected."""
    outcome = expected_outcome(model, contract)
    if outcome.status != "success":
        raise AssertionError(f"app {model.app_id} is expected to be rejected ({outcome.code})")
    return outcome.rows
