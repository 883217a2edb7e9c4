"""SQL Server without a server: the DDL we would run, the driver settings, the writer's calls.
(Live SQL Server runs in tests/db when XMLMIGRATE_MSSQL_URL is set.)"""

from __future__ import annotations

from typing import Any, cast

import pytest
from tests.contracts import engine_contract

from xmlmigrate.testing.plugin import odbc_problem, skip_or_fail

if (_problem := odbc_problem()) is not None:  # pyodbc needs libodbc.so.2 to import
    skip_or_fail(_problem, module_level=True)

import pyodbc
from sqlalchemy.dialects import mssql
from sqlalchemy.schema import CreateIndex, CreateTable

from xmlmigrate.db.base import LogRow
from xmlmigrate.db.engine import resolve_target
from xmlmigrate.db.errors import WriteError
from xmlmigrate.db.layout import LOG_TABLE, ledger_columns, odbc_input_size
from xmlmigrate.db.odbc import OdbcWriter
from xmlmigrate.db.schema import build_schema
from xmlmigrate.errors import LeaseLost
from xmlmigrate.model import MappedApp

CONTRACT = engine_contract()
SCHEMA = build_schema(CONTRACT)


def ddl(table_name: str) -> str:
    table = SCHEMA.metadata.tables[table_name]
    text = str(CreateTable(table).compile(dialect=mssql.dialect()))
    for index in table.indexes:
        text += str(CreateIndex(index).compile(dialect=mssql.dialect()))
    return " ".join(text.split())


def test_tsql_ddl_uses_sized_unicode_exact_types_and_cascades() -> None:
    base = ddl("app_base")
    assert "app_id INTEGER NOT NULL" in base and "IDENTITY" not in base  # keys come from XML
    assert "campaign_num NVARCHAR(10) NULL" in base
    assert "receive_date DATE NOT NULL" in base
    assert "decision_date DATETIME2 NULL" in base
    assert "approved_flag BIT NULL" in base
    assert "decision_enum SMALLINT NULL" in base
    pricing = ddl("app_pricing_cc")
    assert "monthly_income NUMERIC(12, 2) NULL" in pricing
    assert "FOREIGN KEY(app_id) REFERENCES app_base (app_id) ON DELETE CASCADE" in pricing
    address = ddl("app_contact_address")
    assert "PRIMARY KEY (con_id, address_type_enum)" in address
    assert "REFERENCES app_contact_base (con_id) ON DELETE CASCADE" in address
    assert "xml NVARCHAR(max) NOT NULL" in ddl("app_xml")
    log = ddl("processing_log")
    assert "log_id INTEGER NOT NULL IDENTITY" in log
    assert "CREATE INDEX ix_processing_log_app_id ON processing_log (app_id)" in log


def test_odbc_connection_string_for_sql_server() -> None:
    target = resolve_target("mssql+pyodbc://sa:S3cret@db.example:1433/credit")
    assert target.uses_odbc and target.backend == "mssql"
    parts = dict(p.split("=", 1) for p in target.odbc_connection_string().split(";"))
    assert parts["DRIVER"] == "{ODBC Driver 18 for SQL Server}"
    assert parts["SERVER"] == "db.example,1433"
    assert parts["DATABASE"] == "credit" and parts["UID"] == "sa" and parts["PWD"] == "S3cret"
    assert parts["TrustServerCertificate"] == "yes"
    custom = resolve_target("mssql+pyodbc://u:p@h/d?driver=ODBC+Driver+17+for+SQL+Server")
    assert "DRIVER={ODBC Driver 17 for SQL Server}" in custom.odbc_connection_string()


def test_parameter_sizes_never_fall_back_to_max() -> None:
    for table, compiled in zip(SCHEMA.targets, CONTRACT.tables, strict=True):
        for col, spec in zip(table.columns, compiled.columns, strict=True):
            sql_type, size, digits = odbc_input_size(col.type)
            if spec.type == "string":
                assert (sql_type, size) == (pyodbc.SQL_WVARCHAR, spec.length)
            if spec.type == "decimal":
                assert (sql_type, size, digits) == (pyodbc.SQL_DECIMAL, spec.precision, spec.scale)
    log = {c.name: odbc_input_size(c.type) for c in ledger_columns(LOG_TABLE)}
    assert log["app_id"][0] == pyodbc.SQL_BIGINT and log["reason"] == (pyodbc.SQL_WVARCHAR, 1000, 0)


