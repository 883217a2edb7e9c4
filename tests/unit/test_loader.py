from __future__ import annotations

from collections.abc import Sequence

import pytest

from xmlmigrate.db.base import LogRow, WarningRow
from xmlmigrate.db.errors import WriteError
from xmlmigrate.loader import Loader
from xmlmigrate.model import MappedApp, Rejection


class FakeWriter:
    """Fails any transaction that contains a poisoned app; records what committed."""

    def __init__(self, poisoned: set[int], broken: bool = False) -> None:
        self.poisoned = poisoned
        self.broken = broken
        self.committed_apps: list[int] = []
        self.committed_log: list[tuple[int, str]] = []

    def write(
        self,
        apps: Sequence[MappedApp],
        log_rows: Sequence[LogRow],
        warning_rows: Sequence[WarningRow] = (),
    ) -> None:
        if self.broken or any(a.app_id in self.poisoned for a in apps):
            raise WriteError(f"bad key in {sorted(a.app_id for a in apps)}")
        self.committed_apps += [a.app_id for a in apps]
        self.committed_log += [(r.app_id, r.status) for r in log_rows]

    def close(self) -> None:
        pass


class FakeWriters:
    """The loader's view of writers: always this one."""

    def __init__(self, writer: FakeWriter) -> None:
        self.writer = writer

    def acquire(self) -> FakeWriter:
        return self.writer

    def release(self) -> None:
        pass


def _apps(ids: range) -> list[MappedApp | Rejection]:
    return [MappedApp(i, {"t": [{"k": i}]}) for i in ids]


def test_bisect_isolates_bad_apps_and_commits_the_rest() -> None:
    writer = FakeWriter({3, 11})
    loader = Loader(FakeWriters(writer), "run")  # type: ignore[arg-type]
    items = [*_apps(range(1, 17)), Rejection(99, "malformed", "x")]
    outcomes = loader.commit(items)
    assert sorted(writer.committed_apps) == [i for i in range(1, 17) if i not in (3, 11)]
    statuses = {o.app_id: o.status for o, _ in outcomes}
    assert statuses[3] == statuses[11] == "failed"
    assert statuses[99] == "rejected"
    assert sum(1 for s in statuses.values() if s == "success") == 14
    # every app is logged exactly once
    logged = [a for a, _ in writer.committed_log]
    assert sorted(logged) == sorted([*range(1, 17), 99])
    failed = next(o for o, _ in outcomes if o.app_id == 3)
    assert failed.stage == "write" and failed.reason == "bad key in [3]"
    assert loader.failed_transactions > 0


def test_a_dead_database_stops_the_run_instead_of_failing_every_app() -> None:
    loader = Loader(FakeWriters(FakeWriter(set(), broken=True)), "run")  # type: ignore[arg-type]
    with pytest.raises(WriteError):
        loader.commit(_apps(range(1, 5)))
