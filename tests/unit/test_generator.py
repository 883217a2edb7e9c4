from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from lxml import etree

from xmlmigrate.contract import load_contract
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.mock import default_generator, generator_for, insert_documents, next_app_id
from xmlmigrate.mock.census import census
from xmlmigrate.model import MappedApp, RawRecord, Rejection
from xmlmigrate.run.transform import transform_record
from xmlmigrate.testing.expected import expected_outcome, expected_rows


def test_reproducible_for_a_seed() -> None:
    a = [d.xml for d in default_generator(seed=7).generate(5)]
    b = [d.xml for d in default_generator(seed=7).generate(5)]
    c = [d.xml for d in default_generator(seed=8).generate(5)]
    assert a == b
    assert a != c
    # document i depends only on (seed, i): generating in pieces gives the same documents
    pieces = [d.xml for d in default_generator(seed=7).generate(2)] + [
        d.xml for d in default_generator(seed=7).generate(3, offset=2)
    ]
    assert pieces == a


def test_unique_app_and_contact_ids() -> None:
    docs = list(default_generator(seed=1, size_profile="small", start_app_id=500).generate(300))
    assert [d.app_id for d in docs] == list(range(500, 800))
    con_ids = [c.value("con_id") for d in docs for c in d.model.contacts]
    assert len(con_ids) == len(set(con_ids))
    roles = {c.value("ac_role_tp_c") for d in docs for c in d.model.contacts}
    assert {"PR", "AUTHU"} <= roles


def test_documents_have_the_real_shape() -> None:
    doc = default_generator(seed=3).document(0)
    assert doc.xml.startswith("\ufeff<?xml")
    root = etree.fromstring(doc.xml.encode("utf-8"))
    assert root.tag == "Provenir"
    request = root.find("Request")
    assert request is not None and request.get("ID") == str(doc.app_id)
    application = root.find("Request/CustData/application")
    assert application is not None
    # attribute-heavy like the real ones (22-59 in the small real samples), all real names
    known = census("CC").elements["Provenir/Request/CustData/application"].attrs
    assert len(application.attrib) >= 20
    assert set(application.attrib) <= set(known)
    for section in ("Journals", "Audits", "Reports", "Documents"):
        assert root.find(f"Request/{section}") is not None


@pytest.mark.parametrize("contract", ["provenir_cc", "provenir_rl"])
@pytest.mark.parametrize(
    ("profile", "low", "high"),
    [("small", 8_000, 25_000), ("large", 450_000, 2_100_000)],
)
def test_size_profiles_bound_sizes(contract: str, profile: str, low: int, high: int) -> None:
    """The sizes docs/generator.md and ``generate --help`` give: small 8-25 KB, large 0.5-2 MB."""
    gen = generator_for(load_contract(contract), seed=2, size_profile=profile)
    sizes = [len(d.xml.encode()) for d in gen.generate(120 if profile == "small" else 20)]
    assert low <= min(sizes) and max(sizes) <= high


def test_realistic_profile_follows_the_real_distribution() -> None:
    sizes = [len(d.xml.encode()) for d in default_generator(seed=4).generate(400)]
    median = statistics.median(sizes)
    mean = statistics.mean(sizes)
    assert 110_000 <= median <= 220_000, median  # real: ~145 KB
    assert 190_000 <= mean <= 330_000, mean  # real: ~254 KB
    assert max(sizes) > 1_000_000  # the tail (real: 4 of 165 over 1 MB)
    assert min(sizes) < 12_000
    # the mapped part is a small share of the bytes, as in production (~3 %)
    custdata = [
        len(d.xml[d.xml.find("<CustData>") : d.xml.find("</CustData>")])
        for d in default_generator(seed=4).generate(50)
    ]
    assert statistics.median(custdata) < 15_000


def test_generated_documents_map_to_exactly_what_the_model_implies() -> None:
    contract = load_contract()
    for doc in default_generator(seed=11, size_profile="small").generate(150):
        result = transform_record(RawRecord(doc.app_id, doc.xml), contract)
        assert isinstance(result, MappedApp), result
        assert result.rows == expected_rows(doc.model, contract), doc.app_id


def test_edge_cases_have_the_outcome_the_model_predicts() -> None:
    contract = load_contract()
    statuses = set()
    edges = 0
    for doc in default_generator(seed=12, size_profile="small", edge_rate=0.2).generate(150):
        edges += bool(doc.model.edges)
        expected = expected_outcome(doc.model, contract)
        result = transform_record(RawRecord(doc.app_id, doc.xml), contract)
        statuses.add(expected.code or "success")
        if expected.status == "success":
            assert isinstance(result, MappedApp), (doc.model.edges, result)
            assert result.rows == expected.rows, doc.model.edges
            checks = {w.code for w in result.warnings} & expected.checked
            assert checks == expected.check_codes
        else:
            assert isinstance(result, Rejection), doc.model.edges
            assert result.code == expected.code
    assert edges > 20  # skipped contact roles, contacts without data
    assert "success" in statuses


def test_ids_continue_after_the_highest_in_app_xml(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    schema = build_schema(load_contract())
    schema.create(engine)
    assert next_app_id(engine, schema) == 1
    gen = default_generator(seed=1, size_profile="small", start_app_id=1)
    assert insert_documents(engine, schema, gen.generate(10))[0] == 10
    assert next_app_id(engine, schema) == 11
    engine.dispose()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="size profile"):
        default_generator(size_profile="huge")
    with pytest.raises(ValueError, match="start_app_id"):
        default_generator(start_app_id=0)
