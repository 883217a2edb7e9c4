"""The shipped contracts and the generator follow the census of real Provenir documents.

The census (``../shared/reference/provenir-document-census.md``, packaged as
``xmlmigrate/mock/census.json``) lists, per product line, every element path and attribute
of the predecessor's 194 sample documents with how often each occurs and how its values are
shaped. Generated documents are counted here the way the census counted the real ones and
compared within a tolerance; every path the shipped contracts read is one the census lists.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from xmlmigrate.contract import load_contract
from xmlmigrate.contract.model import CompiledContract
from xmlmigrate.contract.paths import split_path
from xmlmigrate.mock import generator_for
from xmlmigrate.mock.census import SHAPES, census, parse_census, shape_of
from xmlmigrate.model import MappedApp, RawRecord
from xmlmigrate.run.transform import transform_record

ROOT = Path(__file__).resolve().parents[2]
CENSUS_MD = ROOT.parent / "shared" / "reference" / "provenir-document-census.md"
SHIPPED = {"CC": "provenir_cc", "RL": "provenir_rl"}
DOCS = 300
LINES = ["CC", "RL"]
# the head every generated document starts with (its attributes are not drawn)
HEAD = {"Version", "Server", "ID", "Process", "Workflow", "Trans", "User"}


def test_the_packaged_census_is_the_census() -> None:
    if not CENSUS_MD.exists():
        pytest.skip(f"the census's Markdown is not beside this checkout ({CENSUS_MD})")
    packaged = json.loads((ROOT / "src/xmlmigrate/mock/census.json").read_text("utf-8"))
    assert parse_census(CENSUS_MD.read_text("utf-8")) == packaged


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        ("", "blank"),
        ("  ", "blank"),
        ("Y", "flag"),
        ("0", "flag"),
        ("123", "int"),
        ("12.50", "decimal"),
        ("1,234.56", "number with separators"),
        ("2021-03-04", "date Y-M-D"),
        ("03/04/2021", "date M/D/Y"),
        ("03-04-2021", "date M-D-Y"),
        ("2021-03-04 13:45:00", "datetime 24h"),
        ("3/4/2021 1:45:00 PM", "datetime 12h"),
        ("CURR", "code"),
        ("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3", "base64-like"),
        ("Main street 12", "text"),
    ],
)
def test_values_are_classified_as_the_census_did(value: str, shape: str) -> None:
    assert shape_of(value) == shape


def _reads(contract: CompiledContract) -> list[tuple[str, str, str, str]]:
    """(table, column, element path from Provenir, attribute) for everything the contract
    reads (the column is '' for a row filter's attribute)."""
    app = f"Provenir/{contract.application}"
    rows = {t.name: t for t in contract.tables}

    def base(table_name: str) -> str:
        table = rows[table_name]
        parent = app if table.parent is None else base(table.parent)
        return parent if table.rows == "." else f"{parent}/{table.rows}"

    def join(at: str, subpath: str | None) -> str:
        for step in (subpath or "").split("/"):
            tag = step.split("[", 1)[0]
            if tag == "..":
                at = at.rsplit("/", 1)[0]
            elif tag and tag != ".":
                at = f"{at}/{tag}"
        return at

    out: list[tuple[str, str, str, str]] = []
    for table in contract.tables:
        at = base(table.name)
        if table.where is not None:
            out.append((table.name, "", at, table.where.attr))
        for col in table.columns:
            if col.kind == "attr" and col.attr:
                out.append((table.name, col.name, join(at, col.subpath), col.attr))
            for path in sorted(col.expr.paths) if col.expr is not None else ():
                subpath, attr = split_path(path)
                out.append((table.name, col.name, join(at, subpath), attr))
        unpivot = table.unpivot
        if unpivot is not None and unpivot.listed is not None:
            for pair in unpivot.listed:
                if pair.attr:
                    out.append((table.name, "", join(at, pair.subpath), pair.attr))
                for subpath, attr in (*pair.reads.values(), *pair.also.values()):
                    out.append((table.name, "", join(at, subpath), attr))
        elif unpivot is not None and unpivot.attributes:
            out += [(table.name, "", at, a) for a in unpivot.attributes]
    return out


def _paths_read(contract: CompiledContract) -> set[tuple[str, str]]:
    return {(path, attr) for _, _, path, attr in _reads(contract)}


@pytest.mark.parametrize("line", LINES)
def test_every_path_a_shipped_contract_reads_is_in_real_documents(line: str) -> None:
    contract = load_contract(SHIPPED[line])
    assert contract.spelling is not None, "attributes are matched in any case"
    elements = census(line).elements
    missing = []
    for at, attr in sorted(_paths_read(contract)):
        names = {a.lower() for a in elements[at].attrs} if at in elements else set()
        if attr.lower() not in names:
            missing.append(f"{at}/@{attr}")
    assert missing == []


def _count(line: str) -> tuple[Counter[str], Counter[tuple[str, str]], dict[str, Counter[str]]]:
    """Documents holding each element path / attribute, and the shapes of each attribute's
    values, over ``DOCS`` generated documents of the shipped contract of ``line``."""
    gen = generator_for(load_contract(SHIPPED[line]), seed=11, size_profile="small")
    el_docs: Counter[str] = Counter()
    attr_docs: Counter[tuple[str, str]] = Counter()
    shapes: dict[str, Counter[str]] = {}
    for doc in gen.generate(DOCS):
        root = etree.fromstring(doc.xml.lstrip("\ufeff").encode("utf-8"))
        seen_el: set[str] = set()
        seen_attr: set[tuple[str, str]] = set()
        stack = [(root, "Provenir")]
        while stack:
            el, path = stack.pop()
            seen_el.add(path)
            for name, value in el.attrib.items():
                seen_attr.add((path, str(name)))
                shapes.setdefault(f"{path}/@{name}", Counter())[shape_of(value)] += 1
            if path.count("/") < 2 or path.startswith("Provenir/Request/CustData"):
                stack += [(c, f"{path}/{c.tag}") for c in el if isinstance(c.tag, str)]
        el_docs.update(seen_el)
        attr_docs.update(seen_attr)
    return el_docs, attr_docs, shapes


@pytest.fixture(scope="module", params=LINES)
def counted(request: pytest.FixtureRequest) -> tuple[str, tuple[object, ...]]:
    return request.param, _count(request.param)


def test_generated_documents_hold_the_census_elements_as_often(counted: tuple) -> None:
    line, (el_docs, _, _) = counted
    c = census(line)
    off = []
    for path, ec in c.elements.items():
        want, got = ec.docs / c.documents, el_docs[path] / DOCS
        if abs(want - got) > 0.12:
            off.append(f"{path}: census {want:.2f}, generated {got:.2f}")
    assert off == []
    under = sorted(p for p in el_docs if p.startswith("Provenir/Request/CustData/"))
    assert [p for p in under if p not in c.elements] == [], "an element real documents lack"


def test_generated_attributes_are_the_census_names_as_often(counted: tuple) -> None:
    """Each attribute of an element that occurs once per document is there in about the
    share of documents the census gives (what the contract needs on every row — a key, a
    role, a required value — excepted), and no attribute is one real documents lack."""
    line, (_, attr_docs, _) = counted
    c = census(line)
    contract = load_contract(SHIPPED[line])
    always = {
        a.lower()
        for t in contract.tables
        for a in [
            *(col.attr for col in t.columns if col.attr and (not col.nullable or col.warn)),
            *([t.where.attr] if t.where is not None else []),
            *(t.meaningful.any_of if t.meaningful is not None else []),
        ]
        if a
    }
    off, unknown = [], []
    for (path, name), n in attr_docs.items():
        ec = c.elements.get(path)
        if path == "Provenir" or not path.startswith("Provenir/Request"):
            continue
        if ec is None or name not in ec.attrs:
            unknown.append(f"{path}/@{name}")
            continue
        if ec.most > 1 or name.lower() in always or path == "Provenir/Request":
            continue
        want = ec.attrs[name].docs / c.documents
        got = n / DOCS
        if abs(want - got) > 0.15:
            off.append(f"{path}/@{name}: census {want:.2f}, generated {got:.2f}")
    assert sorted(u for u in unknown if u.rpartition("/@")[2] not in HEAD) == []
    assert off == []


def test_generated_values_have_the_census_shapes_in_its_proportions(counted: tuple) -> None:
    """Over the attributes the contract does not read (its own columns draw values of their
    type), the shares of blank, int, date M/D/Y … values are the census's, within 4 points;
    and every attribute's values take only shapes the census saw for it."""
    line, (_, _, shapes) = counted
    c = census(line)
    read = {(p, a.lower()) for p, a in _paths_read(load_contract(SHIPPED[line]))}
    want: Counter[str] = Counter()
    got: Counter[str] = Counter()
    foreign = []
    for key, seen in shapes.items():
        path, _, name = key.rpartition("/@")
        ec = c.elements.get(path)
        if ec is None or name not in ec.attrs or (path, name.lower()) in read:
            continue
        if path in ("Provenir", "Provenir/Request") and name in HEAD:
            continue  # what every generated document's head carries
        census_shapes = ec.attrs[name].shapes
        want.update(census_shapes)
        got.update(seen)
        extra = set(seen) - set(census_shapes)
        if extra:
            foreign.append(f"{key}: {sorted(extra)}")
    assert foreign == []
    total_w, total_g = sum(want.values()), sum(got.values())
    for shape in SHAPES:
        assert abs(want[shape] / total_w - got[shape] / total_g) < 0.04, shape


@pytest.mark.parametrize("line", LINES)
def test_the_shipped_contracts_fill_what_real_documents_can(line: str) -> None:
    """Over generated documents of the real shape, every column that reads an attribute real
    documents carry with a value (not only blanks) is filled at least once — the held-out
    check the real documents get, on generated ones."""
    contract = load_contract(SHIPPED[line])
    elements = census(line).elements
    filled: set[tuple[str, str]] = set()
    gen = generator_for(contract, seed=23, size_profile="small")
    for doc in gen.generate(DOCS):
        result = transform_record(RawRecord(doc.app_id, doc.xml), contract)
        assert isinstance(result, MappedApp), result
        for table_name, rows in result.rows.items():
            for row in rows:
                filled |= {(table_name, k) for k, v in row.items() if v is not None}
    can: set[tuple[str, str]] = set()
    for table_name, column, path, attr in _reads(contract):
        table = contract.table_by_name[table_name]
        kind = next((c.kind for c in table.columns if c.name == column), "")
        if kind != "attr" or path not in elements:
            continue
        element = elements[path]
        names = {a.lower(): a for a in element.attrs}
        real = element.attrs.get(names.get(attr.lower(), ""))
        if real is None:
            continue
        # documents of DOCS expected to carry a value there: at least 5 to be sure of one
        valued = sum(n for shape, n in real.shapes.items() if shape != "blank")
        if valued / census(line).documents * min(1, element.docs / element.occurrences) * DOCS >= 5:
            can.add((table_name, column))
    assert can, "no column reads a non-blank attribute"
    assert sorted(can - filled) == []
