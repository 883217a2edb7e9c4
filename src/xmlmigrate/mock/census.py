"""What real Provenir documents hold: element paths, attribute names, frequencies, value shapes.

The census of the predecessor's 194 published sample documents (names and shapes only, no
values) is kept in the package as ``census.json``; :func:`parse_census` turns the census's
Markdown into that form (``python -m xmlmigrate.mock.census CENSUS.md > census.json``).

Per product line (``CC``, ``RL``) the census gives, for each element path under ``Provenir``:
in how many documents it occurs and at most how often in one; for each attribute, in how many
documents it occurs and how its values are shaped (``blank``, ``int``, ``decimal``, ``date
M/D/Y`` …), counted over every occurrence. The generator draws from these proportions and
:func:`shape_of` classifies a value the way the census did, so that a test can count generated
documents the same way and compare.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from dataclasses import dataclass, field
from importlib import resources

# the application element of each product line, as contracts name it
APPLICATION = {"CC": "Request/CustData/application", "RL": "Request/CustData/IL_application"}
_LINE_OF = {path: line for line, path in APPLICATION.items()}
SHAPES = (
    "blank",
    "int",
    "decimal",
    "number with separators",
    "date Y-M-D",
    "date M/D/Y",
    "date M-D-Y",
    "datetime 24h",
    "datetime 12h",
    "flag",
    "code",
    "base64-like",
    "text",
)

_SECTION = re.compile(r"^## (Credit card|Rec lending) \((\d+) documents\)")
_ELEMENT = re.compile(r"^### `([^`]+)` — (\d+) docs, up to (\d+) per doc")
_ATTR = re.compile(r"`([^`]+)` (\d+) \(([^)]*)\)")
_SHAPE = re.compile(r"(.+?) (\d+)\Z")


@dataclass(frozen=True, slots=True)
class AttrCensus:
    name: str
    docs: int  # documents in which the attribute occurs
    shapes: dict[str, int]  # shape -> occurrences (over every occurrence of its element)
    # occurrences over all documents: the shapes' counts, or the documents where the census
    # lists fewer shapes than there were values (it names the three most common)
    occurrences: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "occurrences", max(self.docs, sum(self.shapes.values())))


@dataclass(frozen=True, slots=True)
class ElementCensus:
    path: str  # from Provenir, e.g. "Provenir/Request/CustData/application/contact"
    docs: int
    most: int  # the most occurrences in one document
    attrs: dict[str, AttrCensus]
    # occurrences over all documents: at least its most frequent attribute's, at least one
    # per document it is in
    occurrences: int = field(init=False)

    def __post_init__(self) -> None:
        most = max([self.docs, *(a.occurrences for a in self.attrs.values())])
        object.__setattr__(self, "occurrences", most)


@dataclass(frozen=True, slots=True)
class ProductCensus:
    product_line: str
    documents: int
    elements: dict[str, ElementCensus]


def parse_census(text: str) -> dict[str, dict[str, object]]:
    """The census Markdown as plain data (what ``census.json`` holds)."""
    out: dict[str, dict[str, object]] = {}
    line_of: dict[str, object] | None = None
    current: dict[str, object] | None = None
    for line in text.splitlines():
        m = _SECTION.match(line)
        if m:
            key = "CC" if m.group(1) == "Credit card" else "RL"
            line_of = {"documents": int(m.group(2)), "elements": {}}
            out[key] = line_of
            current = None
            continue
        m = _ELEMENT.match(line)
        if m and line_of is not None:
            current = {"docs": int(m.group(2)), "most": int(m.group(3)), "attrs": {}}
            elements = line_of["elements"]
            assert isinstance(elements, dict)
            elements[m.group(1)] = current
            continue
        if current is not None and line.startswith("`"):
            attrs = current["attrs"]
            assert isinstance(attrs, dict)
            for name, docs, shapes in _ATTR.findall(line):
                counts: dict[str, int] = {}
                for part in shapes.split(", "):
                    sm = _SHAPE.match(part.strip())
                    if sm is None or sm.group(1) not in SHAPES:
                        raise ValueError(f"census: unknown value shape {part!r} of {name}")
                    counts[sm.group(1)] = counts.get(sm.group(1), 0) + int(sm.group(2))
                attrs[name] = {"docs": int(docs), "shapes": counts}
    if set(out) != {"CC", "RL"}:
        raise ValueError("census: expected a credit-card and a rec-lending section")
    return out


@functools.cache
def census(product_line: str) -> ProductCensus:
    """The packaged census of one product line ("CC" or "RL")."""
    data = json.loads(resources.files(__package__).joinpath("census.json").read_text("utf-8"))
    raw = data[product_line]
    elements = {
        path: ElementCensus(
            path,
            e["docs"],
            e["most"],
            {n: AttrCensus(n, a["docs"], dict(a["shapes"])) for n, a in e["attrs"].items()},
        )
        for path, e in raw["elements"].items()
    }
    return ProductCensus(product_line, raw["documents"], elements)


def product_line_of(application: str) -> str | None:
    """The census section for a contract's application element, if it is a Provenir one."""
    return _LINE_OF.get(application)


_INT = re.compile(r"-?\d+\Z")
_DECIMAL = re.compile(r"-?\d*\.\d+\Z")
_SEPARATED = re.compile(r"-?\$?\d{1,3}(,\d{3})+(\.\d+)?\Z")
_YMD = re.compile(r"\d{4}-\d{1,2}-\d{1,2}\Z")
_MDY = re.compile(r"\d{1,2}/\d{1,2}/\d{4}\Z")
_MDY_DASH = re.compile(r"\d{1,2}-\d{1,2}-\d{4}\Z")
_DT12 = re.compile(r"\d{1,4}[-/]\d{1,2}[-/]\d{2,4}[ T]\d{1,2}:\d{2}(:\d{2})?(\.\d+)? ?[AaPp][Mm]\Z")
_DT24 = re.compile(r"\d{1,4}[-/]\d{1,2}[-/]\d{2,4}[ T]\d{1,2}:\d{2}(:\d{2})?(\.\d+)?\Z")
_FLAG = frozenset("YNTF01")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,11}\Z")
_BASE64 = re.compile(r"[A-Za-z0-9+/=]{24,}\Z")


# the census's classifier, in its order: the first pattern that matches names the shape
_CLASSIFY: tuple[tuple[re.Pattern[str], str], ...] = (
    (_INT, "int"),
    (_DECIMAL, "decimal"),
    (_SEPARATED, "number with separators"),
    (_YMD, "date Y-M-D"),
    (_MDY, "date M/D/Y"),
    (_MDY_DASH, "date M-D-Y"),
    (_DT12, "datetime 12h"),
    (_DT24, "datetime 24h"),
    (_CODE, "code"),
)


def shape_of(value: str) -> str:
    """The census's value shape of ``value`` (its classifier, applied in the same order)."""
    v = value.strip()
    if not v:
        return "blank"
    if v in _FLAG:
        return "flag"
    for pattern, shape in _CLASSIFY:
        if pattern.match(v):
            return shape
    if _BASE64.match(v) and any(c.isdigit() for c in v):
        return "base64-like"
    return "text"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m xmlmigrate.mock.census CENSUS.md > census.json", file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        data = parse_census(f.read())
    json.dump(data, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
