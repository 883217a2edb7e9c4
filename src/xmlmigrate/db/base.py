"""The bulk-writer interface, and the one batch outline every dialect's writer shares.

:class:`BatchWriter` owns a batch's transaction: the lease fence, the replaced apps, the
contract's tables (parents first), the ledger's log and warning rows, the commit, the rollback
and the classification of a driver error as :class:`WriteError`. A dialect supplies only how
it prepares and sends one table's rows and which of its driver's errors are a document's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, NamedTuple, Protocol, TypeVar

import sqlalchemy as sa

from xmlmigrate.contract import CompiledContract
from xmlmigrate.db.errors import WriteError
from xmlmigrate.db.layout import (
    LOG_COLUMNS,
    LOG_TABLE,
    WARNING_COLUMNS,
    WARNING_TABLE,
    ledger_columns,
)
from xmlmigrate.db.lease import lease_lost
from xmlmigrate.db.schema import schema_for
from xmlmigrate.model import MappedApp

__all__ = [
    "LOG_COLUMNS",
    "WARNING_COLUMNS",
    "Adapter",
    "BatchWriter",
    "BulkWriter",
    "LogRow",
    "Target",
    "WarningRow",
    "WriteError",
    "adapted",
    "root_key",
    "table_rows",
]


class LogRow(NamedTuple):
    app_id: int
    run_id: str
    attempt: int
    status: str
    stage: str | None
    reason: str | None
    warnings: str | None
    doc_digest: str | None
    logged_at: datetime


class WarningRow(NamedTuple):
    app_id: int
    run_id: str
    code: str
    detail: str


# The row tuples are typed NamedTuples for the hot path; their fields are the ledger tables'
# insert columns (db/layout.py), checked here once so the two can never drift apart.
if LogRow._fields != LOG_COLUMNS or WarningRow._fields != WARNING_COLUMNS:
    raise ImportError("LogRow/WarningRow do not match processing_log/processing_warning")


Adapter = Callable[[Any], Any]


def table_rows(
    apps: Sequence[MappedApp],
    table: str,
    columns: Sequence[str],
    adapters: Sequence[tuple[int, Adapter]] = (),
) -> list[tuple[Any, ...]]:
    """Every row of ``table`` in a batch, as tuples in ``columns`` order, each value at an
    adapter's position passed through it (what the driver cannot bind as it is)."""
    if not adapters:
        return [tuple(row[c] for c in columns) for app in apps for row in app.rows.get(table, ())]
    return [
        adapted([row[c] for c in columns], adapters)
        for app in apps
        for row in app.rows.get(table, ())
    ]


def adapted(values: Sequence[Any], adapters: Sequence[tuple[int, Adapter]]) -> tuple[Any, ...]:
    """``values`` with each adapter applied at its position."""
    out = list(values)
    for i, adapt in adapters:
        out[i] = adapt(out[i])
    return tuple(out)


def root_key(contract: CompiledContract) -> tuple[str, str]:
    """The root table and its app id column: deleting an app there deletes it everywhere."""
    root = contract.root_table
    key = next((c.name for c in root.columns if c.kind == "app_id"), root.key[0])
    return root.name, key


def ledger_rows(
    rows: Sequence[tuple[Any, ...]], adapters: Sequence[tuple[int, Adapter]] = ()
) -> list[tuple[Any, ...]]:
    """Log or warning rows as plain tuples, each value at an adapter's position passed through it."""
    if not adapters:
        return [tuple(r) for r in rows]
    return [adapted(r, adapters) for r in rows]


S = TypeVar("S")  # a dialect's prepared statement for one table


@dataclass(frozen=True, slots=True)
class Target(Generic[S]):
    """A table a writer fills: its columns in the rows' order, the dialect's prepared
    ``statement``, and the ``adapters`` of the values its driver cannot bind as they are."""

    name: str
    columns: tuple[str, ...]
    statement: S
    adapters: Sequence[tuple[int, Adapter]] = ()


class Cursor(Protocol):
    def close(self) -> None: ...


