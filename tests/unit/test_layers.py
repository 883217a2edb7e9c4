"""The package layers of ``pyproject.toml``'s ``[tool.importlinter]`` hold: no package imports a
layer above it, so there is no cycle between packages (CI runs ``lint-imports`` as well)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_no_package_imports_a_layer_above_it() -> None:
    linter = shutil.which("lint-imports")
    if linter is None:
        pytest.skip("import-linter is not installed: pip install -e '.[dev]'")
    proc = subprocess.run(
        [linter, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "1 kept, 0 broken" in proc.stdout
