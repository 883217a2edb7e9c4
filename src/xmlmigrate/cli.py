"""``xmlmigrate`` commands. Thin: parse arguments, call the library, print."""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from xmlmigrate import __version__
from xmlmigrate.config import DB_URL_ENV, DEFAULT_BATCH_SIZE, MigrationConfig, default_db_url
from xmlmigrate.contract import load_contract
from xmlmigrate.contract.coverage import measure
from xmlmigrate.db import make_engine, redact_url
from xmlmigrate.db.engine import check_url, sqlite_file
from xmlmigrate.errors import (
    EXIT_FAILED,
    EXIT_INFRASTRUCTURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_TOO_MANY_REJECTED,
    EXIT_USAGE,
    UserError,
    XmlMigrateError,
)
from xmlmigrate.ledger import ledger_status, reset_target
from xmlmigrate.mock import SIZE_PROFILES, MockGenerator, insert_documents, next_app_id
from xmlmigrate.model import RawRecord, Rejection, RunStats
from xmlmigrate.pipeline import describe_config, run_migration
from xmlmigrate.schema import SOURCE_TABLE, Schema, build_schema
from xmlmigrate.transform import transform_record
from xmlmigrate.validate import document_app_id
from xmlmigrate.xml import XmlRejected, parse_document

if TYPE_CHECKING:
    from xmlmigrate.bench.gate import GateResult

console = Console(soft_wrap=True)
err_console = Console(stderr=True)

MENU = (("small", 50), ("medium", 200), ("large", 500))
DEMO_FILE = "xmlmigrate-demo.db"


log = logging.getLogger("xmlmigrate")
DEFAULT_MAX_REJECTED = "50%"


# -- helpers ---------------------------------------------------------------


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
        transient=False,
    )


def _ask_count() -> int:
    console.print("How many documents?")
    for i, (name, n) in enumerate(MENU, 1):
        console.print(f"  {i}) {name} ({n})")
    console.print(f"  {len(MENU) + 1}) custom")
    while True:
        choice = console.input("Choice [1]: ").strip() or "1"
        if choice.isdigit() and 1 <= int(choice) <= len(MENU):
            return MENU[int(choice) - 1][1]
        if choice == str(len(MENU) + 1):
            text = console.input("Count: ").strip()
            if text.isdigit() and int(text) > 0:
                return int(text)
        console.print("Please answer with a number from the list.")


def print_summary(stats: RunStats, db_url: str, batch_size: int) -> None:
    console.print(
        f"\n[bold]Run {stats.run_id[:12]}[/bold] on {redact_url(db_url)} (batch size {batch_size})"
    )
    console.print(
        f"Records: [bold]{stats.records:,}[/bold]   success {stats.success:,}   "
        f"failed {stats.failed:,}   rejected {stats.rejected:,}   "
        f"warnings {stats.warnings:,}"
    )
    console.print(
        f"Values: truncated {stats.truncated_values:,}   defaulted {stats.defaulted_values:,}   "
        f"invalid→NULL {stats.invalid_values:,}   clamped {stats.clamped_values:,}"
    )
    if stats.warning_codes:
        console.print(
            "Warnings by code: "
            + ", ".join(f"{code} {n:,}" for code, n in stats.warning_codes.most_common())
        )
    if stats.reasons:
        console.print("Top reasons:")
        for reason, n in stats.reasons.most_common(5):
            console.print(f"  {n:>6,}  {reason}")
    if stats.rows_per_table:
        rows = Table(title="Rows written", show_edge=False)
        rows.add_column("table")
        rows.add_column("rows", justify="right")
        for table, n in stats.rows_per_table.items():
            rows.add_row(table, f"{n:,}")
        console.print(rows)
    console.print(f"Elapsed {stats.elapsed:.2f} s   [bold]{stats.rec_per_min:,.0f} rec/min[/bold]")
    console.print(
        f"Workers {stats.workers or 'none (in-process)'}   connections opened "
        f"{stats.connections_opened}   transactions {stats.transactions} "
        f"({stats.failed_transactions} refused by the database)   statements "
        f"{stats.statements}   pages read {stats.source_queries}   duplicate keys caught "
        f"before the database {stats.cache_duplicates}"
    )
    if stats.peak_rss_mb:
        console.print(
            "Peak memory (RSS): "
            + "   ".join(f"{k} {v:,.0f} MB" for k, v in sorted(stats.peak_rss_mb.items()))
        )
    print_stage_split(stats)
    if stats.interrupted:
        console.print(
            "[yellow]Interrupted:[/yellow] finished batches were committed; the rest "
            "stays pending for the next run."
        )
    if stats.crash:
        console.print(
            f"[red]A worker crashed:[/red] {stats.crash}; batches it held were not "
            "logged and stay pending for the next run.",
            highlight=False,
        )


def print_stage_split(stats: RunStats) -> None:
    """Where the time went. Read, write and wait are the coordinator's wall time; parse,
    validate and map are summed over the workers (they overlap each other and the writes)."""
    coordinator = ("read", "write", "wait")
    busy = sum(v for k, v in stats.stage_seconds.items() if k not in coordinator)
    split = Table(title="Time by stage", show_edge=False)
    split.add_column("stage")
    split.add_column("seconds", justify="right")
    split.add_column("share", justify="right")
    split.add_column("where")
    for stage, secs in stats.stage_seconds.items():
        if stage in coordinator:
            base, where = stats.elapsed, "coordinator, share of elapsed"
        else:
            base = busy if stats.workers else stats.elapsed
            where = (
                "workers, share of transform" if stats.workers else "in-process, share of elapsed"
            )
        share = secs / base * 100 if base else 0.0
        split.add_row(stage, f"{secs:.2f}", f"{share:.0f} %", where)
    console.print(split)