class Session(Protocol):
    """The DB-API connection a writer's transactions run on."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


C = TypeVar("C", bound=Cursor)  # the driver's cursor


class BatchWriter(ABC, Generic[C, S]):
    """A bulk writer: it sends each batch in one transaction on one connection.

    The outline is here, once: the lease fence (with ``fence``, a run id), the replaced apps,
    every contract table with rows, the log, the warnings, the commit; on a driver error the
    rollback and a :class:`WriteError` whose ``data_error`` says whether a document is at
    fault. ``statements`` counts what was sent: one per table, the delete, the log and the
    warnings. A dialect prepares each table (:meth:`_target`) and sends its rows
    (:meth:`_insert`), and names its driver's errors (``driver_errors``, ``data_errors``,
    :meth:`_reason`)."""

    # every error the driver raises for a failed statement, and those that are a document's
    # (a refused value or a violated constraint: the loader bisects the batch to find it)
    driver_errors: ClassVar[tuple[type[Exception], ...]]
    data_errors: ClassVar[tuple[type[Exception], ...]]

    def __init__(
        self, session: Session, contract: CompiledContract, fence: str | None = None
    ) -> None:
        self._session = session
        self._fence = fence
        self.statements = 0
        self._tables = [
            self._target(t.name, list(t.columns), ledger=False)
            for t in schema_for(contract).targets
        ]
        self._log = self._target(LOG_TABLE, ledger_columns(LOG_TABLE), ledger=True)
        self._warnings = self._target(WARNING_TABLE, ledger_columns(WARNING_TABLE), ledger=True)

    def write(
        self,
        apps: Sequence[MappedApp],
        log_rows: Sequence[LogRow],
        warning_rows: Sequence[WarningRow] = (),
        replace: Sequence[int] = (),
    ) -> None:
        """Insert every row of ``apps`` (parents first), the log and warning rows in ONE transaction.

        ``replace``: app ids whose earlier rows are deleted first, in the same transaction.
        Either all of it commits or none of it does; on failure raise :class:`WriteError`.
        """
        try:
            cur = self._begin()
            try:
                if self._fence is not None and not self._leased(cur, self._fence):
                    self._rollback()
                    raise lease_lost(self._fence)
                if replace:
                    self._delete(cur, replace)
                    self.statements += 1
                for table in self._tables:
                    rows = table_rows(apps, table.name, table.columns, table.adapters)
                    if rows:
                        self._send(cur, table, rows)
                self._send(cur, self._log, ledger_rows(log_rows, self._log.adapters))
                if warning_rows:
                    self._send(
                        cur, self._warnings, ledger_rows(warning_rows, self._warnings.adapters)
                    )
            finally:
                with suppress(*self.driver_errors):  # the error in flight is the one to report
                    cur.close()
            self._commit()
        except self.driver_errors as exc:
            with suppress(*self.driver_errors):  # a lost connection cannot roll back: it is gone
                self._rollback()
            data = isinstance(exc, self.data_errors)
            raise WriteError(self._reason(exc), data_error=data) from exc

    def _send(self, cur: C, table: Target[S], rows: list[tuple[Any, ...]]) -> None:
        self._insert(cur, table, rows)
        self.statements += 1

    def _commit(self) -> None:
        self._session.commit()

    def _rollback(self) -> None:
        self._session.rollback()

    def _leased(self, cur: C, fence: str) -> bool:
        """Whether the run ``fence`` still holds its lease (its row, locked until the end of
        the transaction: db/lease.py). Only server targets are fenced."""
        raise NotImplementedError(f"{type(self).__name__} has no lease fence")

    @abstractmethod
    def _target(self, name: str, columns: list[sa.Column[Any]], ledger: bool) -> Target[S]:
        """Prepare the insert of ``columns`` into table ``name`` (``ledger``: the log or the
        warnings, else a contract table)."""

    @abstractmethod
    def _begin(self) -> C:
        """A cursor in a new transaction."""

    @abstractmethod
    def _delete(self, cur: C, app_ids: Sequence[int]) -> None:
        """Delete the rows of ``app_ids`` (one statement: the root's, cascading)."""

    @abstractmethod
    def _insert(self, cur: C, table: Target[S], rows: list[tuple[Any, ...]]) -> None:
        """Send ``rows`` (not empty) to ``table`` as one statement."""

    @abstractmethod
    def _reason(self, exc: Exception) -> str:
        """The readable reason of a driver error."""

    @abstractmethod
    def close(self) -> None: ...


# what the loader writes through: any dialect's writer
BulkWriter = BatchWriter[Any, Any]
