"""``xmlmigrate perf``: measuring — pipeline, baseline, gate, calibrate, report, adversarial.

The old spellings ``xmlmigrate bench pipeline``, ``xmlmigrate baseline`` and ``xmlmigrate
report`` still work for one release and print a deprecation line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.table import Table

from xmlmigrate.bench import gate_options
from xmlmigrate.bench.gate_options import BENCHMARK_STORAGE
from xmlmigrate.bench.render import print_gate
from xmlmigrate.cli.common import (
    Commands,
    Handler,
    command,
    console,
    db_option,
    err_console,
    error_line,
    positive,
    run_arguments,
    size_profile_option,
    tuning_config,
    write_metrics,
)
from xmlmigrate.cli.render import print_summary
from xmlmigrate.db import redact_url
from xmlmigrate.errors import GateError, UserError
from xmlmigrate.run.pipeline import describe_config


def refuse_unhonoured(args: argparse.Namespace, name: str) -> None:
    """``perf pipeline`` and ``perf baseline`` take the run's options but empty the target
    first and run here: the options that cannot mean anything then are refused, not ignored."""
    emptied = "it empties the target and its log first, so every app is pending anyway"
    refused = (
        (
            "--cluster",
            args.cluster is not None,
            "it measures a run in this process and its own worker processes",
        ),
        ("--retry-failed", args.retry_failed, emptied),
        ("--retry-rejected", args.retry_rejected is not None, emptied),
        ("--changed", args.changed, emptied),
        (
            "--max-rejected",
            args.max_rejected is not None,
            "its exit status judges the measurement, not rejections ('run' does)",
        ),
        (
            "--metrics-out",
            name == "baseline" and args.metrics_out is not None,
            "it writes its runs to --out",
        ),
    )
    for flag, given, why in refused:
        if given:
            raise UserError(f"perf {name} does not take {flag}: {why}")


def cmd_bench_pipeline(args: argparse.Namespace) -> int:
    from xmlmigrate.bench.speed import measure

    refuse_unhonoured(args, "pipeline")
    config = tuning_config(args)
    console.print(f"Measuring on {redact_url(config.db_url)}: lxml parse-only pass, then the run")
    report = measure(config)
    if args.metrics_out is not None:
        write_metrics(args.metrics_out, {"config": describe_config(config), **report.to_dict()})
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
    return 1 if report.stats.crash else 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from xmlmigrate.bench import baseline as bl

    refuse_unhonoured(args, "baseline")
    if args.runs < 2:
        raise UserError("--runs must be at least 2 to measure spread")
    old = bl.load(args.compare) if args.compare is not None else None
    config = tuning_config(args)
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
        threshold=gate_options.THRESHOLD.held(args.threshold),
        db_url=args.db,
        records=args.records,
        rounds=args.rounds,
        profile=args.size_profile,
        inject_head=gate_options.INJECT_HEAD.held(args.inject_head),
        targets=tuple(args.targets) or ("tests/perf",),
        **gate_options.gate_settings(lambda dest: getattr(args, dest)),
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
    except GateError as exc:
        error_line(str(exc))
        return 2
    if args.json is not None:  # first: a closed stdout must not lose it
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    print_gate(result, console)
    if args.json is not None:
        console.print(f"Saved {args.json}")
    return 1 if result.verdict == "fail" else 0


SAVED_ROUNDS = 10  # perf calibrate --saved: rounds of each saved and compared run


def _calibrate_saved(args: argparse.Namespace) -> int:
    from xmlmigrate.bench.saved import calibrate_saved

    injects = [gate_options.INJECT_HEAD.held(p) for p in args.inject]
    threshold = gate_options.THRESHOLD.held(args.threshold)
    runs, records, rounds = args.runs, args.records, args.rounds or SAVED_ROUNDS
    if args.base != "HEAD":  # every other flag read first: each is honoured or refused
        raise UserError(
            "perf calibrate --saved does not take --base: it compares runs of the working tree "
            "saved by one process with later runs of the same tree"
        )
    started = time.perf_counter()
    verdicts = calibrate_saved(
        runs,
        injects,
        threshold,
        args.db,
        records=records,
        rounds=rounds,
        progress=lambda m: console.print(m, highlight=False),
    )
    table = Table(show_edge=False, title="saved-baseline comparison: calibration")
    for heading in ("compared run slowed by", "trials", "FAIL", "INCONCLUSIVE", "PASS"):
        table.add_column(heading, justify="right")
    rows = []
    for pct, found in zip(args.inject, verdicts.values(), strict=True):
        row = {"inject_pct": pct, "trials": len(found)}
        row.update({v: found.count(v) for v in ("fail", "warn", "pass")})
        rows.append(row)
        table.add_row(
            f"+{pct:g} %", str(len(found)), str(row["fail"]), str(row["warn"]), str(row["pass"])
        )
    console.print(table)
    console.print(f"{time.perf_counter() - started:.0f} s in all", highlight=False)
    if args.json is not None:
        args.json.write_text(json.dumps({"saved_calibration": rows}, indent=2) + "\n")
    return 0


def cmd_perf_calibrate(args: argparse.Namespace) -> int:
    from xmlmigrate.bench import gate as g

    if args.saved:
        return _calibrate_saved(args)

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
                inject_head=gate_options.INJECT_HEAD.held(pct),
                threshold=gate_options.THRESHOLD.held(args.threshold),
                records=args.records,
                rounds=args.rounds or gate_options.ROUNDS.value,
            )
            try:
                result = g.run_gate(cfg)
            except GateError as exc:
                error_line(str(exc))
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


def _autosaved(storage: Path) -> Path:
    """The newest run pytest-benchmark saved for this machine under ``storage``."""
    from xmlmigrate.bench.saved import latest_saved_run, machine_id

    latest = latest_saved_run(storage)
    if latest is None:
        raise UserError(
            f"no benchmark run saved in {storage / machine_id()}: run the benchmarks with "
            "--benchmark-autosave (pytest saves each run there), or with --benchmark-json=FILE "
            "and give FILE here"
        )
    console.print(f"Reading {latest} (the newest run saved by pytest-benchmark)", highlight=False)
    return latest


def cmd_report(args: argparse.Namespace) -> int:
    from xmlmigrate.bench.report import build_report, load_cases

    bench = list(args.bench)
    if args.latest or not (bench or args.baseline or args.gate):
        bench.append(_autosaved(args.storage))
    elif args.storage != BENCHMARK_STORAGE:
        raise UserError(
            "perf report reads --storage only with --latest or when no file is given: add "
            "--latest to read its newest run as well"
        )
    try:
        table, images = build_report(bench, args.baseline or [], args.out, args.gate or [])
    except ImportError as exc:
        raise UserError(
            f"the report needs the bench extra ({exc.name or exc}): pip install 'xmlmigrate[bench]'"
        ) from None
    except (ValueError, KeyError, OSError) as exc:
        raise UserError(f"cannot build the report: {exc}") from None
    console.print(f"Wrote {table}")
    for image in images:
        console.print(f"Wrote {image}")
    for case in load_cases(bench):  # the knob effects table, measured in one session
        if case.knob_effects:
            k = case.knob_effects
            effects = Table(
                show_edge=False,
                title=f"Knob effects against {k['default']} ({case.source}, "
                f"{k['confidence']:.0%} intervals)",
            )
            for heading in ("variant", "throughput change (interval)", "verdict"):
                effects.add_column(heading)
            for e in k["effects"]:
                effects.add_row(e["name"], e["claim"], e["verdict"])
            console.print(effects)
            console.print(k["best_batch_size"], highlight=False)
    return 0


def _pipeline(sub: Commands, func: Handler) -> argparse.ArgumentParser:
    pipe = command(
        sub,
        "pipeline",
        func=func,
        help_text="lxml parse-only reference, then a full run on an emptied target; rates and ratio",
        description="Read every pending document and parse it with lxml alone (the reference), "
        "empty the target, run the migration with the given knobs, and print both rates, their "
        "ratio and the rate of the first and last tenth of the run. DELETES migrated rows.",
    )
    run_arguments(pipe)
    return pipe


def _baseline(sub: Commands, func: Handler) -> argparse.ArgumentParser:
    base = command(
        sub,
        "baseline",
        func=func,
        help_text="N clean runs: median, spread, confidence; --compare with an earlier baseline",
        description="Run the migration --runs times, each on an emptied target (DELETES "
        "migrated rows), print per-run times and their statistics, save them with the config "
        "to --out, and with --compare say whether this is faster, slower or no detectable "
        "change (Mann-Whitney U on the per-run seconds, alpha 0.05).",
    )
    base.add_argument("--runs", type=positive, default=10, help="clean runs (default %(default)s)")
    base.add_argument(
        "--out", type=Path, default=Path("baseline_metrics.json"), help="default %(default)s"
    )
    base.add_argument("--compare", type=Path, metavar="OLD.json", help="an earlier baseline file")
    run_arguments(base)
    return base


def _report(sub: Commands, func: Handler) -> argparse.ArgumentParser:
    rep = command(
        sub,
        "report",
        func=func,
        help_text="Markdown results table and PNG plots from pytest-benchmark and baseline JSON",
        description="Turn pytest-benchmark JSON (e.g. --benchmark-json or a file under "
        ".benchmarks/) and 'xmlmigrate baseline' files into RESULTS.md (optimization, before, "
        "after, gain, std dev per group; the best batch size) and PNG plots. With no file "
        "given, the newest run pytest-benchmark saved for this machine (--benchmark-autosave: "
        ".benchmarks/<machine>/<counter>_*.json) is read.",
    )
    rep.add_argument(
        "bench",
        nargs="*",
        type=Path,
        help="pytest-benchmark JSON files (default: the newest autosaved run)",
    )
    rep.add_argument(
        "--latest",
        action="store_true",
        help="also read the newest run pytest-benchmark saved for this machine under --storage",
    )
    rep.add_argument(
        "--storage",
        type=Path,
        default=BENCHMARK_STORAGE,
        metavar="DIR",
        help="pytest-benchmark's --benchmark-storage folder (default %(default)s)",
    )
    rep.add_argument("--baseline", nargs="*", type=Path, help="xmlmigrate baseline JSON files")
    rep.add_argument("--gate", nargs="*", type=Path, help="xmlmigrate perf gate --json files")
    rep.add_argument("--out", type=Path, default=Path("perf-report"), help="default %(default)s")
    return rep


def _gate(sub: Commands, func: Handler) -> argparse.ArgumentParser:
    gate = command(
        sub,
        "gate",
        func=func,
        help_text="A/B the gate benchmarks of a base commit and the working tree; exit 1 on a "
        "regression",
        description="Check REF out in a temporary git worktree and run the benchmarks marked "
        "'gate' under tests/perf for the base and the working tree alternately (A B, B A, ...), "
        "each side in its own process, against the same database. Per benchmark: paired log "
        "ratios of CPU time (client processes plus PostgreSQL backends) and wall time, their "
        "median and a Wilcoxon signed-rank interval at 99 % family-wise confidence. FAIL (exit "
        "1) when CPU time grew by more than --threshold (wall time: twice that) and the "
        "interval's lower bound is above 1, confirmed by a second measurement; WARN when "
        "inconclusive after --max-blocks. Counters (rows, statements, transactions) must match.",
    )
    gate.add_argument("--base", required=True, metavar="REF", help="git commit, tag or branch")
    gate_options.THRESHOLD.add(gate.add_argument)
    # --blocks, --max-blocks, --max-wait, --max-speed-gap, --no-confirm (the pytest plugin's
    # --perf-gate-blocks, ...)
    gate_options.add_gate_options(gate.add_argument)
    db_option(gate, "target database for both sides (default: a temporary SQLite file per side)")
    gate_options.RECORDS.add(gate.add_argument)
    gate_options.ROUNDS.add(gate.add_argument)
    size_profile_option(gate)
    gate_options.INJECT_HEAD.add(gate.add_argument)
    gate.add_argument("--json", type=Path, metavar="FILE", help="write the verdicts as JSON")
    gate.add_argument(
        "targets", nargs="*", help="where the gate benchmarks are (default tests/perf)"
    )
    return gate


def _calibrate(sub: Commands, func: Handler) -> argparse.ArgumentParser:
    cal = command(
        sub,
        "calibrate",
        func=func,
        help_text="run the gate repeatedly: base against itself and with slowdowns injected",
        description="Run 'perf gate' --runs times for each --inject percentage (0 = base "
        "against itself) and count FAIL / WARN / PASS: the false-alarm rate and the detection "
        "rate of the gate on this machine, and how long it takes.",
    )
    cal.add_argument("--base", default="HEAD", metavar="REF", help="default %(default)s")
    db_option(cal, "target database (default: SQLite per side)")
    cal.add_argument("--runs", type=positive, default=10, help="gates per slowdown (default 10)")
    cal.add_argument(
        "--inject",
        type=float,
        nargs="+",
        default=[0.0, 10.0, 3.0],
        metavar="PCT",
        help="slowdowns to inject into the head (default 0 10 3)",
    )
    gate_options.THRESHOLD.add(
        cal.add_argument,
        help="the gates' --threshold: CPU growth that fails (wall time: twice that); "
        "default %(default)s %%",
    )
    cal.add_argument("--json", type=Path, metavar="FILE", help="append each gate's JSON here")
    cal.add_argument(
        "--saved",
        action="store_true",
        help="calibrate the saved-baseline comparison instead (pytest --benchmark-compare "
        "--perf-fail-over): per trial one process saves the gate subset, a later one is "
        "compared with it",
    )
    gate_options.RECORDS.add(cal.add_argument, help="documents per side (default %(default)s)")
    cal.add_argument(
        "--rounds",
        type=positive,
        default=None,
        help=f"rounds a block in each gate (default {gate_options.ROUNDS.value}), or per saved "
        f"run with --saved (default {SAVED_ROUNDS})",
    )
    return cal


def _adversarial(sub: Commands, func: Handler) -> argparse.ArgumentParser:
    adv = command(
        sub,
        "adversarial",
        func=func,
        help_text="time and peak memory of one hostile document per shape",
        description="Generate one document per adversarial shape (long prefix, wide tail, no "
        "fragment, deep, many attributes, huge attribute, fat fragment) of --size MB and "
        "transform each in a fresh process: seconds, peak resident memory, outcome.",
    )
    adv.add_argument("--size", type=positive, default=60, help="MB per document (default 60)")
    return adv


COMMANDS: dict[str, tuple[Callable[[Commands, Handler], argparse.ArgumentParser], Handler]] = {
    "pipeline": (_pipeline, cmd_bench_pipeline),
    "baseline": (_baseline, cmd_baseline),
    "gate": (_gate, cmd_perf_gate),
    "calibrate": (_calibrate, cmd_perf_calibrate),
    "report": (_report, cmd_report),
    "adversarial": (_adversarial, cmd_perf_adversarial),
}
# old spelling -> (where it sits, its perf command)
DEPRECATED = {"bench pipeline": "pipeline", "baseline": "baseline", "report": "report"}


def _deprecated(old: str, new: str, func: Handler) -> Handler:
    def run(args: argparse.Namespace) -> int:
        print(
            f"note: 'xmlmigrate {old}' is now 'xmlmigrate perf {new}'; the old spelling goes "
            "away in the next release",
            file=sys.stderr,
        )
        return func(args)

    return run


def register(sub: Commands) -> None:
    perf = sub.add_parser("perf", help="measure the migration and gate performance in CI")
    perf_sub = perf.add_subparsers(dest="perf_command", required=True, metavar="COMMAND")
    for build, func in COMMANDS.values():
        build(perf_sub, func)
    bench = sub.add_parser("bench", help="deprecated: use 'perf pipeline'")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    for old, new in DEPRECATED.items():
        build, func = COMMANDS[new]
        where = bench_sub if old.startswith("bench ") else sub
        p = build(where, _deprecated(old, new, func))
        p.description = f"Deprecated spelling of 'xmlmigrate perf {new}'. " + (p.description or "")
