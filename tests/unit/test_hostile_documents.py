"""Documents come from users: whatever their shape, one costs bounded memory; a DTD is refused
wherever it stands in the prolog; stray windows-1252 bytes get one behaviour on every path;
odd app ids and over-deep expressions get a reason, never an internal error."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tests.hostile import contract_text

from xmlmigrate.bench.adversarial import CHILD
from xmlmigrate.config import MigrationConfig
from xmlmigrate.contract import compile_contract, load_contract
from xmlmigrate.contract.errors import ContractError
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.mock.adversarial import APPLICATION, HEAD, SHAPES, TAIL
from xmlmigrate.model import MappedApp, RawRecord, Rejection
from xmlmigrate.run.pipeline import run_migration
from xmlmigrate.run.transform import transform_record
from xmlmigrate.stages.errors import XmlRejected
from xmlmigrate.stages.xml import MAX_TREE_NODES, parse_document

CONTRACT = load_contract()
SIZE = 16_000_000

OUTCOMES = {
    "long_prefix": "success",
    "wide_tail": "success",
    "no_fragment": "no_application",
    "deep": "malformed",
    "many_attributes": "malformed",  # a 16 MB start tag is past libxml2's 10 MB limit
    "huge_attribute": "malformed",  # a 16 MB value is past libxml2's 10 MB limit
    "fat_fragment": "too_complex",
}


def _grew(tmp_path: Path, data: bytes) -> tuple[int, dict[str, object]]:
    path = tmp_path / "doc.xml"
    path.write_bytes(data)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(out.stdout)
    return (result["peak_kib"] - result["before_kib"]) * 1024, result


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM (Linux)")
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_one_document_costs_memory_bounded_by_its_size_whatever_its_shape(
    tmp_path: Path, shape: str
) -> None:
    grew, result = _grew(tmp_path, SHAPES[shape](7, SIZE))
    assert result["outcome"] == OUTCOMES[shape]
    # before the fix a long prefix grew by ~110 bytes per byte of document (6.8 GB for 60 MB)
    assert grew <= 3 * SIZE + 64 * 2**20, result


ATTRIBUTES_COST = 36  # bytes of memory per byte of one start tag's attributes (measured: 33)


def _start_tag(attributes: int) -> bytes:
    return b"<Junk" + b"".join(b' a%d="1"' % i for i in range(attributes)) + b"/>"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM (Linux)")
@pytest.mark.parametrize("tags", [1, 3], ids=["one 9 MB start tag", "three"])
def test_many_attributes_below_the_tag_limit_are_migrated_within_the_stated_bound(
    tmp_path: Path, tags: int
) -> None:
    """The shape ``perf adversarial --size 9`` measures: a start tag just under libxml2's
    10 MB limit is accepted, so its bound is tested there, not only at 16 MB (rejected). It
    is not the 3x + 64 MB of the other shapes: libxml2 keeps ~33 bytes per byte of a start
    tag's attributes (297 MB for 9 MB), and two such elements are alive at once at most
    (~490 MB for 2, 3 or 6 of them): docs/reliability.md's row states this bound."""
    tag = _start_tag(750_000)  # 9 MB
    data = HEAD % 7 + tag * tags + APPLICATION + TAIL
    grew, result = _grew(tmp_path, data)
    assert result["outcome"] == "success"
    assert grew <= 3 * len(data) + 64 * 2**20 + min(tags, 2) * ATTRIBUTES_COST * len(tag), result


def test_the_kept_tree_has_a_node_budget() -> None:
    fat = SHAPES["fat_fragment"](7, 4 * (MAX_TREE_NODES + 10))
    with pytest.raises(XmlRejected) as info:
        parse_document(fat, scope=CONTRACT.scope)
    assert info.value.code == "too_complex"


def _with_doctype_after(filler: bytes) -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        + filler
        + b'<!DOCTYPE Provenir [<!ENTITY id "31337">]><Provenir><Request ID="&id;">'
        + APPLICATION
        + b"</Request></Provenir>"
    )


@pytest.mark.parametrize(
    "filler",
    [b"", b"<!--" + b"x" * 70_000 + b"-->", b"<?pi " + b"y" * 100_000 + b"?>", b"\n" * 80_000],
    ids=["at once", "after a 70 KB comment", "after a 100 KB PI", "after 80 KB of newlines"],
)
@pytest.mark.parametrize("utf8_text", [False, True])
def test_a_doctype_anywhere_in_the_prolog_is_refused(filler: bytes, utf8_text: bool) -> None:
    doc = _with_doctype_after(filler)
    result = transform_record(RawRecord(31337, doc, utf8_text=utf8_text), CONTRACT)
    assert isinstance(result, Rejection) and result.code == "forbidden_dtd", result


