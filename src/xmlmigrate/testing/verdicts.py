"""The perf suite as a regression gate, from pytest itself.

``pytest tests/perf --perf-gate=REF``
    The interleaved A/B gate of ``xmlmigrate perf gate --base REF`` (one implementation,
    :mod:`xmlmigrate.bench.gate`): the gate subset of the base commit and of the working tree,
    block after block, each in its own process; no benchmark runs in this process. A session
    narrowed with ``-k``, ``-m`` or node ids measures the gate-marked benchmarks it selected
    (all it selected when none is marked). The
    verdict table is printed at the end of the session; exit status 1 on a regression.

``pytest tests/perf --benchmark-compare[=NUM] --perf-fail-over=5``
    The benchmarks run as usual, then each one that carries CPU samples is compared with its
    twin in the saved run (:mod:`xmlmigrate.bench.saved`: CPU time in units of the machine's
    speed at the time, an interval, counters exactly). A saved run is two processes and
    minutes or days away, and on this machine that comparison alone cries wolf (the calibration in
    docs/performance.md), so whenever it does not PASS every benchmark and the saved run names its
    commit, that commit is re-measured against the working tree with the A/B gate, and the
    gate's verdict is the verdict — measured on the benchmarks of this session whose saved
    comparison did not pass (what ``-k`` or node ids selected), not the gate subset. Without a commit id (or the commit) the saved comparison's
    verdict stands, an inconclusive one reported as such.

``--perf-gate-blocks``, ``--perf-gate-max-blocks``, ``--perf-gate-max-wait``,
``--perf-gate-max-speed-gap`` and ``--perf-gate-no-confirm`` tune the A/B gate as the options
of those names of ``xmlmigrate perf gate`` do (one declaration:
:mod:`xmlmigrate.bench.gate_options`).

``--perf-inject=PCT`` adds that share of each round's own CPU time as extra work to the
measured side (the head in the A/B gate, this run in a saved comparison): how detection is
calibrated and tested. ``--perf-json=FILE`` writes the verdicts.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table

from xmlmigrate.bench.gate import GateConfig, GateResult, run_gate
from xmlmigrate.bench.gate_options import (
    INJECT_HEAD,
    PLUGIN_PREFIX,
    THRESHOLD,
    add_gate_options,
    gate_settings,
)
from xmlmigrate.bench.probe import INJECT_ENV
from xmlmigrate.bench.saved import SavedVerdict, compare_saved
from xmlmigrate.errors import GateError

GATE = "--perf-gate"
FAIL_OVER = "--perf-fail-over"
INJECT = "--perf-inject"
JSON = "--perf-json"


def add_options(group: Any) -> None:
    """The perf verdict options; the gate's from their declarations in
    :mod:`xmlmigrate.bench.gate_options` (``--perf-fail-over`` is the gate's ``--threshold``,
    ``--perf-inject`` its ``--inject-head``, ``--perf-gate-<name>`` its ``--<name>``)."""
    group.addoption(
        GATE,
        metavar="REF",
        default=None,
        help="A/B the gate subset of commit REF against the working tree (as 'xmlmigrate perf "
        f"gate --base REF'); exit 1 on a regression beyond --perf-fail-over (default "
        f"{THRESHOLD.default:g} %%)",
    )
    THRESHOLD.add(
        group.addoption,
        flag=FAIL_OVER,
        default=None,  # given or not: it turns the saved comparison on
        help="with --benchmark-compare: fail (exit 1) on a CPU regression beyond PCT %% "
        "against the saved run, judged with intervals; the saved run's commit is re-measured "
        "A/B when the saved comparison is not a clear PASS",
    )
    INJECT_HEAD.add(
        group.addoption,
        flag=INJECT,
        help="add PCT %% of each round's CPU time as extra work to the measured side (calibration)",
    )
    group.addoption(JSON, metavar="FILE", default=None, help="write the perf verdicts as JSON")
    add_gate_options(group.addoption, PLUGIN_PREFIX)


def injected(config: pytest.Config) -> float:
    """``--perf-inject`` as a share of each round's CPU time."""
    return float(INJECT_HEAD.held(config.getoption(INJECT)))


