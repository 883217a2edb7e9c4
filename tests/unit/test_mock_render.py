"""The generator's parts: one renderer for every document, the realism of real Provenir
documents as a profile on top, the model of any contract, the value formats — and no part
reaching into another's private names."""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import pytest
from lxml import etree
from tests.contracts import contract_section

from xmlmigrate.contract import compile_contract, load_contract
from xmlmigrate.mock import (
    ContractGenerator,
    ProvenirProfile,
    declared_census,
    generator_for,
)
from xmlmigrate.mock.census import census
from xmlmigrate.mock.generator import SMALL_RANGE
from xmlmigrate.mock.model import AppModel, ClampTo, MockElement, Step, parse_step
from xmlmigrate.mock.render import Plain, render_document
from xmlmigrate.mock.values import (
    draw_datetime,
    format_date,
    impossible_date,
    impossible_datetime,
)

MOCK = Path(__file__).resolve().parents[2] / "src" / "xmlmigrate" / "mock"


def _model() -> AppModel:
    contact = MockElement("contact", {"con_id": ("9", 9), "note": ('a<b & "c"', 'a<b & "c"')})
    application = MockElement(
        "application",
        {"campaign": ("P1B", "P1B"), "absent": (None, None), "blank": ("", None)},
        [contact],
        spelled={"campaign": "Campaign"},
    )
    model = AppModel(42, application, siblings=[MockElement("IL_application")])
    model.request = {"user": ("UW01", "UW01"), "ID": ("7", 7)}
    model.provenir = {"ipaddress": ("10.0.0.1", "10.0.0.1"), "Server": ("X", "X")}
    return model


def test_the_plain_profile_renders_the_model_in_the_provenir_frame() -> None:
    server = random.Random(0).randint(1, 9)
    xml = render_document(random.Random(0), _model(), Plain())
    assert xml == (
        '\ufeff<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Provenir Version="4.0.0" Server="PRVNR{server}" ipaddress="10.0.0.1">'
        '<Request ID="42" Process="99000" Workflow="1" Trans="WEBAPP" user="UW01">'
        '<CustData><application Campaign="P1B" blank="">'
        '<contact con_id="9" note="a&lt;b &amp; &quot;c&quot;"/></application>'
        "<IL_application/></CustData></Request></Provenir>"
    )
    root = etree.fromstring(xml.encode("utf-8"))
    contact = root.find("Request/CustData/application/contact")
    assert contact is not None and contact.get("note") == 'a<b & "c"'


class _Marks:
    """A profile that marks where each of its additions lands."""

    def __init__(self) -> None:
        self.written = -1

    def attributes(self, rng: random.Random, tag: str) -> str:
        return ' mark="1"' if tag == "contact" else ""

    def content(self, tag: str) -> str:
        return "<inside/>" if tag == "IL_application" else ""

    def bulk(self, rng: random.Random, written: int) -> Iterable[str]:
        self.written = written
        return ["<Tail>", "</Tail>"]


def test_a_profile_adds_attributes_content_and_what_follows_custdata() -> None:
    profile = _Marks()
    xml = render_document(random.Random(1), _model(), profile)
    assert '<contact con_id="9" note="a&lt;b &amp; &quot;c&quot;" mark="1"/>' in xml
    assert "<IL_application><inside/></IL_application>" in xml  # no longer empty
    assert xml.endswith("</CustData><Tail></Tail></Request></Provenir>")
    assert profile.written == xml.index("<Tail>")  # told how much precedes it


def test_the_provenir_profile_adds_sizes_and_bulk_and_filler_only_when_asked() -> None:
    rng = random.Random(3)
    plain = ProvenirProfile(seed=1, size_profile="small", filler=False)
    assert plain.attributes(rng, "contact") == "" and plain.content("application") == ""
    filled = ProvenirProfile(seed=1, size_profile="small", filler=True)
    assert re.fullmatch(r'( con_\w+="[^"]*")+', filled.attributes(rng, "contact"))
    assert filled.content("IL_application") == "<comments/><communications/><TempVariables/>"
    assert filled.attributes(rng, "unknown_element") == ""
    for written in (0, 5_000):
        bulk = "".join(plain.bulk(rng, written))
        sections = re.findall(r"<(Journals|Audits|Reports|Documents)>", bulk)
        assert sections == ["Journals", "Audits", "Reports", "Documents"]
        assert SMALL_RANGE[0] - 80 - written <= len(bulk) <= SMALL_RANGE[1] - written + 8_000
    with pytest.raises(ValueError, match="size profile"):
        ProvenirProfile(size_profile="huge")


