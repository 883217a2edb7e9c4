"""The bulk-writer interface every dialect implements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from xmlmigrate.db.layout import LOG_COLUMNS, WARNING_COLUMNS
from xmlmigrate.errors import XmlMigrateError
from xmlmigrate.model import MappedApp

if TYPE_CHECKING:  # the contract package imports db.identifiers: no cycle at run time
    from xmlmigrate.contract import CompiledContract

__all__ = [
    "LOG_COLUMNS",
    "WARNING_COLUMNS",
    "Adapter",
    "BulkWriter",
    "LogRow",
    "WarningRow",
    "WriteError",
    "adapted",
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


class WriteError(XmlMigrateError):
    """A batch could not be written; the transaction was rolled back. ``reason`` is readable.

    ``data_error``: the database refused a value or a constraint, so some document of the batch
    is at fault (the loader bisects to find it). Anything else — connection lost, disk full,
    server gone — is no document's fault: the loader stops the run instead of logging apps."""

    def __init__(self, reason: str, data_error: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.data_error = data_error


class BulkWriter(Protocol):
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

    def close(self) -> None: ...

    # statements sent (one COPY stream or one ``executemany`` per table, the log, warnings)
    statements: int
