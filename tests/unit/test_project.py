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


def test_readme_is_a_short_start_with_the_two_commands_first() -> None:
    """The README stays short (the rest is in docs/), and its first screen holds the command
    that runs the demo and the one that runs the tests."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move details to docs/"
    first_screen = "\n".join(lines[:40])
    assert "pip install -e . && xmlmigrate demo" in first_screen
    assert 'pip install -e ".[dev]" && pytest' in first_screen


def test_the_version_is_written_once_and_the_changelog_names_it() -> None:
    import tomllib

    import xmlmigrate

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"], "the version is read from __version__"
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "src/xmlmigrate/__init__.py"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## (\d+\.\d+\.\d+)", changelog, re.M)
    assert versions and versions[0] == xmlmigrate.__version__, (versions, xmlmigrate.__version__)
