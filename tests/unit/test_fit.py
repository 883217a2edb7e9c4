"""A run says when its contract does not fit the documents: the columns never filled in the
summary, ``--metrics-out`` and ``status``; below ``--min-filled`` exit status 6; ``contract
check --db`` names the nearest attribute the documents carry for each path never matched."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.unit.test_cli import run_cli

from xmlmigrate.contract import compile_contract
from xmlmigrate.fit import FillTally
from xmlmigrate.model import MappedApp

CONTRACT = """
[contract]
name = "fit"
root = "Provenir"
app_id = "Request/@ID"
application = "Request/CustData/application"
product_line = "CC"

[tables.app_base]
rows = "."
key = ["app_id"]

[tables.app_base.columns]
app_id = { source = "app_id", type = "int", nullable = false }
street_line_1 = { path = "contact/contact_address/@street_line_1", type = "string", length = 40 }
partner_url = { attr = "partner_url_id", type = "string", length = 40 }
flag = { attr = "zz_flag", type = "bit", default = "N" }
"""


def _doc(app_id: int) -> str:
    return (
        f'<Provenir><Request ID="{app_id}"><CustData><application Partner_URL_ID="u{app_id}" '
        'zz_flag="N"><contact><contact_address street_name="Main"/></contact></application>'
        "</CustData></Request></Provenir>"
    )


def _database(tmp_path: Path, contract: str, count: int) -> tuple[str, Path]:
    toml = tmp_path / "fit.toml"
    toml.write_text(contract, encoding="utf-8")
    db = tmp_path / "fit.db"
    url = f"sqlite:///{db}"
    assert run_cli("init", "--db", url, "--contract", str(toml)).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO app_xml VALUES (?, ?)", [(i, _doc(i)) for i in range(1, count + 1)]
        )
    return url, toml


def test_the_tally_counts_a_column_filled_only_for_a_value_other_than_its_default() -> None:
    contract = compile_contract(CONTRACT, "fit.toml")
    tally = FillTally.of(contract)
    assert tally.columns == 3
    tally.add(
        MappedApp(
            1,
            {"app_base": [{"app_id": 1, "street_line_1": None, "partner_url": "u", "flag": False}]},
        )
    )
    assert tally.filled == 1  # the bit's default (N = False) is not the document's value
    assert tally.never_filled == [
        "app_base.street_line_1 (contact/contact_address/@street_line_1)",
        "app_base.flag (@zz_flag)",
    ]
    tally.add(MappedApp(2, {"app_base": [{"app_id": 2, "flag": True}]}))
    assert tally.filled == 2 and tally.to_dict()["filled_share"] == round(2 / 3, 4)


def test_a_contract_that_fits_nothing_warns_and_exits_6(tmp_path: Path) -> None:
    misfit = CONTRACT.replace('attr = "partner_url_id"', 'attr = "partner_url"')
    url, toml = _database(tmp_path, misfit, 25)
    metrics = tmp_path / "metrics.json"
    out = run_cli("run", "--db", url, "--contract", str(toml), "--metrics-out", str(metrics), "-q")
    assert out.returncode == 6, out.stdout + out.stderr
    assert out.stderr.startswith("error: the 25 migrated documents filled 0 of the contract's 3")
    assert out.stderr.count("\n") == 1
    assert "Contract fit: the documents filled 0 of 3 mapped columns (0 %); never filled (3):" in (
        out.stdout
    )
    fit = json.loads(metrics.read_text(encoding="utf-8"))["fit"]
    assert fit["filled"] == 0 and fit["apps"] == 25 and len(fit["never_filled"]) == 3
    status = run_cli("status", "--db", url, "--contract", str(toml))
    assert "Last run's documents filled 0 of 3 mapped columns (0 %)" in status.stdout
    as_json = json.loads(run_cli("status", "--db", url, "--json").stdout)
    assert as_json["last_run_fit"]["never_filled"] == fit["never_filled"]


def test_min_filled_sets_the_threshold_and_small_runs_are_not_judged(tmp_path: Path) -> None:
    """A third of the columns filled: status 6 at the default 50 %, 0 at --min-filled 30%;
    fewer than 20 apps are not judged (unless none is filled)."""
    url, toml = _database(tmp_path, CONTRACT.replace("partner_url_id", "Partner_URL_ID"), 25)
    judged = run_cli("run", "--db", url, "--contract", str(toml), "--limit", "20", "-q")
    assert judged.returncode == 6 and "(33 %, below --min-filled 50%)" in judged.stderr
    small = run_cli("run", "--db", url, "--contract", str(toml), "--limit", "3", "-q")
    assert small.returncode == 0, small.stderr
    lenient = run_cli("run", "--db", url, "--contract", str(toml), "--min-filled", "30%", "-q")
    assert lenient.returncode == 0, lenient.stderr
    bad = run_cli("run", "--db", url, "--contract", str(toml), "--min-filled", "120%")
    assert bad.returncode == 2 and "--min-filled out of range" in bad.stderr


def test_any_case_matching_fills_what_another_case_would_not(tmp_path: Path) -> None:
    any_case = CONTRACT.replace(
        'product_line = "CC"', 'product_line = "CC"\nattributes_any_case = true'
    )
    url, toml = _database(tmp_path, any_case, 3)
    out = run_cli("run", "--db", url, "--contract", str(toml), "-q")
    assert out.returncode == 0, out.stderr
    assert "filled 1 of 3 mapped columns" in out.stdout  # partner_url from Partner_URL_ID


def test_contract_check_names_the_nearest_attribute_of_each_path_never_matched(
    tmp_path: Path,
) -> None:
    url, toml = _database(tmp_path, CONTRACT, 3)
    out = run_cli("contract", "check", str(toml), "--db", url)
    assert out.returncode == 1
    text = " ".join(out.stdout.split())
    assert (
        "app_base.street_line_1: contact/contact_address/@street_line_1 — nearest in the "
        "documents: street_name" in text
    )
    assert (
        "app_base.partner_url: @partner_url_id — nearest in the documents: Partner_URL_ID "
        "(another case)" in text
    )


def test_a_cluster_runs_fit_is_what_any_of_its_partitions_filled() -> None:
    from xmlmigrate.run.cluster import merged_fit

    def part(apps: int, never: list[str]) -> str:
        return json.dumps(
            {
                "workers": 0,
                "fit": {
                    "columns": 3,
                    "filled": 3 - len(never),
                    "apps": apps,
                    "filled_share": 0.0,
                    "never_filled": never,
                },
            }
        )

    fit = merged_fit(
        [
            part(10, ["t.a (@a)", "t.b (@b)"]),
            part(5, ["t.b (@b)", "t.c (@c)"]),
            part(0, []),
            "{}",
            "not json",
        ]
    )
    assert fit == {
        "columns": 3,
        "filled": 2,
        "filled_share": round(2 / 3, 4),
        "apps": 15,
        "never_filled": ["t.b (@b)"],
    }
    assert merged_fit(["{}"]) is None