def _generate(db_url: str, count: int, seed: int, profile: str, quiet: bool) -> None:
    contract = load_contract()
    schema = build_schema(contract)
    engine = make_engine(db_url)
    try:
        schema.create(engine)
        start = next_app_id(engine, schema)
        gen = MockGenerator(seed=seed, size_profile=profile, start_app_id=start)
        with _progress(quiet) as progress:
            task = progress.add_task("generate", total=count, rate="")

            def advance(done: int, size: int) -> None:
                progress.update(task, completed=done, rate=f"{size / 1e6:,.0f} MB")

            n, size = insert_documents(engine, schema, gen.generate(count), on_chunk=advance)
    finally:
        engine.dispose()
    console.print(
        f"Inserted {n:,} documents ({size / 1e6:,.1f} MB, profile {profile}, seed {seed}) into "
        f"{SOURCE_TABLE}, app ids {start:,}–{start + n - 1:,}, in {redact_url(db_url)}"
    )


def _run(config: MigrationConfig, quiet: bool, metrics_out: Path | None = None) -> RunStats:
    contract = load_contract(config.contract)  # errors here must not start a progress bar
    with _progress(quiet) as progress:
        task = progress.add_task("migrate", total=None, rate="")

        def started(pending: int) -> None:
            progress.update(task, total=pending)

        def batch(stats: RunStats, done: int) -> None:
            progress.update(task, completed=done, rate=f"{stats.rec_per_min:,.0f} rec/min")

        stats = run_migration(config, contract, on_start=started, on_batch=batch)
    if stats.pending == 0:
        console.print(
            f"Nothing to do: every app of {SOURCE_TABLE} in {redact_url(config.db_url)} that this "
            "run may take is in processing_log already (--retry-failed takes failed ones again)"
        )
        return stats
    print_summary(stats, config.db_url, config.batch_size)
    if metrics_out is not None:
        metrics = {"config": describe_config(config), **stats.to_dict()}
        metrics_out.write_text(json.dumps(metrics, indent=2, default=str) + "\n", encoding="utf-8")
    return stats


# -- commands --------------------------------------------------------------


def cmd_generate(args: argparse.Namespace) -> int:
    count = args.count
    if count is None:
        if not sys.stdin.isatty():
            raise UserError("--count is required when not run from a terminal")
        count = _ask_count()
    if count < 1:
        raise UserError("--count must be at least 1")
    _generate(args.db, count, args.seed, args.size_profile, args.quiet)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    limit = _max_rejected(args.max_rejected)
    config = _tuning_config(args)
    stats = _run(config, args.quiet, args.metrics_out)
    return run_exit_code(stats, limit)


def _max_rejected(text: str) -> tuple[float, bool]:
    """``--max-rejected``: a share ('10%') or a count ('25') of the run's records."""
    value = text.strip()
    share = value.endswith("%")
    try:
        number = float(value[:-1]) if share else int(value)
    except ValueError:
        raise UserError(
            f"--max-rejected takes a share like 10% or a count like 25, not {text!r}"
        ) from None
    if number < 0 or (share and number > 100):
        raise UserError(f"--max-rejected out of range: {text!r}")
    return number, share


def run_exit_code(stats: RunStats, max_rejected: tuple[float, bool]) -> int:
    """The run's exit status (see xmlmigrate.errors), with a line saying why when not 0."""
    if stats.crash:
        return EXIT_FAILED
    if stats.stop_signal == "SIGTERM":
        return EXIT_TERMINATED
    if stats.interrupted:
        return EXIT_INTERRUPTED
    if stats.failed:
        _error(
            f"{stats.failed:,} apps failed (see 'xmlmigrate status'; 'run --retry-failed' "
            "takes them again)"
        )
        return EXIT_FAILED
    limit, share = max_rejected
    allowed = stats.records * limit / 100 if share else limit
    if stats.records and stats.rejected > allowed:
        shown = f"{limit:g}%" if share else f"{limit:g}"
        _error(
            f"{stats.rejected:,} of {stats.records:,} apps were rejected, more than "
            f"--max-rejected {shown}: is the contract right for these documents?"
        )
        return EXIT_TOO_MANY_REJECTED
    return EXIT_OK


