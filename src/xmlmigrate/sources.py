"""Reading ``app_xml``: keyset pages by ``app_id`` (never OFFSET), skipping every app the log
already accounts for, optionally restricted to an id range or to one of N modulo partitions.

The source is the user's table: :func:`check_source` refuses, before anything is read, a
table whose columns are not what the keyset walk needs (an integer ``app_id``, a text or
binary ``xml``) or whose rows could not be read or logged (a NULL app id; in SQLite, whose
columns accept any value, an app id stored as text or a real number) — such rows would
otherwise be skipped silently or read again forever. A NULL ``xml`` is read and rejected.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from xmlmigrate.config import MigrationConfig
from xmlmigrate.db.engine import engine_lock_timeout, sha256_hex
from xmlmigrate.db.locks import is_lock_timeout, lock_timeout_message
from xmlmigrate.db.schema import Schema
from xmlmigrate.errors import InfrastructureError, SourceError, SourceMissing
from xmlmigrate.identifiers import quote
from xmlmigrate.model import RawRecord

DOCUMENT_TYPES = (sa.String, sa.LargeBinary)
PAGE_READ = "xmlmigrate_page_read"  # marks page reads for probes that count other statements  # TEXT, VARCHAR, CLOB, NVARCHAR(max), BLOB ...


def _columns(engine: Engine, table: sa.Table) -> tuple[str, dict[str, dict[str, Any]]] | None:
    """The source table's real name and its columns (name, type, nullable, primary_key) by
    lower-cased name, or None if there is no such table. On PostgreSQL one catalog query: the
    inspector's first call there also loads every enum and domain of the database, which
    costs more than a whole small run."""
    backend = engine.dialect.name
    if backend != "postgresql":
        inspector = sa.inspect(engine)
        try:  # the name as given: one catalog query; else the table in another case
            columns = inspector.get_columns(table.name, schema=table.schema)
            real: str | None = table.name
        except sa.exc.NoSuchTableError:
            names = inspector.get_table_names(schema=table.schema)
            real = next((n for n in names if n.lower() == table.name.lower()), None)
            if real is None:
                return None
            columns = inspector.get_columns(real, schema=table.schema)
        # SQLite's entries say "primary_key" too
        return str(real), {str(c["name"]).lower(): dict(c) for c in columns}
    types = engine.dialect.ischema_names  # type: ignore[attr-defined]
    query = sa.text(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
        "FROM pg_attribute a WHERE a.attrelid = to_regclass(:t) AND a.attnum > 0 "
        "AND NOT a.attisdropped"
    )
    qualifier = f"{quote(backend, table.schema)}." if table.schema else ""
    with engine.connect() as conn:
        for name in dict.fromkeys((table.name, table.name.lower())):
            rows = conn.execute(query, {"t": qualifier + quote(backend, name)}).all()
            if rows:
                break
        else:
            return None
    out = {}
    for col, type_name, not_null in rows:
        base = str(type_name).split("(")[0].strip()
        type_class = types.get(base, sa.types.NullType)
        out[str(col).lower()] = {"name": col, "type": type_class(), "nullable": not not_null}
    return name, out


def _label(table: sa.Table) -> str:
    return f"{table.schema}.{table.name}" if table.schema else table.name


def check_source(engine: Engine, schema: Schema) -> Schema:
    """``schema`` with each source table as the database spells it (a contract's
    ``app_XML`` is PostgreSQL's ``app_xml`` when it was created unquoted); raise
    :class:`SourceError` when one is missing or cannot be walked as it is (see the module)."""
    resolved = tuple(_check_one(engine, schema, src) for src in schema.sources)
    return replace(schema, sources=resolved)


def _check_one(engine: Engine, schema: Schema, src: sa.Table) -> sa.Table:
    label = _label(src)
    key_name, doc_name = src.c.app_id.name, src.c.xml.name
    found = _columns(engine, src)
    if found is None:
        raise SourceMissing(
            f"the database has no table {label!r}: create and fill it with "
            f"'xmlmigrate generate --count N --db URL', or load your documents into "
            f"{label}({key_name} INT PRIMARY KEY, {doc_name} TEXT NOT NULL) — or name the table "
            "holding them with run --source TABLE(KEY, DOCUMENT) or the contract's "
            "[contract] source"
        )
    real, columns = found
    app_id, xml = columns.get(key_name.lower()), columns.get(doc_name.lower())
    if app_id is None or xml is None:
        raise SourceError(
            f"{label} must have the columns {key_name} (integer) and {doc_name} (text); it has "
            f"{', '.join(sorted(columns)) or 'none'}"
        )
    problems = []
    if not isinstance(app_id["type"], sa.Integer):
        problems.append(f"{label}.{key_name} is {_type_name(app_id)}, not an integer type")
    if not isinstance(xml["type"], DOCUMENT_TYPES):
        problems.append(f"{label}.{doc_name} is {_type_name(xml)}, not a text or binary type")
    if problems:
        raise SourceError("; ".join(problems) + ": convert the column(s) or copy into a new table")
    if (real, app_id["name"], xml["name"]) != (src.name, key_name, doc_name):
        src = sa.Table(
            real,
            sa.MetaData(),
            sa.Column(app_id["name"], sa.BigInteger, primary_key=True, key="app_id"),
            sa.Column(xml["name"], sa.UnicodeText, key="xml"),
            schema=src.schema,
        )
    checks: list[tuple[str, sa.ColumnElement[bool]]] = []
    if app_id.get("nullable", True):
        checks.append((f"a NULL {key_name}", src.c.app_id.is_(None)))
    rowid_alias = app_id.get("primary_key") and str(app_id["type"]).upper() == "INTEGER"
    if engine.dialect.name == "sqlite" and not rowid_alias:  # any column holds any value there
        checks.append(
            (f"a {key_name} that is not an integer", sa.func.typeof(src.c.app_id) != "integer")
        )
    with engine.connect() as conn:
        for what, condition in checks:
            n = conn.execute(
                sa.select(sa.func.count()).select_from(src).where(condition)
            ).scalar_one()
            if n:
                shown = [
                    repr(v)[:40]
                    for (v,) in conn.execute(sa.select(src.c.app_id).where(condition).limit(5))
                ]
                raise SourceError(
                    f"{n:,} rows of {label} have {what} (e.g. {', '.join(shown)}): they "
                    "cannot be read in key order nor logged; fix or remove them first"
                )
    return src


def _document(column: sa.ColumnElement[str], engine: Engine) -> sa.ColumnElement[Any]:
    """The document as UTF-8 bytes where the database can hand them over as such: no decoding
    into a Python str only to encode it again for the parser (~0.5 ms per 250 KB document)."""
    name = engine.dialect.name
    if name == "sqlite":
        return sa.cast(column, sa.LargeBinary)  # CAST(x AS BLOB): the stored UTF-8 bytes
    if name == "postgresql":
        return sa.func.convert_to(column, "UTF8", type_=sa.LargeBinary)
    if name in ("mysql", "mariadb"):  # whatever the table's charset: UTF-8 bytes
        table = cast(sa.Table, column.table)
        qualifier = f"{quote(name, table.schema)}." if table.schema else ""
        return sa.literal_column(
            f"CAST(CONVERT({qualifier}{quote(name, table.name)}.{quote(name, str(column.name))} "
            "USING utf8mb4) AS BINARY)",
            type_=sa.LargeBinary,
        )
    return column  # SQL Server hands NVARCHAR over as str


def _database_digest(column: sa.ColumnElement[str], engine: Engine) -> sa.ColumnElement[str]:
    """The document's SHA-256 in hex as the database computes it from the stored value: what
    ``status`` and ``run --changed`` compare ``processing_log.doc_digest`` with. Where the
    page read hands the document over as these same bytes (SQLite, PostgreSQL, MariaDB: the
    UTF-8 of ``_document``), the run hashes the bytes it received (:func:`record_digest`) —
    the database would have to decompress and convert each document a second time; SQL
    Server, which hands over text, computes it in the page read (SQLite: a function each
    connection of the tool registers, db/engine.py)."""
    name = engine.dialect.name
    if name == "sqlite":
        return sa.func.xmlmigrate_sha256(_document(column, engine), type_=sa.String)
    if name == "postgresql":
        return sa.func.encode(sa.func.sha256(_document(column, engine)), "hex", type_=sa.String)
    if name in ("mysql", "mariadb"):
        return sa.func.sha2(_document(column, engine), 256, type_=sa.String)
    if name == "mssql":  # SQL Server 2016+: no 8,000-byte limit on HASHBYTES's input
        hashed = sa.func.hashbytes(sa.literal_column("'SHA2_256'"), column)
        as_hex = sa.func.convert(sa.literal_column("VARCHAR(64)"), hashed, sa.literal_column("2"))
        return sa.func.lower(as_hex, type_=sa.String)
    raise SourceError(f"cannot compute document digests on {name}")


def digest_of(column: sa.ColumnElement[str], engine: Engine) -> sa.ColumnElement[str]:
    """The document's digest as the database computes it (``NULL_DIGEST`` for a NULL
    document): what ``status`` and ``run --changed`` compare the log's ``doc_digest`` with."""
    return sa.func.coalesce(_database_digest(column, engine), NULL_DIGEST, type_=sa.String)


