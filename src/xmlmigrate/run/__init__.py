"""Running a migration: the coordinator (``pipeline``: pages → batches in flight → commits in
source order, signals, the lease), the worker processes (``workers``), and the pure per-record
transform (``transform``: parse → validate → map)."""

from xmlmigrate.errors import SourceMissing
from xmlmigrate.run.pipeline import describe_config, run_migration
from xmlmigrate.run.transform import transform_record

__all__ = ["SourceMissing", "describe_config", "run_migration", "transform_record"]
