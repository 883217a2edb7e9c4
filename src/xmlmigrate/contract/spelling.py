"""``attributes_any_case``: the attribute names a contract reads, and a document's
attributes renamed to the contract's spelling of them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

from lxml import etree

from xmlmigrate.contract.kinds import str_list

_ATTRIBUTE_IN_TEXT = re.compile(r"@([^\W\d][\w.\-]*)")
_PREDICATE_VALUE = re.compile(r"'[^']*'|\"[^\"]*\"")  # [@type='X']: X is no name
_TEXT_LITERAL = re.compile(r"'(?:[^']|'')*'")
_VALUE_PATH = re.compile(r"\bVALUE\s*\(\s*'((?:[^']|'')*)'", re.IGNORECASE)


def _path_attributes(path: str) -> list[str]:
    """The ``@name``s of an element path, outside its predicates' quoted values."""
    return _ATTRIBUTE_IN_TEXT.findall(_PREDICATE_VALUE.sub("", path))


def _expression_attributes(text: str) -> list[str]:
    """The ``@name``s an expression reads: outside its text literals, and in the paths of
    its VALUE('...') calls — never in a literal's text (a code such as 'X@Y')."""
    names = _ATTRIBUTE_IN_TEXT.findall(_TEXT_LITERAL.sub("''", text))
    for path in _VALUE_PATH.findall(text):
        names += _path_attributes(path.replace("''", "'"))
    return names


def attribute_names(data: Any) -> set[str]:
    """Every attribute name a contract's tables and checks read: ``attr``/``by`` values,
    ``any_of``/``attributes`` lists, each ``@name`` of a path (``path``, ``rows``, a pair's
    ``read``/``also``) and of an expression (``expr``, a check's ``when``/``where``). Not
    the text of codes, constants, messages or documentation, whatever it holds."""
    out: set[str] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in ("attr", "by") and isinstance(value, str):
                    out.add(value)
                elif key in ("any_of", "attributes") and str_list(value):
                    out.update(value)
                elif key in ("path", "rows") and isinstance(value, str):
                    out.update(_path_attributes(value))
                elif key in ("read", "also") and isinstance(value, dict):
                    paths = [v for v in value.values() if isinstance(v, str)]
                    out.update(n for path in paths for n in _path_attributes(path))
                elif key in ("expr", "when", "where") and isinstance(value, str):
                    out.update(_expression_attributes(value))
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
    return out


def respell(root: etree._Element, spelling: Mapping[str, str]) -> None:
    """Rename, throughout the tree, each attribute spelled otherwise than the contract spells
    it (``Partner_URL_ID`` for ``partner_url_id``) — unless the element also carries the
    contract's own spelling, which then wins (the predecessor: exact match first, else the
    first match in any case)."""
    for el in root.iter():
        attrib = el.attrib
        if not attrib:
            continue
        renames = None
        for name in cast(list[str], attrib.keys()):  # lxml gives str for str input
            wanted = spelling.get(name.lower())
            if wanted is not None and wanted != name and wanted not in attrib:
                renames = renames or []
                renames.append((name, wanted))
        for old, new in renames or ():
            if new not in attrib:  # the first in any case wins
                attrib[new] = attrib[old]
            del attrib[old]
