"""One renderer for every generated document: the typed model as Provenir XML.

:func:`render_document` writes the frame every Provenir document has (the byte-order mark,
``Provenir`` with its version and server, ``Request`` with its head attributes), the model's
``CustData`` (the application and its siblings, attributes in the model's order and
spellings), and whatever a :class:`Profile` adds: attributes and content the model does not
hold, and the sections that follow ``CustData``. :class:`Plain` adds nothing; the
credit-card realism (:class:`~xmlmigrate.mock.generator.ProvenirProfile`) adds the real
documents' sizes and bulk.

Rendering draws from the document's random generator (the server's number, then what the
profile draws), so a document is a function of its model and that generator's state.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from typing import Protocol

from xmlmigrate.mock.model import AppModel, MockElement

_NEEDS_ESCAPE = re.compile(r'[&<>"\t\n\r]')
_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)
# written by the frame itself: a model's attribute of the same name is left out
FRAME_ATTRIBUTES = ("Version", "Server")
HEAD = {"Process": "99000", "Workflow": "1", "Trans": "WEBAPP", "User": "SYSTEM"}


def attribute(name: str, value: object) -> str:
    """`` name="value"`` with the value escaped for an attribute (``None`` as blank)."""
    text = "" if value is None else str(value)
    if _NEEDS_ESCAPE.search(text):
        text = text.translate(_ESCAPES)
    return f' {name}="{text}"'


class Profile(Protocol):
    """What a document carries beyond its model."""

    def attributes(self, rng: random.Random, tag: str) -> str:
        """Attributes (rendered) written after the model's on an element named ``tag``."""
        ...

    def content(self, tag: str) -> str:
        """Content (rendered) written after the model's children of an element ``tag``."""
        ...

    def bulk(self, rng: random.Random, written: int) -> Iterable[str]:
        """What follows ``CustData`` in ``Request``, given the characters written so far."""
        ...


class Plain:
    """A profile that adds nothing: the document is its model in the Provenir frame."""

    def attributes(self, rng: random.Random, tag: str) -> str:
        return ""

    def content(self, tag: str) -> str:
        return ""

    def bulk(self, rng: random.Random, written: int) -> Iterable[str]:
        return ()


def render_document(rng: random.Random, model: AppModel, profile: Profile) -> str:
    """The document of ``model``, with what ``profile`` adds."""
    head = {"ID": str(model.app_id), **HEAD}
    for name, (text, _) in model.request.items():  # what a contract reads of Request
        if text is not None and name != "ID":
            for k in [k for k in head if k.lower() == name.lower()]:
                del head[k]
            head[model.request_spelled.get(name, name)] = text
    request = "".join(attribute(k, t) for k, t in head.items())
    root = "".join(
        attribute(model.provenir_spelled.get(k, k), t)
        for k, (t, _) in model.provenir.items()
        if t is not None and k not in FRAME_ATTRIBUTES
    )
    parts = [
        '\ufeff<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Provenir Version="4.0.0" Server="PRVNR{rng.randint(1, 9)}"{root}>'
        f"<Request{request}><CustData>",
    ]
    render_element(rng, model.application, parts, profile)
    for sibling in model.siblings:
        render_element(rng, sibling, parts, profile)
    parts.append("</CustData>")
    parts += profile.bulk(rng, sum(len(p) for p in parts))
    parts.append("</Request></Provenir>")
    return "".join(parts)


def render_element(rng: random.Random, el: MockElement, out: list[str], profile: Profile) -> None:
    """Append ``el`` and its subtree to ``out``."""
    out.append(f"<{el.tag}")
    spelled = el.spelled
    for name, (text, _) in el.attrs.items():
        if text is not None:
            out.append(attribute(spelled.get(name, name), text))
    extra = profile.attributes(rng, el.tag)
    if extra:
        out.append(extra)
    content = profile.content(el.tag)
    if not el.children and not content:
        out.append("/>")
        return
    out.append(">")
    for child in el.children:
        render_element(rng, child, out, profile)
    if content:
        out.append(content)
    out.append(f"</{el.tag}>")