def test_a_generated_document_is_its_model_rendered_with_its_profile() -> None:
    gen = ContractGenerator(load_contract("provenir_rl"), seed=5, size_profile="small")
    doc = gen.document(3)
    rng = random.Random(5 * 1_000_003 + 3)
    model = gen.model.build(rng, doc.app_id)
    assert model == doc.model
    assert render_document(rng, model, gen.profile) == doc.xml


def _other_application() -> str:
    return contract_section().replace(
        'application = "Request/CustData/application"',
        'application = "Request/CustData/Elsewhere/application"',
    ) + (
        '\n[tables.application]\nrows = "."\nkey = ["app_id"]\n'
        "[tables.application.columns]\n"
        'app_id = { source = "app_id", type = "int", nullable = false }\n'
        'campaign = { attr = "campaign", type = "string", length = 10 }\n'
    )


def test_the_census_is_the_one_of_the_application_element_the_contract_declares() -> None:
    cc, rl = load_contract("provenir_cc"), load_contract("provenir_rl")
    assert declared_census(cc) == census("CC") and declared_census(rl) == census("RL")
    other = compile_contract(_other_application(), "other.toml")
    assert declared_census(other) is None
    # no census: elements get the invented attribute load and the application its sections
    xml = ContractGenerator(other, seed=2, size_profile="small").document(0).xml
    assert "<comments/><communications/><TempVariables/>" in xml
    assert re.search(r' app_flag_000="', xml)
    # the census of the element, unless the caller says otherwise
    declared = ContractGenerator(cc, seed=2, size_profile="small").document(0).xml
    assert "app_flag_000" not in declared
    without = ContractGenerator(cc, seed=2, size_profile="small", real=None).document(0).xml
    assert "app_flag_000" in without
    chosen = generator_for(cc, seed=2, size_profile="small")
    assert chosen.document(0).xml == declared


def test_model_path_steps() -> None:
    step = parse_step("contact[@ac_role_tp_c='PR'][@x='1'][last]")
    assert step == Step("contact", (("ac_role_tp_c", "PR"), ("x", "1")), True)
    assert parse_step("contact_address") == Step("contact_address", (), False)
    assert parse_step("..") is None and parse_step("a[1]") is None
    pr = MockElement("contact", {"ac_role_tp_c": ("PR", "PR"), "x": ("1", 1)})
    assert step.matches(pr)
    assert not step.matches(MockElement("contact", {"ac_role_tp_c": ("PR", "PR")}))
    assert not step.matches(MockElement("app", dict(pr.attrs)))


def test_dates_and_datetimes_in_the_real_styles_and_their_impossible_forms() -> None:
    rng = random.Random(9)
    d = date(1978, 5, 10)
    styles = {format_date(rng, d) for _ in range(200)}
    assert styles == {"05/10/1978", "05-10-1978", "5/10/1978", "1978-05-10"}
    twelve = 0
    for _ in range(300):
        text, value = draw_datetime(rng, date(2000, 1, 1), 9000)
        assert isinstance(value, datetime)
        if text.endswith("M"):
            twelve += 1
            assert datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p") == value
        else:
            assert datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f") == value
    assert 10 <= twelve <= 60  # a tenth
    text, clamp = impossible_date(rng, date(2000, 1, 1), 9000)
    assert text.startswith("13/") and isinstance(clamp, ClampTo) and clamp.value.month == 12
    text, clamp = impossible_datetime(rng, date(2000, 1, 1), 9000)
    assert text.endswith(":88.000") and clamp.value.second == 59
    assert clamp.value.microsecond == 0


def _crossings(path: Path) -> list[str]:
    """``from m import _x`` and ``m._x`` of another module, in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("xmlmigrate"):
            for alias in node.names:
                if alias.name.startswith("_"):
                    out.append(f"{path.name}:{node.lineno} imports {node.module}.{alias.name}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules |= {a.asname or a.name.split(".")[0] for a in node.names}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            out.append(f"{path.name}:{node.lineno} reads {node.value.id}.{node.attr}")
    return out


def test_no_module_of_the_generator_reaches_into_another_s_private_names() -> None:
    files = sorted(MOCK.glob("*.py"))
    assert len(files) >= 8
    assert [c for f in files for c in _crossings(f)] == []


def test_the_private_name_check_finds_a_crossing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from xmlmigrate.mock.generator import _journal\n"
        "from xmlmigrate.mock import generator\n"
        "x = generator._audit\n"
    )
    assert len(_crossings(bad)) == 2
