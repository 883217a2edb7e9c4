"""The ``xmlmigrate`` command's entry: a Ctrl-C (or SIGTERM) while Python still loads the
tool's modules — the first half second — ends it with one line and 130 (143), not a
``KeyboardInterrupt`` traceback; once loaded, ``xmlmigrate.cli.main`` handles signals."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}  # as xmlmigrate.errors says


def _while_starting(signum: int, _frame: FrameType | None) -> None:
    sys.stderr.write("interrupted while starting: nothing was done\n")
    sys.stderr.flush()
    os._exit(EXIT_STATUS.get(signal.Signals(signum), 130))


def main() -> int:
    previous = {sig: signal.signal(sig, _while_starting) for sig in EXIT_STATUS}
    from xmlmigrate.cli import main as cli_main  # the tool's modules: most of the start-up

    for sig, handler in previous.items():
        signal.signal(sig, handler)
    return cli_main()
