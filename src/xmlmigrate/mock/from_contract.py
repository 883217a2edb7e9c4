"""Mock documents for any contract: ``xmlmigrate generate --contract FILE``.

Documents are derived from the contract's declarations: every element a column, row path,
listed pair or ``VALUE('…')`` of a calculation reads is created, with values drawn by the
column's type in the formats real documents use (dates in five styles, 12-hour datetimes,
codes of the column's enum, the truth table's codes, digits with separators, text up to the
column's length), blank values, and — at ``edge_rate`` — values no column accepts (impossible
dates, unknown codes, text in numbers, over-long text), elements of a type the row filter
skips, elements without meaningful data.

For a Provenir application (``Request/CustData/application`` or ``…/IL_application``) the
census of real documents (:mod:`xmlmigrate.mock.census`) shapes the rest: each attribute the
contract reads is there and blank as often as in real documents (unless the contract needs it
on every row), and every element and attribute real documents carry that the contract does not
read is rendered too, in the census's frequencies, spellings and value shapes. Which census:
the one of the application element the contract declares (:func:`declared_census`), or the
one (or none) a caller passes.

:class:`ContractModel` draws the model; :class:`ContractGenerator` renders it
(:func:`~xmlmigrate.mock.render.render_document`) with the realism of real documents
(:class:`~xmlmigrate.mock.generator.ProvenirProfile`: sizes after the size profile, bulk
sections from pre-rendered pools).

The documents carry the typed model (:class:`AppModel`) the oracle
(:mod:`xmlmigrate.testing.expected`) derives their expected rows from without parsing them.
"""

from __future__ import annotations

import base64
import functools
import random
import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal, overload

from xmlmigrate.contract import (
    CompiledContract,
    CompiledTable,
    default_contract_path,
    load_contract,
)
from xmlmigrate.contract.errors import InvalidValue
from xmlmigrate.contract.model import CompiledColumn
from xmlmigrate.contract.paths import path_steps, split_path
from xmlmigrate.mock import catalog as cat
from xmlmigrate.mock.census import (
    AttrCensus,
    ElementCensus,
    ProductCensus,
    census,
    product_line_of,
)
from xmlmigrate.mock.generator import (
    CONTACT_IDS_PER_APP,
    MAX_APP_ID,
    GeneratedDoc,
    MixedGenerator,
    MockGenerator,
    ProvenirProfile,
)
from xmlmigrate.mock.model import INVALID, AppModel, Attr, MockElement, parse_step
from xmlmigrate.mock.render import render_document
from xmlmigrate.mock.values import (
    draw_datetime,
    format_date,
    impossible_date,
    impossible_datetime,
)

BLANK_RATE = 0.08  # of a value the census does not count: absent (a fifth) or blank
DATES = (date(2000, 1, 1), 9000)  # the days dates and datetimes are drawn from
_STATES = ("TX", "OK", "CA", "NY", "FL", "IL", "GA", "AZ")
_TEXTS = ("Main street 12", "approved by analyst", "see notes", "Smith & Co", "pending docs")
_WORDS = ("ALPHA", "BRAVO", "DELTA", "ECHO", "KILO", "LIMA", "OSCAR", "ROMEO", "SIERRA", "TANGO")


def declared_census(contract: CompiledContract) -> ProductCensus | None:
    """The census of real documents of the application element ``contract`` declares, None
    for an element no census describes."""
    line = product_line_of(contract.application)
    return None if line is None else census(line)


