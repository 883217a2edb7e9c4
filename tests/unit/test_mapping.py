"""Every mapping kind of the contract format, each with asserted values."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from tests.contracts import HEAD as CONTRACT_HEAD
from tests.contracts import app_base_contract, engine_contract

from xmlmigrate.contract import CompiledContract
from xmlmigrate.model import MappedApp, RawRecord, Rejection
from xmlmigrate.run.transform import transform_record

DEFAULT = engine_contract()

HEAD = (
    CONTRACT_HEAD
    + """
[enums.role]
PR = 10
AUTHU = 11
"""
)


def contract(columns: str, more: str = "") -> CompiledContract:
    return app_base_contract(columns, more, HEAD)


def doc(app_attrs: str = "", inner: str = "", app_id: int = 7) -> str:
    return (
        f'<Provenir><Request ID="{app_id}"><CustData><application {app_attrs}>{inner}'
        "</application></CustData></Request></Provenir>"
    )


def mapped(c: CompiledContract, xml: str, app_id: int = 7) -> MappedApp:
    result = transform_record(RawRecord(app_id, xml), c)
    assert isinstance(result, MappedApp), result
    return result


def rejected(c: CompiledContract, xml: str, app_id: int = 7) -> Rejection:
    result = transform_record(RawRecord(app_id, xml), c)
    assert isinstance(result, Rejection), result
    return result


def base(result: MappedApp) -> dict[str, object]:
    return result.rows["app_base"][0]


def codes(result: MappedApp) -> list[str]:
    return [w.code for w in result.warnings]


# -- enums -------------------------------------------------------------------


def test_enum_unknown_code_policies() -> None:
    c = contract(
        'k_null = { attr = "k1", type = "enum", enum = "kind" }\n'
        'k_default = { attr = "k2", type = "enum", enum = "kind", default = "B" }\n'
    )
    r = mapped(c, doc('k1="WEIRD" k2="WEIRD"'))
    assert base(r)["k_null"] is None
    assert base(r)["k_default"] == 2
    assert codes(r).count("invalid_value") == 2
    assert r.invalid == 2 and r.defaulted == 1
    ok = mapped(c, doc('k1="a" k2="A"'))  # codes match case-insensitively
    assert (base(ok)["k_null"], base(ok)["k_default"]) == (1, 1)

    strict = contract('k = { attr = "k", type = "enum", enum = "kind", nullable = false }\n')
    rej = rejected(strict, doc('k="WEIRD"'))
    assert rej.code == "required_value_missing"
    assert "app_base.k is NOT NULL" in rej.detail and "'WEIRD'" in rej.detail
    loud = contract('k = { attr = "k", type = "enum", enum = "kind", on_invalid = "reject" }\n')
    rej = rejected(loud, doc('k="WEIRD"'))
    assert rej.code == "invalid_value" and "unknown kind code 'WEIRD'" in rej.detail


# -- bits ----------------------------------------------------------------------


def test_bit_default_truth_table() -> None:
    c = contract("".join(f'f{i} = {{ attr = "f{i}", type = "bit" }}\n' for i in range(8)))
    r = mapped(c, doc('f0="Y" f1="n" f2="true" f3="FALSE" f4="1" f5="0" f6="yes" f7="maybe"'))
    assert [base(r)[f"f{i}"] for i in range(8)] == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        None,
    ]
    assert codes(r) == ["invalid_value"]


def test_bit_configurable_truth_table_with_unknown_codes() -> None:
    c = contract(
        "".join(
            f'f{i} = {{ attr = "f{i}", type = "bit", true = ["Y", "R"], false = ["N", "D"], '
            f'null = ["U", "P"] }}\n'
            for i in range(7)
        )
    )
    r = mapped(c, doc('f0="Y" f1="R" f2="N" f3="D" f4="U" f5="P" f6="1"'))
    assert [base(r)[f"f{i}"] for i in range(7)] == [True, True, False, False, None, None, None]
    assert codes(r) == ["invalid_value"]  # only "1": U and P mean unknown, quietly


# -- extraction ----------------------------------------------------------------


def test_digits_only_and_number_from_text() -> None:
    c = contract(
        'ssn = { attr = "ssn", type = "string", length = 9, extract = "digits" }\n'
        'phone = { attr = "phone", type = "string", length = 15, extract = "digits" }\n'
        'fee = { attr = "fee", type = "decimal", precision = 8, scale = 2, extract = "number" }\n'
        'fee2 = { attr = "fee2", type = "int", extract = "number" }\n'
        'none = { attr = "none", type = "string", length = 5, extract = "digits" }\n'
    )
    r = mapped(
        c,
        doc(
            'ssn="664-50-2346" phone="(555) 555-5555 ext. 21" fee="Up to $40" '
            'fee2="approx. 1,250 per year" none="N/A"'
        ),
    )
    assert base(r)["ssn"] == "664502346"
    assert base(r)["phone"] == "555555555521"
    assert base(r)["fee"] == Decimal("40.00")
    assert base(r)["fee2"] == 1250
    assert base(r)["none"] is None and "no digits in 'N/A'" in str(r.warnings[0])


def test_pattern_rejects_values_that_do_not_look_right() -> None:
    c = contract(
        'ssn = { attr = "ssn", type = "string", length = 9, extract = "digits", '
        'pattern = "[0-9]{3}-?[0-9]{2}-?[0-9]{4}", on_invalid = "reject" }\n'
    )
    assert base(mapped(c, doc('ssn="664-50-2346"')))["ssn"] == "664502346"
    rej = rejected(c, doc('ssn="U2FsdGVkX1+vupppZksvRf5pq5g5XjFRlipRkwB0K1Y="'))
    assert rej.code == "invalid_value" and "does not match the pattern" in rej.detail


# -- dates -----------------------------------------------------------------------


def test_dates_from_a_list_of_formats_and_impossible_components() -> None:
    c = contract(
        'd1 = { attr = "d1", type = "date", formats = ["MM/DD/YYYY"] }\n'
        'd2 = { attr = "d2", type = "date", formats = ["MM/DD/YYYY", "YYYY-M-D"] }\n'
        'dt_null = { attr = "dt1", type = "datetime" }\n'
        'dt_clamp = { attr = "dt2", type = "datetime", on_impossible = "clamp" }\n'
        'd_clamp = { attr = "d3", type = "date", on_impossible = "clamp" }\n'
        'd_bad = { attr = "d4", type = "date", formats = ["MM/DD/YYYY"] }\n'
    )
    r = mapped(
        c,
        doc(
            'd1="05/10/1978" d2="2016-1-5" dt1="2016-1-25 11:21:88.000" '
            'dt2="2016-1-25 11:21:88.000" d3="02/30/2016" d4="1978-05-10"'
        ),
    )
    row = base(r)
    assert row["d1"] == date(1978, 5, 10)
    assert row["d2"] == date(2016, 1, 5)
    assert row["dt_null"] is None  # impossible → invalid → NULL (counted)
    assert row["dt_clamp"] == datetime(2016, 1, 25, 11, 21, 59)
    assert row["d_clamp"] == date(2016, 2, 29)
    assert row["d_bad"] is None  # not in the column's formats
    assert (r.clamped, r.invalid) == (2, 2)
    assert codes(r).count("clamped_value") == 2


# -- over-length -------------------------------------------------------------------


def test_over_length_truncate_and_count_or_reject() -> None:
    c = contract(
        'short = { attr = "s", type = "string", length = 3 }\n'
        'strict = { attr = "t", type = "string", length = 3, on_overflow = "reject" }\n'
    )
    r = mapped(c, doc('s="ABCDEF" t="XYZ"'))
    assert base(r)["short"] == "ABC" and r.truncated == 1 and "truncated" in codes(r)
    rej = rejected(c, doc('s="A" t="WXYZ"'))
    assert rej.code == "value_too_long"
    assert "app_base.strict: 4 characters, column holds 3" in rej.detail


# -- defaults ------------------------------------------------------------------------


def test_defaults_and_not_when_the_row_would_be_empty() -> None:
    c = contract(
        'flag = { attr = "f", type = "bit", default = "N" }\n',
        '[tables.child]\nparent = "app_base"\nrows = "."\nkey = ["app_id"]\n'
        "[tables.child.columns]\n"
        'app_id = { parent = "app_id", type = "int", nullable = false }\n'
        'a = { attr = "a", type = "int" }\n'
        'tier = { attr = "tier", type = "string", length = 4, default = "NONE", '
        'default_when = "row_has_values" }\n',
    )
    r = mapped(c, doc('a="5"'))
    assert base(r)["flag"] is False  # always applied
    assert r.rows["child"][0] == {"app_id": 7, "a": 5, "tier": "NONE"}
    empty = mapped(c, doc(""))
    assert empty.rows["child"][0] == {"app_id": 7, "a": None, "tier": None}


# -- calculated fields ----------------------------------------------------------------


def test_calculated_fields() -> None:
    c = contract(
        'received = { attr = "r", type = "date" }\n'
        'years = { attr = "y", type = "int" }\n'
        'months = { attr = "m", type = "int" }\n'
        'total_months = { expr = "years * 12 + COALESCE(months, 0)", type = "int" }\n'
        "band = { expr = \"CASE WHEN total_months >= 24 THEN 'LONG' WHEN total_months IS NULL "
        "THEN 'UNK' ELSE 'SHORT' END\", type = \"string\", length = 5 }\n"
        'due = { expr = "DATEADD(MONTH, 1, received)", type = "date" }\n'
        'vip = { expr = "@tier LIKE \'gold%\' AND NOT (years IS NULL)", type = "bit" }\n',
        '[tables.child]\nparent = "app_base"\nrows = "person"\nkey = ["pid"]\n'
        "[tables.child.columns]\n"
        'pid = { attr = "pid", type = "int", nullable = false }\n'
        'app_id = { parent = "app_id", type = "int", nullable = false }\n'
        'born = { attr = "born", type = "date" }\n'
        'age = { expr = "DATEDIFF(YEAR, born, app_base.received)", type = "int" }\n',
    )
    r = mapped(
        c,
        doc('r="01/31/2016" y="3" m="" tier="GOLD-PLUS"', '<person pid="1" born="5/10/1978"/>'),
    )
    row = base(r)
    assert row["total_months"] == 36
    assert row["band"] == "LONG"
    assert row["due"] == date(2016, 2, 29)
    assert row["vip"] is True
    assert r.rows["child"][0]["age"] == 38
    blank = base(mapped(c, doc('r="01/31/2016"')))
    assert (blank["total_months"], blank["band"], blank["vip"]) == (None, "UNK", False)


# -- related elements, selectors, dedup ------------------------------------------------


def test_values_from_related_elements() -> None:
    c = contract(
        'pr_name = { path = "contact[@role=\'PR\']/@name", type = "string", length = 20 }\n'
        "pr_city = { path = \"contact[@role='PR']/address[@type='CURR']/@city\", "
        'type = "string", length = 20 }\n'
        'au_name = { path = "contact[@role=\'AUTHU\']/@name", type = "string", length = 20 }\n'
    )
    r = mapped(
        c,
        doc(
            "",
            '<contact role="AUTHU" name="AL"><address type="CURR" city="RENO"/></contact>'
            '<contact role="PR" name="PAT"><address type="PREV" city="OMAHA"/>'
            '<address type="CURR" city="TULSA"/></contact>',
        ),
    )
    assert (base(r)["pr_name"], base(r)["pr_city"], base(r)["au_name"]) == ("PAT", "TULSA", "AL")
    none = mapped(c, doc("", '<contact role="AUTHU" name="AL"/>'))
    assert base(none)["pr_name"] is None and base(none)["pr_city"] is None


def test_contact_dedup_role_priority_then_last_wins(fixtures_dir: Path) -> None:
    result = transform_record(
        RawRecord(18, (fixtures_dir / "duplicate_contacts.xml").read_bytes()), DEFAULT
    )
    assert isinstance(result, MappedApp), result
    contacts = {r["con_id"]: r for r in result.rows["app_contact_base"]}
    assert set(contacts) == {180, 181}  # SEC contact 182 filtered out
    assert contacts[180]["first_name"] == "FIRST"  # PR beats a later AUTHU
    assert contacts[180]["contact_type_enum"] == 281
    assert contacts[181]["first_name"] == "LATE"  # same role: last wins
    assert contacts[181]["contact_type_enum"] == 280
    assert contacts[180]["ssn"] == "664502346"
    assert contacts[180]["birth_date"] == date(1978, 5, 10)
    assert "duplicate_con_id" in codes(result)
    assert "invalid_contact_role" in codes(result)
    addresses = {r["address_type_enum"]: r for r in result.rows["app_contact_address"]}
    assert set(addresses) == {320, 321}  # the address without a type is skipped
    assert "address_without_type" in codes(result)
    assert addresses[320]["zip"] == "750010000"
    assert addresses[320]["months_at_address"] == 38
    assert addresses[321]["state"] == "TE"  # 'TEXAS' truncated to 2
    employment = result.rows["app_contact_employment"][0]
    assert employment["salary"] == Decimal("52000.00")
    assert employment["annual_salary"] == Decimal("52000.00")
    app = result.rows["app_base"][0]
    assert app["decision_enum"] == 50 and app["approved_flag"] is True
    assert app["decision_date"] == datetime(2016, 1, 25, 11, 21, 37, 976000)
    assert app["primary_first_name"] == "FIRST"
    assert app["days_to_decision"] == 20
    pricing = result.rows["app_pricing_cc"][0]
    assert pricing["monthly_income"] == Decimal("6250.00")
    assert pricing["annual_income"] == Decimal("75000.00")


# -- unpivot and repeated elements ---------------------------------------------------


KV = (
    '[tables.{name}]\nparent = "app_base"\nrows = "{rows}"\nkey = ["app_id", "name"]\n{extra}\n'
    "[tables.{name}.columns]\n"
    'app_id = {{ parent = "app_id", type = "int", nullable = false }}\n'
    'name = {{ {name_src}, type = "string", length = 30, nullable = false }}\n'
    'value = {{ {value_src}, type = "string", length = 30 }}\n'
)


def test_unpivot_tables_skip_empty_values() -> None:
    c = contract(
        "",
        KV.format(
            name="by_list",
            rows="hist",
            extra='unpivot = { attributes = ["a", "b", "c"] }',
            name_src='unpivot = "name"',
            value_src='unpivot = "value"',
        )
        + KV.format(
            name="by_prefix",
            rows="hist",
            extra='unpivot = { prefix = "h_" }',
            name_src='unpivot = "name"',
            value_src='unpivot = "value"',
        )
        + KV.format(
            name="repeated",
            rows="results/result",
            extra='dedup = { by = "name" }\nskip_if_null = ["value"]',
            name_src='attr = "name"',
            value_src='attr = "value"',
        ),
    )
    r = mapped(
        c,
        doc(
            "",
            '<hist a="1" b="" c="x" h_one="10" h_two="" h_three="30" other="no"/>'
            '<results><result name="INQ" value="3"/><result name="UTIL" value=""/>'
            '<result name="INQ" value="4"/></results>',
        ),
    )
    assert r.rows["by_list"] == [
        {"app_id": 7, "name": "a", "value": "1"},
        {"app_id": 7, "name": "c", "value": "x"},
    ]
    assert r.rows["by_prefix"] == [
        {"app_id": 7, "name": "one", "value": "10"},
        {"app_id": 7, "name": "three", "value": "30"},
    ]
    assert r.rows["repeated"] == [{"app_id": 7, "name": "INQ", "value": "4"}]


# -- checks ----------------------------------------------------------------------------


def test_checks_add_coded_warnings_to_migrated_apps() -> None:
    xml = (
        '<Provenir><Request ID="9"><CustData><application app_receive_date="1/2/2016">'
        '<contact con_id="90" ac_role_tp_c="AUTHU" first_name="A" last_name="B" '
        'birth_date="1/1/1980" ssn="123456789"/></application></CustData></Request></Provenir>'
    )
    r = mapped(DEFAULT, xml, 9)
    assert "no_primary_contact" in codes(r) and "no_contacts" not in codes(r)
    empty = mapped(
        DEFAULT,
        xml.replace('ac_role_tp_c="AUTHU"', 'ac_role_tp_c="PR"').replace(
            'first_name="A"', 'first_name=""'
        ),
        9,
    )
    assert "primary_without_names" in codes(empty)
    assert empty.rows["app_contact_base"][0]["first_name"] == ""  # NOT NULL: default ''


REQUIRED = 'receive_date = { attr = "app_receive_date", type = "date", nullable = false%s }\n'


def test_invalid_required_value_rejects_with_location() -> None:
    strict = contract(REQUIRED % ', on_invalid = "reject"')
    rej = rejected(strict, doc('app_receive_date="1978.05.10"', app_id=4), 4)
    assert rej.code == "invalid_value"
    assert "app_base.receive_date at @app_receive_date" in rej.detail
    assert "'1978.05.10'" in rej.detail


@pytest.mark.parametrize("missing", ["", 'app_receive_date=""'])
def test_missing_required_value_rejects(missing: str) -> None:
    rej = rejected(contract(REQUIRED % ""), doc(missing, app_id=4), 4)
    assert rej.code == "required_value_missing"
    assert "app_base.receive_date is NOT NULL" in rej.detail


@pytest.mark.parametrize(
    ("attrs", "shown"),
    [("", "no value"), ('app_receive_date="1978.05.10"', "'1978.05.10'")],
)
def test_a_required_value_with_a_default_loads_the_app_with_a_coded_warning(
    attrs: str, shown: str
) -> None:
    lenient = contract(REQUIRED % ', default = "1900-01-01", warn = "required_value_defaulted"')
    result = mapped(lenient, doc(attrs, app_id=4), 4)
    assert base(result)["receive_date"] == date(1900, 1, 1)
    (warning,) = [w for w in result.warnings if w.code == "required_value_defaulted"]
    assert warning.detail == f"app_base.receive_date: {shown}, took 1900-01-01"


def test_rows_without_a_skip_column_are_dropped_with_a_coded_warning() -> None:
    c = contract(
        "",
        """
