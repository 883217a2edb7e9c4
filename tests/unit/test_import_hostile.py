"""``xmlmigrate contract import`` on hostile input (issue 21, items 5–8): every value of the
JSON reaches the TOML and the expression language quoted, never pasted; bad input is a located
one-line error that leaves an existing ``--out`` file as it was; the work grows linearly with
the mappings and the input has a size cap; lengths and scales are checked for every database
before any DDL is sent."""

from __future__ import annotations

import cProfile
import json
import pstats
import re
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree
from tests.contracts import contract_section

from xmlmigrate.cli import main
from xmlmigrate.contract import compile_contract
from xmlmigrate.contract import import_ as importer
from xmlmigrate.contract.errors import ContractError, ContractImportError
from xmlmigrate.contract.import_ import import_contract
from xmlmigrate.db.schema import build_schema
from xmlmigrate.errors import UserError
from xmlmigrate.model import MappedApp, RawRecord
from xmlmigrate.run.transform import transform_record

CONTRACTS = Path(__file__).resolve().parents[1] / "fixtures" / "contracts"
SMALL = CONTRACTS / "predecessor_small.json"
CONTACTS = CONTRACTS / "predecessor_contacts.json"
APP = "/Provenir/Request/CustData/application"
LONGEST_ERROR = 1_000  # characters: a value in an error line is shown cut


def _write(tmp: Path, data: Any, name: str = "c.json") -> Path:
    path = tmp / name
    path.write_text(json.dumps(data), encoding="utf-8")  # ASCII: \ud800 stays an escape
    return path


def _small_with(**mapping: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SMALL.read_text(encoding="utf-8"))
    data["mappings"].append(mapping)
    return data


def _refused(path: Path) -> str:
    """The import's error for ``path``: one line, the file named, the values shown cut."""
    with pytest.raises(ContractImportError) as info:
        import_contract(path)
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    assert len(message) < LONGEST_ERROR, message[:300]
    assert path.name in message
    return message


# -- item 5: values are quoted for the TOML and the expression language, never pasted -------


def test_an_attribute_that_is_no_xml_name_is_refused_not_pasted_into_an_expression(
    tmp_path: Path,
) -> None:
    """Before: the attribute landed in ``UPPER(VALUE('@x')) = 'X9' OR UPPER(VALUE('@y'))``,
    a calculation reading two other attributes."""
    attack = "x')) = 'X9' OR UPPER(VALUE('@y"
    path = _write(
        tmp_path,
        _small_with(
            xml_path=APP,
            xml_attribute=attack,
            target_table="app_base",
            target_column="shade2_enum",
            enum_name="shade_enum",
            data_type="smallint",
            mapping_type=["calculated_field", "enum"],
            expression="CASE WHEN zz_flag = 'Q' THEN 901 END",
        ),
    )
    message = _refused(path)
    assert "mappings[12]" in message and "xml_attribute" in message
    assert "not an XML attribute name" in message


def test_a_contact_role_with_quotes_is_matched_as_written(tmp_path: Path) -> None:
    """Before: the role ``PR'][@first_name='ANA`` became two predicates of the selector's
    path, so it read the PR contact named ANA instead of the contact of that role."""
    role = "PR'][@first_name='ANA"
    data = json.loads(CONTACTS.read_text(encoding="utf-8"))
    rule = data["element_filtering"]["filter_rules"][0]
    rule["required_attributes"]["ac_role_tp_c"] = [role, "AUTHU"]
    data["enum_mappings"]["contact_type_enum"] = {role: 281, "AUTHU": 280}
    contract = compile_contract(import_contract(_write(tmp_path, data)).toml, "c.toml")
    doc = etree.Element("Provenir")
    app = etree.SubElement(
        etree.SubElement(etree.SubElement(doc, "Request", ID="5"), "CustData"), "application"
    )
    app.set("app_receive_date", "2020-01-01")
    etree.SubElement(app, "contact", con_id="1", ac_role_tp_c=role, first_name="ZED")
    etree.SubElement(app, "contact", con_id="2", ac_role_tp_c="PR", first_name="ANA")
    mapped = transform_record(RawRecord(5, etree.tostring(doc)), contract)
    assert isinstance(mapped, MappedApp), mapped
    assert mapped.rows["app_base"][0]["pr_first_name"] == "ZED"
    assert [r["con_id"] for r in mapped.rows["app_contact_base"]] == [1]


