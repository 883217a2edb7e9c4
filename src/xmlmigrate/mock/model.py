"""What the generator rendered: a typed tree mirroring the document's ``CustData``.

Every attribute is stored as ``(text, value)``: the exact text written into
the document (``None`` when the attribute is absent, ``""`` when blank) and
the typed value a correct migration must recover from it — ``None`` for
blank, :data:`INVALID` for text that no column type accepts (an impossible
date, an unknown code, encrypted bytes). An impossible date also records, in
:class:`ClampTo`, what a contract that clamps must produce.

Tests derive the expected rows from these typed values
(:mod:`xmlmigrate.testing.expected`) without running any of the mapping code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


class _Invalid:
    __slots__ = ()

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


@dataclass(frozen=True, slots=True)
class ClampTo:
    """An impossible date (seconds 88, month 13): invalid, or ``value`` when clamped."""

    value: Any


Attr = tuple[str | None, Any]  # (rendered text or None if absent, intended value)

_STEP = re.compile(r"([A-Za-z_][\w.\-]*)((?:\[@[\w\-]+='[^']*'\])*)(\[last\])?\Z")
_PREDICATE = re.compile(r"\[@([\w\-]+)='([^']*)'\]")


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a contract's element path as the model follows it: ``tag``, the
    attribute values its predicates require (``[@type='CURR']``) and whether it keeps the
    last match only (``[last]``)."""

    tag: str
    predicates: tuple[tuple[str, str], ...]
    last: bool

    def matches(self, el: MockElement) -> bool:
        return el.tag == self.tag and all(el.text(a) == v for a, v in self.predicates)


def parse_step(step: str) -> Step | None:
    """``tag[@a='x'][last]`` as a :class:`Step`; None for a step of another form (``..``,
    other predicates), which the model does not follow."""
    m = _STEP.match(step)
    if m is None:
        return None
    return Step(m.group(1), tuple(_PREDICATE.findall(m.group(2))), m.group(3) is not None)


@dataclass(slots=True)
class MockElement:
    tag: str
    attrs: dict[str, Attr] = field(default_factory=dict)
    children: list[MockElement] = field(default_factory=list)
    # how the document spells an attribute the model names otherwise (a contract that reads
    # attributes in any case names ``partner_url_id``; the document carries ``Partner_URL_ID``)
    spelled: dict[str, str] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        slot = self.attrs.get(name)
        return None if slot is None else slot[0]

    def value(self, name: str) -> Any:
        slot = self.attrs.get(name)
        return None if slot is None else slot[1]

    def find_all(self, tag: str) -> list[MockElement]:
        return [c for c in self.children if c.tag == tag]


@dataclass(slots=True)
class AppModel:
    app_id: int
    application: MockElement
    edges: list[str] = field(default_factory=list)  # which edge cases were injected
    # elements beside the application in CustData, and extra attributes of Request (what
    # a contract reads with '..' paths)
    siblings: list[MockElement] = field(default_factory=list)
    request: dict[str, Attr] = field(default_factory=dict)
    request_spelled: dict[str, str] = field(default_factory=dict)  # as the document spells them
    provenir: dict[str, Attr] = field(default_factory=dict)  # attributes of the root
    provenir_spelled: dict[str, str] = field(default_factory=dict)

    @property
    def contacts(self) -> list[MockElement]:
        return self.application.find_all("contact")
