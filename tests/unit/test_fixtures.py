"""One hand-written document per edge case of the real data, each with its asserted outcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.contracts import engine_contract, engine_generator

from xmlmigrate.config import MigrationConfig
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.model import MappedApp, RawRecord, Rejection
from xmlmigrate.run.pipeline import run_migration
from xmlmigrate.run.transform import transform_record

CONTRACT = engine_contract()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def run(name: str, app_id: int) -> MappedApp | Rejection:
    return transform_record(RawRecord(app_id, (FIXTURES / name).read_bytes()), CONTRACT)


REJECTED = [
    ("wrong_product_line.xml", 16, "wrong_product_line", "IL_application"),
    ("malformed.xml", 12, "malformed", "line"),
    ("not_provenir.xml", 13, "not_provenir", "<Invoice>"),
    ("billion_laughs.xml", 14, "forbidden_dtd", "DOCTYPE"),
    ("external_entity.xml", 15, "forbidden_dtd", "DOCTYPE"),
    ("app_id_missing.xml", 30, "app_id_missing", "Request/@ID"),
    ("app_id_not_integer.xml", 31, "app_id_invalid", "'A-31'"),
    ("app_id_zero.xml", 32, "app_id_invalid", "not positive"),
    ("no_application.xml", 33, "no_application", "Request/CustData/application"),
]


@pytest.mark.parametrize(("name", "app_id", "code", "detail"), REJECTED)
def test_rejected_fixtures(name: str, app_id: int, code: str, detail: str) -> None:
    result = run(name, app_id)
    assert isinstance(result, Rejection), result
    assert (result.app_id, result.code) == (app_id, code)
    assert detail in result.detail


def _codes(r: MappedApp) -> set[str]:
    return {w.code for w in r.warnings}


def _bom(r: MappedApp) -> None:
    assert r.rows["app_contact_base"][0]["first_name"] == "ANA"


def _cp1252(r: MappedApp) -> None:
    c = r.rows["app_contact_base"][0]
    assert (c["first_name"], c["last_name"]) == ("JOSÉ", "MÜLLER")


def _duplicates(r: MappedApp) -> None:
    by_id = {c["con_id"]: c["first_name"] for c in r.rows["app_contact_base"]}
    assert by_id == {180: "FIRST", 181: "LATE"}


def _invalid_roles(r: MappedApp) -> None:
    assert [c["con_id"] for c in r.rows["app_contact_base"]] == [230]


def _over_long(r: MappedApp) -> None:
    assert r.rows["app_base"][0]["campaign_num"] == "CAMPAIGN-N"
    assert len(r.rows["app_contact_base"][0]["first_name"]) == 50
    assert r.rows["app_contact_address"][0]["state"] == "TE"
    # also app_base.primary_first_name and primary_state, which read the PR contact's values
    assert r.truncated == 5


def _no_contacts(r: MappedApp) -> None:
    assert r.rows["app_contact_base"] == [] and len(r.rows["app_base"]) == 1


def _pr_without_names(r: MappedApp) -> None:
    c = r.rows["app_contact_base"][0]
    assert (c["first_name"], c["last_name"]) == ("", "")


def _impossible_dates(r: MappedApp) -> None:
    base = r.rows["app_base"][0]
    assert base["decision_date"] == datetime(2016, 1, 25, 11, 21, 59)
    assert base["app_entry_date"] is None
    assert (r.clamped, r.invalid) == (1, 1)


def _blank_types(r: MappedApp) -> None:
    assert [a["city"] for a in r.rows["app_contact_address"]] == ["DALLAS"]
    assert r.rows["app_contact_address"][0]["months_at_address"] == 38
    (job,) = r.rows["app_contact_employment"]
    assert job["annual_salary"] == Decimal("48000.00")


def _all_blank(r: MappedApp) -> None:  # a required receive date missing: the sentinel
    assert r.rows["app_base"][0]["receive_date"] == date(1900, 1, 1)
    assert r.rows["app_contact_base"] == []


def _blank_con_id(r: MappedApp) -> None:  # the contact is dropped, the app loads
    assert r.rows["app_contact_base"] == []
    assert r.rows["app_base"][0]["receive_date"] == date(2016, 1, 25)


def _encrypted(r: MappedApp) -> None:  # an encrypted SSN takes the column's default
    (contact,) = r.rows["app_contact_base"]
    assert contact["ssn"] == "" and contact["birth_date"] == date(1978, 5, 10)


def _bad_birth_date(r: MappedApp) -> None:
    (contact,) = r.rows["app_contact_base"]
    assert contact["birth_date"] == date(1900, 1, 1) and contact["ssn"] == "123456789"


def _contact_without_data(r: MappedApp) -> None:
    assert [c["con_id"] for c in r.rows["app_contact_base"]] == [350]


MIGRATED: list[tuple[str, int, set[str], Callable[[MappedApp], None]]] = [
    ("contact_without_data.xml", 35, {"contact_without_data"}, _contact_without_data),
    (
        "all_blank_except_id.xml",
        17,
        {"required_value_defaulted", "invalid_contact_role", "no_contacts", "no_primary_contact"},
        _all_blank,
    ),
    (
        "blank_con_id.xml",
        20,
        {"contact_without_con_id", "no_contacts", "no_primary_contact"},
        _blank_con_id,
    ),
    ("encrypted_values.xml", 25, {"invalid_value", "required_value_defaulted"}, _encrypted),
    ("bad_birth_date.xml", 29, {"invalid_value", "required_value_defaulted"}, _bad_birth_date),
    ("bom.xml", 10, set(), _bom),
    ("cp1252_declared_utf8.xml", 11, {"encoding_repaired"}, _cp1252),
    (
        "duplicate_contacts.xml",
        18,
        {"duplicate_con_id", "invalid_contact_role", "address_without_type", "truncated"},
        _duplicates,
    ),
    ("invalid_roles.xml", 23, {"invalid_contact_role"}, _invalid_roles),
    ("over_long_values.xml", 24, {"truncated"}, _over_long),
    ("no_contacts.xml", 26, {"no_contacts", "no_primary_contact"}, _no_contacts),
    ("pr_without_names.xml", 27, {"primary_without_names"}, _pr_without_names),
    ("impossible_dates.xml", 28, {"clamped_value", "invalid_value"}, _impossible_dates),
    ("blank_types.xml", 34, {"address_without_type", "employment_without_type"}, _blank_types),
]


@pytest.mark.parametrize(("name", "app_id", "warnings", "check"), MIGRATED)
def test_migrated_fixtures(
    name: str, app_id: int, warnings: set[str], check: Callable[[MappedApp], None]
) -> None:
    result = run(name, app_id)
    assert isinstance(result, MappedApp), result
    assert _codes(result) == warnings
    check(result)


def test_every_fixture_has_an_asserted_outcome() -> None:
    covered = {r[0] for r in REJECTED} | {m[0] for m in MIGRATED}
    covered |= {"shared_con_id_a.xml", "shared_con_id_b.xml"}
    assert covered == {p.name for p in FIXTURES.glob("*.xml")}


def test_same_con_id_in_two_applications(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = make_engine(url)
    schema = build_schema(CONTRACT)
    schema.create(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(schema.source),
            [
                {"app_id": 21, "xml": (FIXTURES / "shared_con_id_a.xml").read_text()},
                {"app_id": 22, "xml": (FIXTURES / "shared_con_id_b.xml").read_text()},
            ],
        )
    stats = run_migration(MigrationConfig(db_url=url), CONTRACT)
    assert (stats.success, stats.failed) == (1, 1)
    with engine.connect() as conn:
        log = {r.app_id: r for r in conn.execute(sa.select(schema.log))}
        owner = conn.execute(sa.select(schema.targets[5].c.app_id)).scalar_one()
    assert owner == 21 and log[21].status == "success"
    assert log[22].status == "failed" and "con_id" in log[22].reason
    engine.dispose()


def test_huge_document_maps() -> None:
    doc = engine_generator(seed=1, size_profile="large").document(0)  # 0.5-2 MB
    assert len(doc.xml) > 450_000
    result = transform_record(RawRecord(doc.app_id, doc.xml), CONTRACT)
    assert isinstance(result, MappedApp), result
