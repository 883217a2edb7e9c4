"""``processing_log`` semantics: one row per processed app, written with the app's rows.

An app with any log row is done for the source (it is never read again);
the log row and the app's rows commit in the same transaction, so "has rows"
and "has a success entry" cannot disagree.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from xmlmigrate.db.base import LogRow, WarningRow
from xmlmigrate.model import MappedApp, Outcome, Rejection, Status
from xmlmigrate.schema import Schema

REASON_LIMIT = 1000


def new_run_id() -> str:
    return uuid.uuid4().hex


def outcome_for(item: MappedApp | Rejection) -> Outcome:
    if isinstance(item, MappedApp):
        return Outcome(item.app_id, "success", warnings=tuple(item.warnings))
    status: Status = "failed" if item.code == "internal_error" else "rejected"
    return Outcome(item.app_id, status, stage=item.stage, reason=item.reason)


def log_rows(outcomes: Iterable[Outcome], run_id: str, attempt: int = 1) -> list[LogRow]:
    now = datetime.now()
    return [
        LogRow(
            app_id=o.app_id,
            run_id=run_id,
            attempt=attempt,
            status=o.status,
            stage=o.stage,
            reason=o.reason[:REASON_LIMIT] if o.reason else None,
            warnings=json.dumps([w._asdict() for w in o.warnings]) if o.warnings else None,
            logged_at=now,
        )
        for o in outcomes
    ]


def warning_rows(outcomes: Iterable[Outcome], run_id: str) -> list[WarningRow]:
    return [
        WarningRow(o.app_id, run_id, w.code[:50], w.detail[:500])
        for o in outcomes
        for w in o.warnings
    ]


def reset_target(engine: Engine, schema: Schema) -> None:
    """Delete every migrated row (cascading from the root table) and the whole log; keep the source."""
    with engine.begin() as conn:
        conn.execute(sa.delete(schema.root))
        conn.execute(sa.delete(schema.log))
        conn.execute(sa.delete(schema.warnings))


def status_counts(engine: Engine, schema: Schema) -> dict[str, int]:
    log = schema.log
    with engine.connect() as conn:
        rows = conn.execute(sa.select(log.c.status, sa.func.count()).group_by(log.c.status))
        return {str(s): int(n) for s, n in rows}
