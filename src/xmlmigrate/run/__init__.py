"""Running a migration: the coordinator (``pipeline``: pages → batches in flight → commits in
source order, signals, the lease), the worker processes (``workers``), and the pure per-record
transform (``transform``: parse → validate → map).

The names below load on first use: a worker process imports ``run.workers`` and
``run.transform`` only, without the coordinator's database stack (SQLAlchemy and the drivers
cost a worker about 0.3 s of its start and 20 MB)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xmlmigrate.errors import SourceMissing
    from xmlmigrate.run.pipeline import describe_config, run_migration
    from xmlmigrate.run.transform import transform_record

__all__ = ["SourceMissing", "describe_config", "run_migration", "transform_record"]

_HOMES = {
    "SourceMissing": "xmlmigrate.errors",
    "describe_config": "xmlmigrate.run.pipeline",
    "run_migration": "xmlmigrate.run.pipeline",
    "transform_record": "xmlmigrate.run.transform",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