def _given(config: pytest.Config, option: str) -> bool:
    return any(a == option or a.startswith(option + "=") for a in config.invocation_params.args)


def narrowed_selection(session: pytest.Session) -> tuple[str, ...]:
    """What ``--perf-gate`` measures when the session was narrowed (``-k``, ``-m`` or node
    ids): the gate-marked benchmarks among those selected, else all selected; otherwise
    nothing here (the gate subset of the paths given)."""
    config = session.config
    narrowed = (
        bool(getattr(config.option, "keyword", ""))
        or bool(getattr(config.option, "markexpr", ""))
        or any("::" in str(a) for a in config.args)
    )
    if not narrowed:
        return ()
    items = list(session.items)
    marked = [i.nodeid for i in items if i.get_closest_marker("gate") is not None]
    return tuple(marked or [i.nodeid for i in items])


class PerfVerdicts:
    """Registered by the plugin when ``--perf-gate`` or ``--perf-fail-over`` is given."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.ref: str | None = config.getoption(GATE)
        over = config.getoption(FAIL_OVER)
        self.threshold = float(THRESHOLD.held(over))
        self.inject = injected(config)
        self.saved: list[SavedVerdict] = []
        self.saved_source: str | None = None
        self.gate: GateResult | None = None
        self.verdict = "pass"
        self.error: str | None = None
        if self.ref is None and not config.getoption("benchmark_compare"):
            raise pytest.UsageError(f"{FAIL_OVER} needs --benchmark-compare or {GATE}=REF")
        if self.inject and self.ref is None:
            os.environ[INJECT_ENV] = str(self.inject)  # this run is the measured side

    # -- the A/B gate instead of the session's tests -------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        if self.ref is None or session.config.option.collectonly:
            return None
        self.run_gate(self.ref, session, narrowed_selection(session))
        return True

    def run_gate(self, ref: str, session: pytest.Session, selection: tuple[str, ...] = ()) -> None:
        """A/B ``ref`` against the working tree: the benchmarks of ``selection`` (node ids),
        else the gate subset of the session's paths."""
        config = self.config
        root = Path(str(config.rootpath))
        targets = [
            os.path.relpath(str(Path(a.split("::")[0]).resolve()), root)
            for a in config.args
            if Path(a.split("::")[0]).exists()
        ] or ["tests/perf"]
        cfg = GateConfig(
            base=ref,
            threshold=self.threshold,
            db_url=config.getoption("--db-url"),
            inject_head=self.inject,
            targets=tuple(targets),
            selection=selection,
            repo=root,
            **gate_settings(config.getoption, PLUGIN_PREFIX),
        )
        if _given(config, "--perf-records"):
            cfg.records = int(config.getoption("--perf-records"))
        if _given(config, "--perf-rounds"):
            cfg.rounds = int(config.getoption("--perf-rounds"))
        reporter = config.pluginmanager.get_plugin("terminalreporter")

        def say(message: str) -> None:
            if reporter is not None:
                reporter.write_line(f"perf gate: {message}")

        if selection:
            shown = ", ".join(n.split("::")[-1] for n in selection[:6])
            more = f" and {len(selection) - 6} more" if len(selection) > 6 else ""
            what = f"{len(selection)} selected benchmark(s) ({shown}{more})"
        else:
            what = f"the gate subset of {', '.join(targets)}"
        say(f"A/B against {ref}: {what}, base and head in turn")
        try:
            self.gate = run_gate(cfg, say)
        except GateError as exc:
            self.error = str(exc)
            self.verdict = "error"
            session.testsfailed += 1
            return
        self.verdict = self.gate.verdict
        if self.verdict == "fail":
            session.testsfailed += 1

    # -- the saved comparison, after the session's benchmarks ran ------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.ref is None and self.gate is None and self.error is None:
            self.compare_with_saved(session)
        if self.verdict in ("fail", "error") and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        out = self.config.getoption(JSON)
        if out:
            Path(out).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    def compare_with_saved(self, session: pytest.Session) -> None:
        bs = getattr(self.config, "_benchmarksession", None)
        mapping = getattr(bs, "compared_mapping", None) or {}
        if bs is None or not mapping:
            self.error = "no saved run to compare with (see --benchmark-compare)"
            self.verdict = "error"
            return
        path, saved = next(reversed(mapping.items()))
        self.saved_source = str(path)
        current = {b.fullname: dict(b.extra_info) for b in bs.benchmarks if b}
        self.saved = compare_saved(current, saved, self.threshold)
        states = [v.verdict for v in self.saved if v.decision is not None]
        if not states:
            self.error = "no benchmark of this run and the saved one carries CPU samples"
            self.verdict = "error"
            return
        if all(s == "pass" for s in states):
            self.verdict = "pass"
            return
        storage = getattr(getattr(bs, "storage", None), "path", None)
        file = Path(str(path))
        if not file.is_absolute() and storage is not None:
            file = Path(str(storage)) / file  # the storage yields paths relative to itself
        commit = self._saved_commit(file)
        if commit is None:  # nothing to re-measure: the saved comparison's verdict stands
            self.verdict = "fail" if "fail" in states else "warn"
            return
        # re-measured: the benchmarks this session ran whose saved comparison did not pass
        again = tuple(v.name for v in self.saved if v.decision is not None and v.verdict != "pass")
        self.run_gate(commit, session, again)

    @staticmethod
    def _saved_commit(path: Path) -> str | None:
        try:
            info = json.loads(path.read_text(encoding="utf-8")).get("commit_info") or {}
        except (OSError, ValueError):
            return None
        commit = info.get("id")
        return str(commit) if commit else None

    # -- reporting ------------------------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from xmlmigrate.bench.render import print_gate

        buffer = io.StringIO()
        console = Console(file=buffer, width=120, soft_wrap=True)
        if self.saved:
            console.print(saved_table(self.saved, self.saved_source or "", self.threshold))
        if self.gate is not None:
            print_gate(self.gate, console)
        if self.error:
            console.print(f"perf verdict: {self.error}")
        else:
            console.print(f"perf verdict: {self.verdict.upper()}", highlight=False)
        terminalreporter.write_sep("=", "xmlmigrate perf verdict")
        terminalreporter.write(buffer.getvalue())

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "error": self.error,
            "threshold": self.threshold,
            "inject": self.inject,
            "saved_run": self.saved_source,
            "saved": [
                {
                    "name": v.name,
                    "verdict": v.verdict,
                    "decision": asdict(v.decision) if v.decision else None,
                    "counter_changes": v.counter_changes,
                }
                for v in self.saved
            ],
            **(self.gate.to_json() if self.gate is not None else {}),
        }


def saved_table(verdicts: list[SavedVerdict], source: str, threshold: float) -> Table:
    table = Table(
        show_edge=False,
        title=f"against the saved run {Path(source).name}: CPU time per yardstick, now / saved",
    )
    for heading in ("benchmark", "limit", "saved", "now", "ratio", "interval", "n", "verdict"):
        table.add_column(heading, justify="left" if heading == "benchmark" else "right")
    for v in verdicts:
        name = v.name.split("::")[-1]
        d = v.decision
        if d is None:
            table.add_row(name, "", "", "", "", "no CPU samples", "", "n/a")
            continue
        interval = f"{d.low:.3f}-{d.high:.3f}" if d.low is not None and d.high else "n/a"
        state = {"warn": "INCONCLUSIVE"}.get(d.verdict, d.verdict.upper())
        table.add_row(
            name,
            f"+{threshold:.0%}",
            f"{d.base:.3f}",
            f"{d.head:.3f}",
            f"{d.ratio:.3f}",
            interval,
            str(d.n),
            state,
        )
        for key, (old, new) in v.counter_changes.items():
            table.add_row(f"  counter {key}", "", str(old), str(new), "", "", "", "changed")
    return table
