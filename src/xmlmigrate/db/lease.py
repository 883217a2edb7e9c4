"""The run lease: two runs never process the same apps of one target at once.

A run claims the part of ``app_xml`` it takes (everything, an app-id range, a modulo
partition, or both) before it reads a page. Claims are rows of ``migration_lease``; each is
alive while its run holds a session lock in the database (PostgreSQL advisory lock, MariaDB
``GET_LOCK``, SQL Server ``sp_getapplock``), so a run killed with SIGKILL loses its lease
the moment its connection closes and its row is swept by the next claim. Claims are made
one at a time under a second, short lock, so two runs starting together cannot both see the
other's part as free. A claim that overlaps a live one is refused with
:class:`~xmlmigrate.errors.LeaseBusy` naming the other run; disjoint partitions run side by
side.

The lease also *fences* the run's writes: every batch transaction first takes a shared lock
on the run's own lease row (:func:`fence_sql`) and gives up with :class:`LeaseLost` when the
row is gone. A claim sweeps a dead run's row with a DELETE, which waits for a batch holding
that shared lock to commit; so once a twin (a retried partition, a rerun) has claimed the
apps, the run that lost its lease — its lease connection dropped while it kept running —
cannot commit another batch, and the twin sees every batch it did commit as logged.

SQLite has one writer: a run takes an exclusive ``flock`` on a file beside the database, and
a second run on the same file is refused whatever its partition. The run removes the file
when it ends, still holding the lock; a run that locked the file it had opened checks that
the name still leads to it, and starts over when it was removed (or replaced) meanwhile — so
two runs never both hold a lock, one on the removed file and one on its successor.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from math import gcd
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from xmlmigrate.db.engine import engine_lock_timeout
from xmlmigrate.db.layout import LEASE_TABLE
from xmlmigrate.db.locks import is_lock_timeout, lock_holders
from xmlmigrate.errors import LeaseBusy, LeaseLost
from xmlmigrate.identifiers import quote

log = logging.getLogger(__name__)

MUTEX_KEY = 0x786D6C6D69677201  # "xmlmigr" + 1: the claim mutex (PostgreSQL)
MUTEX_NAME = "xmlmigrate_lease_claim"  # + the database: MariaDB's named locks are server-wide
CLAIM_TIMEOUT_S = 30
QUIET_WAIT_S = 1.0  # a claim waits this long for the claim lock before it says whom it waits for


@dataclass(frozen=True, slots=True)
class Partition:
    """The apps a run takes: ``start <= app_id <= end`` (None: unbounded) and
    ``app_id % modulo == instance`` (modulo None: every app)."""

    start: int | None = None
    end: int | None = None
    modulo: int | None = None
    instance: int = 0

    def overlaps(self, other: Partition) -> bool:
        """Whether some app id belongs to both (exact: the Chinese remainder theorem gives the
        ids both residue classes share, then one of them must lie in both ranges)."""
        lo = max(_low(self.start), _low(other.start))
        hi = min(_high(self.end), _high(other.end))
        if lo > hi:
            return False
        m1, m2 = self.modulo or 1, other.modulo or 1
        i1, i2 = self.instance if self.modulo else 0, other.instance if other.modulo else 0
        g = gcd(m1, m2)
        if (i2 - i1) % g:
            return False  # no id is in both residue classes
        if lo == float("-inf") or hi == float("inf"):
            return True
        step = m1 // g * m2  # the shared ids are common + k * step
        m2g = m2 // g
        t = (i2 - i1) // g * pow(m1 // g, -1, m2g) % m2g if m2g > 1 else 0
        common = i1 + m1 * t
        first = int(lo) + (common - int(lo)) % step  # the first shared id >= lo
        return first <= hi

    def describe(self) -> str:
        parts = []
        if self.start is not None or self.end is not None:
            parts.append(
                f"app ids {self.start if self.start is not None else '…'}"
                f"–{self.end if self.end is not None else '…'}"
            )
        if self.modulo is not None:
            parts.append(f"app_id % {self.modulo} = {self.instance}")
        return ", ".join(parts) or "every app"


def _low(v: int | None) -> float:
    return float("-inf") if v is None else v


def _high(v: int | None) -> float:
    return float("inf") if v is None else v


def mutex_name(database: str | None) -> str:
    """The claim mutex of one database (MariaDB's GET_LOCK names are server-wide: runs on two
    databases of one server must not queue behind each other); at most 64 characters."""
    name = f"{MUTEX_NAME}:{database or ''}"
    if len(name) > 64:
        name = f"{MUTEX_NAME}:{hashlib.sha256(name.encode()).hexdigest()[:40]}"
    return name


def _same_file(handle: IO[str], path: Path) -> bool:
    """Whether ``path`` still names the file ``handle`` has open."""
    try:
        named = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(handle.fileno())
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _owner() -> str:
    return f"{socket.gethostname()[:150]} pid {os.getpid()}"


class _SessionLocks:
    """The database's session-level named locks (all non-blocking but the mutex)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.name = conn.dialect.name
        self.mutex = mutex_name(conn.engine.url.database)
        # a claim waits no longer than the run waits for any lock (--lock-timeout)
        self.timeout = max(1, round(min(CLAIM_TIMEOUT_S, engine_lock_timeout(conn.engine))))

    def _scalar(self, sql: str, **params: Any) -> Any:
        return self.conn.execute(sa.text(sql), params).scalar()

    def lock_mutex(self) -> None:
        """The claim mutex, held until the claim's transaction ends (MariaDB: until
        :meth:`unlock_mutex`, having no transaction-scoped named lock). A claim that finds it
        taken says by whom, then waits at most ``self.timeout`` (every later statement of
        the claim's transaction too: a dead run's row held by a suspended batch)."""
        if self.name in ("mysql", "mariadb"):  # back to the run's own in unlock_mutex
            self.conn.execute(sa.text(f"SET SESSION innodb_lock_wait_timeout = {self.timeout}"))
        if self._try_mutex():
            return
        if self._try_mutex(QUIET_WAIT_S):  # partitions of one cluster run claim together
            return
        holder = self.mutex_holder()
        log.warning(
            "another run is claiming its apps (the lease-claim lock is held by %s): waiting "
            "up to %d s for it",
            holder,
            self.timeout,
        )
        if not self._wait_mutex():
            raise LeaseBusy(
                f"could not take the lease-claim lock within {self.timeout} s: it is held by "
                f"{holder} — a run stuck while claiming (a suspended process?); end that "
                "process or its session, then rerun"
            )

    def _try_mutex(self, wait_s: float = 0) -> bool:
        """Take the claim mutex if it is free within ``wait_s`` seconds (0: at once)."""
        if self.name == "postgresql":  # polled: a lock wait that times out aborts the claim
            deadline = time.monotonic() + wait_s
            # the first try also bounds every later lock wait of the claim's transaction
            first = (
                "SELECT pg_try_advisory_xact_lock(:k) "
                "FROM (SELECT set_config('lock_timeout', :ms, true)) AS bounded"
            )
            got = self._scalar(first, k=MUTEX_KEY, ms=str(self.timeout * 1000))
            while not got:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)
                got = self._scalar("SELECT pg_try_advisory_xact_lock(:k)", k=MUTEX_KEY)
            return True
        if self.name in ("mysql", "mariadb"):
            return bool(self._scalar("SELECT GET_LOCK(:n, :t)", n=self.mutex, t=wait_s) == 1)
        if self.name == "mssql":
            return self._applock(self.mutex, round(wait_s * 1000), "Transaction") >= 0
        return True

    def _wait_mutex(self) -> bool:
        if self.name == "postgresql":
            try:  # bounded by the transaction's lock_timeout (set above)
                self._scalar("SELECT pg_advisory_xact_lock(:k)", k=MUTEX_KEY)
            except sa.exc.DBAPIError as exc:
                if not is_lock_timeout(exc):
                    raise
                return False
            return True
        if self.name in ("mysql", "mariadb"):
            got = self._scalar("SELECT GET_LOCK(:n, :t)", n=self.mutex, t=self.timeout)
            return bool(got == 1)
        if self.name == "mssql":  # -1 timeout, -2 cancelled, -3 deadlock victim, -999 bad call
            return self._applock(self.mutex, self.timeout * 1000, "Transaction") >= 0
        return True

    def mutex_holder(self) -> str:
        """Who holds the claim mutex, as a phrase (best effort: never raises)."""
        try:
            if self.name == "postgresql":
                row = self.conn.execute(
                    sa.text(
                        "SELECT a.pid, a.application_name, a.client_addr, a.state, "
                        "  EXTRACT(EPOCH FROM now() - a.xact_start)::int "
                        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                        "  AND l.classid = CAST(:hi AS oid) AND l.objid = CAST(:lo AS oid) "
                        # advisory locks are per database: a run on another database of the
                        # server holding its own claim mutex is not whom this one waits for
                        "  AND l.database = "
                        "    (SELECT oid FROM pg_database WHERE datname = current_database())"
                    ),
                    {"hi": MUTEX_KEY >> 32, "lo": MUTEX_KEY & 0xFFFFFFFF},
                ).first()
                if row is not None:
                    pid, app, addr, state, age = row
                    return (
                        f"session pid {pid} ({app or 'no application name'} from "
                        f"{addr or 'a local socket'}, {state}, in its transaction for {age} s)"
                    )
            elif self.name in ("mysql", "mariadb"):
                row = self.conn.execute(
                    sa.text(
                        "SELECT p.ID, p.USER, p.HOST, p.COMMAND, p.TIME "
                        "FROM information_schema.PROCESSLIST p WHERE p.ID = IS_USED_LOCK(:n)"
                    ),
                    {"n": self.mutex},
                ).first()
                if row is not None:
                    cid, user, host, command, age = row
                    return f"connection {cid} ({user}@{host}, {command} for {age} s)"
        except sa.exc.SQLAlchemyError:
            log.debug("could not find the claim mutex's holder", exc_info=True)
        return "another session"

    def unlock_mutex(self) -> None:
        if self.name in ("mysql", "mariadb"):
            self._scalar("SELECT RELEASE_LOCK(:n)", n=self.mutex)
            run_timeout = max(1, round(engine_lock_timeout(self.conn.engine)))
            self.conn.execute(sa.text(f"SET SESSION innodb_lock_wait_timeout = {run_timeout}"))

    def take(self, run_id: str) -> bool:
        if self.name == "postgresql":
            return bool(self._scalar("SELECT pg_try_advisory_lock(:k)", k=_key(run_id)))
        if self.name in ("mysql", "mariadb"):
            return bool(self._scalar("SELECT GET_LOCK(:n, 0)", n=_lock_name(run_id)) == 1)
        if self.name == "mssql":
            return self._applock(_lock_name(run_id), 0) >= 0
        return True

    def held_elsewhere(self, run_id: str) -> bool:
        """Whether another session holds ``run_id``'s lock (its run is alive)."""
        if self.name == "postgresql":
            if self.take(run_id):  # free: give it back at once (other runs' locks end
                self._scalar("SELECT pg_advisory_unlock(:k)", k=_key(run_id))  # with sessions)
                return False
            return True
        if self.name in ("mysql", "mariadb"):
            return self._scalar("SELECT IS_USED_LOCK(:n)", n=_lock_name(run_id)) is not None
        if self.name == "mssql":
            free = self._scalar(
                "SELECT APPLOCK_TEST('public', :n, 'Exclusive', 'Session')", n=_lock_name(run_id)
            )
            return bool(free == 0)
        return False

    def _applock(self, resource: str, timeout_ms: int, owner: str = "Session") -> int:
        """sp_getapplock's result: >= 0 granted, < 0 not (timeout, deadlock, ...)."""
        # NOCOUNT: the SELECT's row must be the batch's first result for the driver
        sql = (
            "SET NOCOUNT ON; DECLARE @r int; EXEC @r = sp_getapplock @Resource = :n, "
            f"@LockOwner = '{owner}', @LockMode = 'Exclusive', @LockTimeout = :t; SELECT @r"
        )
        return int(self._scalar(sql, n=resource, t=timeout_ms) or 0)


