"""Bounded lock waits: every connection the tool opens to a server gives up waiting for a lock
after ``lock_timeout`` seconds, and the error then names the sessions in its way.

A run must never wait forever: an ``ALTER TABLE`` queued behind an open transaction, a
suspended process holding a row lock, a claim queued behind them — each is a line naming the
other session and exit 3 (a rerun continues), never a silent hang. PostgreSQL's
``lock_timeout`` (table, row and advisory locks), MariaDB's ``innodb_lock_wait_timeout`` (rows)
and ``lock_wait_timeout`` (tables, DDL), SQL Server's ``SET LOCK_TIMEOUT``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT_S = 60.0
MAX_LOCK_TIMEOUT_S = 86_400.0  # a day: longer is no bound at all

# what each server says when a lock wait ran out (driver messages differ, the words do not)
_TIMED_OUT = re.compile(
    r"lock timeout|lock wait timeout exceeded|lock request time out period exceeded|"
    r"LockNotAvailable|55P03",
    re.IGNORECASE,
)


def check_lock_timeout(seconds: float) -> float:
    if not 0 < seconds <= MAX_LOCK_TIMEOUT_S:
        raise ValueError(
            f"the lock timeout must be more than 0 and at most {MAX_LOCK_TIMEOUT_S:.0f} "
            f"seconds, got {seconds:g}"
        )
    return seconds


def session_settings(backend: str, seconds: float) -> list[str]:
    """The statements that bound a new session's lock waits (numbers only: nothing a user
    typed reaches them but a checked float)."""
    check_lock_timeout(seconds)
    ms = max(1, round(seconds * 1000))
    whole = max(1, round(seconds))  # MariaDB takes whole seconds
    if backend == "postgresql":
        return [f"SET lock_timeout = {ms}"]
    if backend in ("mysql", "mariadb"):
        return [
            f"SET SESSION innodb_lock_wait_timeout = {whole}",
            f"SET SESSION lock_wait_timeout = {whole}",
        ]
    if backend == "mssql":
        return [f"SET LOCK_TIMEOUT {ms}"]
    return []


def apply_settings(dbapi_conn: Any, backend: str, seconds: float) -> None:
    """Run :func:`session_settings` on a fresh DB-API connection and end the transaction the
    statements may have opened."""
    statements = session_settings(backend, seconds)
    if not statements:
        return
    cur = dbapi_conn.cursor()
    try:
        for sql in statements:
            cur.execute(sql)
    finally:
        cur.close()
    if not getattr(dbapi_conn, "autocommit", False):
        dbapi_conn.commit()


def is_lock_timeout(exc_or_text: BaseException | str) -> bool:
    """Whether an error (or its message) is a lock wait that ran out."""
    if isinstance(exc_or_text, str):
        return bool(_TIMED_OUT.search(exc_or_text))
    seen: set[int] = set()
    current: BaseException | None = exc_or_text
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _TIMED_OUT.search(f"{type(current).__name__}: {current}"):
            return True
        current = getattr(current, "orig", None) or current.__cause__
    return False


# what each server knows of the other sessions in the way (a row each, the longest first)
_PG_HOLDERS = sa.text(
    "SELECT a.pid, a.usename, a.application_name, a.state, "
    "  EXTRACT(EPOCH FROM now() - COALESCE(a.xact_start, a.query_start))::int AS age, "
    "  left(regexp_replace(a.query, '\\s+', ' ', 'g'), 80) AS query, "
    "  bool_and(l.granted) AS holds "
    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.pid <> pg_backend_pid() AND a.datname = current_database() "
    "  AND (l.locktype = 'advisory' OR l.relation IN "
    "       (SELECT oid FROM pg_class WHERE relname = ANY(:names))) "
    "GROUP BY a.pid, a.usename, a.application_name, a.state, a.xact_start, "
    "  a.query_start, a.query "
    "ORDER BY age DESC NULLS LAST LIMIT 3"
)
_MARIADB_HOLDERS = sa.text(
    "SELECT p.ID, p.USER, p.HOST, p.COMMAND, p.TIME, p.STATE, "
    "  LEFT(REPLACE(COALESCE(p.INFO, ''), '\\n', ' '), 80) "
    "FROM information_schema.PROCESSLIST p "
    "WHERE p.ID <> CONNECTION_ID() AND p.DB = DATABASE() AND (p.INFO IS NOT NULL "
    "  OR p.ID IN (SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX)) "
    "ORDER BY p.TIME DESC LIMIT 3"
)
_MSSQL_HOLDERS = sa.text(
    "SELECT TOP 3 s.session_id, s.login_name, s.host_name, s.status "
    "FROM sys.dm_exec_sessions s WHERE s.session_id <> @@SPID "
    "AND s.database_id = DB_ID() AND s.open_transaction_count > 0"
)


def _pg_holders(conn: Connection, tables: Sequence[str]) -> list[str]:
    out = []
    for pid, user, app, state, age, query, holds in conn.execute(
        _PG_HOLDERS, {"names": list(tables)}
    ):
        who = f"pid {pid} ({user}{', ' + app if app else ''})"
        doing = f"{state or 'unknown'} for {age} s" if age is not None else state or "unknown"
        out.append(f"{who} {'holding' if holds else 'waiting'}, {doing}: {query}")
    return out


def _mariadb_holders(conn: Connection) -> list[str]:
    return [
        f"connection {cid} ({user}@{host}), {command} for {age} s"
        f"{', ' + state if state else ''}: {info or '(an open transaction)'}"
        for cid, user, host, command, age, state, info in conn.execute(_MARIADB_HOLDERS)
    ]


def _mssql_holders(conn: Connection) -> list[str]:
    rows = conn.execute(_MSSQL_HOLDERS)
    return [f"session {sid} ({login}@{host}), {status}" for sid, login, host, status in rows]


def lock_holders(engine: Engine, tables: Sequence[str]) -> str:
    """The other sessions holding (or queued for) locks on ``tables`` — or, where the server
    cannot tell per table, holding an open transaction in the database — as one phrase. Runs
    on a fresh connection; a failure to find out says so instead of raising."""
    try:
        with engine.connect() as conn:
            name = conn.dialect.name
            if name == "postgresql":
                found = _pg_holders(conn, tables)
            elif name in ("mysql", "mariadb"):
                found = _mariadb_holders(conn)
            elif name == "mssql":
                found = _mssql_holders(conn)
            else:
                found = []
            conn.rollback()
    except Exception as exc:  # diagnosing must never hide the error being diagnosed
        log.debug("could not list lock holders", exc_info=True)
        return f"the sessions in the way could not be listed ({type(exc).__name__})"
    if not found:
        return "no other session holds a lock now (it has ended since)"
    return "in the way: " + "; ".join(found)


def lock_timeout_message(what: str, seconds: float, engine: Engine, tables: Sequence[str]) -> str:
    """The one line of a lock wait that ran out."""
    return (
        f"{what} waited {seconds:g} s for a database lock and gave up (--lock-timeout); "
        f"{lock_holders(engine, tables)} — end that session or wait for it, then rerun: "
        "committed batches stay, the rest stays pending"
    )