def _tuning_config(args: argparse.Namespace) -> MigrationConfig:
    modulo, instance = args.modulo, args.modulo_instance
    if (modulo is None) != (instance is None):
        raise UserError("--modulo and --modulo-instance go together")
    try:
        return MigrationConfig(
            db_url=args.db,
            contract=args.contract,
            batch_size=args.batch_size,
            limit=args.limit,
            app_id_start=args.app_id_start,
            app_id_end=args.app_id_end,
            modulo=modulo,
            modulo_instance=instance or 0,
            retry_failed=args.retry_failed,
            workers=args.workers,
            pooling=args.pooling,
            pipelined=args.pipelined,
            dedup_cache=args.dedup_cache,
            check_well_formed=args.check_well_formed,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None


def cmd_bench_pipeline(args: argparse.Namespace) -> int:
    from xmlmigrate.bench.speed import measure

    config = _tuning_config(args)
    console.print(f"Measuring on {redact_url(config.db_url)}: lxml parse-only pass, then the run")
    report = measure(config)
    print_summary(report.stats, config.db_url, config.batch_size)
    console.print(
        f"\n[bold]{report.pipeline_per_min:,.0f} rec/min[/bold] pipeline "
        f"({report.stats.workers or 'no'} workers, well-formedness check "
        f"{'on' if config.check_well_formed else 'OFF'}) on {report.records:,} documents "
        f"({report.megabytes:,.0f} MB)\n"
        f"{report.parse_only_per_min:,.0f} rec/min reading + lxml parse-only, one process\n"
        f"ratio {report.ratio:.2f}   first tenth {report.first_tenth_per_min:,.0f} rec/min, "
        f"last tenth {report.last_tenth_per_min:,.0f} rec/min ({report.decay:.2f}x)"
    )
    if args.metrics_out is not None:
        data = {"config": describe_config(config), **report.to_dict()}
        args.metrics_out.write_text(
            json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8"
        )
    return 1 if report.stats.crash else 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from xmlmigrate.bench import baseline as bl

    if args.runs < 2:
        raise UserError("--runs must be at least 2 to measure spread")
    old = bl.load(args.compare) if args.compare is not None else None
    config = _tuning_config(args)
    console.print(f"{args.runs} clean runs on {redact_url(config.db_url)} ...")
    try:
        result = bl.run_baseline(config, args.runs)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    table = Table(show_edge=False)
    for heading in ("run", "seconds", "rec/min"):
        table.add_column(heading, justify="right")
    for i, (s, r) in enumerate(zip(result["seconds"], result["rec_per_min"], strict=True), 1):
        table.add_row(str(i), f"{s:.3f}", f"{r:,.0f}")
    console.print(table)
    console.print(
        f"{result['records']:,} records per run: median {result['median_seconds']:.3f} s "
        f"({result['median_rec_per_min']:,.0f} rec/min), mean {result['mean_seconds']:.3f} s, "
        f"std dev {result['stdev_seconds']:.3f} s, min {result['min_seconds']:.3f}, "
        f"max {result['max_seconds']:.3f}, CV {result['cv'] * 100:.1f} % — confidence "
        f"{result['confidence']}"
    )
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print(f"Saved to {args.out}")
    if old is not None:
        cmp = bl.compare(old, result)
        console.print(
            f"Against {args.compare}: median {cmp.old_median:.3f} s → {cmp.new_median:.3f} s "
            f"({cmp.change * 100:+.1f} %), Mann-Whitney p = {cmp.p_value:.4f}: "
            f"[bold]{cmp.verdict}[/bold]"
        )
    return 0


def cmd_perf_gate(args: argparse.Namespace) -> int:
    from xmlmigrate.bench import gate as g

    if args.threshold <= 0:
        raise UserError("--threshold must be a positive percentage")
    cfg = g.GateConfig(
        base=args.base,
        threshold=args.threshold / 100,
        blocks=args.blocks,
        max_blocks=max(args.max_blocks, args.blocks),
        db_url=args.db,
        records=args.records,
        rounds=args.rounds,
        profile=args.size_profile,
        max_wait=args.max_wait / 100,
        max_speed_gap=args.max_speed_gap / 100,
        inject_head=args.inject_head / 100,
        targets=tuple(args.targets) or ("tests/perf",),
        confirm=not args.no_confirm,
    )
    where = redact_url(cfg.db_url) if cfg.db_url else "a temporary SQLite file per side"
    alpha = g.FAMILY_ALPHA
    console.print(
        f"Gate: base {cfg.base} against the working tree, {cfg.blocks} blocks (A B / B A), "
        f"{cfg.records} {cfg.profile} documents x {cfg.rounds} rounds per side, on {where}; "
        f"fail on CPU > +{args.threshold:g} % or wall > +{2 * args.threshold:g} % "
        f"({1 - alpha:.0%} family-wise confidence)"
        + (f"; head slowed by {args.inject_head:g} % on purpose" if cfg.inject_head else "")
    )

    def progress(message: str) -> None:
        if not args.quiet:
            err_console.print(f"  {message}", highlight=False)

    try:
        result = g.run_gate(cfg, progress)
    except g.GateError as exc:
        _error(str(exc))
        return 2
    print_gate(result)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
        console.print(f"Saved {args.json}")
    return 1 if result.verdict == "fail" else 0


def cmd_perf_calibrate(args: argparse.Namespace) -> int:
    from xmlmigrate.bench import gate as g

    table = Table(show_edge=False, title="perf gate calibration")
    for heading in ("head slowed by", "runs", "FAIL", "WARN", "PASS", "median s", "max s"):
        table.add_column(heading, justify="right")
    summary = []
    for pct in args.inject:
        verdicts: list[str] = []
        seconds: list[float] = []
        for i in range(args.runs):
            cfg = g.GateConfig(
                base=args.base,
                db_url=args.db,
                inject_head=pct / 100,
                threshold=args.threshold / 100,
            )
            try:
                result = g.run_gate(cfg)
            except g.GateError as exc:
                _error(str(exc))
                return 2
            verdicts.append(result.verdict)
            seconds.append(result.seconds)
            console.print(
                f"+{pct:g} % run {i + 1}/{args.runs}: {result.verdict.upper()} in "
                f"{result.seconds:.0f} s ({result.blocks} blocks)",
                highlight=False,
            )
            if args.json is not None:
                with args.json.open("a", encoding="utf-8") as out:
                    out.write(json.dumps({"inject_pct": pct, **result.to_json()}) + "\n")
        row = {
            "inject_pct": pct,
            "runs": args.runs,
            **{v: verdicts.count(v) for v in ("fail", "warn", "pass")},
            "median_seconds": statistics.median(seconds),
            "max_seconds": max(seconds),
        }
        summary.append(row)
        table.add_row(
            f"+{pct:g} %",
            str(args.runs),
            str(row["fail"]),
            str(row["warn"]),
            str(row["pass"]),
            f"{row['median_seconds']:.0f}",
            f"{row['max_seconds']:.0f}",
        )
    console.print(table)
    return 0


def cmd_perf_adversarial(args: argparse.Namespace) -> int:
    from xmlmigrate.bench.adversarial import measure_shapes

    table = Table(title=f"One document per shape, {args.size} MB, each in a fresh process")
    for heading in ("shape", "MB", "seconds", "peak RSS MB", "growth MB", "outcome"):
        table.add_column(heading, justify="left" if heading in ("shape", "outcome") else "right")
    for r in measure_shapes(args.size * 1_000_000):
        table.add_row(
            r.shape,
            f"{r.bytes / 1e6:.1f}",
            f"{r.seconds:.2f}",
            f"{r.peak_mb:,.0f}",
            f"{r.grew_mb:,.0f}",
            r.outcome,
        )
    console.print(table)
    return 0


def print_gate(result: GateResult) -> None:
    from xmlmigrate.bench.gate import Decision

    conf = 1 - result.alpha
    table = Table(show_edge=False, title=f"head / base, {conf:.2%} intervals per benchmark")
    for heading in ("benchmark", "metric", "limit", "base s", "head s", "ratio", "interval", "n"):
        left = heading in ("benchmark", "metric")
        table.add_column(heading, justify="left" if left else "right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    colour = {"pass": "green", "warn": "yellow", "fail": "bold red"}

    def row(label: str, d: Decision) -> None:
        table.add_row(
            label,
            d.metric,
            f"+{d.threshold:.0%}",
            f"{d.base:.4f}",
            f"{d.head:.4f}",
            f"{d.ratio:.3f}",
            f"{d.low:.3f}-{d.high:.3f}" if d.low is not None and d.high is not None else "n/a",
            str(d.n),
            f"[{colour[d.verdict]}]{d.verdict.upper()}[/]",
        )

    for bench in result.benchmarks:
        name = bench.name.split("::")[-1]
        for i, d in enumerate(bench.decisions):
            row(name if i == 0 else "", d)
        for d in bench.confirmed or []:
            row("  measured again", d)
    # a log file is not a terminal: do not squeeze the table into 80 columns
    (console if console.is_terminal else Console(width=120, soft_wrap=True)).print(table)
    for bench in result.benchmarks:
        name = bench.name.split("::")[-1]
        for key, (old, new) in bench.counter_changes.items():
            console.print(f"[yellow]counter changed[/yellow] {name}: {key} {old} -> {new}")
        if bench.discarded_rounds:
            console.print(f"{name}: {bench.discarded_rounds} rounds discarded (waiting for a CPU)")
    if result.set_aside:
        console.print(
            f"{result.set_aside} blocks set aside and run again (one side ran on a slower "
            "machine, or waited for a CPU)"
        )
    for note in result.notes:
        console.print(f"note: {note}")
    console.print(
        f"[{colour[result.verdict]}]Gate {result.verdict.upper()}[/] in {result.seconds:.0f} s "
        f"({result.blocks} blocks; base {result.base_commit[:12]}, head {result.head_commit[:12]})"
    )


@contextmanager
def _database(
    args: argparse.Namespace, must_exist: bool = False
) -> Iterator[tuple[Schema, sa.Engine]]:
    """The schema of --contract and an engine for --db, disposed of afterwards. ``must_exist``:
    a SQLite file that does not exist is an error (connecting would create it empty)."""
    schema = build_schema(load_contract(args.contract))
    if must_exist and (path := sqlite_file(args.db)) is not None and not path.exists():
        raise UserError(
            f"no such SQLite file: {path} (create it with 'xmlmigrate init' or "
            "'xmlmigrate generate')"
        )
    engine = make_engine(args.db)
    try:
        yield schema, engine
    finally:
        engine.dispose()


def cmd_report(args: argparse.Namespace) -> int:
    from xmlmigrate.bench.report import best_batch_size, build_report, load_cases

    try:
        table, images = build_report(args.bench, args.baseline or [], args.out, args.gate or [])
    except ImportError as exc:
        raise UserError(
            f"the report needs the bench extra ({exc.name or exc}): pip install 'xmlmigrate[bench]'"
        ) from None
    except (ValueError, KeyError, OSError) as exc:
        raise UserError(f"cannot build the report: {exc}") from None
    console.print(f"Wrote {table}")
    for image in images:
        console.print(f"Wrote {image}")
    best = best_batch_size(load_cases(args.bench))
    if best is not None:
        console.print(f"Best batch size: {best[0]} ({best[1]:,.0f} rec/min)")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    with _database(args) as (schema, engine):
        if args.drop:
            schema.drop_targets(engine)
        schema.create(engine)
    what = "recreated" if args.drop else "ready"
    console.print(
        f"Schema {what} in {redact_url(args.db)}: {len(schema.metadata.tables)} tables "
        f"({SOURCE_TABLE} kept{'' if not args.drop else ', its documents too'})"
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with _database(args, must_exist=True) as (schema, engine):
        missing = set(schema.missing_tables(engine))
        if SOURCE_TABLE in missing or schema.log.name in missing:
            raise UserError(
                f"no migration tables in {redact_url(args.db)}: run 'xmlmigrate init' or "
                "'xmlmigrate generate' first"
            )
        st = ledger_status(engine, schema)
    if args.json:
        document = {
            "database": redact_url(args.db),
            "documents": st.apps_in_source,
            "by_status": st.by_status,
            "pending": st.pending,
            "top_reasons": [{"reason": r, "apps": n} for r, n in st.top_failures],
            "recent_runs": st.recent_runs,
        }
        print(json.dumps(document, indent=2, default=_json_value))
        return 0
    console.print(
        f"[bold]{redact_url(args.db)}[/bold]: {st.apps_in_source:,} documents in {SOURCE_TABLE}"
    )
    counts = "   ".join(f"{s} {n:,}" for s, n in sorted(st.by_status.items()))
    console.print(f"Apps by latest outcome: {counts or 'none yet'}   pending {st.pending:,}")
    if st.top_failures:
        console.print("Top failure / rejection reasons:")
        for reason, n in st.top_failures:
            console.print(f"  {n:>6,}  {reason[:160]}", highlight=False)
    if st.recent_runs:
        runs = Table(title="Recent runs", show_edge=False)
        for heading in ("run", "started", "records", "success", "failed", "rejected", "rec/min"):
            runs.add_column(heading)
        for r in st.recent_runs:
            runs.add_row(
                str(r["run_id"])[:12],
                _show(r["started_at"])[:19],
                str(r["records"] or 0),
                str(r["success"] or 0),
                str(r["failed"] or 0),
                str(r["rejected"] or 0),
                f"{r['rec_per_min'] or 0:,.0f}" if r["finished_at"] else "unfinished",
            )
        console.print(runs)
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    with _database(args, must_exist=True) as (schema, engine):
        missing = set(schema.missing_tables(engine))
        if schema.root.name in missing or schema.log.name in missing:
            console.print(f"Nothing to clean: no migrated tables in {redact_url(args.db)}")
            return 0
        reset_target(engine, schema)
        with engine.connect() as conn:
            kept = conn.execute(sa.select(sa.func.count()).select_from(schema.source)).scalar_one()
    console.print(
        f"Deleted every migrated row and the processing log in {redact_url(args.db)}; "
        f"kept {kept:,} documents in {SOURCE_TABLE}"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    path = Path(args.file).resolve()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    db_url = f"sqlite:///{path}"
    console.print(f"Demo database: {path}")
    _generate(db_url, args.count, args.seed, args.size_profile, args.quiet)
    _run(MigrationConfig(db_url=db_url, batch_size=args.batch_size), args.quiet)
    return 0


def _corpus_documents(args: argparse.Namespace) -> Iterator[tuple[int | None, bytes | str]]:
    if args.corpus is not None:
        files = sorted(Path(args.corpus).rglob("*.xml"))
        if not files:
            raise UserError(f"no *.xml files under {args.corpus}")
        for f in files[: args.sample]:
            yield None, f.read_bytes()
        return
    schema = build_schema(load_contract())
    engine = make_engine(args.db)
    try:
        if SOURCE_TABLE in schema.missing_tables(engine):
            raise UserError(f"no table {SOURCE_TABLE!r} in {redact_url(args.db)}")
        stmt = (
            sa.select(schema.source.c.app_id, schema.source.c.xml)
            .order_by(schema.source.c.app_id)
            .limit(args.sample)
        )
        with engine.connect() as conn:
            for app_id, xml in conn.execute(stmt):
                yield int(app_id), xml
    finally:
        engine.dispose()


def cmd_contract_check(args: argparse.Namespace) -> int:
    contract = load_contract(args.file)
    console.print(
        f"[bold]{contract.name}[/bold] v{contract.version} ({contract.source}): valid — "
        f"{len(contract.tables)} tables, {contract.field_count} mapped fields, "
        f"{len(contract.enums)} enums, {len(contract.checks)} checks"
    )
    tables = Table(show_edge=False)
    for heading in ("table", "parent", "rows", "key", "columns", "calculated"):
        tables.add_column(heading)
    for t in contract.tables:
        tables.add_row(
            t.name,
            t.parent or "",
            t.rows,
            ", ".join(t.key),
            str(len(t.columns)),
            str(len(t.computed)),
        )
    console.print(tables)
    console.print(
        "Enums: " + ", ".join(f"{name} ({len(codes)})" for name, codes in contract.enums.items())
    )
    if args.corpus is None and args.db is None:
        return 0
    cov = measure(contract, _corpus_documents(args))
    console.print(
        f"Sample: {cov.documents:,} documents ({cov.unreadable:,} not readable as "
        f"{contract.product_line} applications)"
    )
    missing = cov.never_matched(contract)
    if not missing:
        console.print("Every row path and attribute path matched at least once.")
        return 0
    console.print(f"[yellow]{len(missing)} paths never matched anything:[/yellow]")
    for line in missing:
        console.print(f"  {line}", highlight=False)
    return 1


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else str(value)


def _show(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, date):  # datetime too
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def cmd_contract_explain(args: argparse.Namespace) -> int:
    contract = load_contract(args.file)
    data = Path(args.xml).read_bytes()
    app_id = args.app_id
    if app_id is None:  # where this contract says the app id is (not a Provenir guess)
        try:
            root = parse_document(data, scope=contract.scope).root
        except XmlRejected:
            root = None
        app_id = (document_app_id(root, contract) if root is not None else None) or 0
    result = transform_record(RawRecord(app_id, data), contract, explain=True)
    if isinstance(result, Rejection):
        console.print(f"[red]rejected[/red] ({result.stage}): {result.reason}", highlight=False)
        return 1
    notes: dict[tuple[str, str, str], list[str]] = {}
    for table_name, key, column, what in result.events:
        notes.setdefault((table_name, key, column), []).append(what)
    for table in contract.tables:
        rows = result.rows[table.name]
        console.print(f"\n[bold]{table.name}[/bold]: {len(rows)} row(s)")
        for row in rows:
            key = ", ".join(f"{k}={row.get(k)}" for k in table.key)
            grid = Table(show_edge=False, title=key, title_justify="left")
            grid.add_column("column")
            grid.add_column("value")
            grid.add_column("note")
            for name, value in row.items():
                grid.add_row(name, _show(value), ", ".join(notes.get((table.name, key, name), [])))
            console.print(grid)
    console.print(
        f"\nDefaults applied: {result.defaulted}   truncated: {result.truncated}   "
        f"invalid → NULL: {result.invalid}   clamped: {result.clamped}"
    )
    if result.warnings:
        console.print("Warnings:")
        for w in result.warnings:
            console.print(f"  {w.code}: {w.detail}", highlight=False)
    return 0


# -- parser ----------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _logging_options(p: argparse.ArgumentParser, top: bool) -> None:
    """-v / --log-level, before or after the command (a command's own default must not
    overwrite what was given before it)."""
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if top else argparse.SUPPRESS,
        help="log more: -v progress of the run, -vv debugging details",
    )
    p.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default=None if top else argparse.SUPPRESS,
        help="log level of the standard logging module (overrides -v)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xmlmigrate",
        description=(
            "Migrate Provenir XML documents stored one per row in app_xml(app_id, xml) into "
            "normalized tables, following a mapping contract. Every processed app gets one "
            "row in processing_log, committed with its data, so runs can be repeated safely."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _logging_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, help_text: str, func: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        _logging_options(p, top=False)
        return p

    def db_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--db",
            default=default_db_url(),
            metavar="URL",
            help=f"SQLAlchemy database URL (default: ${DB_URL_ENV} or %(default)s)",
        )

    def contract_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--contract",
            type=Path,
            default=None,
            metavar="FILE",
            help="mapping contract file (default: the shipped provenir_cc contract)",
        )

    g = add("generate", "insert realistic mock Provenir documents into app_xml", cmd_generate)
    db_option(g)
    g.add_argument("--count", type=int, help="documents to generate (asked for on a terminal)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    g.add_argument(
        "--size-profile",
        choices=SIZE_PROFILES,
        default="realistic",
        help="document sizes: small (8-25 KB), realistic (real distribution, median ~150 KB, "
        "up to 2 MB), large (0.5-2 MB); default %(default)s",
    )

    def run_arguments(r: argparse.ArgumentParser) -> None:
        db_option(r)
        contract_option(r)
        r.add_argument(
            "--batch-size",
            type=_positive,
            default=DEFAULT_BATCH_SIZE,
            help="apps per transaction (default %(default)s)",
        )
        r.add_argument("--limit", type=_positive, help="migrate at most N apps in this run")
        r.add_argument("--app-id-start", type=int, metavar="ID", help="only apps with app_id >= ID")
        r.add_argument("--app-id-end", type=int, metavar="ID", help="only apps with app_id <= ID")
        r.add_argument(
            "--modulo",
            type=_positive,
            metavar="N",
            help="split app_xml in N partitions by app_id %% N (several processes or machines)",
        )
        r.add_argument(
            "--modulo-instance", type=int, metavar="I", help="the partition this run takes, 0..N-1"
        )
        r.add_argument(
            "--max-rejected",
            default=DEFAULT_MAX_REJECTED,
            metavar="N|PCT%",
            help="exit with status 4 when more apps than this are rejected: a count or a share "
            "of the run's records (default %(default)s: a wrong contract or source is caught)",
        )
        r.add_argument(
            "--retry-failed",
            action="store_true",
            help="also take apps whose earlier attempts failed (rejected ones stay rejected)",
        )

        tuning = r.add_argument_group("tuning (the perf suite sweeps these)")
        tuning.add_argument(
            "--workers",
            type=int,
            metavar="N",
            help="transform processes; 0 = in the main process (default: in-process for runs of "
            "up to 4 batches, else one per CPU core)",
        )
        bool_flag = argparse.BooleanOptionalAction
        tuning.add_argument(
            "--pooling",
            action=bool_flag,
            default=True,
            help="one long-lived database connection (--no-pooling: a new one per batch)",
        )
        tuning.add_argument(
            "--pipelined",
            action=bool_flag,
            default=True,
            help="transform the next batches while one is written (--no-pipelined: strictly serial)",
        )
        tuning.add_argument(
            "--dedup-cache",
            action=bool_flag,
            default=True,
            help="remember keys written in this run so known duplicates fail before reaching the "
            "database (--no-dedup-cache: always let the database find them)",
        )
        tuning.add_argument(
            "--check-well-formed",
            action=bool_flag,
            default=True,
            help="prove every whole document well-formed; --no-check-well-formed parses only the "
            "part the contract reads and does NOT reject documents broken elsewhere",
        )
        r.add_argument(
            "--metrics-out",
            type=Path,
            metavar="FILE",
            help="write the run's config, counts, rows per table and stage times as JSON",
        )

    run_arguments(add("run", "migrate every app of app_xml not yet in processing_log", cmd_run))

    bench = sub.add_parser("bench", help="measure the migration on this machine")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    pipe = bench_sub.add_parser(
        "pipeline",
        help="lxml parse-only reference, then a full run on an emptied target; rates and ratio",
        description="Read every pending document and parse it with lxml alone (the reference), "
        "empty the target, run the migration with the given knobs, and print both rates, their "
        "ratio and the rate of the first and last tenth of the run. DELETES migrated rows.",
    )
    pipe.set_defaults(func=cmd_bench_pipeline)
    pipe.add_argument("-q", "--quiet", action="store_true", help=argparse.SUPPRESS)
    run_arguments(pipe)

    base = sub.add_parser(
        "baseline",
        help="N clean runs: median, spread, confidence; --compare with an earlier baseline",
        description="Run the migration --runs times, each on an emptied target (DELETES "
        "migrated rows), print per-run times and their statistics, save them with the config "
        "to --out, and with --compare say whether this is faster, slower or no detectable "
        "change (Mann-Whitney U on the per-run seconds, alpha 0.05).",
    )
    base.set_defaults(func=cmd_baseline)
    base.add_argument("-q", "--quiet", action="store_true", help=argparse.SUPPRESS)
    base.add_argument("--runs", type=_positive, default=10, help="clean runs (default %(default)s)")
    base.add_argument(
        "--out", type=Path, default=Path("baseline_metrics.json"), help="default %(default)s"
    )
    base.add_argument("--compare", type=Path, metavar="OLD.json", help="an earlier baseline file")
    run_arguments(base)

    rep = sub.add_parser(
        "report",
        help="Markdown results table and PNG plots from pytest-benchmark and baseline JSON",
        description="Turn pytest-benchmark JSON (e.g. --benchmark-json or a file under "
        ".benchmarks/) and 'xmlmigrate baseline' files into RESULTS.md (optimization, before, "
        "after, gain, std dev per group; the best batch size) and PNG plots.",
    )
    rep.set_defaults(func=cmd_report)
    rep.add_argument("bench", nargs="*", type=Path, help="pytest-benchmark JSON files")
    rep.add_argument("--baseline", nargs="*", type=Path, help="xmlmigrate baseline JSON files")
    rep.add_argument("--gate", nargs="*", type=Path, help="xmlmigrate perf gate --json files")
    rep.add_argument("--out", type=Path, default=Path("perf-report"), help="default %(default)s")

    perf = sub.add_parser("perf", help="performance checks for CI")
    perf_sub = perf.add_subparsers(dest="perf_command", required=True)
    gate = perf_sub.add_parser(
        "gate",
        help="A/B the gate benchmarks of a base commit and the working tree; exit 1 on a "
        "regression",
        description="Check REF out in a temporary git worktree and run the benchmarks marked "
        "'gate' under tests/perf for the base and the working tree alternately (A B, B A, ...), "
        "each side in its own process, against the same database. Per benchmark: paired log "
        "ratios of CPU time (client processes plus PostgreSQL backends) and wall time, their "
        "median and a Wilcoxon signed-rank interval at 99 %% family-wise confidence. FAIL (exit "
        "1) when CPU time grew by more than --threshold (wall time: twice that) and the "
        "interval's lower bound is above 1, confirmed by a second measurement; WARN when "
        "inconclusive after --max-blocks. Counters (rows, statements, transactions) must match.",
    )
    gate.set_defaults(func=cmd_perf_gate)
    gate.add_argument("--base", required=True, metavar="REF", help="git commit, tag or branch")
    gate.add_argument(
        "--threshold", type=float, default=5.0, metavar="PCT", help="default %(default)s %%"
    )
    gate.add_argument(
        "--blocks", type=_positive, default=10, help="A/B blocks (default %(default)s)"
    )
    gate.add_argument(
        "--max-blocks",
        type=_positive,
        default=20,
        help="blocks at most when inconclusive (default %(default)s)",
    )
    gate.add_argument(
        "--db",
        metavar="URL",
        help="target database for both sides (default: a temporary SQLite file per side)",
    )
    gate.add_argument(
        "--records", type=_positive, default=40, help="documents per side (default %(default)s)"
    )
    gate.add_argument(
        "--rounds",
        type=_positive,
        default=4,
        help="rounds per benchmark and side in a block, after one warm-up round "
        "(default %(default)s)",
    )
    gate.add_argument("--size-profile", choices=SIZE_PROFILES, default="realistic")
    gate.add_argument(
        "--max-wait",
        type=float,
        default=25.0,
        metavar="PCT",
        help="discard a round that waited for a CPU more than this share of its wall time "
        "(default %(default)s %%)",
    )
    gate.add_argument(
        "--max-speed-gap",
        type=float,
        default=20.0,
        metavar="PCT",
        help="set a block aside when one side's process ran a fixed loop (the yardstick) this "
        "much slower than the other's (default %(default)s %%)",
    )
    gate.add_argument(
        "--inject-head",
        type=float,
        default=0.0,
        metavar="PCT",
        help="add this much CPU work to every head round: shows what the gate detects",
    )
    gate.add_argument("--no-confirm", action="store_true", help="do not re-measure a failure")
    gate.add_argument("--json", type=Path, metavar="FILE", help="write the verdicts as JSON")
    gate.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    gate.add_argument(
        "targets", nargs="*", help="where the gate benchmarks are (default tests/perf)"
    )

    cal = perf_sub.add_parser(
        "calibrate",
        help="run the gate repeatedly: base against itself and with slowdowns injected",
        description="Run 'perf gate' --runs times for each --inject percentage (0 = base "
        "against itself) and count FAIL / WARN / PASS: the false-alarm rate and the detection "
        "rate of the gate on this machine, and how long it takes.",
    )
    cal.set_defaults(func=cmd_perf_calibrate)
    cal.add_argument("--base", default="HEAD", metavar="REF", help="default %(default)s")
    cal.add_argument("--db", metavar="URL", help="target database (default: SQLite per side)")
    cal.add_argument("--runs", type=_positive, default=10, help="gates per slowdown (default 10)")
    cal.add_argument(
        "--inject",
        type=float,
        nargs="+",
        default=[0.0, 10.0, 3.0],
        metavar="PCT",
        help="slowdowns to inject into the head (default 0 10 3)",
    )
    cal.add_argument("--threshold", type=float, default=5.0, metavar="PCT")
    cal.add_argument("--json", type=Path, metavar="FILE", help="append each gate's JSON here")

    adv = perf_sub.add_parser(
        "adversarial",
        help="time and peak memory of one hostile document per shape",
        description="Generate one document per adversarial shape (long prefix, wide tail, no "
        "fragment, deep, many attributes, huge attribute, fat fragment) of --size MB and "
        "transform each in a fresh process: seconds, peak resident memory, outcome.",
    )
    adv.set_defaults(func=cmd_perf_adversarial)
    adv.add_argument("--size", type=_positive, default=60, help="MB per document (default 60)")

    i = add("init", "create the schema (idempotent) and seed app_enums", cmd_init)
    db_option(i)
    contract_option(i)
    i.add_argument(
        "--drop",
        action="store_true",
        help="drop and recreate the migrated tables and the log (keeps app_xml)",
    )

    s = add("status", "counts by outcome, top failure reasons, recent runs", cmd_status)
    db_option(s)
    contract_option(s)
    s.add_argument("--json", action="store_true", help="print the status as JSON")

    c = add(
        "clean",
        "delete migrated rows (cascading from app_base) and the log; keep app_xml",
        cmd_clean,
    )
    db_option(c)
    contract_option(c)

    contract_parser = sub.add_parser(
        "contract", help="check a mapping contract or explain what it does to a document"
    )
    contract_sub = contract_parser.add_subparsers(dest="contract_command", required=True)
    check = contract_sub.add_parser(
        "check",
        help="validate a contract; with a sample, list paths that never matched",
        description="Validate a contract and print its tables and enums. With --corpus or "
        "--db, also walk sample documents and list every row path and attribute path that "
        "never matched (exit status 1 if any).",
    )
    check.set_defaults(func=cmd_contract_check)
    check.add_argument("file", nargs="?", help="contract file (default: the shipped provenir_cc)")
    sample = check.add_mutually_exclusive_group()
    sample.add_argument("--corpus", metavar="DIR", help="directory of *.xml documents")
    sample.add_argument("--db", metavar="URL", help="database whose app_xml holds documents")
    check.add_argument(
        "--sample", type=_positive, default=500, help="documents to read (default %(default)s)"
    )
    explain = contract_sub.add_parser(
        "explain",
        help="show the rows one document gets, warnings, defaults and truncations",
        description="Map one document and print, per table, its rows with the columns that "
        "took defaults, were truncated, clamped or invalid, and the warnings.",
    )
    explain.set_defaults(func=cmd_contract_explain)
    explain.add_argument("file", nargs="?", help="contract file (default: the shipped provenir_cc)")
    explain.add_argument("--xml", required=True, metavar="DOC", help="the XML document")
    explain.add_argument("--app-id", type=int, help="app id (default: the document's Request/@ID)")

    d = add(
        "demo",
        "create a fresh SQLite file here, generate documents, migrate them, print the summary",
        cmd_demo,
    )
    d.add_argument(
        "--file", default=DEMO_FILE, help="SQLite file to (re)create (default %(default)s)"
    )
    d.add_argument("--count", type=_positive, default=1000, help="documents (default %(default)s)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    d.add_argument("--size-profile", choices=SIZE_PROFILES, default="realistic")
    d.add_argument("--batch-size", type=_positive, default=DEFAULT_BATCH_SIZE)
    return parser


def _error(message: str) -> None:
    """One line on stderr, never wrapped, so scripts and people can read it."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr)


def _configure_logging(args: argparse.Namespace) -> None:
    level_name = getattr(args, "log_level", None)
    verbose = getattr(args, "verbose", 0) or 0
    if level_name:
        level = getattr(logging, level_name.upper())
    else:
        level = logging.WARNING - 10 * min(verbose, 2)  # -v info, -vv debug
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _foreign_error(exc: BaseException) -> tuple[str, int]:
    """A message and exit code for an exception from a library (not the tool's own)."""
    module = type(exc).__module__.split(".")[0]
    if isinstance(exc, MemoryError):
        return "out of memory: the run stopped; committed batches stay", EXIT_INFRASTRUCTURE
    if isinstance(exc, sa.exc.DBAPIError | sa.exc.OperationalError) or module in (
        "psycopg",
        "pyodbc",
        "sqlite3",
    ):
        orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig else exc
        reason = next(iter(str(orig).strip().splitlines()), "") or type(orig).__name__
        return (
            f"database error ({type(orig).__name__}): {reason[:300]} — the run stopped; "
            "committed batches stay, the rest stays pending",
            EXIT_INFRASTRUCTURE,
        )
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return f"database error: {str(exc).splitlines()[0][:300]}", EXIT_INFRASTRUCTURE
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}", EXIT_USAGE
    log.debug("internal error", exc_info=exc)
    return (
        f"internal error: {type(exc).__name__}: {str(exc)[:300]} (a bug: please report it; "
        "--log-level debug shows the traceback)",
        EXIT_FAILED,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args)
    try:
        if isinstance(getattr(args, "db", None), str):
            check_url(args.db)
        code: int = args.func(args)
        return code
    except XmlMigrateError as exc:
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted: finished batches are committed, the rest stays pending")
        return EXIT_INTERRUPTED
    except Exception as exc:  # one line, never a traceback (--log-level debug shows it)
        message, code = _foreign_error(exc)
        _error(message)
        return code


if __name__ == "__main__":
    sys.exit(main())
