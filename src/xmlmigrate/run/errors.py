"""The run layer's errors (the ones every layer shares are in ``xmlmigrate.errors``)."""

from __future__ import annotations

from xmlmigrate.errors import XmlMigrateError


class PartitionFailed(XmlMigrateError):
    """A partition's task failed; the run stopped. Its exit status says whether the run
    committed anything: a usage or contract error (2, "nothing was written") after commits
    is 1."""
