"""Targets from SQLAlchemy URLs: the engine for schema, source and ledger work, and how the
bulk writer connects.

``postgresql+pyodbc://`` has no SQLAlchemy dialect: its engine uses psycopg, while the bulk
writer goes through pyodbc and psqlODBC — the same code path SQL Server users run, exercised
against a real server. ODBC URLs without ``?driver=`` get the driver this platform installs.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url

from xmlmigrate.db.locks import DEFAULT_LOCK_TIMEOUT_S, apply_settings, check_lock_timeout
from xmlmigrate.errors import UserError

DRIVER_HINTS = {
    "pyodbc": "apt-get install unixodbc odbc-postgresql odbc-mariadb (SQL Server: Microsoft's "
    "msodbcsql18), then pip install 'xmlmigrate[odbc]'",
    "psycopg": "pip install 'xmlmigrate[postgres]'",
}
DEFAULT_ODBC_DRIVERS = {
    "postgresql": "PostgreSQL Unicode",
    "mysql": "MariaDB Unicode",
    "mariadb": "MariaDB Unicode",
    "mssql": "ODBC Driver 18 for SQL Server",
}


@dataclass(frozen=True)
class Target:
    url: URL  # what the user gave
    backend: str  # sqlite | postgresql | mysql | mariadb | mssql
    driver: str  # pysqlite | psycopg | pyodbc | ...
    engine_url: URL  # what SQLAlchemy connects with

    @property
    def uses_odbc(self) -> bool:
        return self.driver == "pyodbc"

    def odbc_connection_string(self) -> str:
        """A DSN-less ODBC connection string for the bulk writer."""
        u = self.url
        query = dict(u.query)
        if "odbc_connect" in query:
            return str(query["odbc_connect"])
        driver = str(query.get("driver") or DEFAULT_ODBC_DRIVERS.get(self.backend, ""))
        parts = {"DRIVER": "{" + driver + "}", "SERVER": u.host or "localhost"}
        if u.port and self.backend == "mssql":
            parts["SERVER"] += f",{u.port}"  # SQL Server drivers take host,port
        elif u.port:
            parts["PORT"] = str(u.port)
        if u.database:
            parts["DATABASE"] = u.database
        if u.username:
            parts["UID"] = u.username
        if u.password is not None:
            parts["PWD"] = str(u.password)
        if self.backend == "mssql":
            parts["TrustServerCertificate"] = str(query.get("TrustServerCertificate", "yes"))
        return ";".join(f"{k}={v}" for k, v in parts.items())


def resolve_target(url: str | URL) -> Target:
    u = make_url(url)
    backend = u.get_backend_name()
    driver = u.get_driver_name()
    engine_url = u
    if driver == "pyodbc":
        if backend == "postgresql":
            engine_url = u.set(drivername="postgresql+psycopg", query={})
        elif "driver" not in u.query and "odbc_connect" not in u.query:
            engine_url = u.update_query_dict({"driver": DEFAULT_ODBC_DRIVERS.get(backend, "")})
    return Target(u, backend, driver, engine_url)


def make_engine(
    url: str | URL, poolclass: Any = None, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_S
) -> Engine:
    """The engine of a target; every connection it opens to a server waits at most
    ``lock_timeout`` seconds for a lock (db/locks.py)."""
    target = resolve_target(url)
    kwargs: dict[str, Any] = {}
    if poolclass is not None:
        kwargs["poolclass"] = poolclass
    if target.backend == "mssql":
        kwargs["fast_executemany"] = True
    check_lock_timeout(lock_timeout)
    # psycopg: the lock timeout travels with the connection's startup packet (no statement)
    startup_settings = (
        target.engine_url.get_driver_name() == "psycopg"
        and "options" not in target.engine_url.query
    )
    if startup_settings:
        ms = max(1, round(lock_timeout * 1000))
        kwargs["connect_args"] = {"options": f"-c lock_timeout={ms}"}
    try:
        engine = sa.create_engine(target.engine_url, **kwargs)
    except ImportError as exc:  # the DBAPI module, or the system library it needs
        raise UserError(
            f"the {target.backend}+{target.driver} driver is not available here ({exc}): "
            + DRIVER_HINTS.get(target.driver, f"install the {target.driver} package")
        ) from None
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # Cascading deletes need foreign keys on; WAL lets a reader and the writer overlap.
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            # the document digest (sources.digest_of): what the servers compute themselves
            dbapi_conn.create_function("xmlmigrate_sha256", 1, sha256_hex, deterministic=True)

    elif not startup_settings:
        backend = engine.dialect.name

        @event.listens_for(engine, "connect")
        def _bounded_lock_waits(dbapi_conn: Any, _record: Any) -> None:
            apply_settings(dbapi_conn, backend, lock_timeout)

    _TARGETS[engine] = target
    _LOCK_TIMEOUTS[engine] = lock_timeout
    return engine


def sha256_hex(value: bytes | str | None) -> str | None:
    """A document's digest: SHA-256 (hex) of its bytes (text: of its UTF-8)."""
    if value is None:
        return None
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return hashlib.sha256(data).hexdigest()


_TARGETS: weakref.WeakKeyDictionary[Engine, Target] = weakref.WeakKeyDictionary()
_LOCK_TIMEOUTS: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()


def engine_lock_timeout(engine: Engine) -> float:
    """The lock timeout ``engine``'s connections were given (seconds)."""
    return _LOCK_TIMEOUTS.get(engine, DEFAULT_LOCK_TIMEOUT_S)


def engine_target(engine: Engine) -> Target:
    """The target an engine was made for (its URL may differ: postgresql+pyodbc)."""
    return _TARGETS.get(engine) or resolve_target(engine.url)


def check_url(url: str) -> None:
    """Raise :class:`~xmlmigrate.errors.UserError` for a database URL that cannot work, with a
    hint (a bare file name gets ``sqlite:///NAME``)."""
    try:
        u = resolve_target(url).engine_url  # postgresql+pyodbc has no SQLAlchemy dialect
        u.get_dialect()
        if u.port is not None and not 0 < u.port < 65536:  # not a number fails already
            raise ValueError(f"port {u.port} is not in 1..65535")
    except Exception as exc:
        hint = ""
        if "://" not in url:
            hint = f"; for a SQLite file write sqlite:///{url}"
        message = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise UserError(f"bad database URL {redact_url(url)!r}: {message}{hint}") from None


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a ``sqlite:///FILE`` URL (None for other databases and memory)."""
    try:
        u = make_url(url)
    except Exception:
        return None
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def redact_url(url: str | sa.URL) -> str:
    """The URL as it may be printed: never with its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"
