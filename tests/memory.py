"""Big documents of exact sizes, and the peak memory of an ``xmlmigrate`` command that reads
them, measured in a process of its own (shared by the unit and live-database tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from xmlmigrate.db.schema import Schema
from xmlmigrate.mock.adversarial import APPLICATION, HEAD, TAIL

MiB = 2**20


def document(app_id: int, size: int) -> str:
    """A valid CC document of exactly ``size`` bytes: the application after comments of at
    most 1 KiB each (libxml2 refuses a single comment past 10 MB)."""
    head, tail = HEAD % app_id, APPLICATION + TAIL
    filler = size - len(head) - len(tail)
    assert filler >= 7, f"{size} bytes is too small for a document"
    unit = b"<!--" + b"x" * 1017 + b"-->"
    whole, rest = divmod(filler, len(unit))
    if 0 < rest < 7:  # too short for a comment of its own: one whole comment less, a longer rest
        whole, rest = whole - 1, rest + len(unit)
    last = b"<!--" + b"x" * (rest - 7) + b"-->" if rest else b""
    return (head + unit * whole + last + tail).decode("ascii")


def load(engine: sa.Engine, schema: Schema, sizes: list[int], first_id: int = 1) -> None:
    """``app_xml`` holding one document per size, app ids from ``first_id``, one at a time."""
    schema.create(engine)
    for i, size in enumerate(sizes):
        app_id = first_id + i
        with engine.begin() as conn:
            conn.execute(
                sa.insert(schema.source), {"app_id": app_id, "xml": document(app_id, size)}
            )


# Runs ``xmlmigrate ARGS`` in this process, the modules a command needs imported first; prints
# the resident size before the command and the peak after it (KiB, Linux's VmRSS and VmHWM).
CHILD = """
import json, sys
from xmlmigrate.cli import main
import xmlmigrate.run.pipeline, xmlmigrate.sources, xmlmigrate.stages.coverage
from xmlmigrate.contract import load_contract
import sqlalchemy, lxml.etree
try:
    import psycopg
except ImportError:
    pass
load_contract()

def kib(key):
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith(key))

before = kib("VmRSS:")
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "before_kib": before, "peak_kib": kib("VmHWM:")}, out)
"""


def peak_growth(args: list[str], tmp: Path) -> tuple[int, float, str]:
    """(exit code, MiB the peak resident size grew by, its stderr) of ``xmlmigrate ARGS``."""
    out = tmp / "memory.json"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(out), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.exists(), done.stdout + done.stderr
    result = json.loads(out.read_text())
    grew = (result["peak_kib"] - result["before_kib"]) / 1024
    return int(result["code"]), grew, done.stderr
