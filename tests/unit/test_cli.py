from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.cli import run_cli

from xmlmigrate.cli import main
from xmlmigrate.db import redact_url


def test_generate_run_clean(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    gen = run_cli("generate", "--count", "25", "--size-profile", "small", "--db", db, "-q")
    assert gen.returncode == 0, gen.stderr
    assert "Inserted 25 documents" in gen.stdout and "app ids 1–25" in gen.stdout

    out = run_cli("run", "--db", db, "--batch-size", "10", "-q")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Records: 25" in text and "success 25" in text
    assert "rec/min" in text
    for stage in ("parse", "validate", "map", "write"):
        assert stage in text
    assert "app_contact_base" in text

    again = run_cli("run", "--db", db, "-q")  # nothing pending: one line, no empty run row
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Nothing to do:") and len(again.stdout.splitlines()) == 1
    check = sa.create_engine(db)
    with check.connect() as conn:
        assert conn.execute(sa.text("select count(*) from migration_run")).scalar() == 1
    check.dispose()

    more = run_cli("generate", "--count", "5", "--size-profile", "small", "--db", db, "-q")
    assert "app ids 26–30" in more.stdout
    assert "Records: 5 " in run_cli("run", "--db", db, "-q").stdout

    cleaned = run_cli("clean", "--db", db, "--yes")
    assert cleaned.returncode == 0
    assert "kept 30 documents" in cleaned.stdout
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from app_base")).scalar() == 0
        assert conn.execute(sa.text("select count(*) from processing_log")).scalar() == 0
    engine.dispose()


def test_demo_creates_a_fresh_database(tmp_path: Path) -> None:
    for _ in range(2):  # the second demo starts over instead of finding everything done
        out = run_cli("demo", "--count", "40", "--size-profile", "small", "-q", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert "Records: 40" in out.stdout and "success 40" in out.stdout
    assert (tmp_path / "xmlmigrate-demo.db").exists()


def test_run_without_app_xml_says_how_to_create_it(tmp_path: Path) -> None:
    out = run_cli("run", "--db", f"sqlite:///{tmp_path / 'nothing.db'}")
    assert out.returncode == 2
    assert "no table 'app_xml'" in out.stderr and "xmlmigrate generate" in out.stderr
    assert "Traceback" not in out.stderr


def test_generate_needs_a_count_without_a_terminal(tmp_path: Path) -> None:
    out = run_cli("generate", "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert out.returncode == 2
    assert "--count is required" in out.stderr


def test_contract_error_is_one_line_with_its_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[contract]\nname="x"\nroot="P"\napp_id="R/@ID"\napplication="A"\nproduct_line="CC"\n'
        '[tables.app_base]\nkey=["app_id"]\n[tables.app_base.columns]\n'
        'app_id = { source = "app_id", type = "integer", nullable = false }\n'
    )
    out = run_cli("run", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--contract", str(bad))
    assert out.returncode == 2
    assert f"{bad}: table 'app_base', column 'app_id': type 'integer'" in out.stderr
    assert len(out.stderr.strip().splitlines()) <= 2


def test_bad_batch_size_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--batch-size", "0"])
    assert info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "--batch-size" in capsys.readouterr().out


def test_bad_url_is_a_clear_error() -> None:
    assert main(["run", "--db", "nosuchdialect://x"]) == 2


def test_passwords_are_never_printed() -> None:
    assert "s3cret" not in redact_url("postgresql+psycopg://user:s3cret@host/db")


def test_generate_offers_a_menu_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xmlmigrate.cli as cli

    answers = iter(["9", "4", "7"])  # a wrong choice, then "custom", then 7
    monkeypatch.setattr(cli.sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(cli.console, "input", lambda prompt="": next(answers))
    db = f"sqlite:///{tmp_path / 'menu.db'}"
    assert main(["generate", "--db", db, "--size-profile", "small", "-q"]) == 0
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from app_xml")).scalar() == 7
    engine.dispose()


def test_contract_check_on_a_generated_corpus(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'corpus.db'}"
    run_cli("generate", "--count", "150", "--size-profile", "small", "--db", db, "-q")
    out = run_cli("contract", "check", "--db", db)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "provenir_cc v3" in out.stdout and "valid" in out.stdout
    assert "Every row path and attribute path matched at least once." in out.stdout

    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "one.xml").write_text(
        '<Provenir><Request ID="1"><CustData><application app_receive_date="1/1/2016"/>'
        "</CustData></Request></Provenir>"
    )
    sparse = run_cli("contract", "check", "--corpus", str(corpus))
    assert sparse.returncode == 1
    assert "paths never matched anything" in sparse.stdout
    assert "app_contact_base: rows 'contact'" in sparse.stdout
    assert "app_pricing_cc.campaign_num: @campaign_num" in sparse.stdout


def test_contract_explain_shows_rows_defaults_truncations_and_warnings() -> None:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    engine = str(fixtures / "contracts" / "engine_cc.toml")  # what the XML fixtures are for
    out = run_cli("contract", "explain", engine, "--xml", str(fixtures / "over_long_values.xml"))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "app_contact_base: 1 row(s)" in text
    assert "truncated" in text and "default" in text
    assert "Warnings:" in text and "app_base.campaign_num" in text
    rejected = run_cli("contract", "explain", "--xml", str(fixtures / "malformed.xml"))
    assert rejected.returncode == 1 and "rejected" in rejected.stdout


def test_init_and_status(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'st.db'}"
    missing = run_cli("status", "--db", db)
    assert missing.returncode == 2 and "xmlmigrate init" in missing.stderr
    assert "no such SQLite file" in missing.stderr and not (tmp_path / "st.db").exists()
    init = run_cli("init", "--db", db)
    assert init.returncode == 0 and "Schema ready" in init.stdout
    assert run_cli("init", "--db", db).returncode == 0  # idempotent
    run_cli("generate", "--count", "12", "--size-profile", "small", "--db", db, "-q")
    run_cli("run", "--db", db, "--limit", "5", "-q")
    status = run_cli("status", "--db", db)
    assert status.returncode == 0, status.stderr
    assert "12 documents in app_xml" in status.stdout
    assert "success 5" in status.stdout and "pending 7" in status.stdout
    assert "Recent runs" in status.stdout


def test_performance_commands_are_grouped_and_old_spellings_still_work(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for new in (["perf", "pipeline"], ["perf", "baseline"], ["perf", "report"]):
        with pytest.raises(SystemExit):
            main([*new, "--help"])
        assert "usage: xmlmigrate perf" in capsys.readouterr().out
    # the old spellings: the same command, with a deprecation line
    assert main(["report", "/nonexistent.json", "--out", "/tmp/r"]) == 2
    err = capsys.readouterr().err
    assert "'xmlmigrate report' is now 'xmlmigrate perf report'" in err
    with pytest.raises(SystemExit):
        main(["bench", "pipeline", "--help"])
    assert "Deprecated spelling of 'xmlmigrate perf pipeline'" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "1e9"])
def test_a_lock_timeout_that_is_no_bound_is_refused(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["run", "--db", db, "--lock-timeout", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lock timeout" in err[0]


def test_lock_wait_statements_are_numbers_only() -> None:
    from xmlmigrate.db.locks import is_lock_timeout, session_settings

    assert session_settings("postgresql", 2.5) == ["SET lock_timeout = 2500"]
    assert session_settings("mariadb", 0.2) == [
        "SET SESSION innodb_lock_wait_timeout = 1",
        "SET SESSION lock_wait_timeout = 1",
    ]
    assert session_settings("mssql", 60) == ["SET LOCK_TIMEOUT 60000"]
    assert session_settings("sqlite", 60) == []
    with pytest.raises(ValueError):
        session_settings("postgresql", float("nan"))
    assert is_lock_timeout("LockNotAvailable: canceling statement due to lock timeout")
    assert is_lock_timeout("(1205) Lock wait timeout exceeded; try restarting transaction")
    assert not is_lock_timeout("UniqueViolation: duplicate key value")


def test_contract_explain_takes_contract_options_and_routes_each_product_line(
    tmp_path: Path,
) -> None:
    from xmlmigrate.contract import load_contract
    from xmlmigrate.mock.from_contract import ContractGenerator

    docs = {}
    for name in ("provenir_cc", "provenir_rl"):
        doc = next(iter(ContractGenerator(load_contract(name), 3, "small", 7).generate(1)))
        docs[name] = tmp_path / f"{name}.xml"
        docs[name].write_text(doc.xml, encoding="utf-8")
    both = ("--contract", "provenir_cc", "--contract", "provenir_rl")
    for name, table in (("provenir_cc", "app_pricing_cc"), ("provenir_rl", "app_pricing_rl")):
        out = run_cli("contract", "explain", *both, "--xml", str(docs[name]))
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"{name}.toml" in out.stdout  # which contract explained it
        assert f"{table}: 1 row(s)" in out.stdout
        assert ("_cc:" in out.stdout) == (name == "provenir_cc") != ("_rl:" in out.stdout)
    alone = run_cli(
        "contract", "explain", "--contract", "provenir_rl", "--xml", str(docs["provenir_rl"])
    )
    assert alone.returncode == 0, alone.stdout + alone.stderr
    positional = run_cli("contract", "explain", "provenir_rl", "--xml", str(docs["provenir_rl"]))
    assert positional.returncode == 0 and "app_pricing_rl: 1 row(s)" in positional.stdout
