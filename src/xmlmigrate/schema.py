"""SQLAlchemy Core metadata built from a contract, plus the source and ledger tables.

Every child table has a foreign key to its parent's key with ON DELETE
CASCADE, so deleting from the root table (``app_base``) removes an app's rows
everywhere: that is how ``clean`` and the benchmarks reset the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, mysql
from sqlalchemy.engine import Engine

from xmlmigrate.contract import CompiledContract, CompiledTable
from xmlmigrate.contract.compiled import CompiledColumn
from xmlmigrate.db.lease import lease_table

SOURCE_TABLE = "app_xml"
LOG_TABLE = "processing_log"
WARNING_TABLE = "processing_warning"
RUN_TABLE = "migration_run"
ENUM_TABLE = "app_enums"


# Dialect details that matter for correctness: MySQL/MariaDB TEXT holds only 64 KB and its
# DATETIME drops fractions; SQL Server's DATETIME rounds to 3.33 ms and VARCHAR is not Unicode.
DOCUMENT_TEXT = (
    sa.UnicodeText()
    .with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
    .with_variant(mssql.NVARCHAR(None), "mssql")  # NVARCHAR(max), not the deprecated NTEXT
)
TIMESTAMP = (
    sa.DateTime()
    .with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    .with_variant(mssql.DATETIME2(), "mssql")  # type: ignore[no-untyped-call]
)


DATE = sa.Date().with_variant(mssql.DATE(), "mssql")  # not DATETIME, whatever the server


def _sa_type(col: CompiledColumn) -> sa.types.TypeEngine[Any]:
    t = col.type
    if t == "int":
        return sa.Integer()
    if t == "bigint":
        return sa.BigInteger()
    if t == "decimal":
        return sa.Numeric(col.precision, col.scale, asdecimal=True)
    if t == "string":
        return sa.Unicode(col.length)
    if t == "date":
        return DATE
    if t == "datetime":
        return TIMESTAMP
    if t == "bit":
        return sa.Boolean(create_constraint=False)
    if t == "enum":
        return sa.SmallInteger()
    raise ValueError(f"unknown column type {t!r}")


@dataclass(frozen=True)
class Schema:
    metadata: sa.MetaData
    source: sa.Table
    log: sa.Table
    warnings: sa.Table
    enums: sa.Table
    runs: sa.Table
    lease: sa.Table
    targets: tuple[sa.Table, ...]  # contract tables, parents first
    root: sa.Table
    enum_rows: tuple[dict[str, object], ...]

    def create(self, engine: Engine) -> None:
        """Create what is missing and (re)seed ``app_enums`` from the contract. Idempotent."""
        self.metadata.create_all(engine, checkfirst=True)
        with engine.begin() as conn:
            conn.execute(sa.delete(self.enums))
            if self.enum_rows:
                conn.execute(sa.insert(self.enums), list(self.enum_rows))

    def drop_targets(self, engine: Engine) -> None:
        self.metadata.drop_all(
            engine,
            tables=[
                *reversed(self.targets),
                self.log,
                self.warnings,
                self.enums,
                self.runs,
                self.lease,
            ],
            checkfirst=True,
        )

    def missing_tables(self, engine: Engine) -> list[str]:
        existing = set(sa.inspect(engine).get_table_names())
        return [t.name for t in self.metadata.sorted_tables if t.name not in existing]


def build_schema(contract: CompiledContract) -> Schema:
    md = sa.MetaData()
    source = sa.Table(
        SOURCE_TABLE,
        md,
        sa.Column("app_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("xml", DOCUMENT_TEXT, nullable=False),
    )
    log = sa.Table(
        LOG_TABLE,
        md,
        sa.Column("log_id", sa.Integer, primary_key=True, autoincrement=True),
        # BIGINT: a source app id out of the target key's range is still logged (rejected)
        sa.Column("app_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False, default=1),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16)),
        sa.Column("reason", sa.Unicode(1000)),
        sa.Column("warnings", sa.Unicode(1000)),  # {"code": count, ...}
        sa.Column("logged_at", TIMESTAMP, nullable=False),
    )
    warnings = sa.Table(
        WARNING_TABLE,
        md,
        sa.Column("warning_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("app_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("code", sa.String(50), nullable=False, index=True),
        sa.Column("detail", sa.Unicode(500)),
    )
    enums = sa.Table(
        ENUM_TABLE,
        md,
        sa.Column("enum_id", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("enum_type", sa.String(50), nullable=False),
        sa.Column("code", sa.String(30), nullable=False),
        sa.UniqueConstraint("enum_type", "code", name="uq_app_enums_type_code"),
    )
    runs = sa.Table(
        RUN_TABLE,
        md,
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP),
        sa.Column("records", sa.Integer),
        sa.Column("success", sa.Integer),
        sa.Column("failed", sa.Integer),
        sa.Column("rejected", sa.Integer),
        sa.Column("rec_per_min", sa.Float),
        sa.Column("config", sa.UnicodeText().with_variant(mssql.NVARCHAR(None), "mssql")),
    )
    enum_rows = tuple(
        {"enum_id": value, "enum_type": name, "code": code}
        for name, codes in contract.enums.items()
        for code, value in codes.items()
    )
    targets = tuple(_table(md, t, contract) for t in contract.tables)
    lease = lease_table(md)
    return Schema(md, source, log, warnings, enums, runs, lease, targets, targets[0], enum_rows)


def _table(md: sa.MetaData, table: CompiledTable, contract: CompiledContract) -> sa.Table:
    cols = [
        sa.Column(
            c.name,
            _sa_type(c),
            nullable=c.nullable,
            primary_key=c.name in table.key,
            autoincrement=False,
        )
        for c in table.columns
    ]
    constraints: list[sa.schema.SchemaItem] = []
    if table.parent is not None:
        parent = contract.table_by_name[table.parent]
        child_cols = [
            next(c.name for c in table.columns if c.kind == "parent" and c.parent_column == k)
            for k in parent.key
        ]
        constraints.append(
            sa.ForeignKeyConstraint(
                child_cols,
                [f"{parent.name}.{k}" for k in parent.key],
                ondelete="CASCADE",
                name=f"fk_{table.name}_{parent.name}",
            )
        )
        # Cascading deletes scan the child by its foreign key: index it unless the PK covers it.
        if tuple(table.key[: len(child_cols)]) != tuple(child_cols):
            constraints.append(sa.Index(f"ix_{table.name}_{'_'.join(child_cols)}", *child_cols))
    return sa.Table(table.name, md, *cols, *constraints)
