"""Commands that move data: generate, run, init, status, clean, demo."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.table import Table

from xmlmigrate.cli.common import (
    DEFAULT_MAX_REJECTED,
    command,
    config_option,
    console,
    contract_option,
    database,
    db_option,
    error_line,
    positive,
    progress_bar,
    run_arguments,
    seed_option,
    size_profile_option,
    tuning_config,
    write_metrics,
)
from xmlmigrate.cli.render import json_value, print_fit, print_summary, show
from xmlmigrate.config import MigrationConfig
from xmlmigrate.contract import CompiledContract, load_contracts
from xmlmigrate.db import make_engine, redact_url
from xmlmigrate.db.schema import SOURCE_TABLE, Schema, build_schema
from xmlmigrate.errors import (
    EXIT_CONTRACT_MISFIT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_TOO_MANY_REJECTED,
    Interrupted,
    UserError,
)
from xmlmigrate.ledger import ledger_status, log_has_digests, reset_target
from xmlmigrate.mock import generator_for, insert_documents, next_app_id
from xmlmigrate.model import RunStats
from xmlmigrate.run.pipeline import StopFlag, describe_config, run_migration
from xmlmigrate.sources import check_source

MENU = (50, 200, 500)  # the counts offered on a terminal (unnamed: small/large are profiles)
MENU_TRIES = 3  # wrong answers before the menu gives up
DEMO_FILE = "xmlmigrate-demo.db"


def _ask_count() -> int:
    """The count, asked on a terminal. End of input or ``MENU_TRIES`` wrong answers: a
    UserError (exit 2); Ctrl-C: Interrupted (130); nothing is written before it returns."""
    console.print("How many documents?")
    for i, n in enumerate(MENU, 1):
        console.print(f"  {i}) {n:,}")
    console.print(f"  {len(MENU) + 1}) another count")
    hint = "nothing generated (--count N skips the question)"
    try:
        for _ in range(MENU_TRIES):
            choice = console.input("Choice [1]: ").strip() or "1"
            if choice.isdigit() and 1 <= int(choice) <= len(MENU):
                return MENU[int(choice) - 1]
            if choice != str(len(MENU) + 1):
                console.print("Please answer with a number from the list.")
                continue
            text = console.input("Count: ").strip()
            if text.isdigit() and int(text) > 0:
                return int(text)
            console.print("The count is a whole number of at least 1.")
    except EOFError:  # Ctrl-D
        console.print()
        raise UserError(f"no count given: {hint}") from None
    except KeyboardInterrupt:
        console.print()
        raise Interrupted("interrupted: no count given, nothing generated") from None
    raise UserError(f"no count given after {MENU_TRIES} answers that were none: {hint}")


def _generate(
    db_url: str,
    count: int,
    seed: int,
    profile: str,
    quiet: bool,
    contracts: Sequence[Path] = (),
    edge_rate: float = 0.0,
) -> None:
    contract = load_contracts(contracts)
    schema = build_schema(contract)
    engine = make_engine(db_url)
    try:
        schema.create(engine)
        for src in schema.sources:  # a contract's own source table, made for a trial
            src.create(engine, checkfirst=True)
        route = [schema.sources[schema.refs.index(m.documents)] for m in contract.members]
        start = next_app_id(engine, schema)
        gen = generator_for(contract, seed, profile, start, edge_rate)
        with progress_bar(quiet) as progress:
            task = progress.add_task("generate", total=count, rate="")

            def advance(done: int, size: int) -> None:
                progress.update(task, completed=done, rate=f"{size / 1e6:,.0f} MB")

            try:
                n, size = insert_documents(
                    engine, schema, gen.generate(count), on_chunk=advance, route=route
                )
            except KeyboardInterrupt:
                progress.stop()
                raise _generate_interrupted(
                    engine, route or [schema.source], start, count
                ) from None
    finally:
        engine.dispose()
    tables = " and ".join(r.label for r in schema.refs)
    console.print(
        f"Inserted {n:,} documents ({size / 1e6:,.1f} MB, profile {profile}, seed {seed}) into "
        f"{tables}, app ids {start:,}–{start + n - 1:,}, in {redact_url(db_url)}"
    )


def _generate_interrupted(
    engine: sa.Engine, route: Sequence[sa.Table], start: int, count: int
) -> Interrupted:
    """What a Ctrl-C during generate's insert leaves: the chunks committed before it (each
    chunk is one transaction), counted in the source table(s) from the first id generated."""
    try:
        with engine.connect() as conn:
            n = sum(
                int(
                    conn.execute(
                        sa.select(sa.func.count()).select_from(src).where(src.c.app_id >= start)
                    ).scalar_one()
                )
                for src in dict.fromkeys(route)
            )
    except sa.exc.SQLAlchemyError:
        return Interrupted(
            f"interrupted: generate stopped; the documents inserted before it (app ids from "
            f"{start:,} on) are committed, the rest of the {count:,} were not generated"
        )
    ids = f" (app ids {start:,}–{start + n - 1:,})" if n else ""
    return Interrupted(
        f"interrupted: {n:,} documents inserted and committed{ids}; the other "
        f"{count - n:,} were not generated"
    )


def _source_labels(config: MigrationConfig, contract: CompiledContract) -> str:
    refs = (config.source_ref,) if config.source_ref is not None else contract.sources
    return " and ".join(r.label for r in refs if r is not None)


def _run(config: MigrationConfig, quiet: bool, metrics_out: Path | None = None) -> RunStats:
    contract = load_contracts(config.contracts)  # errors here must not start a progress bar
    progress = progress_bar(quiet)  # shown once the run started: none before a startup error
    task = progress.add_task("migrate", total=None, rate="")

    def started(pending: int) -> None:
        progress.update(task, total=pending)
        progress.start()

    def batch(stats: RunStats, done: int) -> None:
        progress.update(task, completed=done, rate=f"{stats.rec_per_min:,.0f} rec/min")

    # SIGINT and SIGTERM from the start of ``run`` until its summary and --metrics-out are
    # written: the pipeline's own flag handles them while batches run; one that arrives before
    # (the source checked, the lease taken, the run row started) reaches it through stop_when,
    # so the run stops before its first batch and ends interrupted, its row finished, with its
    # summary; one that arrives after does not cut the summary. A second interrupts at once.
    with StopFlag() as signals:
        try:
            stats = run_migration(
                config,
                contract,
                on_start=started,
                on_batch=batch,
                stop_when=lambda: signals.requested,
            )
        finally:
            progress.stop()
        if stats.interrupted and stats.stop_signal is None and signals.signal:
            stats.stop_signal = signals.signal  # it came before the pipeline's own flag
        _report(config, contract, stats, metrics_out)
    return stats


def _report(
    config: MigrationConfig,
    contract: CompiledContract,
    stats: RunStats,
    metrics_out: Path | None,
) -> None:
    """The run's summary; ``--metrics-out`` first (a run with nothing to do too), so a
    closed stdout never loses it."""
    if metrics_out is not None:
        write_metrics(metrics_out, {"config": describe_config(config), **stats.to_dict()})
    if stats.pending == 0 and _source_is_empty(config, contract):
        console.print(
            f"Nothing to do: {_source_labels(config, contract)} holds no documents: generate "
            f"or load some first ('xmlmigrate generate --db {redact_url(config.db_url)} "
            "--count N')"
        )
        return
    if stats.pending == 0:
        console.print(
            f"Nothing to do: every app of {_source_labels(config, contract)} in "
            f"{redact_url(config.db_url)} that this "
            "run may take is in processing_log already (--retry-failed takes failed ones again, "
            "--retry-rejected [REASON...] rejected ones)"
        )
        return
    print_summary(stats, config.db_url, config.batch_size)


def _source_is_empty(config: MigrationConfig, contract: CompiledContract) -> bool:
    """Whether the run's source table(s) hold no row at all (best effort: False on error)."""
    schema = build_schema(contract, config.source_ref)
    engine = make_engine(config.db_url)
    try:
        with engine.connect() as conn:
            return all(
                conn.execute(sa.select(sa.literal(1)).select_from(src).limit(1)).first() is None
                for src in schema.sources
            )
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def cmd_generate(args: argparse.Namespace) -> int:
    count = args.count
    if count is None:
        if not sys.stdin.isatty():
            raise UserError("--count is required when not run from a terminal")
        count = _ask_count()
    if count < 1:
        raise UserError("--count must be at least 1")
    if not 0.0 <= args.edge_rate <= 1.0:
        raise UserError("--edge-rate must be between 0 and 1")
    _generate(
        args.db,
        count,
        args.seed,
        args.size_profile,
        args.quiet,
        args.contract or (),
        args.edge_rate,
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    limit = _max_rejected(args.max_rejected or DEFAULT_MAX_REJECTED)
    min_filled = _min_filled(args.min_filled or DEFAULT_MIN_FILLED)
    config = tuning_config(args)
    if args.cluster:
        return _run_cluster(config, args.cluster, args.quiet, limit, min_filled, args.metrics_out)
    stats = _run(config, args.quiet, args.metrics_out)
    return run_exit_code(stats, limit, min_filled)


FIT_JUDGED_FROM = 20  # migrated apps before a low share of filled columns is an error
DEFAULT_MIN_FILLED = "50%"


def _min_filled(text: str) -> float:
    """``--min-filled``: a share of the contract's mapped columns, '50%' (or 50)."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise UserError(f"--min-filled takes a share like 50%, not {text!r}") from None
    if not 0 <= value <= 100:
        raise UserError(f"--min-filled out of range (0%..100%): {text!r}")
    return value


def _run_cluster(
    config: MigrationConfig,
    spec_text: str,
    quiet: bool,
    limit: tuple[float, bool],
    min_filled: float,
    metrics_out: Path | None = None,
) -> int:
    from xmlmigrate.run.cluster import parse_cluster, run_on_cluster

    spec = parse_cluster(spec_text)
    # contract errors before any cluster starts; this contract, as read now, is what every
    # task compiles (its text travels with the task)
    contract = load_contracts(config.contracts)
    with progress_bar(quiet) as progress:
        task = progress.add_task("migrate", total=None, rate="")

        def started(pending: int, partitions: int, dashboard: str | None) -> None:
            progress.update(task, total=pending)
            progress.console.print(
                f"{pending:,} apps pending in {partitions} partitions on {spec.describe()}"
                + (f"; dashboard {dashboard}" if dashboard else ""),
                highlight=False,
            )

        def done(stats: object) -> None:
            records = int(getattr(stats, "records", 0))
            rate = float(getattr(stats, "rec_per_min", 0.0))
            progress.update(task, completed=records, rate=f"{rate:,.0f} rec/min")

        stats = run_on_cluster(config, spec, started, done, contract)
    if metrics_out is not None:  # before the summary: a closed stdout never loses it
        described = {**describe_config(config), "cluster": spec.describe()}
        write_metrics(metrics_out, {"config": described, **stats.to_dict()})
    console.print(
        f"Cluster {stats.cluster}: {stats.records:,} records in {stats.partitions} partitions — "
        f"success {stats.success:,}, failed {stats.failed:,}, rejected {stats.rejected:,}, "
        f"warnings {stats.warnings:,}; {stats.rows:,} rows; {stats.elapsed:.1f} s, "
        f"{stats.rec_per_min:,.0f} rec/min",
        highlight=False,
    )
    if stats.stop_signal:
        late = (
            f"; {stats.unstopped} tasks had not stopped yet: they stop after their batch in flight"
            if stats.unstopped
            else ""
        )
        console.print(
            f"Stopped by {stats.stop_signal}: the tasks committed their batches in flight and "
            f"stopped{late}; the rest stays pending (run again to resume)",
            highlight=False,
        )
        return EXIT_TERMINATED if stats.stop_signal == "SIGTERM" else EXIT_INTERRUPTED
    if stats.failed:
        error_line(f"{stats.failed:,} apps failed (see 'xmlmigrate status')")
        return EXIT_FAILED
    share, is_share = limit
    allowed = stats.records * share / 100 if is_share else share
    if stats.rejected > allowed:
        error_line(f"{stats.rejected:,} apps rejected, more than --max-rejected allows")
        return EXIT_TOO_MANY_REJECTED
    if stats.fit is not None:
        print_fit(RunStats(fit=stats.fit))
    return _fit_exit_code(stats.fit, min_filled)


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


def run_exit_code(
    stats: RunStats, max_rejected: tuple[float, bool], min_filled: float = 0.0
) -> int:
    """The run's exit status (see xmlmigrate.errors), with a line saying why when not 0."""
    if stats.crash:
        return EXIT_FAILED
    if stats.stop_signal == "SIGTERM":
        return EXIT_TERMINATED
    if stats.interrupted:
        return EXIT_INTERRUPTED
    if stats.failed:
        error_line(_failed_advice(stats))
        return EXIT_FAILED
    limit, share = max_rejected
    allowed = stats.records * limit / 100 if share else limit
    if stats.records and stats.rejected > allowed:
        shown = f"{limit:g}%" if share else f"{limit:g}"
        error_line(
            f"{stats.rejected:,} of {stats.records:,} apps were rejected, more than "
            f"--max-rejected {shown}: is the contract right for these documents? (once it "
            "is, 'run --retry-rejected [REASON...]' takes them again)"
        )
        return EXIT_TOO_MANY_REJECTED
    return _fit_exit_code(stats.fit, min_filled)


# failures the same document meets again on every attempt: a key another app's rows hold
_CONSTRAINT_FAILURES = (
    "duplicate_key",
    "integrity",
    "violation",
    "unique constraint",
    "duplicate key",
)
_KEY_ADVICE = (
    "a retry fails them again: give the contract's table the key that tells these rows "
    'apart, or set on_duplicate = "keep_existing" on it to keep the rows already written'
)


def _failed_advice(stats: RunStats) -> str:
    """The line for failed apps: 'run --retry-failed' is offered only for failures a retry
    can fix, not for a duplicate key or another constraint the data breaks every time."""
    keyed = sum(
        n
        for reason, n in stats.reasons.items()
        if reason.startswith("failed: ")
        and any(word in reason.lower() for word in _CONSTRAINT_FAILURES)
    )
    keyed = min(keyed, stats.failed)
    if keyed == 0:
        return (
            f"{stats.failed:,} apps failed (see 'xmlmigrate status'; 'run --retry-failed' "
            "takes them again)"
        )
    if keyed == stats.failed:
        return (
            f"{stats.failed:,} apps failed on a duplicate key or another constraint (see "
            f"'xmlmigrate status'): {_KEY_ADVICE}"
        )
    return (
        f"{stats.failed:,} apps failed (see 'xmlmigrate status'): {keyed:,} of them on a "
        f"duplicate key or another constraint — {_KEY_ADVICE}; 'run --retry-failed' takes "
        f"the other {stats.failed - keyed:,} again"
    )


def _fit_exit_code(fit: dict[str, Any] | None, min_filled: float) -> int:
    """Status 6, with a line saying why, when the documents filled too little of the
    contract (xmlmigrate.fit); else 0."""
    if fit and fit["apps"] and fit["columns"]:
        share = 100.0 * fit["filled"] / fit["columns"]
        judged = fit["apps"] >= FIT_JUDGED_FROM or fit["filled"] == 0
        if judged and share < min_filled:
            error_line(
                f"the {fit['apps']:,} migrated documents filled {fit['filled']:,} of the "
                f"contract's {fit['columns']:,} mapped columns ({share:.0f} %, below "
                f"--min-filled {min_filled:g}%): does the contract fit these documents? "
                "('xmlmigrate contract check --db URL' names the nearest attributes)"
            )
            return EXIT_CONTRACT_MISFIT
    return EXIT_OK


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def confirm_delete(args: argparse.Namespace, engine: sa.Engine, schema: Schema, what: str) -> None:
    """Before ``clean`` or ``init --drop`` deletes anything: name what goes (tables, apps
    logged, runs) and ask on a terminal (y/N); without one, go on only with ``--yes``.
    Nothing there to delete: nothing to ask."""
    if args.yes:  # nothing to ask: no need to count what goes
        return
    existing = set(sa.inspect(engine).get_table_names())
    tables = [t.name for t in (*schema.targets, schema.log, schema.runs) if t.name in existing]
    if not tables:
        return
    with engine.connect() as conn:
        apps = runs = 0
        if schema.log.name in existing:
            apps = conn.execute(
                sa.select(sa.func.count(sa.distinct(schema.log.c.app_id)))
            ).scalar_one()
        if schema.runs.name in existing:
            runs = conn.execute(sa.select(sa.func.count()).select_from(schema.runs)).scalar_one()
        rows = schema.root.name in existing and (
            conn.execute(sa.select(sa.literal(1)).select_from(schema.root).limit(1)).first()
        )
    if not (apps or runs or rows):  # empty tables: no data to lose
        return
    shown = ", ".join(tables[:3]) + (f", … {len(tables) - 3} more" if len(tables) > 3 else "")
    doomed = (
        f"{what} in {redact_url(args.db)}: {_plural(len(tables), 'table')} ({shown}), "
        f"{_plural(apps, 'app')} logged, {_plural(runs, 'run')} of history"
    )
    if not sys.stdin.isatty():
        raise UserError(f"this deletes {doomed}; not run from a terminal: add --yes to go on")
    try:
        answer = input(f"This deletes {doomed}. Go on? [y/N] ")
    except EOFError:  # Ctrl-D: no answer is no
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise UserError("not confirmed: nothing was deleted")


def cmd_init(args: argparse.Namespace) -> int:
    with database(args) as (schema, engine):
        documents = _source_rows(engine, schema)
        if args.drop:
            confirm_delete(args, engine, schema, "every migrated table, the log and the runs")
            schema.drop_targets(engine)
        schema.create(engine)
    what = "recreated" if args.drop else "ready"
    source = "created, empty" if documents is None else f"kept, {documents:,} documents"
    console.print(
        f"Schema {what} in {redact_url(args.db)}: {len(schema.metadata.tables)} tables "
        f"({SOURCE_TABLE} {source})"
    )
    return 0


def _source_rows(engine: sa.Engine, schema: Schema) -> int | None:
    """The documents in the source table; None when it does not exist."""
    if not sa.inspect(engine).has_table(schema.source.name, schema=schema.source.schema):
        return None
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(schema.source)).scalar_one())