def fence_sql(backend: str, mark: str = "?") -> str:
    """The statement a batch runs first in its transaction: the run's own lease row, locked
    shared until the transaction ends (a claim's DELETE of it waits); no row means the lease
    is lost. ``mark`` is the driver's parameter marker (``?`` ODBC, ``%s`` psycopg)."""
    table = quote(backend, LEASE_TABLE)
    run_id = quote(backend, "run_id")
    if backend == "mssql":  # HOLDLOCK keeps the shared lock to the end of the transaction
        return f"SELECT 1 FROM {table} WITH (HOLDLOCK, ROWLOCK) WHERE {run_id} = {mark}"
    if backend in ("mysql", "mariadb"):
        return f"SELECT 1 FROM {table} WHERE {run_id} = {mark} LOCK IN SHARE MODE"
    return f"SELECT 1 FROM {table} WHERE {run_id} = {mark} FOR SHARE"


def lease_lost(run_id: str) -> LeaseLost:
    return LeaseLost(
        f"run {run_id[:12]} lost its lease: its lease connection was closed and another run "
        "has claimed its apps; this batch was not written (its apps stay pending for that run)"
    )


def _key(run_id: str) -> int:
    return int(run_id[:15], 16)  # 60 bits: a positive bigint


def _lock_name(run_id: str) -> str:
    return f"xmlmigrate_lease_{run_id}"[:64]


