from __future__ import annotations

import time
from pathlib import Path

import pytest

from xmlmigrate.contract import load_contract
from xmlmigrate.model import MappedApp, RawRecord, Rejection
from xmlmigrate.run.transform import transform_record
from xmlmigrate.stages.errors import XmlRejected
from xmlmigrate.stages.xml import parse_document

CONTRACT = load_contract()


def _transform(path: Path, app_id: int, as_text: bool = False) -> MappedApp | Rejection:
    data: bytes | str = path.read_bytes()
    if as_text:
        data = data.decode("utf-8")
    return transform_record(RawRecord(app_id, data), CONTRACT)


def test_bom_document_parses_as_bytes_and_text(fixtures_dir: Path) -> None:
    raw = (fixtures_dir / "bom.xml").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    for as_text in (False, True):
        result = _transform(fixtures_dir / "bom.xml", 10, as_text)
        assert isinstance(result, MappedApp), result
        assert result.rows["app_contact_base"][0]["first_name"] == "ANA"


def test_text_input_ignores_a_stale_declared_encoding() -> None:
    doc = '<?xml version="1.0" encoding="windows-1252"?><Provenir a="Zoë"/>'
    assert parse_document(doc).root.get("a") == "Zoë"


def test_windows_1252_bytes_declared_utf8_are_repaired_with_a_warning(fixtures_dir: Path) -> None:
    result = _transform(fixtures_dir / "cp1252_declared_utf8.xml", 11)
    assert isinstance(result, MappedApp), result
    contact = result.rows["app_contact_base"][0]
    assert (contact["first_name"], contact["last_name"]) == ("JOSÉ", "MÜLLER")
    assert any(w.code == "encoding_repaired" for w in result.warnings)


@pytest.mark.parametrize(
    ("name", "app_id", "code"),
    [
        ("malformed.xml", 12, "malformed"),
        ("not_provenir.xml", 13, "not_provenir"),
        ("billion_laughs.xml", 14, "forbidden_dtd"),
        ("external_entity.xml", 15, "forbidden_dtd"),
        ("wrong_product_line.xml", 16, "wrong_product_line"),
    ],
)
def test_bad_documents_become_rejections(
    fixtures_dir: Path, name: str, app_id: int, code: str
) -> None:
    started = time.perf_counter()
    result = _transform(fixtures_dir / name, app_id)
    assert time.perf_counter() - started < 2.0  # no entity expansion, no network, no hang
    assert isinstance(result, Rejection)
    assert result.code == code
    assert result.app_id == app_id
    assert result.detail


def test_external_entity_is_never_read(fixtures_dir: Path) -> None:
    with pytest.raises(XmlRejected) as info:
        parse_document((fixtures_dir / "external_entity.xml").read_bytes())
    assert "root:" not in str(info.value)  # /etc/passwd content never appears


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "not_xml"),
        (b"   \n", "not_xml"),
        (b"hello, world", "not_xml"),
        (b"\x00\x01\x02garbage", "not_xml"),
        (b"<Provenir>", "malformed"),
        (b"<a></b>", "malformed"),
    ],
)
def test_garbage_is_rejected_not_raised(data: bytes, code: str) -> None:
    result = transform_record(RawRecord(1, data), CONTRACT)
    assert isinstance(result, Rejection)
    assert result.code == code


def test_size_limit() -> None:
    with pytest.raises(XmlRejected, match="too_large"):
        parse_document(b"<Provenir>" + b" " * 100 + b"</Provenir>", max_bytes=50)


@pytest.mark.parametrize(
    ("request_attrs", "expected_id", "code"),
    [
        ("", 5, "app_id_missing"),
        ('ID=""', 5, "app_id_missing"),
        ('ID="abc"', 5, "app_id_invalid"),
        ('ID="0"', 5, "app_id_invalid"),
        ('ID="-3"', 5, "app_id_invalid"),
        ('ID="6"', 5, "app_id_mismatch"),
    ],
)
def test_app_id_rules(request_attrs: str, expected_id: int, code: str) -> None:
    doc = f"<Provenir><Request {request_attrs}><CustData><application/></CustData></Request></Provenir>"
    result = transform_record(RawRecord(expected_id, doc), CONTRACT)
    assert isinstance(result, Rejection)
    assert result.code == code


def test_no_application_element() -> None:
    doc = '<Provenir><Request ID="5"><CustData/></Request></Provenir>'
    result = transform_record(RawRecord(5, doc), CONTRACT)
    assert isinstance(result, Rejection) and result.code == "no_application"


# -- scoped parsing: only CustData becomes a tree, the whole document is still checked ----------

SCOPE = CONTRACT.scope


def test_the_default_contract_reads_only_custdata() -> None:
    assert SCOPE is not None
    assert (SCOPE.root, SCOPE.prefix, SCOPE.fragment) == ("Provenir", ("Request",), "CustData")