BYTES_DIGESTED = ("sqlite", "postgresql", "mysql", "mariadb")  # the run hashes what it read


NULL_DIGEST = "null"  # the digest recorded for a NULL document (one filled in later differs)


def record_digest(document: bytes | str | None) -> str:
    """SHA-256 (hex) of the bytes a page read handed over: equal to :func:`digest_of` on the
    databases of ``BYTES_DIGESTED`` (hashlib releases the GIL while it hashes)."""
    return sha256_hex(document) or NULL_DIGEST


def changed_condition(src: sa.FromClause, log: sa.Table, engine: Engine) -> sa.ColumnElement[bool]:
    """The app's latest log row recorded a digest, and the document's is another now."""
    latest = (
        sa.select(log.c.doc_digest)
        .where(log.c.app_id == src.c.app_id)
        .order_by(log.c.log_id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return sa.and_(latest.is_not(None), latest != digest_of(src.c.xml, engine))


def _type_name(column: dict[str, Any]) -> str:
    try:
        return str(column["type"])
    except Exception:  # a type SQLAlchemy does not know cannot always render itself
        return type(column["type"]).__name__


def pending_condition(
    src: sa.FromClause, log: sa.Table, config: MigrationConfig, engine: Engine | None = None
) -> sa.ColumnElement[bool]:
    """The apps of ``src`` (app_xml or an alias of it) this run takes that have no closing
    log row (``config.changed``: or whose document changed since; needs ``engine``)."""
    logged = sa.select(sa.literal(1)).where(log.c.app_id == src.c.app_id)
    if config.retry_failed:  # anything but a failure closes an app
        logged = logged.where(log.c.status != "failed")
    if config.retry_rejected is not None:  # nor does a rejection (of these reasons)
        rejected: sa.ColumnElement[bool] = log.c.status == "rejected"
        if config.retry_rejected:
            rejected = sa.and_(
                rejected,
                sa.or_(
                    *(
                        sa.or_(
                            log.c.reason == code,
                            log.c.reason.startswith(f"{code}:", autoescape=True),
                        )
                        for code in config.retry_rejected
                    )
                ),
            )
        logged = logged.where(sa.not_(rejected))
    todo: sa.ColumnElement[bool] = ~logged.exists()
    if config.changed:
        if engine is None:
            raise ValueError("run --changed compares digests: pending_condition needs the engine")
        todo = sa.or_(todo, changed_condition(src, log, engine))
    conditions: list[sa.ColumnElement[bool]] = [todo]
    if config.app_id_start is not None:
        conditions.append(src.c.app_id >= config.app_id_start)
    if config.app_id_end is not None:
        conditions.append(src.c.app_id <= config.app_id_end)
    if config.modulo is not None:
        # the mathematical residue (0..N-1) even for negative ids, where SQL's % is negative
        m = config.modulo
        conditions.append((src.c.app_id % m + m) % m == config.modulo_instance)
    return sa.and_(*conditions)


def document_bytes(column: sa.ColumnElement[Any], engine: Engine) -> sa.ColumnElement[int]:
    """The stored document's size in bytes, as the database knows it without handing the
    document over (PostgreSQL reads it from the value's header, even when TOASTed)."""
    name = engine.dialect.name
    if name == "sqlite":  # length() of text counts characters; of a blob, bytes
        size = sa.func.length(sa.cast(column, sa.LargeBinary))
    elif name in ("postgresql", "mysql", "mariadb"):
        size = sa.func.octet_length(column)
    elif name == "mssql":
        size = sa.func.datalength(column)
    else:
        size = sa.func.length(column)
    return sa.func.coalesce(size, 0, type_=sa.BigInteger)


def within_bytes(sized: sa.Select[Any], max_bytes: int) -> sa.Select[Any]:
    """The ids of ``sized`` (app ids in key order, each with its document's ``size``) up to
    the one whose document would take their documents' bytes past ``max_bytes`` (the
    parameter ``max_bytes``), and never fewer than the first: a running sum of the sizes over
    at most ``:n`` ids, computed by the server, so a page of big documents is cut before a
    byte of them is fetched."""
    sizes = sized.subquery("sizes")
    upto = sa.func.sum(sizes.c.size).over(order_by=sizes.c.app_id, rows=(None, 0))
    running = sa.select(
        sizes.c.app_id, upto.label("upto"), (upto - sizes.c.size).label("before")
    ).subquery("running")
    return sa.select(running.c.app_id).where(
        sa.or_(
            running.c.upto <= sa.bindparam("max_bytes", max_bytes, type_=sa.BigInteger),
            running.c.before <= 0,
        )
    )


class _Reader:
    """The page queries of one source table."""

    def __init__(self, engine: Engine, src: sa.Table, log: sa.Table, config: MigrationConfig):
        self.src = src
        self.log_name = log.name
        self.pending = pending_condition(src, log, config, engine)
        attempts = sa.select(sa.func.count()).where(log.c.app_id == src.c.app_id).scalar_subquery()
        # A page is chosen by app id alone (a derived table of at most n ids), then joined to
        # its documents by primary key: no plan can sort or hash whole documents of the rest of
        # the range (PostgreSQL did, with a bounded range: each page sorted every remaining
        # document on disk — 15x slower reads). MariaDB allows LIMIT in a derived table, not
        # in an IN subquery.
        pending = src.alias("pending_app")
        # each id with its document's size, read from the row the pending test reads anyway
        ids = (
            sa.select(pending.c.app_id, document_bytes(pending.c.xml, engine).label("size"))
            .where(pending_condition(pending, log, config, engine))
            .order_by(pending.c.app_id)
            .limit(sa.bindparam("n"))
        )

        def page(chosen: sa.Select[Any]) -> sa.Select[Any]:
            picked = chosen.subquery("page")
            return sa.select(
                src.c.app_id,
                _document(src.c.xml, engine),
                (attempts + 1).label("attempt"),
                (
                    digest_of(src.c.xml, engine)
                    if engine.dialect.name not in BYTES_DIGESTED
                    else sa.null()
                ).label("digest"),
            ).select_from(
                src.join(picked, picked.c.app_id == src.c.app_id)
            )  # no ORDER BY: the server would sort documents; ``_fetch`` sorts the ids

        # the first page has no lower bound: any app id, however negative, is read
        limit = config.max_batch_bytes
        self.first_page = page(within_bytes(ids, limit))
        later = ids.where(pending.c.app_id > sa.bindparam("after"))
        self.page = page(within_bytes(later, limit))


class TableSource:
    """Pages of pending documents, from each source table in turn (a run over two product
    lines whose documents live in two tables). ``connection``: read through this one (the run
    lease's, so a run opens no extra connection for it) instead of the engine's pool; each
    read ends its transaction, so every page sees what the writer committed before it."""

    def __init__(
        self,
        engine: Engine,
        schema: Schema,
        config: MigrationConfig,
        connection: Connection | None = None,
    ) -> None:
        self.engine = engine
        self._shared = connection
        self.page_size = config.batch_size
        self.max_bytes = config.max_batch_bytes  # a page is also cut by its documents' bytes
        self.limit = config.limit
        self.queries = 0  # pages read: one query (one round trip) each
        self._readers = [_Reader(engine, src, schema.log, config) for src in schema.sources]
        self._as_bytes = engine.dialect.name in ("sqlite", "postgresql", "mysql", "mariadb")
        self._binary_pg = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        if self._shared is None:
            with self.engine.connect() as conn:
                yield conn
            return
        try:
            yield self._shared
        finally:
            self._shared.rollback()

    def pending_count(self) -> int:
        with self._bounded("counting the pending apps"), self._connection() as conn:
            n = sum(
                int(
                    conn.execute(
                        sa.select(sa.func.count()).select_from(r.src).where(r.pending)
                    ).scalar_one()
                )
                for r in self._readers
            )
        return n if self.limit is None else min(n, self.limit)

    @contextmanager
    def _bounded(self, what: str) -> Iterator[None]:
        """A read that waited ``--lock-timeout`` for a lock: one line naming who holds it."""
        try:
            yield
        except Exception as exc:
            if not is_lock_timeout(exc):
                raise
            tables = [t for r in self._readers for t in (r.src.name, r.log_name)]
            seconds = engine_lock_timeout(self.engine)
            raise InfrastructureError(
                lock_timeout_message(what, seconds, self.engine, tables)
            ) from None

    def _fetch(self, reader: _Reader, params: dict[str, int]) -> Sequence[Any]:
        self.queries += 1
        page = reader.page if "after" in params else reader.first_page
        with self._bounded("reading a page of documents"), self._connection() as conn:
            if self._binary_pg:
                # psycopg's binary result format: bytea arrives as bytes, not as hex text to
                # decode (measured 269 MB/s against 89 MB/s on realistic documents)
                compiled = page.compile(dialect=self.engine.dialect)
                raw = conn.connection.driver_connection
                statement, bound = str(compiled), {**compiled.params, **params}
                dbapi_error = self.engine.dialect.loaded_dbapi.Error
                try:
                    with raw.cursor(binary=True) as cur:  # type: ignore[union-attr]
                        cur.execute(statement, bound)
                        rows: Sequence[Any] = cur.fetchall()
                except dbapi_error as exc:  # as SQLAlchemy would have wrapped it
                    raise sa.exc.DBAPIError.instance(statement, bound, exc, dbapi_error) from exc
                finally:
                    # the driver began a transaction SQLAlchemy does not know of (its own
                    # rollback would skip it): end it, or it holds AccessShareLock on the
                    # source and the log for the whole run, and an ALTER TABLE queued behind
                    # it stops every later batch
                    raw.rollback()  # type: ignore[union-attr]
            else:
                rows = conn.execute(page.execution_options(**{PAGE_READ: True}), params).all()
        return sorted(rows, key=lambda r: r[0])

    def pages(self) -> Iterator[list[RawRecord]]:
        remaining = self.limit
        for reader in self._readers:
            after: int | None = None
            ahead = self.page_size  # ids the next page query sizes up
            while remaining is None or remaining > 0:
                n = ahead if remaining is None else min(ahead, remaining)
                params = {"n": n} if after is None else {"after": after, "n": n}
                rows = self._fetch(reader, params)
                if not rows:
                    break
                page = [
                    RawRecord(
                        int(r[0]), r[1], int(r[2]), self._as_bytes, r[3] or record_digest(r[1])
                    )
                    for r in rows
                ]
                after = page[-1].app_id
                if remaining is not None:
                    remaining -= len(page)
                ahead = self._ahead(page)
                yield page

    def _ahead(self, page: list[RawRecord]) -> int:
        """How many ids the next page query sizes up: the batch size, or after a page of big
        documents one more than fit in ``max_bytes`` at their mean size (SQLite and MariaDB
        read a document to size it: no need to size a hundred for a page of two)."""
        size = sum(len(r.xml or b"") for r in page)
        fit = self.max_bytes * len(page) // size if size else self.page_size
        return max(1, min(self.page_size, fit + 1))
