"""``xmlmigrate contract import``: the predecessor's JSON contracts (made-up ones here) become
contracts that load and migrate; defects are noted, the untranslatable is an error naming the
mapping — never dropped."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_cli import run_cli

from xmlmigrate.contract import compile_contract
from xmlmigrate.contract.errors import ContractImportError
from xmlmigrate.contract.import_ import import_contract
from xmlmigrate.model import MappedApp, RawRecord
from xmlmigrate.run.transform import transform_record

SMALL = Path(__file__).resolve().parents[1] / "fixtures" / "contracts" / "predecessor_small.json"
DOC = (
    '<Provenir><Request ID="42"><CustData><application app_receive_date="6/1/2020 10:12:15 PM" '
    'campaign_num="P1B" zz_shade="G" zz_status="?" zz_flag="maybe" population_assignment="QQ">'
    '<app_product zz_ok="TRUE" zz_amount="12.50" zz_phone="(555) 555-5555" zz_code="ABC" '
    'zz_count="3 items"/></application></CustData></Request></Provenir>'
)


def test_a_small_contract_imports_loads_and_migrates() -> None:
    result = import_contract(SMALL)
    contract = compile_contract(result.toml, "imported.toml")
    assert [t.name for t in contract.tables] == ["app_base", "app_pricing_zz"]
    assert contract.enums == {
        "population_assignment_enum": {"EV": 701, "XX": 702, "": 700},
        "product_line_enum": {"": 600},
        "shade_enum": {"R": 901, "G": 902, "B": 903},
        "status_enum": {"A": 950, "D": 951},
    }
    mapped = transform_record(RawRecord(42, DOC), contract)
    assert isinstance(mapped, MappedApp), mapped
    base = mapped.rows["app_base"][0]
    assert base["receive_date"] == datetime(2020, 6, 1, 22, 12, 15)
    assert base["shade_enum"] == 902
    assert base["zz_status"] == 951  # unknown code: the predecessor's default (id 951, code D)
    assert base["zz_flag"] is False  # unmatched: 0, as the predecessor stores
    # catch-all '' codes: a constant product line, and an unknown population code
    assert (base["product_line_enum"], base["population_assignment_enum"]) == (600, 700)
    pricing = mapped.rows["app_pricing_zz"][0]
    assert pricing["zz_ok"] is True
    assert pricing["zz_amount"] == Decimal("12.50")  # not 1250: noted
    assert pricing["zz_phone"] == "5555555555"
    assert pricing["zz_code"] == "ABC"  # not "AB": noted
    assert pricing["zz_count"] == 3


def test_defects_are_numbered_notes_and_errors_under_strict(tmp_path: Path) -> None:
    notes = import_contract(SMALL).notes
    assert [n[:3] for n in notes] == ["1. ", "2. ", "3. ", "4. "]
    assert "'12.50' becomes 1250" in notes[0] and "mappings[6]" in notes[0]
    assert "'01234' becomes '1234'" in notes[1] and "app_pricing_zz.zz_phone" in notes[1]
    assert "data_length -1" in notes[2] and "app_pricing_zz.zz_code" in notes[2]
    assert "target_schema" in notes[3]  # an engine difference: not an error under --strict
    with pytest.raises(ContractImportError, match="3 mapping"):
        import_contract(SMALL, strict=True)
    out = run_cli("contract", "import", str(SMALL), "--out", str(tmp_path / "c.toml"))
    assert out.returncode == 0, out.stderr
    assert "4 note(s)" in out.stdout and (tmp_path / "c.toml").exists()
    strict = run_cli("contract", "import", str(SMALL), "--strict", "--out", str(tmp_path / "x"))
    assert strict.returncode == 2 and "(--strict)" in strict.stderr


def _with(tmp_path: Path, **changes: Any) -> Path:
    data = json.loads(SMALL.read_text(encoding="utf-8"))
    data["mappings"].append(changes)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


APP = "/Provenir/Request/CustData/application"


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            {"mapping_type": ["calculated_field"], "expression": "a + b"},
            "arithmetic 'a + b' into a text column",
        ),
        (
            {"mapping_type": ["calculated_field"], "expression": "CASE WHEN (a = 'b' THEN 1 END"},
            "unbalanced or misplaced parentheses",
        ),
        (
            {
                "mapping_type": ["calculated_field"],
                "expression": "CASE WHEN a = 'b' OR c = 'd' AND e = 'f' THEN 'x' END",
            },
            "AND and OR mixed",
        ),
        (
            {"mapping_type": ["calculated_field"], "expression": "zz_q.attr"},
            "no mapping reads an element named 'zz_q'",
        ),
        (
            {"mapping_type": ["calculated_field", "numbers_only"], "expression": "a"},
            "calculated_field is imported alone or followed by enum",
        ),
        ({"mapping_type": ["add_score(FICO)"]}, "add_score writes scores, not 'app_base'"),
        ({"mapping_type": ["add_indicator(X)"]}, "add_indicator writes indicators"),
        ({"mapping_type": ["policy_exceptions(630)"]}, "policy_exceptions writes app_policy_"),
        (
            {"mapping_type": ["warranty_field(x)"], "target_table": "app_warranties_rl"},
            "warranty_field(x): the group must be a number",
        ),
        (
            {"mapping_type": ["last_valid_pr_contact", "authu_contact"]},
            "mapping type last_valid_pr_contact, authu_contact",
        ),
        ({"mapping_type": ["no_such_type"]}, "mapping type no_such_type"),
        ({"target_table": "app_collateral_rl"}, "table app_collateral_rl"),
        ({"xml_path": "/Elsewhere/Request"}, "lies outside the document root"),
        ({"target_column": "zz_enum", "mapping_type": ["enum"]}, "no enum for 'zz_enum'"),
        ({"data_type": ""}, "data_type is required"),
    ],
)
def test_what_cannot_be_translated_is_an_error_naming_the_mapping(
    tmp_path: Path, mapping: dict[str, Any], message: str
) -> None:
    base = {
        "xml_path": APP,
        "xml_attribute": "zz_x",
        "target_table": "app_base",
        "target_column": "zz_x",
        "data_type": "string",
        "data_length": 5,
    }
    path = _with(tmp_path, **{**base, **mapping})
    with pytest.raises(ContractImportError) as info:
        import_contract(path)
    text = str(info.value)
    assert "mappings[12]" in text and message in text


def test_malformed_json_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"xml_root_element": "Provenir",\n  "mappings": [,]}', encoding="utf-8")
    with pytest.raises(ContractImportError, match=r"not valid JSON at line 2, column 16"):
        import_contract(path)
    out = run_cli("contract", "import", str(path))
    assert out.returncode == 2 and out.stderr.count("\n") == 1


KV = SMALL.with_name("predecessor_kv.json")
KV_DOC = (
    '<Provenir><Request ID="43"><CustData><application app_receive_date="01/25/2016" '
    'zz_prior_decision=" APPRV "><scores><bureau fico="712" vantage=""/></scores>'
    '<app_product zz_prior_limit="NULL" zz_fraud=" Yes " zz_vip="N"/>'
    '<report_results zz_hits="3" zz_flags="none"/>'
    "</application></CustData></Request></Provenir>"
)


def test_key_value_tables_get_one_row_per_present_value() -> None:
    contract = compile_contract(import_contract(KV).toml, "kv.toml")
    mapped = transform_record(RawRecord(43, KV_DOC), contract)
    assert isinstance(mapped, MappedApp), mapped
    # a blank score makes no row (the predecessor writes one only when the value converts)
    assert mapped.rows["scores"] == [{"app_id": 43, "score_identifier": "FICO", "score": 712}]
    # history: "[attr]" and "[element]", the value trimmed; "null"/"none" are no value
    assert mapped.rows["app_historical_lookup"] == [
        {"app_id": 43, "name": "[zz_prior_decision]", "source": "[application]", "value": "APPRV"}
    ]
    # an indicator row, value "1", only for a true-ish text
    assert mapped.rows["indicators"] == [{"app_id": 43, "indicator": "FRAUD", "value": "1"}]
    assert mapped.rows["app_report_results_lookup"] == [
        {"app_id": 43, "name": "zz_hits", "value": "3", "source_report_key": "LEX"}
    ]
    too_long = KV_DOC.replace('zz_hits="3"', f'zz_hits="{"x" * 251}"')
    rejected = transform_record(RawRecord(43, too_long), contract)
    assert getattr(rejected, "code", None) == "value_too_long"  # as the predecessor's insert


def test_listed_pairs_are_checked_when_the_contract_loads() -> None:
    text = import_contract(KV).toml.replace('path = "@zz_prior_decision"', 'path = "zz/"')
    with pytest.raises(Exception, match=r"unpivot.pairs\[0\]: path 'zz/' must end in /@attribute"):
        compile_contract(text, "kv.toml")


CONTACTS = SMALL.with_name("predecessor_contacts.json")
CONTACTS_DOC = (
    '<Provenir><Request ID="44"><CustData><application app_receive_date="01/25/2016">'
    '<contact con_id="440" ac_role_tp_c="PR" first_name="ANA" birth_date="05/10/1978">'
    '<contact_address address_tp_c="CURR" city="DALLAS" zip="75001-0000"/>'
    '<contact_address address_tp_c="MAIL" city="AUSTIN"/>'
    '<contact_address address_tp_c="PREV" city="" zip=""/>'
    '<contact_employment employment_tp_c="CURR" b_name="ACME"/></contact>'
    '<contact con_id="441" ac_role_tp_c="AUTHU" first_name="" birth_date=""/>'
    '<contact con_id="442" ac_role_tp_c="WEIRD" first_name="X"/>'
    '<contact con_id="440" ac_role_tp_c="AUTHU" first_name="LATER"/>'
    "</application></CustData></Request></Provenir>"
)


def test_contact_tables_follow_the_predecessors_filters() -> None:
    result = import_contract(CONTACTS)
    contract = compile_contract(result.toml, "contacts.toml")
    mapped = transform_record(RawRecord(44, CONTACTS_DOC), contract)
    assert isinstance(mapped, MappedApp), mapped
    # PR beats a later AUTHU with the same con_id; no data and an invalid role are dropped
    assert mapped.rows["app_contact_base"] == [
        {
            "con_id": 440,
            "app_id": 44,
            "contact_type_enum": 281,
            "first_name": "ANA",
            "birth_date": date(1978, 5, 10),
            "curr_zip": "750010000",  # curr_address_only + numbers_only
            "app_receive_date": datetime(2016, 1, 25),  # CC: the application's attribute
        }
    ]
    # contact selectors: the last PR (AUTHU) contact, its CURR address
    base = mapped.rows["app_base"][0]
    assert (base["pr_first_name"], base["pr_city"], base["authu_first_name"]) == (
        "ANA",
        "DALLAS",
        "LATER",
    )
    assert mapped.rows["app_historical_lookup"] == [
        {"app_id": 44, "name": "[first_name]", "source": "[contact]", "value": "ANA"}
    ]
    # MAIL is no address type; a PREV address without any data is dropped
    assert mapped.rows["app_contact_address"] == [
        {"con_id": 440, "address_type_enum": 320, "city": "DALLAS", "zip": "750010000"}
    ]
    assert mapped.rows["app_contact_employment"] == [
        {"con_id": 440, "employment_type_enum": 350, "business_name": "ACME"}
    ]
    codes = {w.code for w in mapped.warnings}
    assert {"contact_without_data", "invalid_contact_role", "address_type_skipped"} <= codes
    assert {"address_without_data", "duplicate_con_id"} <= codes
    assert any("keeps the first of two address rows" in n for n in result.notes)
    assert any("takes the last PR contact that has a con_id" in n for n in result.notes)
    # differences of this engine are no defects: under --strict only the zips' leading zeros
    with pytest.raises(ContractImportError, match="2 mapping") as info:
        import_contract(CONTACTS, strict=True)
    assert str(info.value).count("'01234' becomes '1234'") == 2


RL = SMALL.with_name("predecessor_rl.json")
RL_DOC = (
    '<Provenir><Request ID="77" LoanNumber="LN-0042"><CustData>'
    '<IL_application app_receive_date="2016-1-25 11:21:37.976" zz_dealer_ok="y" '
    'zz_term_years="5" zz_term="48" zz_score="0700" zz_state="TX" zz_first_payment="" '
    'zz_sub_type="b" zz_closed="05-10-1978" zz_units="3 units" zz_big="9007199254740993" '
    'zz_ratio="0.125" zz_seen="6/1/2020 10:12:15 PM" zz_dealer_phone="(555) 010-2030" '
    'zz_flag_b="TRUE" '
    'zz_pe_capacity="DTI" zz_pe_collateral="null" zz_pe_notes=" see file " '
    'zz_w620_company="Acme" zz_w620_amount="1,250.5" zz_w621_company=" " zz_w621_lien="Y" '
    'zz_c1_vin="1HGCM82633A004352" zz_c1_year="2014" zz_c1_used="Y" zz_c1_miles="12,345" '
    'zz_c2_used="Y">'
    '<IL_contact con_id="1" ac_role_tp_c="PR" first_name="Annie"/>'
    '<IL_contact con_id="2" ac_role_tp_c="SEC" first_name="Bo"/>'
    '<IL_contact con_id="3" ac_role_tp_c="SEC" first_name="Cy"/>'
    "</IL_application>"
    '<IL_app_decision zz_officer="x9"/>'
    "</CustData></Request></Provenir>"
)


def test_rec_lending_features_import_and_map() -> None:
    """Calculated fields, a calculation falling back on an enum, a text enum, paths outside
    the application element, policy exceptions with notes, warranties and collateral slots."""
    result = import_contract(RL)
    contract = compile_contract(result.toml, "rl.toml")
    assert contract.scope is not None  # '..' paths stay within what the scoped parse keeps
    mapped = transform_record(RawRecord(77, RL_DOC), contract)
    assert isinstance(mapped, MappedApp), mapped
    rows = mapped.rows
    assert rows["app_base"] == [
        {
            "app_id": 77,
            "receive_date": date(2016, 1, 25),
            "loan_number": "LN-0042",  # /Provenir/Request/@LoanNumber
            "officer_email": "x9@example.com",  # text enum, code in another case
            "dealer_ok_enum": 970,
        }
    ]
    assert rows["app_operational_zz"] == [
        {
            "app_id": 77,
            "term_months": 60,
            "band": "A",  # '0700' >= '700' compared as numbers, literal kept as written
            "first_payment": date(2016, 2, 24),  # DATEADD(day, 30, receive date)
            "sub_type_enum": 961,  # the calculation's id ('X9' officer)
            "pr_name_is_ann": True,
            "closed_date": datetime(1978, 5, 10),
            "units": 3,  # extract_numeric: the number
            "big_count": 9007199254740993,
            "ratio": Decimal("0.13"),  # float: decimal(18, 2), noted
            "seen_at": datetime(2020, 6, 1, 22, 12, 15),
            "dealer_phone": "5550102030",  # numbers_only on text: the digits, zeros kept
            "flag_b": True,  # boolean_to_bit
            "sec_first_name": "Cy",  # the last SEC contact
        }
    ]
    assert rows["app_policy_exceptions_rl"] == [
        {"app_id": 77, "policy_exception_type_enum": 630, "reason_code": "DTI", "notes": "see file"}
    ]  # 'null' is no reason: no 631 row
    assert rows["app_warranties_rl"] == [
        {
            "app_id": 77,
            "warranty_type_enum": 620,
            "company_name": "Acme",
            "amount": Decimal("1250.50"),
            "merrick_lienholder_flag": False,
        }
    ]  # 621 has only a flag and a blank name: no row, as in the predecessor
    assert rows["app_collateral_rl"] == [
        {
            "app_id": 77,
            "sort_order": 1,
            "vin": "1HGCM82633A004352",
            "year": 2014,
            "used_flag": True,
            "mileage": 12345,
            "collateral_type_enum": 301,
        }
    ]  # slot 2 has only a flag: no row
    assert not [w for w in mapped.warnings if w.code == "invalid_value"], mapped.warnings


def test_calculated_field_then_enum_falls_back_on_the_attribute() -> None:
    contract = compile_contract(import_contract(RL).toml, "rl.toml")
    doc = RL_DOC.replace('zz_officer="x9"', 'zz_officer="K2"')
    mapped = transform_record(RawRecord(77, doc), contract)
    assert isinstance(mapped, MappedApp), mapped
    operational = mapped.rows["app_operational_zz"][0]
    assert operational["sub_type_enum"] == 961  # no id calculated: 'b' looked up
    assert mapped.rows["app_base"][0]["officer_email"] == "k2@example.com"


def test_calculated_field_defects_are_noted_and_strict_refuses_them() -> None:
    notes = import_contract(RL).notes
    assert any("unquoted number 0 of 'zz_score > 0'" in n for n in notes)
    with pytest.raises(ContractImportError, match=r"unquoted number 0 .* \(--strict\)"):
        import_contract(RL, strict=True)


def test_the_target_schema_is_left_to_the_connection_with_a_note() -> None:
    result = import_contract(RL)
    assert "# the predecessor's target_schema 'migration'" in result.toml
    note = next(n for n in result.notes if "target_schema" in n)
    assert "csearch_path%3Dmigration" in note
    import_contract(RL, strict=False)  # an engine difference, not a defect: never strict
    with pytest.raises(ContractImportError) as info:
        import_contract(RL, strict=True)
    assert "target_schema" not in str(info.value)


# every mapping type and data type of the reference's coverage table (§14)
SPEC_TOKENS = {
    "enum", "char_to_bit", "boolean_to_bit", "calculated_field", "numbers_only",
    "extract_numeric", "identity_insert", "last_valid_pr_contact", "last_valid_sec_contact",
    "authu_contact", "curr_address_only", "extract_date", "add_history", "add_score",
    "add_report_lookup", "add_indicator", "policy_exceptions", "warranty_field",
    "add_collateral",
}  # fmt: skip
SPEC_TYPES = {
    "string",
    "smallint",
    "decimal",
    "bit",
    "int",
    "datetime",
    "tinyint",
    "date",
    "bigint",
}


def test_the_fixtures_cover_every_mapping_type_and_data_type_and_all_import() -> None:
    tokens: set[str] = set()
    types: set[str] = set()
    for path in sorted(SMALL.parent.glob("predecessor_*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for m in data["mappings"]:
            tokens |= {t.split("(")[0] for t in m.get("mapping_type") or []}
            types.add(m["data_type"])
        contract = compile_contract(import_contract(path).toml, path.name)
        assert contract.tables  # imports, and the result loads
    assert tokens >= SPEC_TOKENS, SPEC_TOKENS - tokens
    assert types >= SPEC_TYPES, SPEC_TYPES - types
