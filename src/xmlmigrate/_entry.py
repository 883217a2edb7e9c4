"""The ``xmlmigrate`` command's entry: a Ctrl-C (or SIGTERM) while Python still loads the
tool's modules — the first half second — ends it with one line and 130 (143), not a
``KeyboardInterrupt`` traceback; once loaded, ``xmlmigrate.cli.main`` handles signals.

The handlers go in through the C module ``_signal``: ``import signal`` loads ``enum``, long
enough for an early Ctrl-C to land inside it (that was the traceback this module exists to
prevent). Before this module runs is the interpreter's own start (site, runpy: about 10 ms),
where Python's default handler still answers a signal."""

from __future__ import annotations

import _signal
import os

EXIT_STATUS = {_signal.SIGINT: 130, _signal.SIGTERM: 143}  # as xmlmigrate.errors says


def _while_starting(signum: int, _frame: object) -> None:
    os.write(2, b"interrupted while starting: nothing was done\n")
    os._exit(EXIT_STATUS.get(signum, 130))


def main() -> int:
    previous = {sig: _signal.signal(sig, _while_starting) for sig in EXIT_STATUS}
    from xmlmigrate.cli import main as cli_main  # the tool's modules: most of the start-up

    for sig, handler in previous.items():
        _signal.signal(sig, handler)
    return cli_main()