def test_a_role_no_element_path_can_quote_is_refused(tmp_path: Path) -> None:
    data = json.loads(CONTACTS.read_text(encoding="utf-8"))
    rule = data["element_filtering"]["filter_rules"][0]
    rule["required_attributes"]["ac_role_tp_c"] = ["P'R\"", "AUTHU"]
    message = _refused(_write(tmp_path, data))
    assert "element_filtering.filter_rules[0]" in message and "both" in message


def test_a_file_name_with_a_newline_stays_in_the_header_comment(tmp_path: Path) -> None:
    """Before: the name's second line became TOML, an enum ``zz`` of its own."""
    stem = "c\n[enums.zz]\nx = 1 #"
    path = _write(tmp_path, json.loads(SMALL.read_text(encoding="utf-8")), stem + ".json")
    toml = import_contract(path).toml
    assert "zz" not in tomllib.loads(toml)["enums"]
    contract = compile_contract(toml, "c.toml")
    assert contract.name == stem and "zz" not in contract.enums


@pytest.mark.parametrize(
    ("default", "data_type", "wanted"),
    [
        ({"a": 1}, "string", "default_value must be text, a number or null, not an object"),
        ([1], "string", "default_value must be text, a number or null, not a list"),
        (True, "string", "default_value true is a truth value"),
        ("1e400", "string", None),  # text: kept as written
        (12, "string", None),
    ],
)
def test_a_default_that_is_no_text_is_refused_or_kept_as_written(
    tmp_path: Path, default: Any, data_type: str, wanted: str | None
) -> None:
    """Before: ``{"a": 1}``, ``true`` and ``1e400`` became the texts "{'a': 1}", "True" and
    "inf"."""
    mapping = {
        "xml_path": APP,
        "xml_attribute": "zz_x",
        "target_table": "app_base",
        "target_column": "zz_x",
        "data_type": data_type,
        "data_length": 20,
        "default_value": default,
    }
    path = _write(tmp_path, _small_with(**mapping))
    if wanted is not None:
        message = _refused(path)
        assert "mappings[12]" in message and wanted in message
        return
    column = tomllib.loads(import_contract(path).toml)["tables"]["app_base"]["columns"]["zz_x"]
    assert column["default"] == str(default)


def test_a_default_beyond_a_floats_range_is_refused(tmp_path: Path) -> None:
    """Before: 1e400 became the default "inf"."""
    mapping = {
        "xml_path": APP,
        "xml_attribute": "zz_x",
        "target_table": "app_base",
        "target_column": "zz_x",
        "data_type": "decimal",
        "data_length": 2,
        "default_value": "@D@",
    }
    path = tmp_path / "c.json"
    path.write_text(json.dumps(_small_with(**mapping)).replace('"@D@"', "1e400"))
    message = _refused(path)
    assert "mappings[12].default_value" in message and "1e400" in message


def test_a_truth_value_default_of_a_bit_column_stays_a_truth_value(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _small_with(
            xml_path=APP,
            xml_attribute="zz_b",
            target_table="app_base",
            target_column="zz_b",
            data_type="bit",
            default_value=True,
        ),
    )
    toml = import_contract(path).toml
    assert tomllib.loads(toml)["tables"]["app_base"]["columns"]["zz_b"]["default"] is True
    assert compile_contract(toml, "c.toml").table_by_name["app_base"].column("zz_b").default


# hostile texts: quotes, backslashes, line breaks, brackets, TOML and path specials, unicode,
# long ones; and names that are fine, to reach the mapping
SPECIALS = [
    "'",
    '"',
    "\\",
    "\n",
    "\r\n",
    "\t",
    "]",
    "[",
    ")",
    "(",
    "=",
    "#",
    "{",
    "}",
    ",",
    ".",
    "@",
    "/",
    " ",
    "\x00",
    "\x1f",
    "\x7f",
    "\u2028",
    "\x85",
    "\ufeff",
    "é",
    "ß",
    "中",
    "\U0001f600",
    "'''",
    '"""',
    "[last]",
    "VALUE('",
    "\\u0041",
    "x",
    "A",
]
NAMED = [
    "x')) = 'X9' OR UPPER(VALUE('@y",
    "PR'][@first_name='ANA",
    "c\n[enums.zz]\nx = 1 #",
    "a' OR '1'='1",
    '"] = 1\n[x]',
]
# no lone surrogate here: each would stop the import before anything else is compared
# (test_bad_input_is_a_located_one_line_error_and_the_out_file_stays has one)
_characters = st.characters(codec="utf-8")  # no lone surrogate: UTF-8 has none
_hostile = st.one_of(
    st.sampled_from(NAMED),
    st.lists(st.sampled_from(SPECIALS), min_size=1, max_size=8).map("".join),
    st.text(_characters, min_size=1, max_size=12),
    st.text(alphabet="a'\"]\\\n", min_size=3_000, max_size=5_000),
)
_xml_name = st.from_regex(r"[A-Za-z_é][A-Za-z0-9_é.\-]{0,12}", fullmatch=True)
_identifier = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)