class FakeCursor:
    def __init__(self, log: list[Any], fail_on: str | None, leased: bool = True) -> None:
        self.log = log
        self.fail_on = fail_on
        self.leased = leased
        self.fast_executemany = False

    def fetchone(self) -> tuple[int] | None:
        return (1,) if self.leased else None

    def execute(self, sql: str, *params: Any) -> None:
        self.log.append(("execute", sql, params))

    def fetchall(self) -> list[tuple[str]]:
        return [("app_id",)] if self.log[-1][2] == ("[app_base]",) else []

    def setinputsizes(self, sizes: list[Any]) -> None:
        self.log.append(("sizes", len(sizes)))

    def executemany(self, sql: str, rows: list[Any]) -> None:
        if self.fail_on and self.fail_on in sql:
            raise pyodbc.IntegrityError(
                "23000", "[Microsoft][ODBC Driver 18]Violation of PRIMARY KEY"
            )
        self.log.append(("executemany", sql.split(" (")[0], len(rows), self.fast_executemany))

    def close(self) -> None:
        pass


class FakeConnection:
    def __init__(self, fail_on: str | None = None, leased: bool = True) -> None:
        self.log: list[Any] = []
        self.fail_on = fail_on
        self.leased = leased
        self.autocommit = True

    def cursor(self) -> FakeCursor:
        return FakeCursor(self.log, self.fail_on, self.leased)

    def commit(self) -> None:
        self.log.append(("commit",))

    def rollback(self) -> None:
        self.log.append(("rollback",))

    def close(self) -> None:
        pass


def _app() -> MappedApp:
    rows = {t.name: [] for t in CONTRACT.tables}
    rows["app_base"] = [{c: None for c in CONTRACT.tables[0].column_names} | {"app_id": 1}]
    return MappedApp(1, rows)


def _log() -> list[LogRow]:
    from datetime import datetime

    return [LogRow(1, "run", 1, "success", None, None, None, None, datetime(2016, 1, 25))]


def test_writer_uses_identity_insert_sizes_and_one_transaction() -> None:
    conn = FakeConnection()
    writer = OdbcWriter(conn, CONTRACT, "mssql", fast_executemany=True)
    assert conn.autocommit is False
    conn.log.clear()
    writer.write([_app()], _log())
    calls = [c for c in conn.log if c[0] != "sizes"]
    # every name quoted in T-SQL's way
    assert calls[0] == ("execute", "SET IDENTITY_INSERT [app_base] ON", ())
    assert calls[1] == ("executemany", "INSERT INTO [app_base]", 1, True)
    assert calls[2] == ("execute", "SET IDENTITY_INSERT [app_base] OFF", ())
    assert calls[3] == ("executemany", "INSERT INTO [processing_log]", 1, True)
    assert calls[-1] == ("commit",)
    assert ("sizes", len(CONTRACT.tables[0].columns)) in conn.log


def test_writer_rolls_back_and_reports_the_database_reason() -> None:
    conn = FakeConnection(fail_on="INSERT INTO [app_base]")
    writer = OdbcWriter(conn, CONTRACT, "mssql")
    with pytest.raises(WriteError, match="23000: Violation of PRIMARY KEY") as info:
        writer.write([_app()], _log())
    assert info.value.data_error  # a key violation is the document's: the loader bisects
    assert conn.log[-1] == ("rollback",)
    # IDENTITY_INSERT is a session setting: switched off even though the insert failed
    assert ("execute", "SET IDENTITY_INSERT [app_base] OFF", ()) in conn.log


@pytest.mark.parametrize("leased", [True, False])
def test_fenced_writer_checks_its_lease_first_and_writes_nothing_without_it(leased: bool) -> None:
    conn = FakeConnection(leased=leased)
    writer = OdbcWriter(conn, CONTRACT, "mssql", fence="ab" * 16)
    conn.log.clear()
    fence = (
        "execute",
        "SELECT 1 FROM [migration_lease] WITH (HOLDLOCK, ROWLOCK) WHERE [run_id] = ?",
        ("ab" * 16,),
    )
    if leased:
        writer.write([_app()], _log())
        assert conn.log[0] == fence and conn.log[-1] == ("commit",)
        return
    with pytest.raises(LeaseLost, match="run abababababab lost its lease"):
        writer.write([_app()], _log())
    assert conn.log == [fence, ("rollback",)]  # not one row sent


def test_the_document_digest_is_computed_by_sql_server_from_the_stored_value() -> None:
    import sqlalchemy as sa
    from sqlalchemy.dialects import mssql

    from xmlmigrate.sources import digest_of

    class Engine:  # digest_of asks only for the dialect's name
        dialect = mssql.dialect()

    engine = cast(sa.Engine, Engine())
    src = sa.table("app_xml", sa.column("app_id"), sa.column("xml"))
    sql = str(digest_of(src.c.xml, engine).compile(dialect=mssql.dialect()))
    assert sql == (
        "coalesce(lower(convert(VARCHAR(64), hashbytes('SHA2_256', app_xml.xml), 2)), :coalesce_1)"
    )