class Lease:
    """Held for the duration of a run (``with Lease(...)``); see the module docstring."""

    def __init__(self, engine: Engine, table: sa.Table, partition: Partition, run_id: str) -> None:
        self.engine = engine
        self.table = table
        self.partition = partition
        self.run_id = run_id
        self._conn: Connection | None = None
        self._file: IO[str] | None = None
        self._path: Path | None = None  # the SQLite lease file, removed on release

    @property
    def connection(self) -> Connection | None:
        """The connection holding the lease (servers), free for the run's own reads; it
        must stay in this thread's or one reader's hands until :meth:`release`."""
        return self._conn

    def __enter__(self) -> Lease:
        if self.engine.dialect.name == "sqlite":
            self._lock_sqlite_file()
        else:
            self._claim()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.release()

    # -- SQLite -----------------------------------------------------------------------------
    def _lock_sqlite_file(self) -> None:
        database = self.engine.url.database
        if not database or database == ":memory:":
            return  # a private database: nobody else can write to it
        try:
            import fcntl
        except ImportError:  # not on this platform: SQLite's own locking still applies
            return
        path = Path(f"{database}.xmlmigrate-lease")
        for _ in range(100):  # a new try each time the holder removed the file meanwhile
            handle = path.open("a+", encoding="utf-8")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise LeaseBusy(
                    f"another run is writing to this SQLite file ({holder}); SQLite has one "
                    "writer: wait for it, or use a server database to run partitions side by side"
                ) from None
            if _same_file(handle, path):
                break
            handle.close()  # locked a file its holder removed on release: open the name again
        else:
            raise LeaseBusy(f"{path} keeps being removed and recreated: another run is starting")
        handle.seek(0)
        handle.truncate()
        handle.write(f"run {self.run_id[:12]} on {_owner()}\n")
        handle.flush()
        self._file, self._path = handle, path
        log.info("lease taken: %s locked for run %s", path, self.run_id[:12])

    # -- servers ----------------------------------------------------------------------------
    def _claim(self) -> None:
        conn = self.engine.connect()
        self._conn = conn
        locks = _SessionLocks(conn)
        try:
            locks.lock_mutex()
            try:
                busy = self._live_overlaps(conn, locks)
                if busy:
                    raise LeaseBusy(busy)
                if not locks.take(self.run_id):
                    raise LeaseBusy(f"could not take the lease lock of run {self.run_id}")
                p = self.partition
                conn.execute(
                    sa.insert(self.table),
                    {
                        "run_id": self.run_id,
                        "app_id_start": p.start,
                        "app_id_end": p.end,
                        "modulo": p.modulo,
                        "modulo_instance": p.instance if p.modulo else None,
                        "owner": _owner(),
                        "acquired_at": datetime.now(),
                    },
                )
                conn.commit()  # ends the claim's transaction: PostgreSQL's mutex goes with it
            finally:
                locks.unlock_mutex()
        except BaseException:
            self.release()
            raise
        log.info("lease taken for %s (run %s)", self.partition.describe(), self.run_id[:12])

    def _live_overlaps(self, conn: Connection, locks: _SessionLocks) -> str | None:
        t = self.table
        stale = []
        owners: dict[Any, str] = {}
        for row in conn.execute(sa.select(t)).mappings().all():
            owners[row["run_id"]] = str(row["owner"])
            other = Partition(
                row["app_id_start"], row["app_id_end"], row["modulo"], row["modulo_instance"] or 0
            )
            if not locks.held_elsewhere(str(row["run_id"])):
                stale.append(row["run_id"])
                continue
            if other.overlaps(self.partition):
                return (
                    f"run {str(row['run_id'])[:12]} ({row['owner']}, since "
                    f"{row['acquired_at']:%Y-%m-%d %H:%M:%S}) is processing {other.describe()}, "
                    f"which overlaps {self.partition.describe()}: wait for it to finish, or "
                    "give this run a disjoint --app-id-start/--app-id-end or --modulo partition"
                )
        if stale:  # runs that died without giving their lease back (committed with the claim)
            try:  # waits for a batch of theirs still holding the fence: bounded (lock_mutex)
                conn.execute(sa.delete(t).where(t.c.run_id.in_(stale)))
            except sa.exc.DBAPIError as exc:
                if not is_lock_timeout(exc):
                    raise
                dead = ", ".join(f"run {str(r)[:12]} ({owners[r]})" for r in stale)
                raise LeaseBusy(
                    f"{dead} lost its lease but a batch of it is still open on the database "
                    f"(a suspended process, or a connection the server has not dropped yet); "
                    f"its apps cannot be claimed before that transaction ends — waited "
                    f"{locks.timeout} s; {lock_holders(self.engine, [LEASE_TABLE])}; end that "
                    "process or session, then rerun"
                ) from None
        return None

    def release(self) -> None:
        if self._file is not None:
            if self._path is not None:  # removed while locked: see the module docstring
                try:
                    self._path.unlink(missing_ok=True)
                except OSError:
                    log.debug("could not remove %s", self._path, exc_info=True)
            self._file.close()  # closing the descriptor releases the flock
            self._file = self._path = None
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.rollback()
            conn.execute(sa.delete(self.table).where(self.table.c.run_id == self.run_id))
            conn.commit()
        except sa.exc.SQLAlchemyError:  # the server is gone: so is the session lock
            log.debug("lease release failed", exc_info=True)
        finally:
            # closing the session gives its lock back; never pool a connection holding one
            conn.invalidate()
            conn.close()
