"""The options of the A/B gate, each declared once: flag, default, help, type.

``xmlmigrate perf gate`` takes them as they are named here (``--blocks``, ``--max-wait``, ...);
the pytest plugin takes the ones that say how the gate measures under a prefix
(``--perf-gate-blocks``, ``--perf-gate-max-wait``, ...), as pytest-benchmark shares its options
between its plugin and its CLI (``add_*_options(addoption, prefix)``). The plugin's older
spellings ``--perf-fail-over`` (the threshold) and ``--perf-inject`` (the injected slowdown)
are built from the same declarations. :class:`xmlmigrate.bench.gate.GateConfig` takes its
defaults from here too, so a default exists once: a percentage given on the command line is
held as a fraction (``--max-wait 25`` is ``max_wait = 0.25``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xmlmigrate.config import positive

AddOption = Callable[..., Any]  # argparse's ``add_argument`` or pytest's ``addoption``
PLUGIN_PREFIX = "perf-gate-"  # the pytest plugin's spelling: --perf-gate-<name>

# where pytest-benchmark keeps the runs it saves: its --benchmark-storage default
# (file://./.benchmarks), which perf report and the plugin read
BENCHMARK_STORAGE = Path(".benchmarks")


@dataclass(frozen=True)
class GateOption:
    """One option of the gate. ``help`` is an argparse help string (``%(default)s`` and
    ``%%`` are expanded by argparse, which pytest's parser uses as well)."""

    name: str  # the flag without its dashes: --<prefix><name>
    field: str  # the GateConfig attribute it sets
    default: float | int | bool
    help: str
    type: Callable[[str], Any] | None = None  # None: a switch (store_true)
    metavar: str | None = None
    percent: bool = False  # given in percent, held as a fraction
    negated: bool = False  # a switch that turns its field off (--no-confirm: confirm = False)

    @property
    def value(self) -> Any:
        """The default as :class:`GateConfig` holds it."""
        return self.held(self.default)

    def held(self, given: Any) -> Any:
        """What ``given`` (as parsed; None for not given) sets the config field to."""
        if given is None:
            given = self.default
        if self.type is None:
            return not given if self.negated else bool(given)
        return float(given) / 100 if self.percent else given

    def flag(self, prefix: str = "") -> str:
        return f"--{prefix}{self.name}"

    def dest(self, prefix: str = "") -> str:
        """Where argparse (and pytest's ``getoption``) keeps the parsed value."""
        return f"{prefix}{self.name}".replace("-", "_")

    def add(self, addoption: AddOption, prefix: str = "", **overrides: Any) -> None:
        """Register the option through ``addoption`` as ``--<prefix><name>``; ``overrides``
        replace keyword arguments (``flag`` replaces the whole spelling)."""
        flag = overrides.pop("flag", None) or self.flag(prefix)
        kwargs: dict[str, Any] = {"default": self.default, "help": self.help}
        if self.type is None:
            kwargs["action"] = "store_true"
        else:
            kwargs["type"] = self.type
            # argparse's own choice without a prefix (BLOCKS), kept under one
            kwargs["metavar"] = self.metavar or self.name.upper().replace("-", "_")
        kwargs.update(overrides)
        addoption(flag, **kwargs)


THRESHOLD = GateOption(
    "threshold",
    "threshold",
    5.0,
    "default %(default)s %%",
    type=float,
    metavar="PCT",
    percent=True,
)
BLOCKS = GateOption("blocks", "blocks", 10, "A/B blocks (default %(default)s)", type=positive)
MAX_BLOCKS = GateOption(
    "max-blocks",
    "max_blocks",
    20,
    "blocks at most when inconclusive (default %(default)s)",
    type=positive,
)
RECORDS = GateOption(
    "records", "records", 40, "documents per side (default %(default)s)", type=positive
)
ROUNDS = GateOption(
    "rounds",
    "rounds",
    4,
    "rounds per benchmark and side in a block, after one warm-up round (default %(default)s)",
    type=positive,
)
MAX_WAIT = GateOption(
    "max-wait",
    "max_wait",
    25.0,
    "discard a round that waited for a CPU more than this share of its wall time "
    "(default %(default)s %%)",
    type=float,
    metavar="PCT",
    percent=True,
)
MAX_SPEED_GAP = GateOption(
    "max-speed-gap",
    "max_speed_gap",
    20.0,
    "set a block aside when one side's process ran a fixed loop (the yardstick) this much "
    "slower than the other's (default %(default)s %%)",
    type=float,
    metavar="PCT",
    percent=True,
)
INJECT_HEAD = GateOption(
    "inject-head",
    "inject_head",
    0.0,
    "add this much CPU work to every head round: shows what the gate detects",
    type=float,
    metavar="PCT",
    percent=True,
)
NO_CONFIRM = GateOption("no-confirm", "confirm", False, "do not re-measure a failure", negated=True)

# how the gate measures: the CLI's --<name>, the pytest plugin's --perf-gate-<name>
MEASURING = (BLOCKS, MAX_BLOCKS, MAX_WAIT, MAX_SPEED_GAP, NO_CONFIRM)


def add_gate_options(addoption: AddOption, prefix: str = "") -> None:
    """Register how the gate measures (:data:`MEASURING`) as ``--<prefix><name>``: prefix ""
    for ``xmlmigrate perf gate``, :data:`PLUGIN_PREFIX` for the pytest plugin."""
    for option in MEASURING:
        option.add(addoption, prefix)


def gate_settings(get: Callable[[str], Any], prefix: str = "") -> dict[str, Any]:
    """:class:`GateConfig` keyword arguments from the options :func:`add_gate_options`
    registered, read by their ``dest`` through ``get``; ``max_blocks`` is at least
    ``blocks``."""
    settings = {o.field: o.held(get(o.dest(prefix))) for o in MEASURING}
    settings["max_blocks"] = max(settings["max_blocks"], settings["blocks"])
    return settings
