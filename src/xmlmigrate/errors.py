"""One error hierarchy: every failure the tool reports is an :class:`XmlMigrateError` with an
exit code, caught once in the CLI's ``main`` and printed as one line.

Exit codes: :data:`EXIT_CODES` (also in the README and ``xmlmigrate --help``).
"""

from __future__ import annotations

import textwrap

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INFRASTRUCTURE = 3
EXIT_TOO_MANY_REJECTED = 4
EXIT_LEASE_BUSY = 5
EXIT_CONTRACT_MISFIT = 6
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

# what each exit status means: the one source of ``xmlmigrate --help``'s list
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "done: every app migrated, or rejected within --max-rejected"),
    (
        EXIT_FAILED,
        "some apps failed (logged 'failed'), a worker process crashed, a gate regression, or "
        "a --cluster partition hit a problem of kind 2 after the run had committed apps",
    ),
    (
        EXIT_USAGE,
        "a usage, input, contract or source problem the user can fix; nothing was written",
    ),
    (
        EXIT_INFRASTRUCTURE,
        "the database or the machine failed (connection lost, disk full, out of memory): the "
        "run stopped, what committed stays, nothing was logged against any app",
    ),
    (
        EXIT_TOO_MANY_REJECTED,
        "more apps were rejected than --max-rejected allows (a wrong contract or source?)",
    ),
    (
        EXIT_LEASE_BUSY,
        "another run holds a lease on the same apps of this target (or took over this run's)",
    ),
    (
        EXIT_CONTRACT_MISFIT,
        "the migrated documents filled fewer of the contract's mapped columns than "
        "--min-filled (default 50 %): the contract does not fit the documents",
    ),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C): a run's finished batches were committed"),
    (EXIT_TERMINATED, "terminated (SIGTERM): a run's finished batches were committed"),
)


def exit_codes_help(width: int = 78) -> str:
    """:data:`EXIT_CODES` as an indented list for a help text's epilog."""
    lines = ["exit codes:"]
    for code, meaning in EXIT_CODES:
        lines.extend(
            textwrap.wrap(
                meaning,
                width,
                initial_indent=f"  {code:<5}",
                subsequent_indent=" " * 7,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)


class XmlMigrateError(Exception):
    """Base of every error the tool reports; ``exit_code`` says how the process ends."""

    exit_code = EXIT_FAILED


class Interrupted(XmlMigrateError):
    """Ctrl-C before anything was written (a prompt): the message says what was not done."""

    exit_code = EXIT_INTERRUPTED


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


# The database-write error, ``xmlmigrate.db.errors.WriteError``, is one too: the loader turns
# it into a logged ``failed`` app (data) or an InfrastructureError (anything else).


class WorkerCrashed(XmlMigrateError):
    """A worker process died; the batches it held were not transformed (they stay pending)."""

    exit_code = EXIT_FAILED


class GateError(UserError):
    """The performance gate could not measure (a side failed to run, a ref does not exist,
    the machine too unsteady, ...)."""