# values a document can carry as they are (quotes, brackets, path and TOML specials, unicode)
_in_documents = (
    st.lists(
        st.sampled_from([c for c in SPECIALS if c.strip() == c and c.isprintable()]), min_size=1
    )
    .map("".join)
    .filter(lambda s: s.strip() == s != "")
)
_value = st.one_of(st.from_regex(r"[A-Z][A-Z0-9 ]{0,6}[A-Z0-9]", fullmatch=True), _in_documents)
# a default: JSON text as the predecessor's file would hold it
_default = st.one_of(
    _hostile.map(lambda s: json.dumps(s)),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["true", "false", "null", '{"a": 1}', "[1]", "1e400", "-1e999", "NaN"]),
)
_file_stem = st.one_of(
    st.sampled_from(["c", "c\n[enums.zz]\nx = 1 #", "a'b\"c", "x\r\ny"]),
    st.text(_characters, min_size=1, max_size=12),
).filter(
    lambda s: (
        "/" not in s
        and "\x00" not in s
        and s not in (".", "..")
        and not any(0xD800 <= ord(c) <= 0xDFFF for c in s)
        and len((s + ".json").encode()) < 200
    )
)


@dataclass(frozen=True)
class Values:
    step: str  # an element under the application's, read by a plain column
    attr: str  # its attribute
    column: str  # the plain column's name (app_base)
    default: str  # JSON text of that column's default_value
    table: str  # a second app table
    enum: str  # an enum's name
    code1: str  # its codes
    code2: str
    calc_attr: str  # the attribute a calculation falls back on (calculated_field, enum)
    hist_attr: str  # an attribute written to app_historical_lookup
    role1: str  # contact roles
    role2: str
    type1: str  # address types
    type2: str
    stem: str  # the file's name, without .json


NAMES = ("step", "attr", "column", "table", "calc_attr", "hist_attr")
VALUES = ("code1", "code2", "role1", "role2", "type1", "type2")


@st.composite
def _values(draw: st.DrawFn) -> Values:
    """Hostile texts in every field: values a document can carry in the codes, roles and
    types, and any text in two of them at most; any text in the enum's name, the default and
    the file's name; in the fields that hold a name, one hostile at most (the others names
    that are fine), so that most examples import and their meaning is compared."""
    hostile = draw(st.sampled_from([None, None, None, None, *NAMES]))
    wild = draw(st.sets(st.sampled_from(VALUES), max_size=2))

    def name(field: str, fine: st.SearchStrategy[str]) -> str:
        return draw(_hostile if field == hostile else fine)

    def value(field: str) -> str:
        return draw(_hostile if field in wild else _value)

    return Values(
        step=name("step", _xml_name),
        attr=name("attr", _xml_name),
        column=name("column", _identifier.map(lambda s: "c_" + s)),
        default=draw(_default),
        table=name("table", _identifier.map(lambda s: "zz_" + s)),
        enum=draw(st.one_of(_xml_name, _hostile)),
        code1=value("code1"),
        code2=value("code2"),
        calc_attr=name("calc_attr", _xml_name),
        hist_attr=name("hist_attr", _xml_name),
        role1=value("role1"),
        role2=value("role2"),
        type1=value("type1"),
        type2=value("type2"),
        stem=draw(_file_stem),
    )


