"""The vocabulary every stage shares.

A record flows one way: ``RawRecord`` (from a source) → ``MappedApp`` or
``Rejection`` (from the pure transform) → an ``Outcome`` per app (from the
loader, which writes it to ``processing_log`` in the same transaction as the
app's rows). ``RunStats`` sums a run up.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

Row = dict[str, Any]
Status = Literal["success", "failed", "rejected"]


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One source document: the key it is stored under and its bytes (or text)."""

    app_id: int
    xml: bytes | str | None  # None: the source row's xml is NULL (rejected, never parsed)
    attempt: int = 1  # 1 + earlier failed attempts (a retry of failed apps counts up)
    # bytes that are the UTF-8 encoding of text a database already decoded: whatever the
    # document's declaration says, they are read as UTF-8
    utf8_text: bool = False
    digest: str | None = None  # the document's SHA-256 as the database computed it


class Warn(NamedTuple):
    """Something odd about a migrated app: a stable code and a readable detail."""

    code: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A document that must not be migrated, with a machine code and a human reason."""

    app_id: int
    code: str
    detail: str
    stage: str = "validate"

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.detail}"


@dataclass(slots=True)
class MappedApp:
    """The rows one document produces, per table, in the contract's table order."""

    app_id: int
    rows: dict[str, list[Row]]
    warnings: list[Warn] = field(default_factory=list)
    truncated: int = 0
    defaulted: int = 0
    clamped: int = 0
    invalid: int = 0
    events: list[tuple[str, str, str, str]] = field(default_factory=list)  # explain only

    def row_count(self) -> int:
        return sum(len(r) for r in self.rows.values())


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one app in a run; one ``processing_log`` row."""

    app_id: int
    status: Status
    stage: str | None = None
    reason: str | None = None
    warnings: tuple[Warn, ...] = ()


# read and write happen in the coordinator; parse, validate and map in the workers (summed over
# them); wait is the coordinator waiting for a worker's batch
TRANSFORM_STAGES = ("parse", "validate", "map")
STAGES = ("read", *TRANSFORM_STAGES, "write", "wait")


@dataclass(slots=True, kw_only=True)
class Outcomes:
    """How many apps a run (or a cluster run) took, and how each ended."""

    records: int = 0
    success: int = 0
    failed: int = 0
    rejected: int = 0
    warnings: int = 0


@dataclass(slots=True)
class RunStats(Outcomes):
    """Counts and timings of one run. Stage times are seconds of wall time spent in each stage."""

    run_id: str = ""
    truncated_values: int = 0
    defaulted_values: int = 0
    clamped_values: int = 0
    invalid_values: int = 0
    warning_codes: Counter[str] = field(default_factory=Counter)
    rows_per_table: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    elapsed: float = 0.0
    batches: int = 0
    workers: int = 0
    threads: int = 1  # transform threads in each transform process
    connections_opened: int = 0
    transactions: int = 0
    statements: int = 0  # sent by the writers: COPY streams or executemany calls
    source_queries: int = 0  # keyset pages read from app_xml
    failed_transactions: int = 0  # refused by the database, each a bisection step
    cache_duplicates: int = 0  # duplicate keys caught by the in-run cache, before the database
    interrupted: bool = False
    stop_signal: str | None = None  # SIGINT or SIGTERM when a signal stopped the run
    pending: int = 0  # apps the run found to do
    crash: str | None = None
    # coordinator, worker (the largest), whole run (the coordinator plus every worker's peak:
    # an upper bound, the peaks need not coincide)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    # seconds from the start of the run (before connecting) to its first committed batch
    first_commit_s: float | None = None
    # batches the coordinator transformed itself while its worker processes were starting
    coordinator_batches: int = 0
    # which mapped columns the migrated apps filled (xmlmigrate.fit.FillTally.to_dict)
    fit: dict[str, Any] | None = None

    def add_outcome(self, outcome: Outcome) -> None:
        self.records += 1
        if outcome.status == "success":
            self.success += 1
        elif outcome.status == "failed":
            self.failed += 1
        else:
            self.rejected += 1
        if outcome.reason and outcome.status != "success":
            self.reasons[f"{outcome.status}: {reason_group(outcome.reason)}"] += 1
        self.warnings += len(outcome.warnings)
        for w in outcome.warnings:
            self.warning_codes[w.code] += 1

    @property
    def rec_per_min(self) -> float:
        return self.records / self.elapsed * 60.0 if self.elapsed > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "records": self.records,
            "success": self.success,
            "failed": self.failed,
            "rejected": self.rejected,
            "warnings": self.warnings,
            "truncated_values": self.truncated_values,
            "defaulted_values": self.defaulted_values,
            "clamped_values": self.clamped_values,
            "invalid_values": self.invalid_values,
            "warning_codes": dict(self.warning_codes),
            "rows_per_table": dict(self.rows_per_table),
            "top_reasons": self.reasons.most_common(10),
            "stage_seconds": dict(self.stage_seconds),
            "elapsed_seconds": self.elapsed,
            "rec_per_min": self.rec_per_min,
            "batches": self.batches,
            "workers": self.workers,
            "threads": self.threads,
            "connections_opened": self.connections_opened,
            "transactions": self.transactions,
            "statements": self.statements,
            "source_queries": self.source_queries,
            "failed_transactions": self.failed_transactions,
            "cache_duplicates": self.cache_duplicates,
            "interrupted": self.interrupted,
            "stop_signal": self.stop_signal,
            "pending": self.pending,
            "crash": self.crash,
            "peak_rss_mb": {k: round(v, 1) for k, v in self.peak_rss_mb.items()},
            "first_commit_s": (
                round(self.first_commit_s, 3) if self.first_commit_s is not None else None
            ),
            "coordinator_batches": self.coordinator_batches,
            "fit": self.fit,
        }


_REASON_CODE = re.compile(r"[a-z][a-z0-9_]*\Z")


def reason_group(reason: str) -> str:
    """The part of a reason that names the problem, so the same problem counts once in the
    run summary and in ``status`` alike: a reason code (``malformed: …`` → ``malformed``),
    else the text before the first quoted value (database messages)."""
    head, sep, _ = reason.partition(":")
    if sep and _REASON_CODE.match(head):
        return head
    text = reason.split("'", 1)[0].split(" (", 1)[0].rstrip(" :") or reason
    return clip_reason(text, REASON_GROUP_LIMIT)


REASON_GROUP_LIMIT = 120  # a constraint's or table's name stays whole in the groups


def clip_reason(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters: cut at a space before the limit with "…",
    never in the middle of a name (a cut name reads as another table's)."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if not text[limit - 1].isspace():
        space = head.rfind(" ")
        if space > limit // 2:
            head = head[:space]
    return head.rstrip() + "…"
