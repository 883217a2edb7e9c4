"""Database access: engines from URLs and one bulk writer per dialect.

The loader only talks to :class:`~xmlmigrate.db.base.BulkWriter`, whose base owns a batch's
transaction, lease fence, ledger rows and error classification; each dialect module owns its
fast path (SQLite: stdlib ``executemany``; PostgreSQL: binary COPY; ODBC: sized parameters)
and says which of its driver's errors are a document's.
"""

from xmlmigrate.db.base import BulkWriter, LogRow, WarningRow
from xmlmigrate.db.engine import make_engine, redact_url
from xmlmigrate.db.errors import UnsupportedDatabase, WriteError
from xmlmigrate.db.factory import open_writer

__all__ = [
    "BulkWriter",
    "LogRow",
    "UnsupportedDatabase",
    "WarningRow",
    "WriteError",
    "make_engine",
    "open_writer",
    "redact_url",
]