def _config_object(stored: object) -> object:
    """A run's stored config (JSON text) as an object for ``status --json``. Rows an older
    version stored hold ``contracts`` as a tuple's repr ("(PosixPath('a.toml'),)"): read
    back as the list of paths; text that is no JSON stays as it is."""
    if not isinstance(stored, str):
        return stored
    try:
        config = json.loads(stored)
    except ValueError:
        return stored
    if isinstance(config, dict) and isinstance(config.get("contracts"), str):
        found = re.finditer(r"""Path\((['"])(.*?)\1\)""", config["contracts"])
        config["contracts"] = [m.group(2) for m in found]
    return config


def cmd_status(args: argparse.Namespace) -> int:
    with database(args, must_exist=True) as (schema, engine):
        missing = set(schema.missing_tables(engine))
        if SOURCE_TABLE in missing or schema.log.name in missing:
            raise UserError(
                f"no migration tables in {redact_url(args.db)}: run 'xmlmigrate init' or "
                "'xmlmigrate generate' first"
            )
        schema = check_source(engine, schema)
        # status reads only: a log an earlier version made has no digests until a run adds them
        digests = log_has_digests(engine, schema)
        st = ledger_status(engine, schema, changed=args.changed and digests)
    if args.changed and not digests:
        console.print(
            f"{schema.log.name} was created by an earlier version and records no document "
            "digests yet: the next 'xmlmigrate run' adds the column, and the apps it logs from "
            "then on can be compared"
        )
    fit = _last_fit(st.recent_runs)
    if args.json:
        document = {
            "database": redact_url(args.db),
            "last_run_fit": fit,
            "documents": st.apps_in_source,
            "by_status": st.by_status,
            "pending": st.pending,
            "changed_since_migration": st.changed,
            "logged_not_in_source": st.gone,
            "top_reasons": [{"reason": r, "apps": n} for r, n in st.top_failures],
            "recent_runs": [
                {**r, "config": _config_object(r.get("config"))} for r in st.recent_runs
            ],
        }
        print(json.dumps(document, indent=2, default=json_value))
        return 0
    console.print(
        f"[bold]{redact_url(args.db)}[/bold]: {st.apps_in_source:,} documents in "
        f"{' and '.join(r.label for r in schema.refs)}"
    )
    counts = "   ".join(f"{s} {n:,}" for s, n in sorted(st.by_status.items()))
    console.print(f"Apps by latest outcome: {counts or 'none yet'}   pending {st.pending:,}")
    if st.changed is not None and st.gone is not None:
        console.print(
            f"Documents changed since their outcome was logged: {st.changed:,}"
            + (" ('xmlmigrate run --changed' migrates them again)" if st.changed else "")
            + f"   logged apps no longer in the source: {st.gone:,}"
        )
    else:
        console.print(
            "Documents changed since migration: 'xmlmigrate status --changed' counts them "
            "(the database hashes every document)",
            style="dim",
        )
    if fit is not None and fit.get("apps"):
        never = fit.get("never_filled") or []
        console.print(
            f"Last run's documents filled {fit['filled']:,} of {fit['columns']:,} mapped "
            f"columns ({100 * fit['filled_share']:.0f} %)"
            + (f"; never filled: {', '.join(never[:5])}" if never else "")
            + (f" … and {len(never) - 5:,} more" if len(never) > 5 else ""),
            highlight=False,
            markup=False,
        )
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
                show(r["started_at"])[:19],
                str(r["records"] or 0),
                str(r["success"] or 0),
                str(r["failed"] or 0),
                str(r["rejected"] or 0),
                f"{r['rec_per_min'] or 0:,.0f}" if r["finished_at"] else "unfinished",
            )
        console.print(runs)
    return 0


