"""What a contract must produce from a generated model: the oracle of the end-to-end tests.

It walks the contract's declarations (tables, row paths, filters, dedup,
unpivot, column types and policies) over the generator's *typed* model — the
values the generator chose before rendering them as text in one of the real
formats — so it never parses a document and shares no conversion code with
the mapper. Calculated fields are evaluated by the expression engine (which has its own
exhaustive tests) over the oracle's row values and the model's elements — so the oracle serves
any contract (:mod:`xmlmigrate.mock.from_contract` generates its documents); the shipped
contracts' [[checks]] are recomputed by hand.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from lxml import etree

from xmlmigrate.contract import CompiledContract, CompiledTable
from xmlmigrate.contract import expressions as ex
from xmlmigrate.contract.compiled import CompiledColumn
from xmlmigrate.contract.converters import EXTRACTORS, InvalidValue
from xmlmigrate.contract.paths import path_steps
from xmlmigrate.mock.model import INVALID, AppModel, ClampTo, MockElement
from xmlmigrate.stages.mapping import last_per_key

Row = dict[str, Any]
_STEP = re.compile(r"([A-Za-z_][\w.\-]*)((?:\[@[\w\-]+='[^']*'\])*)(\[last\])?\Z")
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


def _navigate(
    el: MockElement, path: str, parents: dict[int, MockElement] | None = None
) -> list[MockElement]:
    """The elements ``path`` leads to (document order); ``[last]`` keeps the last match of
    its step, ``..`` climbs through ``parents`` (child id → parent)."""
    current = [el]
    for step in path_steps(path):
        if step == "..":
            up = [(parents or {}).get(id(e)) for e in current]
            current = [e for e in up if e is not None]
            continue
        m = _STEP.match(step)
        if m is None:
            raise ValueError(f"path step {step!r} is beyond what the oracle models")
        tag, preds = m.group(1), _PRED.findall(m.group(2))
        found = [
            c
            for e in current
            for c in e.children
            if c.tag == tag and all(c.text(a) == v for a, v in preds)
        ]
        current = found[-1:] if m.group(3) else found
    return current


SHIPPED = ("provenir_cc", "provenir_rl")  # contracts whose calculations are written out here


def _typed_text(col: CompiledColumn, text: str) -> Any:
    """A constant's or name's text as the column's type (a group number into an int)."""
    stripped = text.strip()
    if col.type in ("int", "bigint"):
        return int(stripped) if re.fullmatch(r"-?\d+", stripped) else INVALID
    if col.type == "bit":
        return col.convert(stripped) if stripped else None
    return stripped


def _from_text(col: CompiledColumn, text: str) -> Any:
    """A number or flag column's value of a text drawn for something else."""
    if col.type in ("int", "bigint"):
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if col.rounds and re.fullmatch(r"-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?", text):
            return int(Decimal(text.replace(",", "")).quantize(Decimal(1), ROUND_HALF_UP))
        return INVALID
    if col.type == "decimal":
        if not re.fullmatch(r"-?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?", text) or text in ("", "-"):
            return INVALID
        scale = Decimal(1).scaleb(-(col.scale or 0))
        return Decimal(text.replace(",", "")).quantize(scale, ROUND_HALF_UP)
    try:
        return col.convert(text)
    except InvalidValue:
        return INVALID


