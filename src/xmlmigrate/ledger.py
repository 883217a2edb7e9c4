"""``processing_log`` semantics: one row per processed app, written with the app's rows.

An app with any log row is done for the source (it is never read again);
the log row and the app's rows commit in the same transaction, so "has rows"
and "has a success entry" cannot disagree.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from xmlmigrate.db.base import LogRow, WarningRow
from xmlmigrate.db.layout import LOG_TABLE, WARNING_TABLE, text_limit
from xmlmigrate.db.schema import Schema
from xmlmigrate.identifiers import quote
from xmlmigrate.model import (
    MappedApp,
    Outcome,
    RawRecord,
    Rejection,
    RunStats,
    Status,
    clip_reason,
    reason_group,
)
from xmlmigrate.sources import changed_condition

REASON_LIMIT = text_limit(LOG_TABLE, "reason")
WARNING_SUMMARY_LIMIT = text_limit(LOG_TABLE, "warnings")
CODE_LIMIT = text_limit(WARNING_TABLE, "code")
DETAIL_LIMIT = text_limit(WARNING_TABLE, "detail")

logger = logging.getLogger(__name__)


def new_run_id() -> str:
    return uuid.uuid4().hex


def outcome_for(item: MappedApp | Rejection) -> Outcome:
    if isinstance(item, MappedApp):
        return Outcome(item.app_id, "success", warnings=tuple(item.warnings))
    status: Status = "failed" if item.code == "internal_error" else "rejected"
    return Outcome(item.app_id, status, stage=item.stage, reason=item.reason)


class Attempt(NamedTuple):
    """What the log records of the document an outcome is of: its attempt number and
    digest."""

    number: int = 1
    digest: str | None = None


NO_ATTEMPT = Attempt()


def attempts_of(page: Iterable[RawRecord]) -> dict[int, Attempt]:
    return {rec.app_id: Attempt(rec.attempt, rec.digest) for rec in page}


def log_rows(
    outcomes: Iterable[Outcome], run_id: str, attempts: Mapping[int, Attempt] | None = None
) -> list[LogRow]:
    now = datetime.now()
    attempts = attempts or {}
    rows = []
    for o in outcomes:
        attempt = attempts.get(o.app_id, NO_ATTEMPT)
        rows.append(
            LogRow(
                app_id=o.app_id,
                run_id=run_id,
                attempt=attempt.number,
                status=o.status,
                stage=o.stage,
                reason=clip_reason(o.reason, REASON_LIMIT) if o.reason else None,
                warnings=_warning_summary(o),
                doc_digest=attempt.digest,
                logged_at=now,
            )
        )
    return rows


def _warning_summary(outcome: Outcome) -> str | None:
    """Warning codes with counts, e.g. {"truncated": 2}; the details are in processing_warning."""
    if not outcome.warnings:
        return None
    counts = Counter(w.code for w in outcome.warnings).most_common()
    while True:  # drop the rarest codes until it fits: never cut JSON in the middle
        text = json.dumps(dict(counts))
        if len(text) <= WARNING_SUMMARY_LIMIT or not counts:
            return text
        counts.pop()


def warning_rows(outcomes: Iterable[Outcome], run_id: str) -> list[WarningRow]:
    return [
        WarningRow(o.app_id, run_id, w.code[:CODE_LIMIT], w.detail[:DETAIL_LIMIT])
        for o in outcomes
        for w in o.warnings
    ]


def reset_target(engine: Engine, schema: Schema) -> None:
    """Delete every migrated row (cascading from the root table) and the whole log; keep the source."""
    with engine.begin() as conn:
        conn.execute(sa.delete(schema.root))
        conn.execute(sa.delete(schema.log))
        conn.execute(sa.delete(schema.warnings))
        conn.execute(sa.delete(schema.runs))


def ledger_problems(engine: Engine, schema: Schema) -> list[str]:
    """Violations of the ledger's invariants (empty when all hold): every app with rows has
    a success as its latest entry, every app whose latest entry is a success has its rows,
    no app succeeds twice with the same document (a changed document, run --changed,
    succeeds again under its new digest), no app is logged twice in one run."""
    log, root = schema.log, schema.root
    key = root.c[root.primary_key.columns.keys()[0]]
    latest_ids = sa.select(sa.func.max(log.c.log_id)).group_by(log.c.app_id)
    success = sa.select(log.c.app_id).where(log.c.status == "success", log.c.log_id.in_(latest_ids))
    checks = {
        "apps with rows but no success entry": sa.select(key).where(key.not_in(success)),
        "success entries without rows": success.where(log.c.app_id.not_in(sa.select(key))),
        "apps that succeeded more than once": sa.select(log.c.app_id)
        .where(log.c.status == "success")
        .group_by(log.c.app_id, log.c.doc_digest)
        .having(sa.func.count() > 1),
        "apps logged twice in one run": sa.select(log.c.app_id)
        .group_by(log.c.app_id, log.c.run_id)
        .having(sa.func.count() > 1),
    }
    problems = []
    with engine.connect() as conn:
        for what, stmt in checks.items():
            ids = [int(r[0]) for r in conn.execute(stmt.limit(10))]
            if ids:
                problems.append(f"{what}: {ids}")
    return problems


def start_run(engine: Engine, schema: Schema, run_id: str, config: dict[str, object]) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(schema.runs),
            {
                "run_id": run_id,
                "started_at": datetime.now(),
                "config": json.dumps(config),
                "cluster_run": config.get("cluster_run"),
            },
        )


def finish_run(
    engine: Engine, schema: Schema, stats: RunStats, config: dict[str, object] | None = None
) -> None:
    """The run's counts, and how its documents filled the contract (added to ``config``, the
    run's stored config, for ``status``)."""
    runs = schema.runs
    with engine.begin() as conn:
        values: dict[str, object] = {
            "finished_at": datetime.now(),
            "records": stats.records,
            "success": stats.success,
            "failed": stats.failed,
            "rejected": stats.rejected,
            "rec_per_min": round(stats.rec_per_min, 1),
        }
        if stats.fit is not None:
            if config is None:
                stored = conn.execute(
                    sa.select(runs.c.config).where(runs.c.run_id == stats.run_id)
                ).scalar()
                config = json.loads(stored) if stored else {}
            values["config"] = json.dumps({**(config or {}), "fit": stats.fit})
        conn.execute(sa.update(runs).where(runs.c.run_id == stats.run_id).values(**values))