FIXED_ATTRS = {"zz_code", "zz_flag", "zz_other", "first_name", "city", "ac_role_tp_c", "con_id"}
# XML 1.0 (fifth edition) names without ':' — what an attribute or element name can be (an
# element path also takes no character Python counts as a space, such as U+1680)
_START = (
    "A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
NCNAME = re.compile(f"[{_START}][{_START}\\-.0-9\u00b7\u0300-\u036f\u203f-\u2040]*\\Z")


def _contract_json(v: Values) -> str:
    contact = f"{APP}/contact"
    data = {
        "xml_root_element": "Provenir",
        "xml_application_path": APP,
        "source_application_table": "application",
        "element_filtering": {
            "filter_rules": [
                {
                    "element_type": "contact",
                    "xml_child_path": contact,
                    "required_attributes": {"con_id": True, "ac_role_tp_c": [v.role1, v.role2]},
                },
                {
                    "element_type": "address",
                    "xml_child_path": f"{contact}/contact_address",
                    "required_attributes": {"address_tp_c": [v.type1, v.type2]},
                },
            ]
        },
        "enum_mappings": {
            v.enum: {v.code1: 901, v.code2: 902},
            "contact_type_enum": {v.role1: 281, v.role2: 280},
        },
        "mappings": [
            {
                "xml_path": f"{APP}/{v.step}",
                "xml_attribute": v.attr,
                "target_table": "app_base",
                "target_column": v.column,
                "data_type": "string",
                "data_length": 4000,
                "default_value": "@DEFAULT@",
            },
            {
                "xml_path": APP,
                "xml_attribute": "zz_code",
                "target_table": "app_base",
                "target_column": "zz_code",
                "enum_name": v.enum,
                "data_type": "smallint",
                "mapping_type": ["enum"],
            },
            {
                "xml_path": APP,
                "xml_attribute": v.calc_attr,
                "target_table": "app_base",
                "target_column": "zz_calc",
                "enum_name": v.enum,
                "data_type": "smallint",
                "mapping_type": ["calculated_field", "enum"],
                "expression": "CASE WHEN zz_flag = 'Q' THEN 901 END",
            },
            {
                "xml_path": APP,
                "xml_attribute": "zz_flag",
                "target_table": "app_base",
                "target_column": "zz_flag",
                "data_type": "string",
                "data_length": 10,
            },
            {
                "xml_path": APP,
                "xml_attribute": "zz_other",
                "target_table": v.table,
                "target_column": "zz_other",
                "data_type": "string",
                "data_length": 10,
            },
            {
                "xml_path": contact,
                "xml_attribute": "first_name",
                "target_table": "app_base",
                "target_column": "pr_first_name",
                "data_type": "string",
                "data_length": 40,
                "mapping_type": ["last_valid_pr_contact"],
            },
            {
                "xml_path": f"{contact}/contact_address",
                "xml_attribute": "city",
                "target_table": "app_base",
                "target_column": "pr_city",
                "data_type": "string",
                "data_length": 40,
                "mapping_type": ["last_valid_pr_contact"],
            },
            {
                "xml_path": contact,
                "xml_attribute": "ac_role_tp_c",
                "target_table": "app_contact_base",
                "target_column": "contact_type_enum",
                "data_type": "smallint",
                "mapping_type": ["enum"],
            },
            {
                "xml_path": contact,
                "xml_attribute": "first_name",
                "target_table": "app_contact_base",
                "target_column": "first_name",
                "data_type": "string",
                "data_length": 40,
            },
            {
                "xml_path": APP,
                "xml_attribute": v.hist_attr,
                "target_table": "app_historical_lookup",
                "target_column": "",
                "data_type": "string",
                "mapping_type": ["add_history"],
            },
        ],
    }
    return json.dumps(data).replace('"@DEFAULT@"', v.default)


def _surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


_SQL_FUNCTION = re.compile(r"[A-Za-z_]+\(\)")


def _expected_default(raw: str) -> tuple[bool, str | None]:
    """(importable, the TOML default) for a string column of length 4000."""
    if raw in ("1e400", "-1e999", "NaN"):
        return False, None
    value = json.loads(raw)
    if value is None:
        return True, None
    if isinstance(value, bool | dict | list):
        return False, None
    if isinstance(value, str):
        if _surrogate(value) or len(value) > 4000:
            return False, None
        if value == "" or _SQL_FUNCTION.fullmatch(value.strip()):
            return True, None
        return True, value
    return True, str(value)


def _importable(v: Values) -> bool:
    """Whether the JSON means something the project can say: names it allows, roles an
    element path can quote, no lone surrogate, a default that is text or a number."""
    texts = [v.step, v.attr, v.column, v.table, v.enum, v.code1, v.code2, v.calc_attr]
    texts += [v.hist_attr, v.role1, v.role2, v.type1, v.type2]
    if any(_surrogate(t) for t in texts):
        return False
    names = (v.step, v.attr, v.calc_attr, v.hist_attr)
    if not all(NCNAME.match(n) and not re.search(r"\s", n) for n in names):
        return False
    if not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", n) for n in (v.column, v.table)):
        return False
    if any("'" in r and '"' in r for r in (v.role1, v.type1)):
        return False
    if v.enum in ("", "contact_type", "contact_type_enum"):
        return False
    return _expected_default(v.default)[0]


def _distinct(*texts: str) -> bool:
    return len({t.lower() for t in texts}) == len(texts)


def _xml_text(text: str) -> bool:
    """A value a document can carry as it is (XML characters, nothing to trim)."""
    ok = all(
        c in "\t\n\r" or 0x20 <= ord(c) <= 0xD7FF or 0xE000 <= ord(c) <= 0xFFFD or ord(c) > 0xFFFF
        for c in text
    )
    return ok and text == text.strip() and text != ""


def _document(v: Values) -> str:
    doc = etree.Element("Provenir")
    app = etree.SubElement(
        etree.SubElement(etree.SubElement(doc, "Request", ID="7"), "CustData"), "application"
    )
    for name, value in (
        ("zz_code", v.code2),
        (v.calc_attr, v.code1),
        ("zz_flag", "N"),
        ("zz_other", "o"),
        (v.hist_attr, "h"),
    ):
        app.set(name, value)
    etree.SubElement(app, v.step).set(v.attr, "v1")
    pr = etree.SubElement(app, "contact", con_id="1", ac_role_tp_c=v.role1, first_name="P1")
    etree.SubElement(pr, "contact_address", address_tp_c=v.type2, city="C2")
    etree.SubElement(pr, "contact_address", address_tp_c=v.type1, city="C1")
    etree.SubElement(app, "contact", con_id="2", ac_role_tp_c=v.role2, first_name="S2")
    # a contact whose role is the first one with a quote and more: not a contact of it
    decoy = v.role1 + "'][@x='1"
    etree.SubElement(app, "contact", con_id="3", ac_role_tp_c=decoy, first_name="D3", x="1")
    return etree.tostring(doc, encoding="unicode")  # names as they are, not &#233;


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_values())
def test_hostile_values_in_every_field_keep_their_meaning(v: Values) -> None:
    """For hostile texts in every field the import reads, the imported contract reads the
    paths and attributes and writes the tables, columns, defaults and enum codes the JSON
    says — or the import refuses with a located one-line error, and only for a value the
    project cannot say (a name that is no XML or SQL name, a role no element path can quote,
    a lone surrogate, a default that is no text or number)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{v.stem}.json"
        path.write_text(_contract_json(v), encoding="utf-8")
        try:
            result = import_contract(path)
        except ContractImportError as exc:
            message = str(exc)  # one line; several mappings' errors, each cut
            assert len(message.splitlines()) == 1 and len(message) < 13_000, message
            assert not _importable(v), message
            event("refused")
            return
    assert _importable(v), "imported a contract that cannot mean what the JSON says"
    toml = tomllib.loads(result.toml)
    assert toml["contract"]["name"] == v.stem  # the file's name stays in the comment
    assert toml["enums"] == {
        v.enum: {v.code1: 901, v.code2: 902},
        "contact_type_enum": {v.role1: 281, v.role2: 280},
    }
    tables = toml["tables"]
    assert set(tables) == {"app_base", v.table, "app_contact_base", "app_historical_lookup"}
    base = tables["app_base"]["columns"]
    plain = {"path": f"{v.step}/@{v.attr}", "type": "string", "length": 4000}
    default = _expected_default(v.default)[1]
    if default is not None:
        plain["default"] = default
    assert base[v.column] == plain
    assert base["zz_code"] == {"attr": "zz_code", "type": "enum", "enum": v.enum}
    assert tables[v.table]["columns"]["zz_other"]["attr"] == "zz_other"
    contacts = tables["app_contact_base"]
    assert contacts["where"]["in"] == [v.role1, v.role2]
    assert contacts["dedup"]["prefer"]["order"] == [v.role1, v.role2]
    history = tables["app_historical_lookup"]["unpivot"]["pairs"]
    assert [(p["name"], p["path"]) for p in history] == [(f"[{v.hist_attr}]", f"@{v.hist_attr}")]

    contract = compile_contract(result.toml, "imported.toml")  # the project's own loader
    assert contract.name == v.stem
    calc = contract.table_by_name["app_base"].column("zz_calc").expr
    assert calc is not None
    names = {v.attr.lower(), v.calc_attr.lower(), v.hist_attr.lower()}
    if not names & FIXED_ATTRS:
        assert calc.paths == {"@zz_flag", f"@{v.calc_attr}"}

    # what it does to a document that carries the values
    representable = all(map(_xml_text, (v.code1, v.code2, v.role1, v.role2, v.type1, v.type2)))
    if not (
        representable
        and _distinct(v.code1, v.code2)
        and _distinct(v.role1, v.role2, v.role1 + "'][@x='1")
        and v.type1 != v.type2
        # attributes_any_case: a document's attribute is read as the contract spells it
        and _distinct(v.attr, v.calc_attr, v.hist_attr, *sorted(FIXED_ATTRS))
        and v.step != "contact"
    ):
        event("imported: compared as written")
        return
    event("imported: compared as written and on a document")
    mapped = transform_record(RawRecord(7, _document(v)), contract)
    assert isinstance(mapped, MappedApp), mapped
    row = mapped.rows["app_base"][0]
    assert row[v.column] == "v1"
    assert (row["zz_code"], row["zz_calc"]) == (902, 901)
    assert (row["pr_first_name"], row["pr_city"]) == ("P1", "C1")
    assert [(r["con_id"], r["contact_type_enum"]) for r in mapped.rows["app_contact_base"]] == [
        (1, 281),
        (2, 280),
    ]
    assert [(r["name"], r["value"]) for r in mapped.rows["app_historical_lookup"]] == [
        (f"[{v.hist_attr}]", "h")
    ]


def test_a_code_that_reads_like_an_attribute_renames_no_attribute() -> None:
    """Before: the code ``X'][@FIRST_NAME='ANA`` of an enum, written into a calculation's
    text literal, counted as an attribute the contract reads: with attributes_any_case the
    documents' first_name became FIRST_NAME, and the PR contact's first name was NULL."""
    fine = dict(step="A", attr="zz_a", column="c_a", default='"x"', table="zz_t", enum="E")
    v = Values(
        **fine,
        code1="A0",
        code2="X'][@FIRST_NAME='ANA",
        calc_attr="zz_c",
        hist_attr="zz_h",
        role1="A0",
        role2="A1",
        type1="A0",
        type2="A1",
        stem="c",
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.json"
        path.write_text(_contract_json(v), encoding="utf-8")
        contract = compile_contract(import_contract(path).toml, "c.toml")
    mapped = transform_record(RawRecord(7, _document(v)), contract)
    assert isinstance(mapped, MappedApp), mapped
    assert mapped.rows["app_base"][0]["pr_first_name"] == "P1"


# -- item 6: bad input is a located one-line error; --out is written only on success --------


def _nested(depth: int) -> bytes:
    return b'{"xml_root_element": ' + b"[" * depth + b"]" * depth + b"}"


def _shape(change: Callable[[dict[str, Any]], None]) -> bytes:
    data = json.loads(CONTACTS.read_text(encoding="utf-8"))
    change(data)
    return json.dumps(data).encode()


def _rule(data: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = data["element_filtering"]["filter_rules"][0]
    return rule


BAD_INPUTS: dict[str, tuple[bytes, str]] = {
    "lone surrogate": (
        SMALL.read_bytes().replace(b'"zz_flag"', b'"zz_\\ud800flag"', 1),
        r"mappings\[4\]\.xml_attribute: .*lone surrogate",
    ),
    "latin-1": (
        SMALL.read_bytes().replace(b'"campaign_num"', '"campa\xefgn"'.encode("latin-1"), 1),
        r"not UTF-8 .*line \d+, column \d+.*save it as UTF-8",
    ),
    "utf-16": (
        SMALL.read_text(encoding="utf-8").encode("utf-16"),
        r"UTF-16.*save it as UTF-8",
    ),
    "random bytes": (bytes(range(256)) * 4, r"not UTF-8 .*line \d+, column \d+"),
    "nested 50,000 deep": (_nested(50_000), r"nested more than \d+ levels deep"),
    "required_attributes a list": (
        _shape(lambda d: _rule(d).__setitem__("required_attributes", ["con_id"])),
        r"element_filtering\.filter_rules\[0\]\.required_attributes must be an object",
    ),
    "table_insertion_order unhashable": (
        _shape(lambda d: d.__setitem__("table_insertion_order", [["app_base"], {"a": 1}])),
        r"table_insertion_order\[0\] must be a table name \(text\)",
    ),
    "mapping a list": (
        _shape(lambda d: d["mappings"].__setitem__(3, ["xml_path"])),
        r"mappings\[3\] must be an object",
    ),
    "xml_path missing from a key/value mapping": (
        _shape(lambda d: d["mappings"][14].pop("xml_path")),
        r"mappings\[14\] .*xml_path is required",
    ),
    "enum_mappings a list": (
        _shape(lambda d: d.__setitem__("enum_mappings", [1])),
        r"enum_mappings must be an object",
    ),
    "bit map a list": (
        _shape(lambda d: d.__setitem__("bit_conversions", {"char_to_bit": [1]})),
        r"bit_conversions\.char_to_bit must be an object",
    ),
    "rule path a number": (
        _shape(lambda d: _rule(d).__setitem__("xml_child_path", 5)),
        r"element_filtering\.filter_rules\[0\]\.xml_child_path must be text",
    ),
    "a number too long for Python": (
        SMALL.read_bytes().replace(b"951", b"9" * 5_000, 1),
        r"enum_mappings\.status_enum\.D: 9+… is a number of 5000 digits",
    ),
    "NaN": (SMALL.read_bytes().replace(b"951", b"NaN", 1), r"NaN is not a JSON number"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=str)
def test_bad_input_is_a_located_one_line_error_and_the_out_file_stays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """Before: a lone surrogate was an internal error that had already truncated the --out
    file to 0 bytes; the other inputs were internal errors (UnicodeDecodeError,
    RecursionError, AttributeError, TypeError, KeyError)."""
    content, located = BAD_INPUTS[case]
    source = tmp_path / "bad.json"
    source.write_bytes(content)
    out = tmp_path / "kept.toml"
    out.write_text("# the user's file\n", encoding="utf-8")
    code = main(["contract", "import", str(source), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith(f"error: {source}"), err
    assert "internal error" not in err and len(err) < LONGEST_ERROR
    assert re.search(located, err), err
    assert out.read_text(encoding="utf-8") == "# the user's file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "kept.toml"]


def test_the_out_file_is_replaced_whole_on_success(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "c.toml"
    out.write_text("old", encoding="utf-8")
    assert main(["contract", "import", str(SMALL), "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == import_contract(SMALL).toml
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]  # no temporary file left
    capsys.readouterr()


# -- item 7: linear work, a cap on the input, values cut in errors ---------------------------


def _many(n: int) -> dict[str, Any]:
    """n mappings of the shapes whose lookups went through every mapping: calculations
    naming bare, qualified and application attributes, key/value rows, noted columns."""
    mappings: list[dict[str, Any]] = []
    for i in range(n):
        element = f"{APP}/el{i % 50}"
        m: dict[str, Any] = {
            "xml_path": APP if i % 2 else element,
            "xml_attribute": f"a{i}",
            "target_table": "app_base" if i % 3 == 0 else f"t{i % 40}",
            "target_column": f"c{i}",
            "data_type": ("string", "int", "decimal")[i % 3],
        }
        if i % 4 == 0 and i >= 4:
            m.update(
                data_type="int",
                mapping_type=["calculated_field"],
                expression=f"CASE WHEN a{i - 1} > '5' THEN el{i % 50}.a{i - 4} + "
                f"application.a{i - 3} ELSE a{i - 2} END",
            )
        elif i % 7 == 0:
            m.update(target_table="app_historical_lookup", target_column="")
            m["mapping_type"] = ["add_history"]
        mappings.append(m)
    return {"xml_root_element": "Provenir", "xml_application_path": APP, "mappings": mappings}


def _calls(tmp: Path, n: int) -> int:
    """Function calls (Python and C) of one import of n mappings: a count of the work that
    does not depend on the machine's speed or load."""
    path = _write(tmp, _many(n), f"many{n}.json")
    profile = cProfile.Profile()
    profile.enable()
    import_contract(path)
    profile.disable()
    return int(pstats.Stats(profile).total_calls)  # type: ignore[attr-defined]


