"""The project's own promises about itself."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r'pip install -e "\.\[dev\]" && (pytest[^\n`]*)', readme)
    assert match, "README must show the command that installs test extras and runs the tests"
    command = match.group(1).strip()
    ci_lines = [
        line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    ]
    assert f"run_pytest {command}" in ci_lines
