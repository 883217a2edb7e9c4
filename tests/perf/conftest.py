"""Our perf suite uses the fixtures of the xmlmigrate pytest plugin (src/xmlmigrate/testing/plugin.py).

Run with ``pytest -p no:xdist tests/perf``: pytest-benchmark turns itself off under xdist, so
the suite refuses to run there rather than pass silently.
"""

from __future__ import annotations

import pytest

from xmlmigrate.testing.plugin import XDIST_MESSAGE, under_xdist


def pytest_configure(config: pytest.Config) -> None:
    if under_xdist(config):
        raise pytest.UsageError(XDIST_MESSAGE)
