"""Which parts of a contract a set of documents actually exercises.

``contract check --corpus`` uses it to list the row paths and attribute paths
that never matched anything: usually a typo in the contract, or a field the
source system stopped writing.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import cast

from lxml import etree

from xmlmigrate.contract.kinds import SOURCE_KINDS
from xmlmigrate.contract.model import CompiledColumn, CompiledContract, CompiledTable
from xmlmigrate.contract.paths import locate
from xmlmigrate.contract.spelling import respell
from xmlmigrate.model import Rejection
from xmlmigrate.stages.errors import XmlRejected
from xmlmigrate.stages.validate import document_app_id, validate_document
from xmlmigrate.stages.xml import parse_document


@dataclass
class Coverage:
    documents: int = 0
    unreadable: int = 0
    row_hits: Counter[str] = field(default_factory=Counter)  # table → elements matched
    column_hits: Counter[tuple[str, str]] = field(default_factory=Counter)  # attribute present
    # for a column not matched yet: the attribute names found where it looks (its element,
    # or elements of that element's name elsewhere), to name the nearest one
    seen: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def nearest(self, table: str, column: str, attr: str) -> str | None:
        """The attribute the documents carry that ``attr`` most likely means: the same name
        in another case, else the closest spelling (``street_line_1`` → ``street_name``)."""
        names = sorted(self.seen.get((table, column), ()))
        same = [n for n in names if n.lower() == attr.lower()]
        if same:
            return f"{same[0]} (another case)"
        lowered = {n.lower(): n for n in names}
        close = difflib.get_close_matches(attr.lower(), list(lowered), n=1, cutoff=0.6)
        if not close:  # a prefix or suffix of a longer name: coll1_make for make
            close = [n for n in lowered if n.endswith("_" + attr.lower())][:1]
        return lowered[close[0]] if close else None

    def never_matched(self, contract: CompiledContract) -> list[str]:
        """'table' or 'table.column (path)' for every row path / attribute path never seen."""
        out = []
        for table in contract.tables:
            if table.rows != "." and self.row_hits[table.name] == 0:
                out.append(f"{table.name}: rows '{table.rows}'")
                continue
            for col in table.columns:
                if (
                    SOURCE_KINDS[col.kind].exercised
                    and self.column_hits[(table.name, col.name)] == 0
                ):
                    hint = (
                        self.nearest(table.name, col.name, col.attr)
                        if col.kind == "attr" and col.attr
                        else None
                    )
                    nearest = f" — nearest in the documents: {hint}" if hint else ""
                    out.append(f"{table.name}.{col.name}: {col.where()}{nearest}")
        return out


def measure(
    contract: CompiledContract, documents: Iterable[tuple[int | None, bytes | str]]
) -> Coverage:
    """Walk each readable document's application element the way the mapper does."""
    cov = Coverage()
    for app_id, data in documents:
        cov.documents += 1
        try:
            root = parse_document(data).root
        except XmlRejected:
            cov.unreadable += 1
            continue
        member = contract.route(root)  # several contracts: the document's product line
        if member.spelling is not None:
            respell(root, member.spelling)
        expected = app_id if app_id is not None else document_app_id(root, member)
        valid = validate_document(root, member, expected or 0)
        if isinstance(valid, Rejection):
            cov.unreadable += 1
            continue
        _walk(member, valid.application, cov)
    return cov


MAX_NAMES = 400  # attribute names kept per unmatched column


def _note_names(
    cov: Coverage,
    key: tuple[str, str],
    el: etree._Element,
    holder: etree._Element | None,
    subpath: str | None,
) -> None:
    """The attribute names where an unmatched column looks: its element, or, when that is
    missing, every element of the same name under the row element's document."""
    names = cov.seen.setdefault(key, set())
    if len(names) >= MAX_NAMES:
        return
    if holder is not None:
        found = [holder]
    else:
        tag = re.sub(r"\[.*?\]", "", (subpath or "").rstrip("/").rsplit("/", 1)[-1])
        root = el.getroottree().getroot()
        found = list(root.iter(tag))[:50] if tag and tag not in ("..", ".") else []
    for element in found:
        names.update(cast(list[str], element.keys())[: MAX_NAMES - len(names)])


def _walk(contract: CompiledContract, application: etree._Element, cov: Coverage) -> None:
    elements: dict[str, list[etree._Element]] = {}
    for table in contract.tables:
        parents = [application] if table.parent is None else elements[table.parent]
        mine: list[etree._Element] = []
        for parent in parents:
            mine.extend([parent] if table.rows == "." else parent.findall(table.rows))
        elements[table.name] = mine
        cov.row_hits[table.name] += len(mine)
        counted = [c for c in table.columns if SOURCE_KINDS[c.kind].exercised]
        for el in mine:
            for col in counted:
                READERS[col.kind](cov, table, col, el)


def _attribute(
    cov: Coverage, table: CompiledTable, col: CompiledColumn, el: etree._Element
) -> None:
    holder = locate(el, col.subpath)
    if holder is not None and holder.get(col.attr or "") is not None:
        cov.column_hits[(table.name, col.name)] += 1
    elif cov.column_hits[(table.name, col.name)] == 0:
        _note_names(cov, (table.name, col.name), el, holder, col.subpath)


def _unpivoted(
    cov: Coverage, table: CompiledTable, col: CompiledColumn, el: etree._Element
) -> None:
    if table.unpivot is not None and table.unpivot.pairs(el):
        cov.column_hits[(table.name, col.name)] += 1


# how each source kind the documents carry is looked for (SourceKind.exercised)
READERS: dict[str, Callable[[Coverage, CompiledTable, CompiledColumn, etree._Element], None]] = {
    "attr": _attribute,
    "unpivot_value": _unpivoted,
}