def test_a_doctype_in_another_encoding_is_refused() -> None:
    doc = _with_doctype_after(b"<!--" + b"x" * 70_000 + b"-->")
    doc = doc.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"')
    result = transform_record(RawRecord(31337, doc), CONTRACT)
    assert isinstance(result, Rejection) and result.code == "forbidden_dtd", result


CP1252 = (
    b'<?xml version="1.0" encoding="UTF-8"?><Provenir><Request ID="11"><CustData>'
    b'<application app_receive_date="01/25/2016" campaign_num="P1B">'
    b'<contact con_id="110" ac_role_tp_c="PR" first_name="JOS\xc9" last_name="M\xdcLLER \xe2\x82\xac" '
    b'birth_date="05/10/1978" ssn="123456789"/></application></CustData></Request></Provenir>'
)


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["no BOM", "BOM"])
@pytest.mark.parametrize("utf8_text", [False, True], ids=["explain (file bytes)", "run (source)"])
@pytest.mark.parametrize("scoped", [True, False])
def test_windows_1252_bytes_are_repaired_the_same_way_on_every_path(
    bom: bytes, utf8_text: bool, scoped: bool
) -> None:
    result = transform_record(
        RawRecord(11, bom + CP1252, utf8_text=utf8_text), CONTRACT, scoped=scoped
    )
    assert isinstance(result, MappedApp), result
    contact = result.rows["app_contact_base"][0]
    # stray bytes read as windows-1252; the valid UTF-8 euro sign stays what it was
    assert (contact["first_name"], contact["last_name"]) == ("JOSÉ", "MÜLLER €")
    assert [w.code for w in result.warnings].count("encoding_repaired") == 1


def test_a_run_repairs_windows_1252_bytes_stored_in_the_source(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cp.db'}"
    engine = make_engine(url)
    build_schema(CONTRACT).create(engine)
    engine.dispose()
    with sqlite3.connect(tmp_path / "cp.db") as conn:  # the bytes as a legacy writer left them
        conn.execute("INSERT INTO app_xml VALUES (11, ?)", (b"\xef\xbb\xbf" + CP1252,))
    stats = run_migration(MigrationConfig(db_url=url, workers=0))
    assert stats.success == 1 and stats.warning_codes["encoding_repaired"] == 1


@pytest.mark.parametrize("app_id", ["--5", "\u00b2", "+-1", "5 5", "99999999999", "2147483648"])
def test_odd_app_ids_are_rejected_with_a_reason(app_id: str) -> None:
    doc = CP1252.replace(b'ID="11"', f'ID="{app_id}"'.encode())
    result = transform_record(RawRecord(5, doc), CONTRACT)
    assert isinstance(result, Rejection) and result.code == "app_id_invalid", result


def _calculated(expression: str) -> str:
    text = contract_text()
    return text.replace(
        '"campaign" = {',
        f'"months" = {{ expr = "{expression}", type = "int" }}\n"campaign" = {{',
    )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("(" * 200 + "1" + ")" * 200, "nested too deeply"),
        (" + ".join(["1"] * 300), "too deep"),
        ("NOT " * 500 + "TRUE", "nested too deeply"),
        ("-" * 500 + "1", "nested too deeply"),
        ("1" + " + 1" * 6000, "characters long"),
        ("CASE WHEN 1 IN (" + "1," * 5100 + "1) THEN 1 END", "more than 5,000 operators"),
    ],
    ids=["200 brackets", "300 terms", "500 NOT", "500 minus", "24000 characters", "5100 items"],
)
def test_over_deep_expressions_are_a_located_contract_error(expression: str, message: str) -> None:
    with pytest.raises(ContractError) as info:
        compile_contract(_calculated(expression), "deep.toml")
    text = str(info.value)
    assert message in text and "table 'app_base', column 'months'" in text


def test_an_expression_at_the_limits_still_compiles() -> None:
    compile_contract(_calculated("(" * 30 + "1" + ")" * 30 + " + 1" * 90), "ok.toml")


def test_perf_adversarial_prints_each_shape(capsys: pytest.CaptureFixture[str]) -> None:
    from xmlmigrate.cli import main

    assert main(["perf", "adversarial", "--size", "1"]) == 0
    out = capsys.readouterr().out
    assert all(shape in out for shape in SHAPES) and "too_complex" not in out
