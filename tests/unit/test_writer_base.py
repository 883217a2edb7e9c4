"""The batch outline every dialect's writer shares (db/base.py), with a dialect that records
what it is asked to do: the order of a batch, its statement count, the lease fence, the
rollback and the classification of driver errors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from tests.contracts import engine_contract

from xmlmigrate.db.base import BatchWriter, LogRow, Target, WarningRow
from xmlmigrate.db.errors import WriteError
from xmlmigrate.errors import LeaseLost
from xmlmigrate.model import MappedApp

CONTRACT = engine_contract()


class DriverError(Exception):
    pass


class RefusedValue(DriverError):
    pass


class Recorder:
    """Cursor and connection both: every call lands in ``calls``."""

    def __init__(self, calls: list[tuple[Any, ...]], fail: str | None = None) -> None:
        self.calls = calls
        self.fail = fail

    def close(self) -> None:
        self.calls.append(("close",))

    def commit(self) -> None:
        if self.fail == "commit":
            raise DriverError("server closed the connection")
        self.calls.append(("commit",))

    def rollback(self) -> None:
        if self.fail in ("commit", "rollback"):
            raise DriverError("no connection to roll back on")
        self.calls.append(("rollback",))


class RecordingWriter(BatchWriter[Recorder, str]):
    driver_errors = (DriverError,)
    data_errors = (RefusedValue,)

    def __init__(
        self, fail: str | None = None, leased: bool = True, fence: str | None = None
    ) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.conn = Recorder(self.calls, fail)
        self.leased = leased
        super().__init__(self.conn, CONTRACT, fence)

    def _target(self, name: str, columns: list[sa.Column[Any]], ledger: bool) -> Target[str]:
        return Target(name, tuple(c.name for c in columns), f"INSERT INTO {name}")

    def _begin(self) -> Recorder:
        self.calls.append(("begin",))
        return self.conn

    def _leased(self, cur: Recorder, fence: str) -> bool:
        self.calls.append(("fence", fence))
        return self.leased

    def _delete(self, cur: Recorder, app_ids: Sequence[int]) -> None:
        self.calls.append(("delete", list(app_ids)))

    def _insert(self, cur: Recorder, table: Target[str], rows: list[tuple[Any, ...]]) -> None:
        if self.conn.fail == table.name:
            raise RefusedValue(f"{table.name}: value out of range")
        if self.conn.fail == "bug":
            raise TypeError("not a driver's error")
        self.calls.append((table.statement, rows))

    def _reason(self, exc: Exception) -> str:
        return f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        pass


def _apps() -> list[MappedApp]:
    rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in CONTRACT.tables}
    rows["app_base"] = [{c: None for c in CONTRACT.tables[0].column_names} | {"app_id": 7}]
    return [MappedApp(7, rows)]


LOG = [LogRow(7, "run", 1, "success", None, None, None, None, datetime(2016, 1, 25))]
WARNINGS = [WarningRow(7, "run", "truncated", "app_base.campaign_num")]


def test_a_batch_sends_the_replaced_apps_its_tables_the_log_and_warnings_then_commits() -> None:
    writer = RecordingWriter()
    writer.write(_apps(), LOG, WARNINGS, replace=[7])
    assert writer.calls[0] == ("begin",)
    assert writer.calls[1] == ("delete", [7])
    assert writer.calls[2][0] == "INSERT INTO app_base"  # the only table with rows
    assert writer.calls[3] == ("INSERT INTO processing_log", [tuple(LOG[0])])
    assert writer.calls[4] == ("INSERT INTO processing_warning", [tuple(WARNINGS[0])])
    assert writer.calls[5:] == [("close",), ("commit",)]
    assert writer.statements == 4  # the delete, one table, the log, the warnings
    writer.write(_apps(), LOG)  # no warnings, nothing replaced: two statements more
    assert writer.statements == 6


def test_a_fenced_batch_checks_its_lease_first_and_sends_nothing_without_it() -> None:
    writer = RecordingWriter(leased=False, fence="ab" * 16)
    with pytest.raises(LeaseLost, match="run abababababab lost its lease"):
        writer.write(_apps(), LOG)
    assert writer.calls == [("begin",), ("fence", "ab" * 16), ("rollback",), ("close",)]
    assert writer.statements == 0


@pytest.mark.parametrize(
    ("fail", "data_error", "reason"),
    [
        ("app_base", True, "RefusedValue: app_base: value out of range"),
        ("commit", False, "DriverError: server closed the connection"),
    ],
)
def test_a_driver_error_rolls_back_and_says_whether_a_document_is_at_fault(
    fail: str, data_error: bool, reason: str
) -> None:
    writer = RecordingWriter(fail=fail)
    with pytest.raises(WriteError) as info:
        writer.write(_apps(), LOG)
    assert (info.value.reason, info.value.data_error) == (reason, data_error)
    assert ("commit",) not in writer.calls
    assert ("close",) in writer.calls  # the cursor is closed whatever happened
    if fail != "commit":  # a lost connection cannot roll back: that is no second error
        assert writer.calls[-1] == ("rollback",)


def test_an_error_that_is_not_the_drivers_is_no_write_error() -> None:
    writer = RecordingWriter(fail="bug")
    with pytest.raises(TypeError, match="not a driver's error"):
        writer.write(_apps(), LOG)
    assert ("commit",) not in writer.calls
