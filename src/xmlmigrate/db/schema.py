"""SQLAlchemy Core metadata built from a contract, plus the source and ledger tables.

Every child table has a foreign key to its parent's key with ON DELETE
CASCADE, so deleting from the root table (``app_base``) removes an app's rows
everywhere: that is how ``clean`` and the benchmarks reset the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from xmlmigrate.contract import CompiledContract, CompiledTable, SourceRef
from xmlmigrate.db.layout import (
    ENUM_TABLE,
    LEASE_TABLE,
    LOG_TABLE,
    RUN_TABLE,
    SOURCE_TABLE,
    WARNING_TABLE,
    column_type,
    tool_tables,
)
from xmlmigrate.errors import UserError

__all__ = ["LOG_TABLE", "SOURCE_TABLE", "WARNING_TABLE", "Schema", "build_schema", "schema_for"]

# The longest text each database declares (its manual). A contract holds a length any of them
# takes (xmlmigrate.contract.kinds.MAX_STRING_LENGTH: up to PostgreSQL's); a schema is checked against its
# own database before any DDL is sent, so that `init` names the column, not a syntax error.
TEXT_LIMITS = {
    "mssql": (4_000, "SQL Server's NVARCHAR holds at most 4000 characters"),
    "mysql": (16_383, "MariaDB's and MySQL's VARCHAR holds at most 16383 characters (utf8mb4)"),
    "mariadb": (16_383, "MariaDB's VARCHAR holds at most 16383 characters (utf8mb4)"),
    "postgresql": (10_485_760, "PostgreSQL's varchar holds at most 10485760 characters"),
}
# (decimals: a contract's precision is at most 38, SQL Server's largest; MariaDB takes 65 and a
# scale of 38, PostgreSQL 1000)


@dataclass(frozen=True)
class Schema:
    metadata: sa.MetaData
    # the tables documents are read from, each with columns keyed ``app_id`` and ``xml``
    # whatever their names: app_xml (the tool's, created by init) or the users' own tables
    sources: tuple[sa.Table, ...]
    refs: tuple[SourceRef, ...]
    log: sa.Table
    warnings: sa.Table
    enums: sa.Table
    runs: sa.Table
    lease: sa.Table
    targets: tuple[sa.Table, ...]  # contract tables, parents first
    root: sa.Table
    enum_rows: tuple[dict[str, object], ...]

    @property
    def source(self) -> sa.Table:
        """The (first) source table."""
        return self.sources[0]

    def create(self, engine: Engine) -> None:
        """Create what is missing and seed ``app_enums`` with the contract's enums.
        Idempotent. What other contracts seeded earlier stays (one product line's ``init``
        must not take the other's codes away): a row is added for each id no row holds yet,
        unless its type and code are already there under another id (``init --drop``
        starts the lookup afresh)."""
        problems = self.type_problems(engine.dialect)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise UserError(f"{problems[0]}{more}: nothing was created")
        self.metadata.create_all(engine, checkfirst=True)
        with engine.begin() as conn:
            held = conn.execute(
                sa.select(self.enums.c.enum_id, self.enums.c.enum_type, self.enums.c.code)
            ).all()
            ids = {int(r[0]) for r in held}
            pairs = {(str(r[1]), str(r[2])) for r in held}
            rows = [
                r
                for r in self.enum_rows
                if r["enum_id"] not in ids and (str(r["enum_type"]), str(r["code"])) not in pairs
            ]
            if rows:
                conn.execute(sa.insert(self.enums), rows)

    def type_problems(self, dialect: sa.engine.Dialect) -> list[str]:
        """Each contract column whose declared type this database cannot hold."""
        limit = TEXT_LIMITS.get(dialect.name)
        if limit is None:  # SQLite: a declared length is no limit
            return []
        most, said = limit
        return [
            f"{table.name}.{col.name}: length {length}: {said}; a longer text is length = "
            "'max' (a column without limit)"
            for table in self.targets
            for col in table.columns
            if isinstance(length := getattr(col.type, "length", None), int) and length > most
        ]

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


def source_table(ref: SourceRef, own: sa.Table) -> sa.Table:
    """The table ``ref`` names, as SQLAlchemy Core: the tool's own ``app_xml``, or a user's
    table in a metadata of its own (so that ``init``/``--drop`` never create or drop it),
    whose key and document columns are reached as ``.c.app_id`` and ``.c.xml``."""
    if ref.is_default:
        return own
    return sa.Table(
        ref.table,
        sa.MetaData(),
        sa.Column(ref.key, sa.BigInteger, primary_key=True, autoincrement=False, key="app_id"),
        sa.Column(ref.document, sa.UnicodeText, nullable=False, key="xml"),
        schema=ref.schema,
    )


def build_schema(contract: CompiledContract, source: SourceRef | None = None) -> Schema:
    md = sa.MetaData()
    own = tool_tables(md)
    own_source, log, warnings, enums, runs, lease = (
        own[n] for n in (SOURCE_TABLE, LOG_TABLE, WARNING_TABLE, ENUM_TABLE, RUN_TABLE, LEASE_TABLE)
    )
    # one row per id: aliases (two codes, one id) and an id two enums share seed their first
    seeded: dict[int, dict[str, object]] = {}
    for name, codes in contract.enums.items():
        for code, value in codes.items():
            seeded.setdefault(value, {"enum_id": value, "enum_type": name, "code": code})
    enum_rows = tuple(seeded.values())
    targets = tuple(_table(md, t, contract) for t in contract.tables)
    refs = (source,) if source is not None else contract.sources
    sources = tuple(source_table(r, own_source) for r in refs)
    return Schema(
        md, sources, refs, log, warnings, enums, runs, lease, targets, targets[0], enum_rows
    )


def _table(md: sa.MetaData, table: CompiledTable, contract: CompiledContract) -> sa.Table:
    cols = [
        sa.Column(
            c.name,
            column_type(c),
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


_SCHEMAS: dict[int, tuple[CompiledContract, Schema]] = {}


def schema_for(contract: CompiledContract) -> Schema:
    """The schema of a contract, built once per contract object (writers reconnecting per
    batch ask for it every time)."""
    hit = _SCHEMAS.get(id(contract))
    if hit is None or hit[0] is not contract:
        hit = _SCHEMAS[id(contract)] = (contract, build_schema(contract))
    return hit[1]