class ContractModel:
    """The typed model of a document for ``contract`` (one product line: pass a member of a
    combined contract): what it reads, drawn by its declarations, at ``edge_rate`` values and
    elements it rejects or skips; with ``real`` (the census of the contract's application
    element), what real documents carry beside that, in their frequencies and shapes."""

    def __init__(
        self,
        contract: CompiledContract,
        edge_rate: float = 0.0,
        real: ProductCensus | None = None,
    ) -> None:
        self.edge_rate = edge_rate
        if contract.members:
            raise ValueError("generate for one contract at a time (a member, not the union)")
        self.contract = contract
        steps = contract.application.split("/")
        if len(steps) < 2 or not all(re.fullmatch(r"[A-Za-z_][\w.\-]*", s) for s in steps):
            raise ValueError(
                f"{contract.name}: application {contract.application!r} is not a plain path"
            )
        self.app_tag = steps[-1]
        self._bits: dict[int, dict[str, Any]] = {}
        # a Provenir application: what the census of real documents lists is rendered beside
        # what the contract reads, in its frequencies, spellings and value shapes
        self.census = real
        self._paths: dict[int, str] = {}  # id(element) -> its path from Provenir

    # -- the model ----------------------------------------------------------------------
    def build(self, rng: random.Random, app_id: int) -> AppModel:
        """The model of the document of ``app_id``, drawn from ``rng``."""
        application = MockElement(self.app_tag)
        model = AppModel(app_id, application)
        self._above = (_Siblings(model), _RequestAttrs(model), _ProvenirAttrs(model))
        self._parent: dict[int, MockElement] = {
            id(application): self._above[0],
            id(self._above[0]): self._above[1],
            id(self._above[1]): self._above[2],
        }
        self._paths = {
            id(application): f"Provenir/{self.contract.application}",
            id(self._above[0]): "Provenir/Request/CustData",
            id(self._above[1]): "Provenir/Request",
            id(self._above[2]): "Provenir",
        }
        elements: dict[str, list[MockElement]] = {}
        one_to_one: list[tuple[CompiledTable, list[MockElement]]] = []
        for table in self.contract.tables:
            parents = [application] if table.parent is None else elements[table.parent]
            if table.rows == ".":
                # filled once every row element exists, so that a path with predicates
                # (the PR contact) finds the element its table made instead of adding one
                elements[table.name] = parents
                one_to_one.append((table, parents))
                continue
            mine: list[MockElement] = []
            for parent in parents:
                mine += self._rows(rng, model, table, parent, app_id)
            elements[table.name] = mine
        for table, parents in one_to_one:
            for parent in parents:
                self._fill_row(rng, model, table, parent, app_id, 0)
        # what a row reads from rows of a table made after it (a contact's phone from its
        # CURR address): those elements exist now
        for table in self.contract.tables:
            if table.rows != ".":
                for k, el in enumerate(elements[table.name]):
                    self._fill_row(rng, model, table, el, app_id, k)
        if self.census is not None:
            for el in (*self._above, application):
                self._census_fill(rng, el)
        return model

    def _rows(
        self,
        rng: random.Random,
        model: AppModel,
        table: CompiledTable,
        parent: MockElement,
        app_id: int,
    ) -> list[MockElement]:
        *lead, last = table.rows.split("/")
        if not self._census_keeps(rng, parent, table.rows.split("/")[0].split("[")[0], table):
            return []  # as often absent as in real documents
        holder = parent
        for step in lead:
            holder = self._child(holder, step)
        count = rng.choices((1, 2, 3), weights=(70, 22, 8))[0]
        by_element = {c.name for c in table.columns if c.kind == "attr"}
        if table.where is None and table.dedup is None and not by_element & set(table.key):
            count = 1  # nothing tells two such elements apart: a second is a duplicate key
        allowed = sorted(table.where.allowed) if table.where is not None else []
        if table.where is not None:  # 'CURR' and 'curr' are one type: one element of it
            allowed = sorted({v.upper(): v for v in reversed(allowed)}.values())
        if table.dedup is not None and table.dedup.prefer_rank:  # the preferred types first
            rank = table.dedup.prefer_rank
            allowed.sort(key=lambda v: rank.get(v, len(rank)))
        if table.where is not None and count > len(allowed):
            count = len(allowed)
        out = []
        for k in range(count):
            el = self._add(holder, MockElement(last))
            if table.where is not None:
                el.attrs[table.where.attr] = (allowed[k], allowed[k])
            self._fill_row(rng, model, table, el, app_id, k)
            if table.meaningful is not None:  # the data that keeps the row (blank: an edge)
                self._meaningful(rng, table, el)
            out.append(el)
        edge = self.edge_rate and rng.random() < self.edge_rate
        if edge and table.where is not None:  # an element of a type the filter skips
            stray = self._add(holder, MockElement(last, {table.where.attr: ("WEIRD", "WEIRD")}))
            self._fill_row(rng, model, table, stray, app_id, count)
            model.edges.append(f"{table.name}.where")
        if edge and table.meaningful is not None:  # an element without meaningful data
            empty = MockElement(last)
            if table.where is not None:
                empty.attrs[table.where.attr] = (allowed[0], allowed[0])
            self._fill_row(rng, model, table, empty, app_id, count + 1)
            for attr in table.meaningful.any_of:
                empty.attrs[attr] = ("", None)
            self._add(holder, empty)
            model.edges.append(f"{table.name}.meaningful")
        return out

    def _fill_row(
        self,
        rng: random.Random,
        model: AppModel,
        table: CompiledTable,
        el: MockElement,
        app_id: int,
        index: int,
    ) -> None:
        dedup = table.dedup.by if table.dedup is not None else None
        for col in table.columns:
            if col.kind == "attr" and col.attr is not None:
                holder = self._holder(model, el, col.subpath)
                if holder is None or col.attr in holder.attrs:
                    continue
                if col.attr == dedup and col.subpath is None:
                    unique = app_id * CONTACT_IDS_PER_APP + index
                    holder.attrs[col.attr] = (str(unique), self._unique(col, unique))
                    continue
                holder.attrs[col.attr] = self._value(rng, col, self._presence(holder, col.attr))
        self._fill_pairs(rng, model, table, el)
        for col in table.columns:  # what calculations read: a value of the column that
            for path in sorted(col.expr.paths) if col.expr is not None else ():  # reads it too
                subpath, attr = split_path(path)
                holder = self._holder(model, el, subpath)
                if holder is not None and attr not in holder.attrs:
                    presence = self._presence(holder, attr)
                    reader = self._readers.get(attr)
                    if reader is not None:
                        holder.attrs[attr] = self._value(rng, reader, presence)
                        continue
                    if presence is not None and rng.random() >= presence[0]:
                        holder.attrs[attr] = (None, None)
                        continue
                    n = rng.randint(300, 850)  # else a number, what calculations mostly read
                    holder.attrs[attr] = (str(n), n)

    @functools.cached_property
    def _readers(self) -> dict[str, CompiledColumn]:
        """For an attribute name some column reads directly: that column (its type decides
        the value a calculation reading the same attribute finds)."""
        out: dict[str, CompiledColumn] = {}
        for table in self.contract.tables:
            for col in table.columns:
                if col.kind == "attr" and col.attr and col.attr not in out:
                    out[col.attr] = col
        return out

    def _meaningful(self, rng: random.Random, table: CompiledTable, el: MockElement) -> None:
        """At least one of the attributes the row's meaningful test looks at holds a value."""
        assert table.meaningful is not None
        if any((el.text(a) or "").strip() for a in table.meaningful.any_of):
            return
        for col in table.columns:
            if col.kind == "attr" and col.subpath is None and col.attr in table.meaningful.any_of:
                for _ in range(20):
                    value = self._value(rng, col)
                    if (value[0] or "").strip():
                        el.attrs[col.attr] = value
                        return

    def _fill_pairs(
        self, rng: random.Random, model: AppModel, table: CompiledTable, el: MockElement
    ) -> None:
        unpivot = table.unpivot
        if unpivot is None:
            return
        columns = {c.attr: c for c in table.columns if c.kind == "unpivot_field"}
        value_col = next((c for c in table.columns if c.kind == "unpivot_value"), None)
        if unpivot.listed is None:
            names = unpivot.attributes or [
                f"{unpivot.prefix or ''}{w.lower()}" for w in rng.sample(_WORDS, 4)
            ]
            for name in names:
                if name not in el.attrs:
                    el.attrs[name] = self._pair_text(rng, value_col, unpivot.ignore, el, name)
            return
        for pair in unpivot.listed:
            if pair.attr:
                holder = self._holder(model, el, pair.subpath)
                if holder is not None and pair.attr not in holder.attrs:
                    holder.attrs[pair.attr] = self._pair_text(
                        rng, value_col, unpivot.ignore, holder, pair.attr
                    )
            present = rng.random() < 0.7  # a group (slot) is there or not
            for column, (subpath, attr) in (*pair.reads.items(), *pair.also.items()):
                holder = self._holder(model, el, subpath)
                field_col = columns.get(column)
                if holder is None or attr in holder.attrs or field_col is None:
                    continue
                presence = self._presence(holder, attr)
                if presence is not None:  # each attribute as often as in real documents
                    if column in pair.fields and rng.random() >= presence[0]:
                        holder.attrs[attr] = (None, None)  # the group's fallback stands in
                        continue
                    holder.attrs[attr] = self._value(rng, field_col, presence)
                else:
                    holder.attrs[attr] = self._value(rng, field_col) if present else ("", None)

    def _pair_text(
        self,
        rng: random.Random,
        col: CompiledColumn | None,
        ignore: frozenset[str] = frozenset(),
        holder: MockElement | None = None,
        attr: str | None = None,
    ) -> Attr:
        presence = None if holder is None or attr is None else self._presence(holder, attr)
        if presence is not None:  # as often absent and blank as in real documents
            if rng.random() >= presence[0]:
                return (None, None)
            if rng.random() < presence[1]:
                return ("", None)
            if col is not None and col.type != "string":
                return self._value(rng, col, (1.0, 0.0))
            n = rng.randrange(0, 5000)  # a value: real documents' 'null' texts are not listed
            return (str(n), str(n))
        r = rng.random()
        if r < BLANK_RATE:
            return ("", None)
        if r < 2 * BLANK_RATE:
            # what listed pairs may ignore; elsewhere a value no number column takes: an edge
            if "null" in ignore or (self.edge_rate and col is not None and col.type != "string"):
                return ("null", None if "null" in ignore else INVALID)
            return ("", None)
        if col is not None and col.type != "string":
            return self._value(rng, col)
        n = rng.randrange(0, 5000)
        return (str(n), str(n))

    @staticmethod
    def _unique(col: CompiledColumn, n: int) -> Any:
        return n if col.type in ("int", "bigint") else str(n)

    # -- elements along paths -------------------------------------------------------------
    def _holder(self, model: AppModel, el: MockElement, subpath: str | None) -> MockElement | None:
        """The element ``subpath`` leads to from ``el``, created (with its predicates'
        attributes) where missing; None where it climbs beyond what the model renders, or
        where it names a row element of another table that this document does not have (a
        SEC contact an application-level column reads: made here, it would be a contact
        without con_id or data)."""
        if subpath is None:
            return el
        current = el
        row_tags = self._row_tags
        for step in path_steps(subpath):
            tag = step.split("[", 1)[0]
            if tag in row_tags and tag != current.tag:
                found = self._child(current, step, create=False)
                if found is None:
                    return None
                current = found
                continue
            if step == "..":
                parent = self._parent.get(id(current))
                if parent is None:
                    return None  # above Provenir
                current = parent
                continue
            if current is self._above[2] and step != "Request":
                return None
            if current is self._above[1] and step != "CustData":
                return None
            current = self._child(current, step)
        return current

    @functools.cached_property
    def _row_tags(self) -> frozenset[str]:
        """Element names that are the rows of a table (contacts, addresses, …)."""
        return frozenset(t.rows.rsplit("/", 1)[-1] for t in self.contract.tables if t.rows != ".")

    @overload
    def _child(self, parent: MockElement, step: str) -> MockElement: ...

    @overload
    def _child(self, parent: MockElement, step: str, create: bool) -> MockElement | None: ...

    def _child(self, parent: MockElement, step: str, create: bool = True) -> MockElement | None:
        parsed = parse_step(step)
        if parsed is None:
            raise ValueError(f"path step {step!r} is beyond what the generator models")
        for c in reversed(parent.children):  # [last] and plain steps meet the same element
            if parsed.matches(c):
                return c
        if not create:
            return None
        return self._add(parent, MockElement(parsed.tag, {a: (v, v) for a, v in parsed.predicates}))

    def _add(self, parent: MockElement, child: MockElement) -> MockElement:
        """Append ``child`` to ``parent``, noting its path from Provenir."""
        parent.children.append(child)
        self._parent[id(child)] = parent
        path = self._paths.get(id(parent))
        if path is not None:
            self._paths[id(child)] = f"{path}/{child.tag}"
        return child

    # -- the census of real documents -------------------------------------------------------
    def _element_census(self, el: MockElement) -> ElementCensus | None:
        if self.census is None:
            return None
        path = self._paths.get(id(el))
        return None if path is None else self.census.elements.get(path)

    def _attr_census(self, el: MockElement, attr: str) -> tuple[ElementCensus, AttrCensus] | None:
        ec = self._element_census(el)
        if ec is None:
            return None
        a = ec.attrs.get(attr)
        if a is None and self.contract.spelling is not None:
            a = next((x for x in ec.attrs.values() if x.name.lower() == attr.lower()), None)
        return None if a is None else (ec, a)

    def _presence(self, el: MockElement, attr: str) -> tuple[float, float] | None:
        """How often real documents carry ``attr`` on this element, and how often blank."""
        found = self._attr_census(el, attr)
        if found is None:
            return None
        ec, a = found
        if a.name != attr:  # the document's spelling, where the contract reads any case
            el.spelled[attr] = a.name
        present = min(1.0, a.occurrences / ec.occurrences)
        return present, a.shapes.get("blank", 0) / max(1, a.occurrences)

    def _census_keeps(
        self, rng: random.Random, holder: MockElement, tag: str, table: CompiledTable
    ) -> bool:
        """Whether this document has ``table``'s row elements under ``holder``: as often as
        real documents have them (always where a check counts the table's rows)."""
        if self.census is None or any(c.table == table.name for c in self.contract.checks):
            return True
        path = self._paths.get(id(holder))
        child = None if path is None else self.census.elements.get(f"{path}/{tag}")
        if path is None or child is None:
            return True
        above = self.census.elements.get(path)
        docs = above.docs if above is not None else self.census.documents
        return rng.random() < child.docs / max(1, docs)

    @functools.cached_property
    def _contract_tags(self) -> frozenset[str]:
        """Element names the contract reads: the model decides those, the census does not."""
        tags = {self.app_tag, *(p.rsplit("/", 1)[-1] for p in self.contract.other_product_lines)}
        tags |= {"Request", "CustData"}  # the frame every document has
        paths: list[str] = [t.rows for t in self.contract.tables if t.rows != "."]
        for table in self.contract.tables:
            for col in table.columns:
                if col.subpath:
                    paths.append(col.subpath)
                if col.expr is not None:
                    paths += [split_path(p)[0] or "" for p in col.expr.paths]
            if table.unpivot is not None and table.unpivot.listed is not None:
                for pair in table.unpivot.listed:
                    paths += [pair.subpath or ""]
                    paths += [sub or "" for sub, _ in (*pair.reads.values(), *pair.also.values())]
        for path in paths:
            for step in path.split("/"):
                tag = step.split("[", 1)[0]
                if tag and tag not in (".", ".."):
                    tags.add(tag)
        return frozenset(tags)

    @functools.cached_property
    def _census_children(self) -> dict[str, list[ElementCensus]]:
        out: dict[str, list[ElementCensus]] = {}
        for ec in self.census.elements.values() if self.census is not None else ():
            parent, _, tag = ec.path.rpartition("/")
            if tag not in self._contract_tags:
                out.setdefault(parent, []).append(ec)
        return out

    def _census_fill(self, rng: random.Random, el: MockElement) -> None:
        """Give ``el`` (and its subtree) the attributes and child elements real documents
        carry that the contract does not read, in the census's frequencies and shapes."""
        path = self._paths.get(id(el))
        ec = self._element_census(el)
        if path is None or ec is None:
            return
        have = {k.lower() for k in el.attrs}
        if path == "Provenir/Request":
            have |= {"id", "process", "workflow", "trans"}  # the document head writes these
        if path == "Provenir":
            have |= {"version", "server"}
        for name, a in ec.attrs.items():
            if name.lower() in have:
                continue
            if rng.random() < a.occurrences / ec.occurrences:
                text = self._shaped(rng, a)
                el.attrs[name] = (text, text)
        for child in self._census_children.get(path, ()):
            if rng.random() >= child.docs / max(1, ec.docs):
                continue
            mean = child.occurrences / max(1, child.docs)
            n = 1 if mean <= 1 else 1 + int(rng.expovariate(1 / (mean - 1)))
            for _ in range(min(n, child.most)):
                self._add(el, MockElement(child.path.rsplit("/", 1)[-1]))
        for sub in list(el.children):
            self._census_fill(rng, sub)

    @staticmethod
    def _shaped(rng: random.Random, a: AttrCensus) -> str:
        """A value of one of ``a``'s shapes, drawn in the census's proportions."""
        shapes = list(a.shapes)
        shape = rng.choices(shapes, weights=[a.shapes[s] for s in shapes])[0]
        d = date(2000, 1, 1) + timedelta(days=rng.randrange(9000))
        h, mi, sec = rng.randrange(24), rng.randrange(60), rng.randrange(60)
        if shape == "blank":
            return ""
        if shape == "int":
            return str(rng.randint(2, 99_999))
        if shape == "decimal":
            return f"{rng.randint(0, 9999)}.{rng.randint(0, 99):02d}"
        if shape == "number with separators":
            return f"{rng.randint(1, 999)},{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d}"
        if shape == "date Y-M-D":
            return d.isoformat()
        if shape == "date M/D/Y":
            return f"{d.month:02d}/{d.day:02d}/{d.year}"
        if shape == "date M-D-Y":
            return f"{d.month:02d}-{d.day:02d}-{d.year}"
        if shape == "datetime 24h":
            return f"{d.isoformat()} {h:02d}:{mi:02d}:{sec:02d}"
        if shape == "datetime 12h":
            return f"{d.month}/{d.day}/{d.year} {h % 12 or 12}:{mi:02d}:{sec:02d} {'AM' if h < 12 else 'PM'}"
        if shape == "flag":
            return rng.choice("YYYNNNTF01")
        if shape == "code":
            return rng.choice(_WORDS)[: rng.randint(2, 6)]
        if shape == "base64-like":
            raw = base64.b64encode(rng.randbytes(rng.randint(24, 48))).decode()
            return raw if any(c.isdigit() for c in raw) else raw + "0"
        return rng.choice(_TEXTS)

    # -- values --------------------------------------------------------------------------
    def _value(
        self, rng: random.Random, col: CompiledColumn, presence: tuple[float, float] | None = None
    ) -> Attr:
        r = rng.random()
        required = not col.nullable and col.default is None
        # a default that warns stands in for a required value: blank only as an edge case
        warns = col.warn is not None and not self.edge_rate
        if presence is not None and not required and not warns:
            present, blank = presence  # as often absent and blank as in real documents
            if r >= present:
                return (None, None)
            if rng.random() < blank:
                return ("", None)
        elif not required and not warns and r < BLANK_RATE:
            return (None if r < BLANK_RATE / 5 else "", None)
        edge = not required and self.edge_rate and rng.random() < self.edge_rate
        if edge and col.extract is not None:
            return "N/A", INVALID  # nothing to extract
        return DRAW[col.type](self, rng, col, bool(edge))

    # -- a value of each column type (DRAW): its text, and the value it stands for ----------
    def _enum(self, rng: random.Random, col: CompiledColumn, edge: bool) -> Attr:
        codes = [c for c in self.contract.enums[col.enum or ""] if c.strip()]
        if not codes:  # only the catch-all '': blank is what takes it
            return ("", None)
        if edge:
            return ("WEIRD", INVALID)
        code = rng.choice(codes)
        return code, code

    def _int(self, rng: random.Random, col: CompiledColumn, edge: bool) -> Attr:
        if edge:
            return "12abc", INVALID
        n = rng.randint(0, 9999)
        return str(n), n

    def _decimal(self, rng: random.Random, col: CompiledColumn, edge: bool) -> Attr:
        if edge:
            return "12abc", INVALID
        places = col.scale or 0
        top = min(10 ** ((col.precision or 10) - places) - 1, 250_000)
        value = Decimal(rng.randint(0, top * 10**places)).scaleb(-places)
        return str(value), value

    def _datetime(self, rng: random.Random, col: CompiledColumn, edge: bool) -> Attr:
        if edge:  # impossible parts: invalid, or clamped where the column clamps
            return impossible_datetime(rng, *DATES)
        return draw_datetime(rng, *DATES)

    def _date(self, rng: random.Random, col: CompiledColumn, edge: bool) -> Attr:
        if edge:
            return impossible_date(rng, *DATES)
        d = DATES[0] + timedelta(days=rng.randrange(DATES[1]))
        for _ in range(8):  # a rendering the column's formats accept
            text = format_date(rng, d)
            try:
                col.convert(text)
            except InvalidValue:
                continue
            return text, d
        return d.isoformat(), d

    def _string(self, rng: random.Random, col: CompiledColumn, edge: bool) -> Attr:
        if col.extract is not None:
            digits = "".join(str(rng.randrange(10)) for _ in range(min(col.length or 9, 9)))
            text = f"{digits[:3]}-{digits[3:]}" if len(digits) > 3 else digits
            if col.pattern is not None and not col.pattern.fullmatch(text):
                return text, INVALID
            return text, digits
        length = col.length or 20
        if edge:
            text = ("OVERLONG " * (length // 8 + 2)).strip()
        elif length == 2:  # state codes
            text = rng.choice(_STATES)
        else:
            text = rng.choice((*cat.FIRST, *cat.CITIES, *_WORDS))[:length].strip() or "X"
        if col.pattern is not None and not col.pattern.fullmatch(text):
            return text, INVALID
        return text, text

    def _bit(self, rng: random.Random, col: CompiledColumn, edge: bool) -> Attr:
        table = self._bits.get(id(col))
        if table is None:  # the spellings written, where the column's truth table knows them
            known = col.truth.codes() if col.truth is not None else {}
            table = {c: known[c.upper()] for c in cat.FLAG_SPELLINGS if c.upper() in known}
            self._bits[id(col)] = table
        if edge or not table:
            return "MAYBE", INVALID
        code = rng.choice(sorted(table))
        return code, table[code]


# how the generator draws a value of each column type (tests/unit/test_kinds.py: one entry
# for every type of xmlmigrate.contract.kinds.TYPES)
DRAW: dict[str, Callable[[ContractModel, random.Random, CompiledColumn, bool], Attr]] = {
    "enum": ContractModel._enum,
    "bit": ContractModel._bit,
    "int": ContractModel._int,
    "bigint": ContractModel._int,
    "decimal": ContractModel._decimal,
    "date": ContractModel._date,
    "datetime": ContractModel._datetime,
    "string": ContractModel._string,
}


class _Siblings(MockElement):
    """CustData as the model renders it: the application's siblings are its children."""

    def __init__(self, model: AppModel) -> None:
        super().__init__("CustData")
        self.children = model.siblings


class _ProvenirAttrs(MockElement):
    """Provenir as the model renders it: its attributes are the model's ``provenir``."""

    def __init__(self, model: AppModel) -> None:
        super().__init__("Provenir")
        self.attrs = model.provenir
        self.spelled = model.provenir_spelled


class _RequestAttrs(MockElement):
    """Request as the model renders it: its attributes are the model's ``request``."""

    def __init__(self, model: AppModel) -> None:
        super().__init__("Request")
        self.attrs = model.request
        self.spelled = model.request_spelled


class ContractGenerator(MockGenerator):
    """Documents for ``contract`` (one product line: pass a member of a combined contract):
    its model (:class:`ContractModel`) rendered with the realism of real Provenir documents
    (:class:`~xmlmigrate.mock.generator.ProvenirProfile`: sizes after ``size_profile``, the
    bulk sections). ``real`` is the census the model follows: by default the one the
    contract's application element has (:func:`declared_census`), None for none (the profile
    then gives elements an invented attribute load). Document *i* depends only on the contract,
    ``(seed, i, start_app_id, edge_rate)``, the size profile and the census."""

    def __init__(
        self,
        contract: CompiledContract,
        seed: int = 0,
        size_profile: str = "realistic",
        start_app_id: int = 1,
        edge_rate: float = 0.0,
        *,
        real: ProductCensus | Literal["declared"] | None = "declared",
    ) -> None:
        if start_app_id < 1:
            raise ValueError("start_app_id must be >= 1")
        if not 0.0 <= edge_rate <= 1.0:
            raise ValueError("edge_rate must be between 0 and 1")
        chosen = declared_census(contract) if real == "declared" else real
        self.profile = ProvenirProfile(seed, size_profile, filler=chosen is None)
        self.seed = seed
        self.start_app_id = start_app_id
        self.model = ContractModel(contract, edge_rate, chosen)

    def document(self, index: int) -> GeneratedDoc:
        rng = random.Random(self.seed * 1_000_003 + index)
        app_id = self.start_app_id + index
        if app_id > MAX_APP_ID:
            raise ValueError(f"app id {app_id} is above {MAX_APP_ID}: contact ids would overflow")
        model = self.model.build(rng, app_id)
        return GeneratedDoc(app_id, render_document(rng, model, self.profile), model)


def default_generator(
    seed: int = 0,
    size_profile: str = "realistic",
    start_app_id: int = 1,
    edge_rate: float = 0.0,
) -> ContractGenerator:
    """Documents for the default contract (the shipped credit-card one)."""
    return ContractGenerator(
        load_contract(default_contract_path()), seed, size_profile, start_app_id, edge_rate
    )


def generator_for(
    contract: CompiledContract,
    seed: int = 0,
    size_profile: str = "realistic",
    start_app_id: int = 1,
    edge_rate: float = 0.0,
) -> MockGenerator:
    """The generator for ``contract``: a :class:`ContractGenerator` per member, each following
    the census its application element has, a mix for several."""
    members = list(contract.members) or [contract]
    generators: list[MockGenerator] = [
        ContractGenerator(m, seed, size_profile, start_app_id, edge_rate) for m in members
    ]
    return generators[0] if len(generators) == 1 else MixedGenerator(generators)