[tables.people]
parent = "app_base"
rows = "contact"
key = ["con_id"]
skip_if_null = ["con_id"]
skip_warn = "contact_without_con_id"

[tables.people.columns]
con_id = { attr = "con_id", type = "int", nullable = false }
app_id = { parent = "app_id", type = "int", nullable = false }
""",
    )
    result = mapped(c, doc(inner='<contact con_id=""/><contact con_id="5"/>'))
    assert [r["con_id"] for r in result.rows["people"]] == [5]
    assert [w.code for w in result.warnings] == ["contact_without_con_id"]


def test_rows_whose_keys_meet_after_truncation_keep_the_last() -> None:
    first, second = "X" * 51, "X" * 52  # distinct in the document, equal once cut to 30
    xml = (
        '<Provenir><Request ID="3"><CustData><application app_receive_date="1/2/2016">'
        f'<Indicators><Indicator ID="{first}" value="N"/><Indicator ID="A" value="Y"/>'
        f'<Indicator ID="{second}" value="Y"/></Indicators></application></CustData></Request>'
        "</Provenir>"
    )
    result = mapped(DEFAULT, xml, 3)
    assert [(r["indicator"], r["value"]) for r in result.rows["indicators"]] == [
        ("A", "Y"),
        ("X" * 30, "Y"),
    ]
    assert "duplicate_key" in codes(result)


def test_a_last_step_takes_the_last_match_not_the_last_sibling() -> None:
    from lxml import etree

    from xmlmigrate.contract.paths import check_element_path, locate

    app = etree.fromstring(
        b'<application><contact r="PR" n="1"/><contact r="PR" n="2"><a t="CURR" z="9"/>'
        b'<a t="PREV" z="8"/></contact><contact r="AU" n="3"/></application>'
    )
    last_pr = locate(app, "contact[@r='PR'][last]")
    assert last_pr is not None and last_pr.get("n") == "2"  # ElementPath's [last()]: none
    assert app.find("contact[@r='PR'][last()]") is None
    curr = locate(app, "contact[@r='PR'][last]/a[@t='CURR']")
    assert curr is not None and curr.get("z") == "9"
    assert locate(app, "contact[@r='XX'][last]/a") is None
    check_element_path("contact[@r='a/b'][last]/a")
    with pytest.raises(ValueError, match="invalid element path"):
        check_element_path("contact[[last]")