def _typed(col: CompiledColumn, text: str | None, value: Any, enums: Any) -> Any:
    """The column value a blank/invalid/typed model value gives, before defaults."""
    if text is None or not text.strip():
        return None
    t = col.type
    if t == "string" and col.pattern is None and col.extract is None:
        return text.strip()  # whatever the value was drawn for (a bit, a number): its text
    if value is INVALID:
        return INVALID
    if value is None:  # a "null" code of a truth table
        return None
    if col.extract is not None and isinstance(value, str) and value == text:
        # drawn as text for something else (the census's): what extraction finds in it
        if col.extract is EXTRACTORS["digits"]:
            value = "".join(ch for ch in text if ch.isdigit()) or INVALID
        else:
            found = re.search(r"-?\d[\d,]*(\.\d+)?|-?\.\d+", text)
            value = INVALID if found is None else found.group(0).replace(",", "")
        if value is INVALID or t == "string":
            return value
        return _from_text(col, value)
    if isinstance(value, str) and t in ("int", "bigint", "decimal", "bit"):
        return _from_text(col, text.strip())  # drawn as text (another column's, the census's)
    if t == "enum":  # the code as written, else in any case
        codes = enums[col.enum]
        if value in codes:
            return codes[value]
        upper = {k.upper(): v for k, v in codes.items()}
        return upper.get(str(value).upper(), INVALID)
    if t == "decimal":
        return Decimal(value).quantize(Decimal(1).scaleb(-(col.scale or 0)), ROUND_HALF_UP)
    if t == "date" and isinstance(value, datetime):
        return value.date()
    return value


class _Oracle:
    def __init__(self, contract: CompiledContract, model: AppModel) -> None:
        self.contract = contract
        self.model = model
        # the elements above the application, as the document has them: CustData holds the
        # application and its siblings, Request carries the model's extra attributes
        custdata = MockElement("CustData", children=[model.application, *model.siblings])
        request = MockElement("Request", dict(model.request), [custdata])
        request.attrs["ID"] = (str(model.app_id), model.app_id)
        provenir = MockElement("Provenir", dict(model.provenir), [request])
        self.parents: dict[int, MockElement] = {id(custdata): request, id(request): provenir}
        stack = [custdata]
        while stack:
            node = stack.pop()
            for child in node.children:
                self.parents[id(child)] = node
                stack.append(child)
        self._lxml: dict[int, Any] | None = None

    def element(self, el: MockElement) -> Any:
        """The lxml twin of a model element (for the expression engine's VALUE paths)."""
        if self._lxml is None:
            twins: dict[int, Any] = {}
            root = self.parents[id(self.model.application)]
            while id(root) in self.parents:
                root = self.parents[id(root)]

            def build(node: MockElement, parent: Any) -> None:
                attrs = {k: t for k, (t, _) in node.attrs.items() if t is not None}
                twin = (
                    etree.Element(node.tag, attrs)
                    if parent is None
                    else etree.SubElement(parent, node.tag, attrs)
                )
                twins[id(node)] = twin
                for child in node.children:
                    build(child, twin)

            build(root, None)
            self._lxml = twins
        return self._lxml.get(id(el))

    def holder(self, el: MockElement, subpath: str | None) -> MockElement | None:
        if subpath is None:
            return el
        found = _navigate(el, subpath, self.parents)
        return found[0] if found else None

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
        holder = self.holder(el, col.subpath)
        if holder is None:
            return None
        return self.attribute(table, col, holder, col.attr or "")

    def attribute(
        self, table: CompiledTable, col: CompiledColumn, holder: MockElement, attr: str
    ) -> Any:
        text, value = holder.attrs.get(attr, (None, None))
        if isinstance(value, ClampTo):
            value = value.value if col.on_impossible == "clamp" else INVALID
        # for digits/number extraction the model already holds the extracted value
        return self.finish(table, col, _typed(col, text, value, self.contract.enums))

    def rows_for(
        self, table: CompiledTable, el: MockElement, parent: Row, ancestors: dict[str, Row]
    ) -> list[Row]:
        pairs: Sequence[tuple[str, Any, dict[str, Any]] | None] = [None]
        if table.unpivot is not None:
            pairs = self.pairs(table, el)
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
                if col.kind in ("unpivot_name", "unpivot_value", "unpivot_field"):
                    assert pair is not None
                    if col.kind == "unpivot_name":
                        value = self.finish(table, col, _typed_text(col, pair[0]))
                    elif col.kind == "unpivot_value":
                        value = self.finish(table, col, pair[1](col))
                    elif col.attr in pair[2]:
                        value = self.finish(table, col, pair[2][col.attr or ""](col))
                    else:
                        value = None
                elif col.kind == "expr":
                    value = self.calculated(table, col, row, ancestors, el)
                    if value is not None and col.type == "decimal":
                        value = Decimal(value).quantize(
                            Decimal(1).scaleb(-(col.scale or 0)), ROUND_HALF_UP
                        )
                        if abs(value) >= Decimal(10) ** ((col.precision or 18) - (col.scale or 0)):
                            value = INVALID  # too large for the column
                    if value is not None and col.type in ("int", "bigint", "enum"):
                        value = int(Decimal(value).quantize(Decimal(1), ROUND_HALF_UP))
                    if isinstance(value, datetime) and col.type == "date":
                        value = value.date()
                    elif type(value) is date and col.type == "datetime":  # midnight
                        value = datetime(value.year, value.month, value.day)
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
            if table.skip_empty and not has_data:
                continue  # nothing of the document's: not written
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

    def calculated(
        self,
        table: CompiledTable,
        col: CompiledColumn,
        row: Row,
        ancestors: dict[str, Row],
        el: MockElement,
    ) -> Any:
        assert col.expr is not None
        return col.expr.evaluate(ex.Env(row, ancestors, self.element(el)))

    def pairs(self, table: CompiledTable, el: MockElement) -> list[tuple[str, Any, dict[str, Any]]]:
        """(name, value getter, field getters) per row an unpivot table makes of ``el``; a
        getter gives the typed value for a column (what the model says the text means)."""
        unpivot = table.unpivot
        assert unpivot is not None

        def kept(text: str | None) -> bool:
            t = (text or "").strip().lower()
            if unpivot.only is not None:
                return t in unpivot.only
            return bool(t) and t not in unpivot.ignore

        def getter(holder: MockElement, attr: str) -> Any:
            return lambda col: self.attribute(table, col, holder, attr)

        if unpivot.listed is None:
            prefix = unpivot.prefix or ""
            names = unpivot.attributes
            return [
                (
                    name[len(prefix) :] if names is None else name,
                    lambda col, text=text: _typed_text(col, text),
                    {},
                )
                for name, (text, _) in el.attrs.items()
                if text is not None
                and kept(text)
                and (name in names if names is not None else name.startswith(prefix))
            ]
        out = []
        for pair in unpivot.listed:
            fields: dict[str, Any] = {
                k: (lambda col, v=v: _typed_text(col, v)) for k, v in pair.fields.items()
            }
            made = False
            for group, counts in ((pair.reads, True), (pair.also, False)):
                for column, (subpath, attr) in group.items():
                    holder = self.holder(el, subpath)
                    text = None if holder is None else holder.text(attr)
                    if holder is not None and text is not None:
                        fields[column] = getter(holder, attr)
                        made = made or (counts and kept(text))
            if not pair.attr:
                if made:
                    out.append((pair.name, lambda col: None, fields))
                continue
            holder = self.holder(el, pair.subpath)
            text = None if holder is None else holder.text(pair.attr)
            if holder is not None and text is not None and kept(text):
                out.append((pair.name, getter(holder, pair.attr), fields))
        return out

    def elements(self, table: CompiledTable, parent_el: MockElement) -> list[MockElement]:
        if table.rows == ".":
            return [parent_el]
        elements = _navigate(parent_el, table.rows, self.parents)
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
    widened: dict[str, tuple[str, ...]] = {}
    if contract.members:  # several contracts: the one whose application element it has
        tag = model.application.tag
        index = next(
            (i for i, m in enumerate(contract.members) if m.application.rsplit("/", 1)[-1] == tag),
            0,
        )
        if contract.widened:  # its date columns another member maps as datetime
            widened = dict(contract.widened[index])
        contract = contract.members[index]
    oracle = _Oracle(contract, model)
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
    for table_name, names in widened.items():
        for row in rows.get(table_name, []):
            for name in names:
                if type(row.get(name)) is date:
                    day = row[name]
                    row[name] = datetime(day.year, day.month, day.day)
    codes = _check_codes(rows) if contract.name in SHIPPED else set()
    return Expected("success", None, rows, codes)


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
