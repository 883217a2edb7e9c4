from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from xmlmigrate.contract import compile_contract, load_contract
from xmlmigrate.model import MappedApp, RawRecord, Rejection
from xmlmigrate.transform import transform_record

CONTRACT = load_contract()


def _map(doc: str | bytes, app_id: int) -> MappedApp | Rejection:
    return transform_record(RawRecord(app_id, doc), CONTRACT)


def test_contact_dedup_role_priority_then_last_wins(fixtures_dir: Path) -> None:
    result = _map((fixtures_dir / "duplicate_contacts.xml").read_bytes(), 18)
    assert isinstance(result, MappedApp), result
    contacts = {r["con_id"]: r for r in result.rows["app_contact_base"]}
    assert set(contacts) == {180, 181}  # SEC contact 182 filtered out
    assert contacts[180]["first_name"] == "FIRST"  # PR beats a later AUTHU
    assert contacts[180]["contact_type_enum"] == 281
    assert contacts[181]["first_name"] == "LATE"  # same role: last wins
    assert contacts[181]["contact_type_enum"] == 280
    assert any(w.code == "duplicate_con_id" and "con_id='180'" in w.detail for w in result.warnings)
    assert any("ac_role_tp_c='SEC'" in w for w in map(str, result.warnings))


def test_addresses_filtered_typed_truncated(fixtures_dir: Path) -> None:
    result = _map((fixtures_dir / "duplicate_contacts.xml").read_bytes(), 18)
    assert isinstance(result, MappedApp)
    addresses = {r["address_type_enum"]: r for r in result.rows["app_contact_address"]}
    assert set(addresses) == {320, 321}  # blank address type skipped
    curr = addresses[320]
    assert curr == {
        "con_id": 180,
        "address_type_enum": 320,
        "street_line_1": None,
        "city": "DALLAS",
        "state": "TX",
        "zip": "750010000",
        "years_at_residence": 3,
        "months_at_residence": 2,
        "residence_type": None,
        "monthly_housing_payment": None,
    }
    assert addresses[321]["state"] == "TE"  # 'TEXAS' truncated to the column's 2
    assert result.truncated == 1
    assert any("address_tp_c=''" in w for w in map(str, result.warnings))


def test_values_coerced_and_defaults_applied(fixtures_dir: Path) -> None:
    result = _map((fixtures_dir / "duplicate_contacts.xml").read_bytes(), 18)
    assert isinstance(result, MappedApp)
    base = result.rows["app_base"][0]
    assert base["app_id"] == 18
    assert base["product_line_enum"] == 600
    assert base["receive_date"] == date(2016, 1, 5)
    assert base["decision_enum"] == 50
    assert base["decision_date"] == datetime(2016, 1, 25, 11, 21, 37, 976000)
    pricing = result.rows["app_pricing_cc"][0]
    assert pricing["monthly_income"] == Decimal("6250.00")
    assert pricing["debt_to_income_ratio"] == Decimal("13.60")
    operational = result.rows["app_operational_cc"][0]
    assert operational["signature_flag"] is False  # absent → contract default "N"
    assert operational["fraud_review_flag"] is None  # absent, no default
    assert result.defaulted == 1
    employment = result.rows["app_contact_employment"][0]
    assert employment["salary"] == Decimal("52000.00")
    assert employment["salary_basis_enum"] == 360
    assert result.rows["app_contact_base"][0]["birth_date"] == date(1978, 5, 10)
    assert result.rows["app_contact_base"][0]["ssn"] == "664-50-2346"


def test_all_blank_except_id_is_rejected_naming_the_column(fixtures_dir: Path) -> None:
    result = _map((fixtures_dir / "all_blank_except_id.xml").read_bytes(), 17)
    assert isinstance(result, Rejection)
    assert result.code == "required_value_missing"
    assert "app_base.receive_date" in result.detail
    assert result.stage == "map"


def test_invalid_optional_value_becomes_null_with_warning() -> None:
    doc = (
        '<Provenir><Request ID="3"><CustData><application app_receive_date="1/2/2016" '
        'app_entry_date="2016-1-25 11:21:88.000"><app_product decision_tp_c="MAYBE" '
        'monthly_income="Up to $40"/></application></CustData></Request></Provenir>'
    )
    result = _map(doc, 3)
    assert isinstance(result, MappedApp), result
    assert result.rows["app_base"][0]["app_entry_date"] is None
    assert result.rows["app_base"][0]["decision_enum"] is None
    assert result.rows["app_pricing_cc"][0]["monthly_income"] is None
    joined = " | ".join(map(str, result.warnings))
    assert "app_base.app_entry_date: impossible date" in joined
    assert "unknown decision code 'MAYBE'" in joined
    assert "app_pricing_cc.monthly_income: not a number" in joined


def test_invalid_required_value_rejects() -> None:
    doc = (
        '<Provenir><Request ID="4"><CustData><application app_receive_date="05-10-1978"/>'
        "</CustData></Request></Provenir>"
    )
    result = _map(doc, 4)
    assert isinstance(result, Rejection)
    assert "invalid value '05-10-1978'" in result.detail


def test_contact_with_blank_con_id_rejects_the_app() -> None:
    doc = (
        '<Provenir><Request ID="4"><CustData><application app_receive_date="1/1/2016">'
        '<contact con_id="" ac_role_tp_c="PR" first_name="A" last_name="B" birth_date="1/1/1980" '
        'ssn="1"/></application></CustData></Request></Provenir>'
    )
    result = _map(doc, 4)
    assert isinstance(result, Rejection)
    assert "app_contact_base.con_id is NOT NULL" in result.detail


def test_over_length_policy_reject() -> None:
    text = CONTRACT_TEXT.replace(
        'campaign_num = { attr = "campaign_num", type = "string", length = 10 }',
        'campaign_num = { attr = "campaign_num", type = "string", length = 10, on_overflow = "reject" }',
    )
    strict = compile_contract(text)
    doc = (
        '<Provenir><Request ID="4"><CustData><application app_receive_date="1/1/2016" '
        'campaign_num="ABCDEFGHIJKL"/></CustData></Request></Provenir>'
    )
    result = transform_record(RawRecord(4, doc), strict)
    assert isinstance(result, Rejection)
    assert result.code == "value_too_long"
    assert "app_base.campaign_num: 12 characters, column holds 10" in result.detail
    lenient = _map(doc, 4)
    assert isinstance(lenient, MappedApp)
    assert lenient.rows["app_base"][0]["campaign_num"] == "ABCDEFGHIJ"


CONTRACT_TEXT = Path(CONTRACT.source).read_text(encoding="utf-8")
