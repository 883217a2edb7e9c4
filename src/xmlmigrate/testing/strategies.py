"""Hypothesis strategies over Provenir documents (needs the ``dev`` extra: hypothesis).

``generated_documents()`` draws whole documents from the mock generator (seed,
edge-case rate, size profile), so properties can compare the migration with
the model the generator rendered. ``mutated_documents()`` then damages such a
document the ways real data and hostile input do — attributes dropped,
blanked, made over-long, filled with garbage or wrong types, duplicate contact
ids, unknown codes, truncated bytes, a wrong encoding, or plain random bytes —
for properties that must hold for *any* input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hypothesis import strategies as st

from xmlmigrate.mock import default_generator
from xmlmigrate.mock.from_contract import ContractGenerator
from xmlmigrate.mock.generator import MAX_APP_ID, GeneratedDoc

_GENERATORS: dict[tuple[int, str, float], ContractGenerator] = {}
_ATTR = re.compile(r' ([A-Za-z_][\w\-]*)="([^"]*)"')
WRONG_TYPES = (
    "abc",
    "-1",
    "1e308",
    "NaN",
    "Infinity",
    "99/99/9999",
    "2016-02-30",
    "02/30/2016",
    "2016-1-25 25:61:88.000",
    "0x1F",
    "１２",
    "∞",
    "  ",
    "-0",
    "1,2,3",
    "$",
    "Y/N",
    "null",
)


def _generator(seed: int, profile: str, edge_rate: float) -> ContractGenerator:
    key = (seed % 4, profile, edge_rate)  # pools are per seed: reuse a few generators
    gen = _GENERATORS.get(key)
    if gen is None:
        gen = _GENERATORS[key] = default_generator(
            seed=key[0], size_profile=profile, edge_rate=edge_rate
        )
    return gen


@st.composite
def generated_documents(
    draw: st.DrawFn, edge_rates: tuple[float, ...] = (0.0, 0.02, 0.1, 0.3)
) -> GeneratedDoc:
    """A document and its model; most small, some of realistic size."""
    profile = draw(st.sampled_from(("small", "small", "small", "realistic")))
    edge_rate = draw(st.sampled_from(edge_rates))
    gen = _generator(draw(st.integers(0, 3)), profile, edge_rate)
    return gen.document(draw(st.integers(0, MAX_APP_ID - 1)))


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;").replace(">", "&gt;")
    )


_attr_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60)


@dataclass(frozen=True)
class Mutated:
    app_id: int
    data: bytes | str
    mutation: str


@st.composite
def mutated_documents(draw: st.DrawFn) -> Mutated:
    doc = draw(generated_documents(edge_rates=(0.0, 0.1)))
    xml = doc.xml
    start = xml.find("<CustData>")
    end = xml.find("</CustData>")
    custdata = xml[start:end]
    attrs = list(_ATTR.finditer(custdata))
    kind = draw(
        st.sampled_from(
            (
                "drop",
                "blank",
                "overlong",
                "garbage",
                "wrong_type",
                "duplicate_con_id",
                "unknown_code",
                "truncate",
                "encoding",
                "random_bytes",
                "break_markup",
            )
        )
    )
    if kind in ("drop", "blank", "overlong", "garbage", "wrong_type", "unknown_code") and attrs:
        picks = draw(st.lists(st.sampled_from(attrs), min_size=1, max_size=8, unique_by=id))
        pieces = []
        last = 0
        for m in sorted(picks, key=lambda m: m.start()):
            name, value = m.group(1), m.group(2)
            if kind == "drop":
                new = ""
            elif kind == "blank":
                new = f' {name}=""'
            elif kind == "overlong":
                new = f' {name}="{"X" * draw(st.integers(51, 5000))}"'
            elif kind == "garbage":
                new = f' {name}="{_escape(draw(_attr_text))}"'
            elif kind == "wrong_type":
                new = f' {name}="{draw(st.sampled_from(WRONG_TYPES))}"'
            else:
                code = draw(
                    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1, max_size=12)
                )
                new = f' {name}="{code if name.endswith(("_tp_c", "_code")) else value}"'
            pieces.append(custdata[last : m.start()] + new)
            last = m.end()
        pieces.append(custdata[last:])
        return Mutated(doc.app_id, xml[:start] + "".join(pieces) + xml[end:], kind)
    if kind == "duplicate_con_id":
        shared = draw(st.sampled_from(('con_id="1"', 'con_id=""', f'con_id="{doc.app_id * 8}"')))
        return Mutated(doc.app_id, re.sub(r'con_id="[^"]*"', shared, xml), kind)
    raw = xml.encode("utf-8")
    if kind == "truncate":
        return Mutated(doc.app_id, raw[: draw(st.integers(0, len(raw) - 1))], kind)
    if kind == "encoding":
        how = draw(st.sampled_from(("utf-16", "latin-1", "cp1252-bytes", "invalid-utf8")))
        if how == "utf-16":
            return Mutated(doc.app_id, xml.lstrip("\ufeff").encode("utf-16"), f"{kind}:{how}")
        if how in ("latin-1", "cp1252-bytes"):
            body = xml.lstrip("\ufeff").replace(
                "JOSÉ", "JOSÉ€" if how == "cp1252-bytes" else "JOSÉ"
            )
            return Mutated(
                doc.app_id,
                body.encode("cp1252" if how == "cp1252-bytes" else "latin-1", "replace"),
                f"{kind}:{how}",
            )
        at = draw(st.integers(0, len(raw) - 1))
        junk = draw(st.binary(min_size=1, max_size=8).filter(lambda b: not _valid_utf8(b)))
        return Mutated(doc.app_id, raw[:at] + junk + raw[at:], f"{kind}:{how}")
    if kind == "random_bytes":
        return Mutated(doc.app_id, draw(st.binary(max_size=2000)), kind)
    # break_markup: delete or insert one structural character somewhere in CustData
    at = start + draw(st.integers(0, max(0, len(custdata) - 1)))
    op = draw(st.sampled_from(("<", ">", '"', "&", "")))
    return Mutated(doc.app_id, xml[:at] + op + xml[at + (0 if op else 1) :], kind)


def _valid_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
