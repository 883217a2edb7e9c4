"""The loader owns every write: a batch commits atomically with its log rows.

When a batch fails, it is split in halves until the failing apps are isolated:
the good apps commit, each bad app is logged ``failed`` with the database's
reason, and nothing is half-written. If even a log-only write fails, the
database itself is in trouble and the error propagates (the run stops, and the
apps of that batch stay pending for the next run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from xmlmigrate.db.base import BulkWriter, WriteError
from xmlmigrate.ledger import log_rows, outcome_for, warning_rows
from xmlmigrate.model import MappedApp, Outcome, Rejection


class Loader:
    def __init__(self, writer: BulkWriter, run_id: str) -> None:
        self.writer = writer
        self.run_id = run_id
        self.transactions = 0
        self.bisections = 0
        self._attempts: Mapping[int, int] = {}

    def commit(
        self, items: Sequence[MappedApp | Rejection], attempts: Mapping[int, int] | None = None
    ) -> list[tuple[Outcome, MappedApp | None]]:
        """Write a batch; return every item's outcome (with its app when it committed).

        ``attempts`` gives each app's attempt number for the log (default 1)."""
        self._attempts = attempts or {}
        apps = [i for i in items if isinstance(i, MappedApp)]
        rejected = [outcome_for(i) for i in items if isinstance(i, Rejection)]
        return self._commit(apps, rejected)

    def _commit(
        self, apps: list[MappedApp], others: list[Outcome]
    ) -> list[tuple[Outcome, MappedApp | None]]:
        outcomes = [outcome_for(a) for a in apps]
        try:
            self._write(apps, [*outcomes, *others])
        except WriteError as exc:
            if not apps:
                raise
            if len(apps) == 1:
                failed = Outcome(apps[0].app_id, "failed", stage="write", reason=exc.reason)
                self._write([], [failed, *others])
                return [(failed, None), *((o, None) for o in others)]
            self.bisections += 1
            mid = len(apps) // 2
            return self._commit(apps[:mid], others) + self._commit(apps[mid:], [])
        return [*zip(outcomes, apps, strict=True), *((o, None) for o in others)]

    def _write(self, apps: list[MappedApp], outcomes: list[Outcome]) -> None:
        self.transactions += 1
        self.writer.write(
            apps,
            log_rows(outcomes, self.run_id, self._attempts),
            warning_rows(outcomes, self.run_id),
        )