def _table_columns(engine: Engine, table: sa.Table) -> set[str]:
    """The columns the database's table of the ledger has (lower case), in one statement."""
    with engine.connect() as conn:
        result = conn.execute(sa.select(sa.text("*")).select_from(table).where(sa.false()))
        present = {str(k).lower() for k in result.keys()}  # noqa: SIM118 (a Result, no dict)
        conn.rollback()
    return present


def log_has_digests(engine: Engine, schema: Schema) -> bool:
    """Whether the log records document digests (an earlier version's does not, until the
    next run adds the column)."""
    return "doc_digest" in _table_columns(engine, schema.log)


def upgrade_ledger(engine: Engine, schema: Schema) -> list[str]:
    """Add to a ``processing_log`` and ``migration_run`` an earlier version created the
    nullable columns this version records (their rows keep NULL there); return them as
    ``table.column``. One statement per table when nothing is missing."""
    backend = engine.dialect.name
    added = []
    for table in (schema.log, schema.runs):
        present = _table_columns(engine, table)
        for column in table.columns:
            if column.name.lower() in present or column.primary_key or not column.nullable:
                continue
            type_sql = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as conn:
                    conn.execute(
                        sa.text(
                            f"ALTER TABLE {quote(backend, table.name)} "
                            f"ADD {quote(backend, column.name)} {type_sql}"
                        )
                    )
            except sa.exc.DBAPIError:  # another run (a partition beside this one) added it
                if column.name.lower() not in _table_columns(engine, table):
                    raise
                continue
            logger.warning(
                "%s was created by an earlier version: added its column %s (recorded from now on)",
                table.name,
                column.name,
            )
            added.append(f"{table.name}.{column.name}")
    return added


@dataclass
class LedgerStatus:
    apps_in_source: int
    by_status: dict[str, int]  # apps by their latest outcome
    pending: int
    top_failures: list[tuple[str, int]]
    recent_runs: list[dict[str, object]]
    # with ``changed=True``: apps whose document changed since their latest outcome was
    # logged (run --changed takes them), and logged apps no longer in the source (an id
    # that moved, a row deleted): their migrated rows describe no document any more
    changed: int | None = None
    gone: int | None = None


def changed_apps(engine: Engine, schema: Schema) -> tuple[int, int]:
    """(documents changed since migration, logged apps no longer in any source). Reads and
    hashes every logged document on the database server."""
    log_t = schema.log
    with engine.connect() as conn:
        changed = sum(
            int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(src)
                    .where(changed_condition(src, log_t, engine))
                ).scalar_one()
            )
            for src in schema.sources
        )
        in_source = [
            sa.select(sa.literal(1)).where(src.c.app_id == log_t.c.app_id).exists()
            for src in schema.sources
        ]
        gone = int(
            conn.execute(
                sa.select(sa.func.count(sa.distinct(log_t.c.app_id))).where(
                    sa.not_(sa.or_(*in_source))
                )
            ).scalar_one()
        )
    return changed, gone


def ledger_status(
    engine: Engine, schema: Schema, runs: int = 10, changed: bool = False
) -> LedgerStatus:
    log = schema.log
    latest = (
        sa.select(log.c.app_id, sa.func.max(log.c.log_id).label("log_id"))
        .group_by(log.c.app_id)
        .subquery()
    )
    with engine.connect() as conn:
        total = sum(
            int(conn.execute(sa.select(sa.func.count()).select_from(src)).scalar_one())
            for src in schema.sources or (schema.source,)
        )
        by_status = {
            str(s): int(n)
            for s, n in conn.execute(
                sa.select(log.c.status, sa.func.count())
                .join(latest, latest.c.log_id == log.c.log_id)
                .group_by(log.c.status)
            )
        }
        grouped: Counter[str] = Counter(
            reason_group(str(r))
            for (r,) in conn.execute(
                sa.select(log.c.reason)
                .join(latest, latest.c.log_id == log.c.log_id)
                .where(log.c.status != "success")
            )
        )
        failures = grouped.most_common(5)
        recent = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(schema.runs).order_by(schema.runs.c.started_at.desc()).limit(runs)
            )
        ]
        pending = sum(
            int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(src)
                    .where(~sa.select(1).where(log.c.app_id == src.c.app_id).exists())
                ).scalar_one()
            )
            for src in schema.sources or (schema.source,)
        )
    status = LedgerStatus(total, by_status, pending, failures, recent)
    if changed:
        status.changed, status.gone = changed_apps(engine, schema)
    return status
