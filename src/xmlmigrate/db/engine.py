"""Targets from SQLAlchemy URLs: the engine for schema, source and ledger work, and how the
bulk writer connects.

``postgresql+pyodbc://`` has no SQLAlchemy dialect: its engine uses psycopg, while the bulk
writer goes through pyodbc and psqlODBC — the same code path SQL Server users run, exercised
against a real server. ODBC URLs without ``?driver=`` get the driver this platform installs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
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
    # (not when the URL or a service file sets options: an explicit one would replace theirs;
    # PGOPTIONS from the environment is kept in front of it)
    query = target.engine_url.query
    startup_settings = (
        target.engine_url.get_driver_name() == "psycopg"
        and "options" not in query
        and "service" not in query
        and not os.environ.get("PGSERVICE")
    )
    if startup_settings:
        ms = max(1, round(lock_timeout * 1000))
        given = os.environ.get("PGOPTIONS", "").strip()
        kwargs["connect_args"] = {"options": f"{given} -c lock_timeout={ms}".strip()}
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


_BARE_SERVER = re.compile(r"(?:[^@/\s]+@)?[\w.-]+:\d+(?:/.*)?")  # [user@]host:port[/db]
# schemes without a driver that do not work here, and what to write instead
_SCHEME_FIXES = {
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pyodbc",
    "mariadb": "mysql+pyodbc",
}
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433}
ODBC_DRIVER_HINTS = {
    "mssql": "install Microsoft's msodbcsql18 (from packages.microsoft.com: ACCEPT_EULA=Y "
    "apt-get install msodbcsql18)",
    "postgresql": "apt-get install odbc-postgresql",
    "mysql": "apt-get install odbc-mariadb",
    "mariadb": "apt-get install odbc-mariadb",
}


def _url_fix(url: str) -> str | None:
    """What to write instead of a URL that names no usable dialect (password hidden)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        if _BARE_SERVER.fullmatch(url):
            return (
                f"for a PostgreSQL server write {redact_url('postgresql+psycopg://' + url)} "
                "(MariaDB: mysql+pyodbc://..., SQL Server: mssql+pyodbc://...)"
            )
        return None
    better = _SCHEME_FIXES.get(scheme.lower())
    if better is None or (better == "mysql+pyodbc" and importlib.util.find_spec("MySQLdb")):
        return None
    hint = f"write {redact_url(better + '://' + rest)}"
    if better == "mysql+pyodbc":
        hint += " (needs apt-get install unixodbc odbc-mariadb, pip install 'xmlmigrate[odbc]')"
    return hint


def check_url(url: str) -> None:
    """Raise :class:`~xmlmigrate.errors.UserError` for a database URL that cannot work, with a
    hint: the scheme to write (``postgresql+psycopg://``, ``mysql+pyodbc://``), three slashes
    for a SQLite file, ``sqlite:///NAME`` for a bare file name."""
    fix = _url_fix(url)
    if fix is not None:
        shown = redact_url(url) if "://" in url else "without a scheme"
        raise UserError(f"bad database URL ({shown}): {fix}")
    try:
        u = resolve_target(url).engine_url  # postgresql+pyodbc has no SQLAlchemy dialect
        u.get_dialect()
        if u.port is not None and not 0 < u.port < 65536:  # not a number fails already
            raise ValueError(f"port {u.port} is not in 1..65535")
        if u.get_backend_name() == "sqlite" and u.host:
            raise ValueError(
                f"a SQLite file takes three slashes: sqlite:///{u.host}{u.database or ''}"
            )
    except Exception as exc:
        hint = ""
        if "://" not in url:
            hint = f"; for a SQLite file write sqlite:///{url}"
        message = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise UserError(f"bad database URL {redact_url(url)!r}: {message}{hint}") from None


def connect_problem(exc: BaseException, url: str | URL) -> str | None:
    """What the user must fix when the first connection of a command failed with ``exc`` (a
    missing database or role, a wrong password, a refused port, an unknown host, an ODBC
    driver not installed); None when the server or the network failed (exit 3: retry)."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split())
    try:
        u = make_url(url)
        backend = u.get_backend_name()
    except Exception:
        return None
    host = u.host or "localhost"
    port = u.port or _DEFAULT_PORTS.get(backend)
    where = f"{host}:{port}" if port else host

    def found(pattern: str) -> re.Match[str] | None:
        return re.search(pattern, text, re.IGNORECASE)

    if m := found(r'database "([^"]+)" does not exist'):
        return (
            f'database "{m[1]}" does not exist on {where}: create it (createdb {m[1]}) or fix --db'
        )
    if m := found(r"Unknown database '([^']+)'"):
        return (
            f'database "{m[1]}" does not exist on {where}: create it (CREATE DATABASE {m[1]}) '
            "or fix --db"
        )
    if m := found(r'role "([^"]+)" does not exist'):
        return (
            f'role "{m[1]}" does not exist on {where}: fix the user name in --db (or create the '
            f"role: createuser {m[1]})"
        )
    if m := found(r'password authentication failed for user "([^"]+)"'):
        return (
            f'password authentication failed for user "{m[1]}" on {where}: fix the password in --db'
        )
    if found(r"no password supplied|password is required"):
        return f"the server at {where} wants a password: give it in --db (USER:PASSWORD@HOST)"
    if m := found(r"Access denied for user '([^']*)'"):
        return (
            f"access denied for user '{m[1]}' on {where}: fix the user name or password in --db "
            "(or grant the user access)"
        )
    if found(r"no pg_hba\.conf entry"):
        return (
            f"the server at {where} does not accept this user, database or client address "
            "(pg_hba.conf): fix --db or the server's pg_hba.conf"
        )
    if found(r"connection refused|Can't connect to (?:MySQL )?server on|\(111\)"):
        return f"connection refused at {where}: is the server running and the port right?"
    if found(
        r"resolve host|translate host name|Name or service not known|Unknown (?:MySQL )?server "
        r"host|nodename nor servname|Temporary failure in name resolution"
    ):
        return f"unknown host {host}: fix the host name in --db"
    if found(r"IM002|Data source name not found|Can't open lib"):
        query = dict(u.query)
        driver = str(query.get("driver") or DEFAULT_ODBC_DRIVERS.get(backend, "?"))
        how = ODBC_DRIVER_HINTS.get(backend, "install it")
        return (
            f"the ODBC driver {driver!r} is not installed here: {how}, or name an installed one "
            "with ?driver=... in --db (odbcinst -q -d lists them)"
        )
    return None


def check_connection(url: str) -> None:
    """Before a command starts anything: a SQLite file's directory exists; a server accepts a
    connection. Mistakes in --db raise :class:`UserError` (exit 2) with what to fix — the
    same failures later, mid-run, are the database's (exit 3)."""
    path = sqlite_file(url)
    if path is not None:
        if not path.parent.exists():
            raise UserError(
                f"directory {path.parent} does not exist: create it (mkdir -p {path.parent}) "
                "or fix --db"
            )
        return
    if resolve_target(url).backend == "sqlite":
        return  # in memory
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect():
            pass
    except Exception as exc:
        hint = connect_problem(exc, url)
        if hint is None:
            raise
        raise UserError(hint) from None
    finally:
        engine.dispose()


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