def test_scoped_and_full_parsing_give_the_same_rows() -> None:
    from xmlmigrate.mock import default_generator

    for doc in default_generator(seed=21, size_profile="small", edge_rate=0.1).generate(60):
        scoped = transform_record(RawRecord(doc.app_id, doc.xml), CONTRACT)
        full = transform_record(RawRecord(doc.app_id, doc.xml), CONTRACT, scoped=False)
        assert type(scoped) is type(full)
        if isinstance(scoped, MappedApp) and isinstance(full, MappedApp):
            assert scoped.rows == full.rows
            assert scoped.warnings == full.warnings


def _doc(head: str = "", tail: str = "<Journals><J a='1'/></Journals>") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Provenir>{head}<Request ID="5">'
        '<CustData><application app_receive_date="1/2/2016"/></CustData>'
        f"{tail}</Request></Provenir>"
    )


def test_scoped_parse_keeps_root_and_request_attributes() -> None:
    parsed = parse_document(_doc(), scope=SCOPE)
    assert parsed.root.tag == "Provenir"
    assert parsed.root.find("Request").get("ID") == "5"  # type: ignore[union-attr]
    assert parsed.root.find("Request/Journals") is None  # never built
    assert parsed.root.find("Request/CustData/application") is not None


def test_malformed_bulk_is_still_rejected_unless_the_check_is_off() -> None:
    broken = _doc(tail="<Journals><J a='1'></Journals>")
    result = transform_record(RawRecord(5, broken), CONTRACT)
    assert isinstance(result, Rejection) and result.code == "malformed"
    unchecked = transform_record(RawRecord(5, broken), CONTRACT, check_well_formed=False)
    assert isinstance(unchecked, MappedApp)  # the documented opt-out


@pytest.mark.parametrize(
    "decoy",
    [
        "<!-- <CustData><application app_receive_date='9/9/1999'/></CustData> -->",
        "<![CDATA[ <CustData> ]]>".join(["<Note>", "</Note>"]),
        "<Other><CustData><application app_receive_date='9/9/1999'/></CustData></Other>",
    ],
)
def test_a_decoy_custdata_is_not_taken_for_the_real_one(decoy: str) -> None:
    result = transform_record(RawRecord(5, _doc(head=decoy)), CONTRACT)
    assert isinstance(result, MappedApp), result
    assert result.rows["app_base"][0]["receive_date"].year == 2016


def test_other_encodings_fall_back_to_the_full_parse() -> None:
    doc = _doc().replace("UTF-8", "ISO-8859-1").replace("<Journals>", "<Journals n='Zoë'>")
    result = transform_record(RawRecord(5, doc.encode("latin-1")), CONTRACT)
    assert isinstance(result, MappedApp), result


def _climbing(path: str, table_rows: str = ".") -> str:
    return f"""
[contract]
name = "climb"
root = "Provenir"
app_id = "Request/@ID"
application = "Request/CustData/application"
product_line = "application"
[tables.app_base]
rows = "."
key = ["app_id"]
[tables.app_base.columns]
app_id = {{ source = "app_id", type = "int", nullable = false }}
[tables.t]
parent = "app_base"
rows = "{table_rows}"
key = ["app_id"]
[tables.t.columns]
app_id = {{ parent = "app_id", type = "int", nullable = false }}
v = {{ expr = "VALUE('{path}')", type = "string", length = 20 }}
"""


@pytest.mark.parametrize(
    ("path", "rows", "scoped"),
    [
        ("../Journals/@a", ".", True),  # a sibling of the application: inside CustData
        ("../../@ID", ".", True),  # an ancestor's attribute: kept by the scoped parse
        ("../../Journals/J/@a", ".", False),  # outside CustData: the whole document is parsed
        ("../../@ID", "sub", True),  # from a nested row, this is CustData's attribute: kept
        ("../../../@ID", "sub", True),  # ... and this Request's
        ("../../Journals/@a", "sub", True),  # an element beside the application
        ("../../../Journals/J/@a", "sub", False),  # outside CustData
        ("../@x", ".//sub", False),  # rows found through '//': not reasoned about
        ("@app_receive_date", ".", True),
    ],
)
def test_paths_that_climb_out_of_the_scope_turn_the_scoped_parse_off(
    tmp_path: Path, path: str, rows: str, scoped: bool
) -> None:
    file = tmp_path / "c.toml"
    file.write_text(_climbing(path, rows))
    contract = load_contract(file)
    assert (contract.scope is not None) is scoped
    result = transform_record(RawRecord(5, _doc()), contract)
    assert isinstance(result, MappedApp), result
    if rows == ".":
        expected = {"../../@ID": "5", "../../Journals/J/@a": "1", "@app_receive_date": "1/2/2016"}
        assert result.rows["t"][0]["v"] == expected.get(path)
