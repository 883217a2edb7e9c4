"""Options and fixtures shared by every test directory."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "tests" / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("xmlmigrate")
    group.addoption(
        "--db-url",
        default=None,
        help="target database URL for perf/db tests (default: $XMLMIGRATE_TEST_DB_URL or a "
        "temporary SQLite file)",
    )
    group.addoption(
        "--perf-records", type=int, default=200, help="documents in the perf corpus (default 200)"
    )
    group.addoption(
        "--perf-rounds", type=int, default=3, help="timed rounds per perf test (default 3)"
    )
    group.addoption("--perf-seed", type=int, default=20160125, help="seed of the perf corpus")
    group.addoption(
        "--perf-profile",
        default="realistic",
        choices=("small", "realistic", "large"),
        help="size profile of the perf corpus (default realistic)",
    )


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