def test_the_import_does_work_linear_in_the_mappings(tmp_path: Path) -> None:
    """Before: every name a calculation read, and every note, went through all the mappings
    (or notes) so far: 8,000 mappings cost about 13 times the calls of 2,000."""
    small, large = _calls(tmp_path, 2_000), _calls(tmp_path, 8_000)
    assert large / small < 4.6, (small, large)


def test_an_input_over_the_cap_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "MAX_INPUT_BYTES", 1_000)
    path = tmp_path / "big.json"
    path.write_bytes(SMALL.read_bytes())
    message = _refused(path)
    assert f"{path.stat().st_size:,} bytes" in message and "at most 1,000 bytes" in message


def test_a_huge_value_is_shown_cut_in_the_error(tmp_path: Path) -> None:
    """Before: the whole value (here 10 MB) was part of the error line."""
    huge = "zz" * 5_000_000
    mapping: dict[str, Any] = {"xml_path": APP, "xml_attribute": "zz_x"}
    mapping |= {"target_table": "app_base"}
    mapping |= {"target_column": "zz_x", "data_type": "string", "mapping_type": [huge]}
    path = _write(tmp_path, _small_with(**mapping))
    message = _refused(path)
    assert "mappings[12]" in message and "…" in message


# -- item 8: lengths and scales: checked when the contract is imported and loaded, and for
# -- the database before any DDL ---------------------------------------------------------

