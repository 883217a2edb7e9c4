"""The database layer's errors: a batch the database refused or could not take, and a URL no
writer serves. Both pickle (worker processes and Dask tasks send them back)."""

from __future__ import annotations

from xmlmigrate.errors import UserError, XmlMigrateError


class UnsupportedDatabase(UserError, ValueError):
    """No bulk writer for the URL's dialect and driver."""


class WriteError(XmlMigrateError):
    """A batch could not be written; the transaction was rolled back. ``reason`` is readable.

    ``data_error``: the database refused a value or a constraint, so some document of the batch
    is at fault (the loader bisects to find it). Anything else — connection lost, disk full,
    server gone — is no document's fault: the loader stops the run instead of logging apps."""

    def __init__(self, reason: str, data_error: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.data_error = data_error
