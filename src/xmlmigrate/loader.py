"""The loader owns every write: a batch commits atomically with its log rows.

When a batch fails, it is split in halves until the failing apps are isolated:
the good apps commit, each bad app is logged ``failed`` with the database's
reason, and nothing is half-written. Only a refusal caused by data (a constraint, a
value) is bisected: a lost connection, a full disk or a server gone is no document's
fault, so it stops the run with :class:`~xmlmigrate.errors.InfrastructureError` — batches
already committed stay, and the apps of this batch are not logged (they stay pending for
the next run). If even a log-only write fails, the same happens.

Two tuning knobs live here. ``pooling``: one long-lived writer connection, or a new
connection for every batch. The duplicate-key cache: keys that come from the documents
(``con_id``) and were written in this run are remembered, so an app reusing one fails
before its batch reaches the database — no failed transaction, no bisection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from xmlmigrate.contract import CompiledContract
from xmlmigrate.db import make_engine, open_writer
from xmlmigrate.db.base import BulkWriter
from xmlmigrate.db.engine import engine_lock_timeout, engine_target
from xmlmigrate.db.errors import WriteError
from xmlmigrate.db.layout import LEASE_TABLE
from xmlmigrate.db.locks import is_lock_timeout, lock_timeout_message
from xmlmigrate.db.schema import LOG_TABLE, WARNING_TABLE, schema_for
from xmlmigrate.errors import InfrastructureError
from xmlmigrate.ledger import Attempt, log_rows, outcome_for, warning_rows
from xmlmigrate.model import MappedApp, Outcome, Rejection, Warn

IN_CHUNK = 500  # key values per IN list


class Writers:
    """Hands out the bulk writer for a batch: the same one (pooling) or a new connection."""

    def __init__(
        self,
        engine: Engine,
        contract: CompiledContract,
        pooling: bool,
        fence: str | None = None,
    ) -> None:
        self.contract = contract
        self.pooling = pooling
        self.fence = fence  # the run id whose lease each batch checks (db/lease.py)
        # without pooling every batch must really connect: a pool-less engine of the same URL
        self._engine = (
            engine
            if pooling
            else make_engine(engine_target(engine).url, NullPool, engine_lock_timeout(engine))
        )
        self._writer: BulkWriter | None = None
        self.opened = 0
        self.statements = 0  # of writers already closed; see ``statements_sent``

    def acquire(self) -> BulkWriter:
        if self._writer is None:
            self._writer = open_writer(self._engine, self.contract, self.fence)
            self.opened += 1
        return self._writer

    def release(self) -> None:
        if not self.pooling:
            self.close()

    def close(self) -> None:
        if self._writer is not None:
            self.statements += self._writer.statements
            self._writer.close()
            self._writer = None

    def lock_timed_out(self, what: str) -> InfrastructureError:
        """The error of a write that waited ``--lock-timeout`` for a lock, naming who holds it."""
        tables = [t.name for t in schema_for(self.contract).targets]
        tables += [LOG_TABLE, WARNING_TABLE, LEASE_TABLE]
        return InfrastructureError(
            lock_timeout_message(what, engine_lock_timeout(self._engine), self._engine, tables)
        )

    @property
    def statements_sent(self) -> int:
        return self.statements + (self._writer.statements if self._writer is not None else 0)


class KeyCache:
    """Keys taken from documents (not derived from the parent) written in this run."""

    def __init__(self, contract: CompiledContract) -> None:
        self.tables = [
            (t.name, t.key)
            for t in contract.tables
            if all(t.column(k).kind not in ("parent", "app_id") for k in t.key)
        ]
        self.owner: dict[tuple[Any, ...], int] = {}
        self.hits = 0

    def _keys(self, app: MappedApp) -> list[tuple[Any, ...]]:
        return [
            (name, *(row[k] for k in key))
            for name, key in self.tables
            for row in app.rows.get(name, ())
        ]

    def screen(self, apps: list[MappedApp]) -> tuple[list[MappedApp], list[Outcome]]:
        """Apps whose keys are free, and a failure for each app reusing a known key."""
        ok: list[MappedApp] = []
        duplicates: list[Outcome] = []
        claimed: dict[tuple[Any, ...], int] = {}
        for app in apps:
            keys = self._keys(app)
            hit = next((k for k in keys if k in self.owner or k in claimed), None)
            if hit is None:
                claimed.update(dict.fromkeys(keys, app.app_id))
                ok.append(app)
                continue
            self.hits += 1
            owner = self.owner.get(hit, claimed.get(hit))
            table, *values = hit
            key = dict(zip(dict(self.tables)[table], values, strict=True))
            duplicates.append(
                Outcome(
                    app.app_id,
                    "failed",
                    stage="write",
                    reason=f"duplicate_key: {table} {key} was already written by app {owner} "
                    "in this run",
                )
            )
        return ok, duplicates

    def remember(self, app: MappedApp) -> None:
        for k in self._keys(app):
            self.owner[k] = app.app_id


class ExistingRows:
    """Tables with ``on_duplicate = "keep_existing"`` (the predecessor's shared contacts): a
    row whose key another app already wrote — in an earlier batch, an earlier run, or earlier
    in this batch — is not written; the app loads with a ``duplicate_existing`` warning naming
    that app. Batches commit in order, so which app keeps the row does not depend on the
    number of workers."""

    def __init__(self, engine: Engine, contract: CompiledContract) -> None:
        self.engine = engine
        self.tables = [t for t in contract.tables if t.on_duplicate == "keep_existing"]
        by_name = {t.name: t for t in contract.tables}
        # where each table's owning app is read: itself or the nearest ancestor holding both
        # the first key column and app_id
        self.owner_table: dict[str, str | None] = {}
        for t in self.tables:
            first = t.key[0]
            chain = [t.name, *t.ancestors]
            self.owner_table[t.name] = next(
                (n for n in chain if {first, "app_id"} <= set(by_name[n].column_names)),
                None,
            )
        self.kept = 0

    def _among(self, column: sa.ColumnClause[Any], values: list[Any]) -> sa.ColumnElement[bool]:
        """``column IN (values)``; on PostgreSQL ``column = ANY(%(among)s)``, one array
        parameter: a statement text that does not grow with the values, which psycopg parses
        once and caches (an IN list of 100 ids is a new 1.5 KB text each time: 2 ms to parse)."""
        if self.engine.dialect.name == "postgresql":
            return column == sa.any_(sa.bindparam("among", values))
        return column.in_(values)

    def _lookup(
        self, table: Any, keys: set[tuple[Any, ...]], known: dict[tuple[Any, ...], int | None]
    ) -> None:
        first = table.key[0]
        values = sorted({k[0] for k in keys}, key=repr)
        owner_name = self.owner_table[table.name]
        with self.engine.connect() as conn:
            for start in range(0, len(values), IN_CHUNK):
                chunk = values[start : start + IN_CHUNK]
                t = sa.table(table.name, *(sa.column(c) for c in table.key))
                found = {
                    tuple(r)
                    for r in conn.execute(
                        sa.select(*(t.c[c] for c in table.key)).where(
                            self._among(t.c[first], chunk)
                        )
                    )
                }
                owners: dict[Any, int] = {}
                if owner_name is not None and found:
                    o = sa.table(owner_name, sa.column(first), sa.column("app_id"))
                    owners = {
                        r[0]: int(r[1])
                        for r in conn.execute(
                            sa.select(o.c[first], o.c.app_id).where(self._among(o.c[first], chunk))
                        )
                    }
                for key in found:
                    known[(table.name, *key)] = owners.get(key[0])

    def screen(self, apps: list[MappedApp]) -> None:
        """Drop, from ``apps`` (in commit order), the rows another app owns."""
        if not self.tables or not apps:
            return
        # asked of the database for each batch (earlier batches have committed): nothing is
        # remembered across batches, so a run of millions of apps holds no growing key set
        known: dict[tuple[Any, ...], int | None] = {}  # (table, *key) → owning app
        for table in self.tables:
            keys = {
                tuple(row[k] for k in table.key)
                for app in apps
                for row in app.rows.get(table.name, ())
            }
            if keys:
                self._lookup(table, keys, known)
            claimed: dict[tuple[Any, ...], int] = {}
            for app in apps:
                rows = app.rows.get(table.name)
                if not rows:
                    continue
                kept = []
                for row in rows:
                    key = tuple(row[k] for k in table.key)
                    full = (table.name, *key)
                    if full in known or key in claimed:
                        owner = known[full] if full in known else claimed[key]
                        if owner == app.app_id:  # its own row from an earlier attempt
                            kept.append(row)
                            continue
                        self.kept += 1
                        shown = ", ".join(f"{k}={v}" for k, v in zip(table.key, key, strict=True))
                        by = f"app {owner}" if owner is not None else "another app"
                        app.warnings.append(
                            Warn(
                                "duplicate_existing",
                                f"{table.name} ({shown}) was already written by {by}; "
                                "that row is kept and this app's is not written",
                            )
                        )
                        continue
                    claimed[key] = app.app_id
                    kept.append(row)
                app.rows[table.name] = kept


class Loader:
    def __init__(
        self,
        writers: Writers,
        run_id: str,
        key_cache: KeyCache | None = None,
        existing: ExistingRows | None = None,
        replace: bool = False,
    ) -> None:
        self.writers = writers
        # run --changed: every logged app's earlier rows are deleted in its batch's transaction
        # (a changed document's old rows go; a new one has none)
        self.replace = replace
        self.run_id = run_id
        self.key_cache = key_cache
        self.existing = existing
        self.transactions = 0
        self.failed_transactions = 0  # refused by the database (each one costs a bisection step)
        self._attempts: Mapping[int, Attempt] = {}

    def commit(
        self, items: Sequence[MappedApp | Rejection], attempts: Mapping[int, Attempt] | None = None
    ) -> list[tuple[Outcome, MappedApp | None]]:
        """Write a batch; return every item's outcome (with its app when it committed).

        ``attempts`` gives each app's attempt number and document digest for the log
        (default 1, none)."""
        self._attempts = attempts or {}
        apps = [i for i in items if isinstance(i, MappedApp)]
        others = [outcome_for(i) for i in items if isinstance(i, Rejection)]
        if self.existing is not None:
            self.existing.screen(apps)
        if self.key_cache is not None:
            apps, duplicates = self.key_cache.screen(apps)
            others += duplicates
        try:
            committed = self._commit(apps, others)
        finally:
            self.writers.release()
        if self.key_cache is not None:
            for _, app in committed:
                if app is not None:
                    self.key_cache.remember(app)
        return committed

    def _commit(
        self, apps: list[MappedApp], others: list[Outcome]
    ) -> list[tuple[Outcome, MappedApp | None]]:
        outcomes = [outcome_for(a) for a in apps]
        try:
            self._write(apps, [*outcomes, *others])
        except WriteError as exc:
            self.failed_transactions += 1
            if not exc.data_error and is_lock_timeout(exc.reason):
                raise self.writers.lock_timed_out("a batch's write") from exc
            if not exc.data_error:
                raise InfrastructureError(
                    f"the database failed while writing a batch: {exc.reason} — the run "
                    "stopped; committed batches stay, this batch's apps stay pending"
                ) from exc
            if not apps:
                raise InfrastructureError(
                    f"the database refused the processing log itself: {exc.reason}"
                ) from exc
            if len(apps) == 1:
                failed = Outcome(apps[0].app_id, "failed", stage="write", reason=exc.reason)
                self._write([], [failed, *others])
                return [(failed, None), *((o, None) for o in others)]
            mid = len(apps) // 2
            return self._commit(apps[:mid], others) + self._commit(apps[mid:], [])
        return [*zip(outcomes, apps, strict=True), *((o, None) for o in others)]

    def _write(self, apps: list[MappedApp], outcomes: list[Outcome]) -> None:
        self.transactions += 1
        logged = log_rows(outcomes, self.run_id, self._attempts)
        warned = warning_rows(outcomes, self.run_id)
        writer = self.writers.acquire()
        if self.replace:
            writer.write(apps, logged, warned, replace=[o.app_id for o in outcomes])
        else:
            writer.write(apps, logged, warned)