ABSURD = [True, 1e30, 2**63, "20", 0.5]


@pytest.mark.parametrize("length", ABSURD, ids=repr)
@pytest.mark.parametrize("data_type", ["string", "decimal"])
def test_the_import_refuses_an_absurd_data_length_naming_the_column(
    tmp_path: Path, length: Any, data_type: str
) -> None:
    """Before: ``true`` became ``length = true`` (init: ``VARCHAR(True)``), 2^63 passed as
    it was, 1e30 became 255 (a string) or scale 2 (a decimal) without a word."""
    path = _write(
        tmp_path,
        _small_with(
            xml_path=APP,
            xml_attribute="zz_x",
            target_table="app_base",
            target_column="zz_x",
            data_type=data_type,
            data_length=length,
        ),
    )
    message = _refused(path)
    assert "mappings[12] (app_base.zz_x)" in message and "data_length" in message
    assert ("1 to 10485760" if data_type == "string" else "0 to 18") in message


def _column_toml(spec: str) -> str:
    return (
        contract_section()
        + f"""
[tables.app_base]
rows = "."
key = ["app_id"]

[tables.app_base.columns]
app_id = {{ source = "app_id", type = "int", nullable = false }}
amount = {{ attr = "x", {spec} }}
"""
    )


@pytest.mark.parametrize(
    ("spec", "allowed"),
    [
        ('type = "string", length = true', "an integer from 1 to 10485760"),
        ('type = "string", length = 9223372036854775808', "an integer from 1 to 10485760"),
        ('type = "string", length = 10485761', "an integer from 1 to 10485760"),
        ('type = "string", length = 1e30', "an integer from 1 to 10485760"),
        ('type = "decimal", precision = true, scale = 0', "true must be an integer from 1 to 38"),
        ('type = "decimal", precision = 18, scale = true', "true must be an integer from 0 to 18"),
        ('type = "decimal", precision = 0, scale = 0', "0 must be an integer from 1 to 38"),
        ('type = "decimal", precision = 10, scale = 11', "11 must be an integer from 0 to 10"),
    ],
)
def test_check_refuses_a_length_or_scale_no_database_takes(spec: str, allowed: str) -> None:
    """Before: ``length = true`` and ``2^63`` passed ``contract check``; ``init`` then sent
    ``VARCHAR(True)`` to the database."""
    with pytest.raises(ContractError) as info:
        compile_contract(_column_toml(spec), "c.toml")
    message = str(info.value)
    assert "table 'app_base'" in message and "column 'amount'" in message
    assert allowed in message and "\n" not in message


@pytest.mark.parametrize(
    ("dialect", "spec", "said"),
    [
        ("mssql", 'type = "string", length = 4001', "SQL Server's NVARCHAR holds at most 4000"),
        ("mysql", 'type = "string", length = 16384', "VARCHAR holds at most 16383"),
    ],
)
def test_init_refuses_what_the_database_cannot_hold_before_any_ddl(
    dialect: str, spec: str, said: str
) -> None:
    """Before: the DDL went to the server, which refused it with its own error."""
    sent: list[str] = []
    engine = sa.create_mock_engine(f"{dialect}://", lambda sql, *a, **k: sent.append(str(sql)))
    schema = build_schema(compile_contract(_column_toml(spec), "c.toml"))
    with pytest.raises(UserError) as info:
        schema.create(engine)  # type: ignore[arg-type]
    message = str(info.value)
    assert "app_base.amount" in message and said in message
    assert not sent


def test_lengths_every_database_takes_still_create(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    schema = build_schema(compile_contract(_column_toml('type = "string", length = 10485760'), "c"))
    schema.create(engine)
    engine.dispose()
