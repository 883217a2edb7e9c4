"""Every knob of a run, in one frozen value. The CLI and the perf suite build it; nothing else reads settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from xmlmigrate.contract.compiled import SourceRef, parse_source
from xmlmigrate.db.locks import DEFAULT_LOCK_TIMEOUT_S, check_lock_timeout

DEFAULT_DB_URL = "sqlite:///xmlmigrate.db"
DB_URL_ENV = "XMLMIGRATE_DB_URL"
DEFAULT_BATCH_SIZE = 100  # measured faster than 200 on PostgreSQL, and half the memory
IN_PROCESS_BATCHES = 4  # automatic workers: runs of up to this many batches stay in-process
# A page is also cut once its documents reach max_batch_bytes (never fewer than one document),
# and the documents read and not yet committed stay within IN_FLIGHT_PAGES such pages (one
# larger document aside): 1 GiB at the default, ~2 GiB in the coordinator while pages cross to
# worker processes, plus one page and one document's tree per worker — room on a 24 GB machine.
DEFAULT_MAX_BATCH_BYTES = 256 * 2**20
IN_FLIGHT_PAGES = 4
MAX_BATCH_BYTES_LIMIT = 2**40  # 1 TiB: past any machine's memory, and every database's integers


def default_db_url() -> str:
    return os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL


WORKERS_PER_CORE = 4  # --workers cap: past a few per core, processes only compete for them


def max_workers() -> int:
    return WORKERS_PER_CORE * (os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class MigrationConfig:
    db_url: str = DEFAULT_DB_URL
    # mapping contracts: none = the shipped provenir_cc; several = documents routed by their
    # application element (one run over a source holding several product lines)
    contracts: tuple[Path, ...] = ()
    batch_size: int = DEFAULT_BATCH_SIZE
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES  # a page's documents, in bytes (see above)
    limit: int | None = None  # at most this many records in this run
    app_id_start: int | None = None  # inclusive
    app_id_end: int | None = None  # inclusive
    modulo: int | None = None  # split the table: this process takes app_id % modulo == instance
    modulo_instance: int = 0
    retry_failed: bool = False  # take apps whose only log entries are failures again
    # take rejected apps again: None = no; () = every rejection; else only rejections whose
    # reason starts with one of these codes (e.g. "wrong_product_line")
    retry_rejected: tuple[str, ...] | None = None
    # take apps whose document changed since its outcome was logged (processing_log.doc_digest
    # differs from the document's now): their old rows are replaced in the batch's transaction
    changed: bool = False
    # -- Phase II tuning knobs -------------------------------------------------------------
    # transform processes; 0 = in the main process; None = automatic: in-process for runs of a
    # few batches (starting processes costs ~1 s), else one per CPU core
    workers: int | None = None
    pooling: bool = True  # one long-lived writer connection (False: a new one per batch)
    pipelined: bool = True  # transform batch N+1.. while batch N is written (False: serial)
    dedup_cache: bool = True  # catch keys already written in this run before the database does
    scoped_parse: bool = True  # build a tree of only the part of a document the contract reads
    check_well_formed: bool = True  # with scoped_parse: still prove the whole document well-formed
    cluster_run: str | None = None  # set by --cluster: the cluster run a partition's run is part of
    # --source: the table documents are read from, "[schema.]table[(key, document)]", instead
    # of each contract's own [contract] source (default app_xml(app_id, xml))
    source: str | None = None
    # seconds any statement of the run waits for a database lock before the run stops (exit 3)
    # with a line naming the session in its way (db/locks.py)
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_S

    @property
    def source_ref(self) -> SourceRef | None:
        return parse_source(self.source) if self.source is not None else None

    def resolved_workers(self, pending: int) -> int:
        if self.workers is not None:  # never more processes than batches to give them
            return min(self.workers, max(1, -(-pending // self.batch_size)))
        if pending <= IN_PROCESS_BATCHES * self.batch_size:
            return 0
        return os.cpu_count() or 1

    def __post_init__(self) -> None:
        if self.source is not None:
            parse_source(self.source)  # ValueError: what is wrong with it
        for code in self.retry_rejected or ():
            if not code or not all(c.isalnum() or c == "_" for c in code):
                raise ValueError(
                    f"--retry-rejected takes reason codes such as wrong_product_line, not "
                    f"{code[:40]!r}"
                )
        check_lock_timeout(self.lock_timeout)
        if self.workers is not None and self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        if self.workers is not None and self.workers > max_workers():
            raise ValueError(
                f"--workers {self.workers} is too many: at most {max_workers()} here "
                f"({WORKERS_PER_CORE} per CPU core; past that the processes only compete for "
                "the cores) — leave --workers out for one per core"
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 1 <= self.max_batch_bytes <= MAX_BATCH_BYTES_LIMIT:
            raise ValueError(f"max_batch_bytes must be 1 byte to 1 TiB, got {self.max_batch_bytes}")
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit must be >= 0, got {self.limit}")
        if self.modulo is not None and not 0 <= self.modulo_instance < self.modulo:
            raise ValueError(
                f"modulo instance must be in 0..{self.modulo - 1}, got {self.modulo_instance}"
            )
        if (
            self.app_id_start is not None
            and self.app_id_end is not None
            and self.app_id_start > self.app_id_end
        ):
            raise ValueError("app_id_start is after app_id_end")
