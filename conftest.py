"""Fixtures shared by every test directory (perf options and fixtures: the xmlmigrate pytest plugin)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis profiles: how many examples each property tries. "ci" (2,000) where CI=true,
# "dev" (200) on a developer's machine; choose one with --hypothesis-profile NAME.
COMMON = {
    "deadline": None,  # timing is asserted explicitly where it matters, with bounds that hold
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", max_examples=2000, **COMMON)
settings.register_profile("dev", max_examples=200, **COMMON)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("1", "true") else "dev")

FIXTURES = Path(__file__).parent / "tests" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
