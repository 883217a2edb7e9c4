"""Running the ``xmlmigrate`` command in a subprocess, as a user would (no terminal, no
``XMLMIGRATE_DB_URL`` from the environment, a wide console so lines are not wrapped)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(
    *args: str, cwd: Path | None = None, columns: int = 200, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns)}
    env.pop("XMLMIGRATE_DB_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "xmlmigrate.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )
