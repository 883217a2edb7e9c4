"""What a contract must produce from a generated model: the oracle of the end-to-end tests.

It reads the contract's *declarations* — the TOML text the contract was compiled from:
tables, row paths, filters, meaningful-row tests, dedup, unpivot, column types, truth
tables, enum codes, defaults and policies, calculations and checks — and walks them over the
generator's typed model (:mod:`xmlmigrate.mock.model`), the tree of elements and attribute
texts the generator rendered, so it never parses a document. Every rule is its own plain
implementation (:mod:`~xmlmigrate.testing.oracle_rules` for conversions,
:mod:`~xmlmigrate.testing.oracle_dates` for dates, :mod:`~xmlmigrate.testing.oracle_expr`
for calculations and checks): nothing here calls the engine's mapping stage or the compiled
contract's closures, so a bug in one of them shows as a difference in the end-to-end tests
(``tests/unit/test_oracle_mutations.py`` breaks the engine's rules one at a time to prove it).
Where the model says what it meant a value to be (a number, a date, a flag drawn for a column
of that type), the oracle's reading of the text must agree with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from xmlmigrate.contract import CompiledContract
from xmlmigrate.mock.model import INVALID, AppModel, ClampTo, MockElement
from xmlmigrate.model import MappedApp, Rejection
from xmlmigrate.testing import oracle_expr as ox
from xmlmigrate.testing.oracle_rules import (
    Column,
    Declarations,
    Table,
    calculated,
    convert,
    declarations,
    split_path,
)

Row = dict[str, Any]
Instance = tuple[MockElement, Row, dict[str, Row]]
_STEP = re.compile(r"([A-Za-z_][\w.\-]*)((?:\[@[\w\-]+=(?:'[^']*'|\"[^\"]*\")\])*)(\[last\])?\Z")
_PREDICATE = re.compile(r"\[@([\w\-]+)=(?:'([^']*)'|\"([^\"]*)\")\]")


class _Reject(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Expected:
    status: str  # "success" | "rejected"
    code: str | None = None  # the rejection code
    rows: dict[str, list[Row]] = field(default_factory=dict)
    check_codes: set[str] = field(default_factory=set)  # the contract's checks that warn
    checked: frozenset[str] = frozenset()  # every code of the contract's checks


@lru_cache(maxsize=32)
def _declared(text: str) -> Declarations:
    return declarations(text)


def contract_declarations(contract: CompiledContract) -> Declarations:
    """The declarations of one contract (not a union of several: see ``members``)."""
    if contract.text is None:
        raise ValueError(f"{contract.name}: the oracle reads the contract's text, and it has none")
    return _declared(contract.text)


# a step: characters other than "/" and "[", or a bracketed predicate whose quoted values may
# hold "/", "[" and "]"
_PATH_STEP = re.compile(r"""(?:[^/\[]|\[(?:'[^']*'|"[^"]*"|[^\]'"])*\])+""")


def path_steps(path: str) -> list[str]:
    """``a[@x='1/2']/b`` → ``["a[@x='1/2']", "b"]``: slashes inside brackets stay."""
    return [m.group() for m in _PATH_STEP.finditer(path)] or [""]


class _Tree:
    """The model's elements with their parents (``..`` climbs to Request and Provenir)."""

    def __init__(self, model: AppModel) -> None:
        custdata = MockElement("CustData", children=[model.application, *model.siblings])
        request = MockElement("Request", dict(model.request), [custdata])
        request.attrs["ID"] = (str(model.app_id), model.app_id)
        provenir = MockElement("Provenir", dict(model.provenir), [request])
        self.parent: dict[int, MockElement] = {id(custdata): request, id(request): provenir}
        stack = [custdata]
        while stack:
            node = stack.pop()
            for child in node.children:
                self.parent[id(child)] = node
                stack.append(child)

    def _step(self, elements: list[MockElement], step: str, last_only: bool) -> list[MockElement]:
        if step == "..":
            ups = [self.parent.get(id(e)) for e in elements]
            out: dict[int, MockElement] = {id(e): e for e in ups if e is not None}
            return list(out.values())
        if step in (".", ""):
            return elements
        m = _STEP.match(step)
        if m is None:
            raise ValueError(f"path step {step!r} is beyond what the oracle models")
        tag = m.group(1)
        wanted = [(a, v1 or v2) for a, v1, v2 in _PREDICATE.findall(m.group(2))]
        found = [
            c
            for e in elements
            for c in e.children
            if c.tag == tag and all(c.text(a) == v for a, v in wanted)
        ]
        if m.group(3):
            return found[-1:]
        return found[:1] if last_only else found

    def all(self, el: MockElement, path: str) -> list[MockElement]:
        """Every element ``path`` leads to from ``el``, in document order."""
        current = [el]
        for step in path_steps(path):
            current = self._step(current, step, False)
        return current

    def one(self, el: MockElement, path: str | None) -> MockElement | None:
        """The element ``path`` leads to: the first match, where a ``[last]`` step takes the
        last of its matches (from the one element the steps before it found)."""
        if path is None:
            return el
        if "[last]" not in path:
            found = self.all(el, path)
            return found[0] if found else None
        current = [el]
        for step in path_steps(path):
            current = self._step(current, step, True)
            if not current:
                return None
        return current[0]

    def text(self, el: MockElement, path: str) -> str | None:
        """The raw text of ``sub/path/@attr`` from ``el`` (None if absent)."""
        return self.attr(el, *split_path(path))

    def attr(self, el: MockElement, subpath: str | None, attr: str) -> str | None:
        """The raw text of ``attr`` of the element ``subpath`` leads to (None if absent)."""
        holder = self.one(el, subpath)
        return None if holder is None else holder.text(attr)


def _agree(col: Column, meant: Any, mine: Any, text: str) -> None:
    """Where the model drew a value for a column of this type, the oracle's reading of its
    text must give that value (else the generator or the oracle misreads the contract)."""
    drawn_as = {
        "int": int,
        "bigint": int,
        "decimal": Decimal,
        "date": date,
        "datetime": datetime,
        "bit": bool,
    }.get(col.type)
    if isinstance(meant, ClampTo):
        same = mine is INVALID if col.on_impossible != "clamp" else mine == meant.value
    elif drawn_as is not None and type(meant) is drawn_as and not col.extract:
        same = mine == meant and type(mine) is drawn_as
    else:
        return
    if not same:
        raise AssertionError(
            f"column {col.name}: the model means {meant!r} by {text!r}, the contract's rules "
            f"give {mine!r}"
        )


class _Oracle:
    def __init__(self, decl: Declarations, model: AppModel) -> None:
        self.decl = decl
        self.model = model
        self.tree = _Tree(model)

    def env(self, row: Row, ancestors: dict[str, Row], el: MockElement) -> ox.Env:
        return ox.Env(row, ancestors, el.text, lambda path: self.tree.text(el, path))

    def finish(self, col: Column, value: Any) -> Any:
        if value is INVALID:
            if col.on_invalid == "reject":
                raise _Reject("invalid_value")
            return None
        if isinstance(value, str) and col.length is not None and len(value) > col.length:
            if col.on_overflow == "reject":
                raise _Reject("value_too_long")
            return value[: col.length]
        return value

    def read(self, col: Column, el: MockElement) -> Any:
        holder = self.tree.one(el, col.subpath)
        if holder is None:
            return None
        text, meant = holder.attrs.get(col.attr or "", (None, None))
        mine = convert(col, text)
        if text is not None and text.strip():
            _agree(col, meant, mine, text)
        return self.finish(col, mine)

    def rows_for(
        self, table: Table, el: MockElement, parent: Row, ancestors: dict[str, Row]
    ) -> list[Row]:
        pairs: list[tuple[str, str | None, dict[str, str]] | None] = [None]
        if table.unpivot is not None:
            pairs = list(self.pairs(table, el))
        out = []
        for pair in pairs:
            row: Row = {}
            deferred: list[Column] = []
            has_data = False
            for col in table.columns:
                kind = col.kind
                if kind == "parent":
                    row[col.name] = parent[col.parent_column or ""]
                    continue
                if kind == "const":
                    row[col.name] = col.const
                    continue
                if kind == "app_id":
                    row[col.name] = self.model.app_id
                    continue
                if kind == "attr":
                    value = self.read(col, el)
                elif kind == "expr":
                    assert col.expr is not None
                    result = ox.evaluate(ox.parse(col.expr), self.env(row, ancestors, el))
                    value = self.finish(col, calculated(col, result))
                else:
                    assert pair is not None
                    name, text, fields = pair
                    if kind == "unpivot_name":
                        text = name
                    elif kind == "unpivot_field":
                        text = fields.get(col.attr or "")
                    value = self.finish(col, convert(col, text))
                if col.from_document and value is not None:
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
                if row[col.name] is None and not col.nullable:
                    raise _Reject("required_value_missing")
            out.append(row)
        return out

    def pairs(self, table: Table, el: MockElement) -> list[tuple[str, str | None, dict[str, str]]]:
        """(name, value text, field texts) per row an unpivot table makes of ``el``."""
        unpivot = table.unpivot
        assert unpivot is not None
        if unpivot.pairs is None:
            if unpivot.attributes is not None:
                listed = [(n, el.text(n)) for n in unpivot.attributes]
            else:
                prefix = unpivot.prefix or ""
                listed = [
                    (n[len(prefix) :], text)
                    for n, (text, _) in el.attrs.items()
                    if n.startswith(prefix)
                ]
            return [(n, text, {}) for n, text in listed if text is not None and unpivot.kept(text)]
        out: list[tuple[str, str | None, dict[str, str]]] = []
        for pair in unpivot.pairs:
            fields = dict(pair.fields)
            made = False
            for group, counts in ((pair.reads, True), (pair.also, False)):
                for column, (subpath, attr) in group.items():
                    text = self.tree.attr(el, subpath, attr)
                    if text is not None:
                        fields[column] = text
                        made = made or (counts and unpivot.kept(text))
            if not pair.attr:  # a grouped row: made by the values it reads
                if made:
                    out.append((pair.name, "", fields))
                continue
            text = self.tree.attr(el, pair.subpath, pair.attr)
            if text is not None and unpivot.kept(text):
                out.append((pair.name, text, fields))
        return out

    def elements(self, table: Table, parent_el: MockElement) -> list[MockElement]:
        if table.rows == ".":
            return [parent_el]
        elements = self.tree.all(parent_el, table.rows)
        if table.where is not None:
            attr, allowed = table.where
            elements = [e for e in elements if (e.text(attr) or "").strip() in allowed]
        if table.meaningful is not None:
            any_of = table.meaningful
            elements = [e for e in elements if any((e.text(a) or "").strip() for a in any_of)]
        if table.dedup is not None:
            by, prefer, rank = table.dedup
            chosen: dict[str, MockElement] = {}
            for e in elements:
                key = (e.text(by) or "").strip()
                old = chosen.get(key)
                if old is not None and prefer is not None:
                    new_rank = rank.get((e.text(prefer) or "").strip(), len(rank))
                    old_rank = rank.get((old.text(prefer) or "").strip(), len(rank))
                    if new_rank > old_rank:
                        continue  # the earlier one is preferred
                chosen[key] = e
            elements = list(chosen.values())
        return elements

    def check_codes(self, instances: dict[str, list[Instance]]) -> set[str]:
        """The codes of the contract's checks that warn, each check read from its text."""
        codes = set()
        for check in self.decl.checks:
            where = None if check.where is None else ox.parse(check.where)
            when = None if check.when is None else ox.parse(check.when)
            matched = 0
            for el, row, ancestors in instances.get(check.table, []):
                env = self.env(row, ancestors, el)
                if where is not None and ox.evaluate(where, env) is not True:
                    continue
                matched += 1
                if when is not None and ox.evaluate(when, env) is True:
                    codes.add(check.code)
            if check.min_rows is not None and matched < check.min_rows:
                codes.add(check.code)
        return codes


def _last_of_each_key(key: tuple[str, ...], rows: list[Row]) -> list[int]:
    """Indexes of the rows no later row shares the key with (the last one wins)."""
    later: set[tuple[Any, ...]] = set()
    kept = []
    for i in range(len(rows) - 1, -1, -1):
        k = tuple(rows[i][name] for name in key)
        if k not in later:
            later.add(k)
            kept.append(i)
    return kept[::-1]


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
    decl = contract_declarations(contract)
    oracle = _Oracle(decl, model)
    checked = frozenset(c.code for c in decl.checks)
    rows: dict[str, list[Row]] = {}
    instances: dict[str, list[Instance]] = {}
    try:
        for table in decl.tables:
            parents: list[Instance] = (
                [(model.application, {}, {})] if table.parent is None else instances[table.parent]
            )
            out_rows: list[Row] = []
            out_inst: list[Instance] = []
            for parent_el, parent_row, parent_anc in parents:
                ancestors = (
                    parent_anc if table.parent is None else {**parent_anc, table.parent: parent_row}
                )
                for el in oracle.elements(table, parent_el):
                    for row in oracle.rows_for(table, el, parent_row, ancestors):
                        out_rows.append(row)
                        out_inst.append((el, row, ancestors))
            keep = _last_of_each_key(table.key, out_rows)  # the documented rule: the last wins
            rows[table.name] = [out_rows[i] for i in keep]
            instances[table.name] = [out_inst[i] for i in keep]
    except _Reject as exc:
        return Expected("rejected", exc.code, checked=checked)
    codes = oracle.check_codes(instances)
    for table_name, names in widened.items():
        for row in rows.get(table_name, []):
            for name in names:
                if type(row.get(name)) is date:
                    day = row[name]
                    row[name] = datetime(day.year, day.month, day.day)
    return Expected("success", None, rows, codes, checked)


def expected_rows(model: AppModel, contract: CompiledContract) -> dict[str, list[Row]]:
    """The rows of a document the contract migrates; raises if it would be rejected."""
    outcome = expected_outcome(model, contract)
    if outcome.status != "success":
        raise AssertionError(f"app {model.app_id} is expected to be rejected ({outcome.code})")
    return outcome.rows


def disagreement(
    model: AppModel, contract: CompiledContract, result: MappedApp | Rejection
) -> str | None:
    """How the migration's ``result`` differs from what the oracle derives for one contract
    (rows, rejection code, the codes of the contract's checks), or None where they agree."""
    expected = expected_outcome(model, contract)
    if expected.status != "success":
        if isinstance(result, Rejection) and result.code == expected.code:
            return None
        return f"expected a rejection ({expected.code}), got {result!r}"[:500]
    if not isinstance(result, MappedApp):
        return f"expected rows, got {result!r}"[:500]
    for table, rows in expected.rows.items():
        got = result.rows.get(table)
        if got != rows:
            return f"{table}: expected {rows!r}, got {got!r}"[:500]
    found = {w.code for w in result.warnings} & expected.checked
    if found != expected.check_codes:
        return f"checks: expected {sorted(expected.check_codes)}, got {sorted(found)}"
    return None