def _last_fit(runs: list[dict[str, object]]) -> dict[str, Any] | None:
    """The contract fit the latest finished run recorded (see xmlmigrate.fit)."""
    for run in runs:
        if run.get("finished_at") is None:
            continue
        try:
            config = json.loads(str(run.get("config") or "{}"))
        except ValueError:
            return None
        fit = config.get("fit") if isinstance(config, dict) else None
        return fit if isinstance(fit, dict) else None
    return None


def cmd_clean(args: argparse.Namespace) -> int:
    with database(args, must_exist=True) as (schema, engine):
        missing = set(schema.missing_tables(engine))
        if schema.root.name in missing or schema.log.name in missing:
            console.print(f"Nothing to clean: no migrated tables in {redact_url(args.db)}")
            return 0
        confirm_delete(args, engine, schema, "every migrated row, the log and the runs")
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
    config = MigrationConfig(
        db_url=db_url, batch_size=args.batch_size, max_batch_bytes=args.max_batch_bytes
    )
    _run(config, args.quiet)
    console.print(
        f"Next: xmlmigrate status --db {db_url}\n"
        f"      xmlmigrate generate --db {db_url} --count N, then xmlmigrate run --db {db_url}",
        markup=False,
        highlight=False,
    )
    return 0


def yes_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="delete without asking (needed when not run from a terminal)",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = command(
        sub, "generate", "insert realistic mock Provenir documents into app_xml", cmd_generate
    )
    db_option(g)
    contract_option(g)
    g.add_argument("--count", type=int, help="documents to generate (asked for on a terminal)")
    g.add_argument(
        "--edge-rate",
        type=float,
        default=0.0,
        help="share of values and elements drawn as the edge cases real documents carry "
        "(blank, impossible or unknown values, over-long text, skipped types); default "
        "%(default)s",
    )
    seed_option(g)
    size_profile_option(g)

    r = command(
        sub,
        "run",
        "migrate every app of the source table(s) not yet in processing_log",
        cmd_run,
    )
    run_arguments(r)
    r.add_argument(
        "--min-filled",
        metavar="PCT%",
        help="exit with status 6 when the migrated documents filled fewer than this share of "
        f"the contract's mapped columns (default {DEFAULT_MIN_FILLED}%; judged from 20 migrated apps on, "
        "or at once when none is filled): a contract that does not fit the documents "
        "migrates them all with NULL everywhere",
    )

    i = command(sub, "init", "create the schema (idempotent) and seed app_enums", cmd_init)
    db_option(i)
    contract_option(i)
    i.add_argument(
        "--drop",
        action="store_true",
        help="drop and recreate the migrated tables and the log (keeps app_xml); asks first "
        "on a terminal",
    )
    yes_option(i)

    s = command(sub, "status", "counts by outcome, top failure reasons, recent runs", cmd_status)
    db_option(s)
    contract_option(s)
    s.add_argument("--json", action="store_true", help="print the status as JSON")
    s.add_argument(
        "--changed",
        action="store_true",
        help="also count documents changed since their outcome was logged (their digest in "
        "processing_log differs) and logged apps no longer in the source; the database reads "
        "and hashes every document, so this takes as long as a scan of the source",
    )

    c = command(
        sub,
        "clean",
        "delete migrated rows (cascading from app_base) and the log; keep app_xml",
        cmd_clean,
    )
    db_option(c)
    contract_option(c)
    yes_option(c)

    d = command(
        sub,
        "demo",
        "create a fresh SQLite file here, generate documents, migrate them, print the summary",
        cmd_demo,
    )
    d.add_argument(
        "--file", default=DEMO_FILE, help="SQLite file to (re)create (default %(default)s)"
    )
    d.add_argument("--count", type=positive, default=1000, help="documents (default %(default)s)")
    seed_option(d)
    size_profile_option(d)
    config_option(d, "batch_size")
    config_option(d, "max_batch_bytes")
