"""The shapes of the predecessor's two real contracts that its reference understated (§16 of
xmlconversion-contract-format.md; the ten causes of the import's failures on the real files),
each reproduced in made-up contracts of the same form (tests/fixtures/contracts/
predecessor_shapes_{cc,rl}.json, written by make_predecessor_shapes.py), with the rows the
import must give for hand-written documents of both product lines (tests/fixtures/shapes)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from xmlmigrate.contract import combine_contracts, compile_contract
from xmlmigrate.contract.errors import ContractImportError
from xmlmigrate.contract.import_ import MAPPING_KEYS, TOP_LEVEL_KEYS, Imported, import_contract
from xmlmigrate.contract.model import CompiledContract
from xmlmigrate.contract.spelling import respell
from xmlmigrate.db.schema import build_schema
from xmlmigrate.model import MappedApp, RawRecord
from xmlmigrate.run.transform import transform_record

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CONTRACTS = FIXTURES / "contracts"
SHAPES_CC = CONTRACTS / "predecessor_shapes_cc.json"
SHAPES_RL = CONTRACTS / "predecessor_shapes_rl.json"
DOCS = FIXTURES / "shapes"


def _imported() -> tuple[Imported, Imported]:
    return import_contract(SHAPES_CC), import_contract(SHAPES_RL)


def _both() -> CompiledContract:
    cc, rl = _imported()
    return combine_contracts(
        [compile_contract(cc.toml, "shapes_cc.toml"), compile_contract(rl.toml, "shapes_rl.toml")]
    )


def _notes(result: Imported) -> str:
    return "\n".join(result.notes)


def test_the_fixture_files_are_what_their_script_writes(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_shapes", CONTRACTS / "make_predecessor_shapes.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert json.loads(SHAPES_CC.read_text(encoding="utf-8")) == module.cc()
    assert json.loads(SHAPES_RL.read_text(encoding="utf-8")) == module.rl()


def test_both_import_without_errors_and_check_together() -> None:
    both = _both()
    names = {t.name for t in both.tables}
    assert {"app_base", "app_pricing_zz", "app_operational_zz", "app_collateral_rl"} <= names
    # the staging tables where the documents are, carried over from source_table/column
    assert [(r.table, r.key, r.document) for r in both.sources] == [
        ("zz_staging_cc", "app_id", "app_XML"),
        ("zz_staging_rl", "app_id", "app_XML"),
    ]
    assert all(m.spelling is not None for m in both.members)  # attributes in any case


def test_cause_1_a_calculated_column_among_a_childs_meaningful_ones() -> None:
    cc, rl = _imported()
    rl_contract = compile_contract(rl.toml, "rl.toml")
    employment = rl_contract.table_by_name["app_contact_employment"]
    assert employment.meaningful is not None
    assert {"pay", "pay_basis"} <= set(employment.meaningful.any_of)
    assert "counts the computed value as data only when it is not 0" in _notes(cc)
    assert "attributes it reads (pay, pay_basis)" in _notes(rl)


def test_cause_2_one_id_in_two_enums_is_a_numbered_note_and_strict_refuses() -> None:
    cc, _ = _imported()
    note = next(n for n in cc.notes if "id 130" in n)
    assert note.startswith("1. ")
    assert "process_enum 'P1'" in note and "sc_debit_funding_source_enum 'ACH'" in note
    with pytest.raises(ContractImportError, match=r"id 130 for both .*\(--strict\)"):
        import_contract(SHAPES_CC, strict=True)
    rows = build_schema(_both()).enum_rows
    ids = [r["enum_id"] for r in rows]
    assert len(ids) == len(set(ids))  # init's app_enums primary key holds
    assert {"enum_id": 130, "enum_type": "process_enum", "code": "P1"} in rows


def test_cause_3_and_9_aliases_and_the_same_enum_name_with_other_ids_seed_apart() -> None:
    both = _both()
    assert both.enums["sc_debit_funding_source_enum"] == {"ACH": 130, "Wire Co": 138, "WC": 138}
    assert both.enums["decision_enum"] == {"APPRV": 50, "DECLN": 51}
    rl_line = both.members[1].product_line
    assert both.enums[f"decision_enum@{rl_line}"] == {
        "APPRV": 610,
        "DECLN": 611,
        "": 612,
        "PENDING": 612,
    }
    assert both.enums[f"product_line_enum@{rl_line}"] == {"": 602}
    rows = build_schema(both).enum_rows
    assert sorted(r["enum_id"] for r in rows if r["enum_type"].startswith("decision")) == [
        50,
        51,
        610,
        611,
        612,
    ]


def test_cause_4_parentheses_are_parsed_with_what_the_predecessor_reads_in_a_note() -> None:
    _, rl = _imported()
    notes = _notes(rl)
    assert "'(zz_m > 0 OR zz_y > 0)': it reads it as (always false) OR (zz_y is not blank)" in notes
    assert "\"(zz_q = 'Q')\": it reads it as (always true)" in notes
    assert "'(zz_q > 0)': it reads it as (always false)" in notes
    with pytest.raises(ContractImportError, match=r"does not parse the parentheses"):
        import_contract(SHAPES_RL, strict=True)


@pytest.mark.parametrize(
    ("m", "y", "months"),
    # the predecessor's own results: (5,2) 29, (7,0) 7; (0,0) gives 0 there and (5,'') None —
    # here the condition means what it says: (0,0) is NULL; (5,'') NULL as there
    [("5", "2", 29), ("7", "0", 7), ("0", "0", None), ("5", "", None), ("", "3", None)],
)
def test_cause_4_values_of_the_parenthesised_calculation(m: str, y: str, months: Any) -> None:
    _, rl = _imported()
    contract = compile_contract(rl.toml, "rl.toml")
    doc = (
        f'<Provenir><Request ID="9"><CustData><IL_application zz_m="{m}" zz_y="{y}"/>'
        "</CustData></Request></Provenir>"
    )
    mapped = transform_record(RawRecord(9, doc), contract)
    assert isinstance(mapped, MappedApp), mapped
    assert mapped.rows["app_operational_zz"][0]["zz_months"] == months


def test_cause_7_long_per_slot_calculations_import_and_hostile_ones_stay_refused() -> None:
    _, rl = _imported()
    contract = compile_contract(rl.toml, "rl.toml")
    column = contract.table_by_name["app_collateral_rl"].column("collateral_type_enum")
    assert column.expr is not None and len(column.expr.text) > 4000  # the old limit
    hostile = "1" + " + 1" * 6000
    with pytest.raises(Exception, match="characters long"):
        compile_contract(
            rl.toml.replace('collateral_type_enum" = { expr = "', f'x" = {{ expr = "{hostile}', 1),
            "h.toml",
        )


def _map(name: str) -> MappedApp:
    app_id = int(name.split("_")[1].split(".")[0])
    mapped = transform_record(RawRecord(app_id, (DOCS / name).read_bytes()), _both())
    assert isinstance(mapped, MappedApp), mapped
    return mapped


def test_a_credit_card_document_maps_as_the_predecessor_maps_it() -> None:
    rows = _map("cc_501.xml").rows
    assert rows["app_base"] == [
        {
            "app_id": 501,
            "receive_date": datetime(2016, 1, 25, 10, 11, 12),
            "decision_enum": 50,
            "product_line_enum": 600,
            "process_enum": 130,
        }
    ]
    assert rows["app_pricing_zz"] == [
        {
            "app_id": 501,
            "sc_debit_funding_source_enum": 138,  # the alias WC
            "partner_url": "https://x.example/p",  # Partner_URL_ID spelled partner_url_id
            "zz_ok_flag": True,
            "zz_fee": 12,
            "zz_account": "00123",  # every digit kept (noted)
            "zz_code": None,  # "default_value": null: no default
            "pr_contact_type_enum": 281,  # [last_valid_pr_contact, enum]
            "pr_first_name": "ANA",
            "authu_issue_card": True,  # [authu_contact, char_to_bit]
        }
    ]
    # the shared birth_date column is datetime (the rec-lending contract's type): a date here
    # is written as its midnight
    assert [
        (c["con_id"], c["contact_type_enum"], c["birth_date"], c["curr_zip"])
        for c in rows["app_contact_base"]
    ] == [
        (11, 281, datetime(1980, 2, 3), "741011234"),
        (12, 280, None, None),
    ]
    assert rows["app_contact_employment"][0]["monthly_salary"] == Decimal("5000.00")
    assert rows["scores"] == [{"app_id": 501, "score_identifier": "ZZ", "score": 611}]
    assert rows["indicators"] == [{"app_id": 501, "indicator": "ZZ_FRAUD", "value": "1"}]
    assert rows["app_report_results_lookup"] == [
        {"app_id": 501, "name": "zz_report", "value": "R-1", "source_report_key": "RPT"}
    ]
    assert sorted((r["name"], r["source"], r["value"]) for r in rows["app_historical_lookup"]) == [
        ("[zz_bureau]", "[contact]", "EXP"),
        ("[zz_hist]", "[application]", "seen"),
    ]


def test_without_an_authu_contact_its_bit_is_null() -> None:
    pricing = _map("cc_502.xml").rows["app_pricing_zz"][0]
    assert pricing["authu_issue_card"] is None
    assert pricing["sc_debit_funding_source_enum"] == 130  # ACH: the id process P1 also has
    assert pricing["partner_url"] == "https://y.example/q"  # spelled as the contract spells it


def test_a_rec_lending_document_maps_as_the_predecessor_maps_it() -> None:
    rows = _map("rl_601.xml").rows
    base = rows["app_base"][0]
    assert (base["decision_enum"], base["product_line_enum"]) == (612, 602)  # '' catch-all
    op = rows["app_operational_zz"][0]
    assert len(op.pop("zz_notes")) == 300  # data_length -1: nothing cut
    assert op == {
        "app_id": 601,
        "zz_motor": 116,  # '115.50' half-up
        "zz_closed": date(1978, 5, 10),
        "zz_plan": "STD",  # a conditional default beside other values
        "sec_first_name": "DI",
        "priority_enum": None,  # the empty enum
        "officer_checklist": "team@example.com",  # the calculation
        "zz_months": 29,
        "zz_q_seen": "yes",
        "zz_q_big": None,
        "zz_start": datetime(2020, 6, 1, 22, 12, 15),  # the time of day kept
    }
    assert "app_funding_zz" not in rows or rows["app_funding_zz"] == []  # keys only: no row
    assert rows["app_contact_address"][0]["months_at_address"] == 29
    assert rows["app_contact_employment"][0]["monthly_salary"] == Decimal("0.00")  # noted
    assert rows["scores"] == [{"app_id": 601, "score_identifier": "ZZR", "score": 53}]
    slots = {r["sort_order"]: r for r in rows["app_collateral_rl"]}
    assert sorted(slots) == [1, 3]  # slot 2 holds only a zero wholesale value
    assert slots[1] == {
        "app_id": 601,
        "sort_order": 1,
        "make": "BOATMATE",
        "year": 2014,
        "wholesale_value": Decimal("1200.50"),
        "used_flag": True,
        "mileage": 12345,
        "collateral_type_enum": 700,
    }
    assert (slots[3]["make"], slots[3]["year"], slots[3]["collateral_type_enum"]) == (
        "HONDA",
        9999,  # the slot's defaults, as the predecessor adds them
        799,
    )


def test_a_text_enum_answers_where_the_calculation_gives_nothing() -> None:
    rows = _map("rl_602.xml").rows
    op = rows["app_operational_zz"][0]
    assert op["officer_checklist"] == "k2@example.com"  # no LIKE matched: the code K2
    assert op["zz_months"] is None  # (0, 0): the condition as written is false
    assert rows["app_base"][0]["decision_enum"] == 612  # the alias PENDING
    assert rows["app_funding_zz"] == [
        {"app_id": 602, "zz_fund_amount": Decimal("10.50"), "zz_fund_status": "NEW"}
    ]


def test_attributes_in_any_case_the_contracts_spelling_first() -> None:
    root = etree.fromstring(
        b'<a Partner_URL_ID="x" partner_url_id="exact" ZZ_Q="1"><b zz_q="2"/></a>'
    )
    respell(root, {"partner_url_id": "partner_url_id", "zz_q": "zz_q"})
    assert root.get("partner_url_id") == "exact"  # the exact spelling wins
    assert root.get("zz_q") == "1" and root.get("ZZ_Q") is None
    assert root[0].attrib == {"zz_q": "2"}


# -- every row of the census of the two real files (§16), and every key of the format --------

CENSUS_COMBINATIONS = {
    (),
    ("enum",),
    ("char_to_bit",),
    ("calculated_field",),
    ("add_history",),
    ("add_score",),
    ("add_report_lookup",),
    ("add_indicator",),
    ("last_valid_pr_contact",),
    ("last_valid_pr_contact", "add_history"),
    ("last_valid_pr_contact", "enum"),
    ("authu_contact", "char_to_bit"),
    ("numbers_only",),
    ("curr_address_only", "numbers_only"),
    ("extract_numeric",),
    ("boolean_to_bit",),
    ("identity_insert",),
    ("calculated_field", "enum"),
    ("extract_date",),
    ("last_valid_sec_contact",),
    ("policy_exceptions",),
    ("policy_exceptions()",),
    ("add_collateral",),
    ("calculated_field", "add_collateral"),
    ("char_to_bit", "add_collateral"),
    ("numbers_only", "add_collateral"),
    ("warranty_field",),
    ("char_to_bit", "warranty_field"),
}
CENSUS_KEYS = {
    "default_value",
    "exclude_default_when_record_empty",
    "data_length",
    "expression",
    "required",
    "description",
    "enum_name",
    "nullable",
}


def _combination(tokens: list[str]) -> tuple[str, ...]:
    return tuple(t if t == "policy_exceptions()" else t.split("(")[0] for t in tokens)


def test_the_fixtures_hold_every_census_row_and_each_imports() -> None:
    seen: set[tuple[str, ...]] = set()
    keys: set[str] = set()
    null_default = False
    for path in sorted(CONTRACTS.glob("predecessor_*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for m in data["mappings"]:
            seen.add(_combination(m.get("mapping_type") or []))
            keys |= set(m)
            null_default |= "default_value" in m and m["default_value"] is None
        assert import_contract(path).toml
    assert seen >= CENSUS_COMBINATIONS, CENSUS_COMBINATIONS - seen
    assert keys >= CENSUS_KEYS, CENSUS_KEYS - keys
    assert null_default  # "default_value": null


# the keys of the format (reference §2, §3): each handled, or refused by name
FORMAT_TOP_LEVEL = {
    "xml_root_element",
    "xml_application_path",
    "source_table",
    "source_column",
    "source_application_table",
    "target_schema",
    "table_insertion_order",
    "element_filtering",
    "mappings",
    "relationships",
    "enum_mappings",
    "bit_conversions",
    "validation_rules",
    "description",  # informational, as in a mapping
}
FORMAT_MAPPING = {
    "xml_path",
    "xml_attribute",
    "target_table",
    "target_column",
    "data_type",
    "data_length",
    "mapping_type",
    "expression",
    "default_value",
    "nullable",
    "exclude_default_when_record_empty",
    "required",
    "description",
    "enum_name",
}


def test_every_key_of_the_format_is_known_to_the_import_with_what_it_does() -> None:
    assert set(TOP_LEVEL_KEYS) == FORMAT_TOP_LEVEL
    assert set(MAPPING_KEYS) == FORMAT_MAPPING
    assert all(what.strip() for what in (*TOP_LEVEL_KEYS.values(), *MAPPING_KEYS.values()))


def test_a_key_outside_the_format_is_refused_by_name(tmp_path: Path) -> None:
    data = json.loads(SHAPES_CC.read_text(encoding="utf-8"))
    data["mappings"][2]["zz_transform"] = "upper"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(
        ContractImportError, match=r"mappings\[2\].*unknown key\(s\) 'zz_transform'"
    ):
        import_contract(path)
    data = json.loads(SHAPES_CC.read_text(encoding="utf-8"))
    data["key_identifiers"] = {}
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ContractImportError, match=r"unknown top-level key\(s\) 'key_identifiers'"):
        import_contract(path)


def test_a_blank_text_result_is_null_as_the_predecessors_insert_stores_it() -> None:
    data = json.loads(SHAPES_RL.read_text(encoding="utf-8"))
    data["mappings"].append(
        {
            "xml_path": "/Provenir/Request/CustData/IL_application",
            "xml_attribute": "zz_q",
            "target_table": "app_operational_zz",
            "target_column": "zz_q_blank",
            "data_type": "string",
            "data_length": 3,
            "mapping_type": ["calculated_field"],
            "expression": "CASE WHEN zz_q = 'Q' THEN 'yes' ELSE '' END",
        }
    )
    contract = compile_contract(_import_data(data), "rl.toml")
    for q, want in (("Q", "yes"), ("R", None)):
        doc = (
            f'<Provenir><Request ID="9"><CustData><IL_application zz_q="{q}"/>'
            "</CustData></Request></Provenir>"
        )
        mapped = transform_record(RawRecord(9, doc), contract)
        assert isinstance(mapped, MappedApp), mapped
        assert mapped.rows["app_operational_zz"][0]["zz_q_blank"] == want


def _import_data(data: dict[str, Any]) -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return import_contract(path).toml


def test_a_bare_name_is_read_from_any_element_that_carries_it_the_later_first() -> None:
    """The predecessor's context holds every element's attributes, a later element's
    overwriting an earlier one's: a bare name is read from the elements the contract reads,
    later ones first, the application's own attributes last."""
    data = json.loads(SHAPES_RL.read_text(encoding="utf-8"))
    app = "/Provenir/Request/CustData/IL_application"
    data["mappings"] += [
        {
            "xml_path": f"{app}/IL_app_decision",
            "xml_attribute": "zz_rate",
            "target_table": "app_operational_zz",
            "target_column": "zz_rate_seen",
            "data_type": "string",
            "data_length": 10,
        },
        {
            "xml_path": app,
            "xml_attribute": "zz_rate",
            "target_table": "app_operational_zz",
            "target_column": "zz_rate_calc",
            "data_type": "decimal",
            "data_length": 2,
            "mapping_type": ["calculated_field"],
            "expression": "zz_rate * 2",
        },
        {
            "xml_path": app,
            "xml_attribute": "zz_nowhere",
            "target_table": "app_operational_zz",
            "target_column": "zz_unmapped_calc",
            "data_type": "decimal",
            "data_length": 2,
            "mapping_type": ["calculated_field"],
            "expression": "zz_unmapped + 1",
        },
    ]
    contract = compile_contract(_import_data(data), "rl.toml")
    for decision, application, want in (
        ('zz_rate="4.5"', 'zz_rate="1"', Decimal("9.00")),  # the later element's
        ("", 'zz_rate="1"', Decimal("2.00")),  # only the application carries it
    ):
        doc = (
            f'<Provenir><Request ID="9"><CustData><IL_application {application}>'
            f'<IL_app_decision {decision}/><IL_collateral zz_unmapped="2"/></IL_application>'
            "</CustData></Request></Provenir>"
        )
        mapped = transform_record(RawRecord(9, doc), contract)
        assert isinstance(mapped, MappedApp), mapped
        op = mapped.rows["app_operational_zz"][0]
        assert op["zz_rate_calc"] == want
        assert op["zz_unmapped_calc"] == Decimal("3.00")  # on IL_collateral, mapped by nobody


def test_every_mapping_type_token_is_handled_and_an_unknown_one_refused_by_name(
    tmp_path: Path,
) -> None:
    from tests.unit.test_import import SPEC_TOKENS

    from xmlmigrate.contract import import_ as imp

    handled = (
        set(imp.FIELD_TOKENS)
        | set(imp.SELECTORS)
        | set(imp.KV_TOKENS)
        | set(imp.GROUP_TOKENS)
        | {"calculated_field"}
    )
    assert handled >= SPEC_TOKENS, SPEC_TOKENS - handled
    assert {"default_getutcdate_if_null"} - handled  # the spec's unused one: refused (below)
    data = json.loads(SHAPES_CC.read_text(encoding="utf-8"))
    data["mappings"][6]["mapping_type"] = ["default_getutcdate_if_null"]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(
        ContractImportError,
        match=r"mappings\[6\].*mapping type default_getutcdate_if_null \(the time of the run",
    ):
        import_contract(path)
