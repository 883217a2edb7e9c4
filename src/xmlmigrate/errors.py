"""One error hierarchy: every failure the tool reports is an :class:`XmlMigrateError` with an
exit code, caught once in the CLI's ``main`` and printed as one line.

Exit codes (also in the README):

=====  ==================================================================================
0      done: every app migrated, or rejected within ``--max-rejected``
1      some apps failed (logged ``failed``), a worker process crashed, a gate regression, or
       a ``--cluster`` partition hit a problem of kind 2 after the run had committed apps
2      a usage, input, contract or source problem the user can fix; nothing was written
3      the database or the machine failed (connection lost, disk full, out of memory): the
       run stopped, what committed stays, nothing was logged against any app
4      more apps were rejected than ``--max-rejected`` allows (a wrong contract or source?)
5      another run holds a lease on the same apps of this target (or took over this run's)
6      the migrated documents filled fewer of the contract's mapped columns than
       ``--min-filled`` (default 50 %): the contract does not fit the documents
130    interrupted (Ctrl-C); 143: terminated (SIGTERM) — finished batches were committed
=====  ==================================================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INFRASTRUCTURE = 3
EXIT_TOO_MANY_REJECTED = 4
EXIT_LEASE_BUSY = 5
EXIT_CONTRACT_MISFIT = 6
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class XmlMigrateError(Exception):
    """Base of every error the tool reports; ``exit_code`` says how the process ends."""

    exit_code = EXIT_FAILED


class UserError(XmlMigrateError):
    """A problem the user can fix (arguments, files, URLs); nothing was done."""

    exit_code = EXIT_USAGE


class SourceError(UserError):
    """``app_xml`` is missing or holds rows the tool cannot read as they are."""


class SourceMissing(SourceError):
    """The source table does not exist."""


class InfrastructureError(XmlMigrateError):
    """The database or the machine failed; no single document caused it. The run stopped;
    what committed stays committed, and no app was logged because of it."""

    exit_code = EXIT_INFRASTRUCTURE


class LeaseBusy(XmlMigrateError):
    """Another run is processing (some of) the same apps of this target."""

    exit_code = EXIT_LEASE_BUSY


class LeaseLost(LeaseBusy):
    """This run's lease lapsed (its connection dropped) and another run claimed its apps: the
    batch in hand was not written and the run stopped."""


# The database-write error, ``xmlmigrate.db.base.WriteError``, is one too: the loader turns
# it into a logged ``failed`` app (data) or an InfrastructureError (anything else).


class WorkerCrashed(XmlMigrateError):
    """A worker process died; the batches it held were not transformed (they stay pending)."""

    exit_code = EXIT_FAILED


class GateError(UserError):
    """The performance gate could not measure (a side failed to run, a ref does not exist,
    the machine too unsteady, ...)."""
