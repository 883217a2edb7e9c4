"""The part of a document a contract reads (so the parser builds only that): the
:class:`Scope`, and the analysis of a compiled contract's paths that finds it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xmlmigrate.contract.paths import path_steps, split_path

if TYPE_CHECKING:  # the model holds a Scope: its types are needed for annotations only
    from xmlmigrate.contract.model import CompiledCheck, CompiledTable


@dataclass(frozen=True, slots=True)
class Scope:
    """The part of a document a contract reads: ``root/prefix.../fragment``.

    For Provenir CC: root ``Provenir``, prefix ``("Request",)``, fragment ``CustData`` —
    about 3 % of the bytes. Only that element is built into a tree; the rest of the
    document is still checked for well-formedness (by libxml2 with a target that builds nothing),
    unless the caller opts out.
    """

    root: str
    prefix: tuple[str, ...]
    fragment: str


def scope_of(
    root: str, application: str, app_id_path: str | None, others: list[str]
) -> Scope | None:
    """Root/prefix/fragment when everything the contract reads lies in the application's parent
    element plus the attributes of its ancestors (Provenir: Request/CustData); else None."""
    steps = application.split("/")
    plain = re.compile(r"[A-Za-z_][\w.\-]*\Z")
    if len(steps) < 2 or not all(plain.match(s) for s in steps):
        return None
    prefix, fragment = tuple(steps[:-2]), steps[-2]
    ancestors = {"/".join(prefix[:n]) for n in range(1, len(prefix) + 1)}
    if app_id_path is not None and app_id_path not in ancestors:
        return None
    parent = "/".join(steps[:-1]) + "/"
    if any(not o.startswith(parent) for o in others):
        return None
    return Scope(root, prefix, fragment)


def within_scope(tables: Sequence[CompiledTable], checks: Sequence[CompiledCheck]) -> bool:
    """False when a path climbs (``..``) out of what the scoped parse keeps: the application's
    parent element and the attributes of its ancestors. Counted from the application element
    (a contact row climbs one level to reach it): ``../x/@a`` (beside the application) and
    ``../../@a`` (an ancestor's attribute) stay inside; ``../../x/@a`` does not. Rows found by
    a path that is not plain steps (``//``) count as out of scope: such a contract just parses
    whole documents."""
    depth: dict[str, int | None] = {}
    for t in tables:
        steps = [s for s in path_steps(t.rows) if s != "."] if t.rows != "." else []
        above = 0 if t.parent is None else depth.get(t.parent)
        plain = all(s and s != ".." for s in steps)
        depth[t.name] = above + len(steps) if above is not None and plain else None
    for t in tables:
        paths = [c.subpath for c in t.columns if c.subpath]
        for c in t.columns:
            if c.expr is not None:
                paths += [split_path(p)[0] or "" for p in c.expr.paths]
        if t.unpivot is not None and t.unpivot.listed:
            for pair in t.unpivot.listed:
                paths += [pair.subpath or ""]
                paths += [sub or "" for sub, _ in (*pair.reads.values(), *pair.also.values())]
        for check in checks:
            if check.table == t.name:
                for e in (check.when, check.where):
                    paths += [split_path(p)[0] or "" for p in (e.paths if e else ())]
        for path in paths:
            steps = path_steps(path)
            if ".." not in steps:
                continue
            level = depth[t.name]
            if level is None:
                return False
            up = next((i for i, s in enumerate(steps) if s != ".."), len(steps))
            if ".." in steps[up:]:
                return False
            beyond = up - level  # levels above the application element
            if beyond >= 2 and up < len(steps):
                return False
    return True
