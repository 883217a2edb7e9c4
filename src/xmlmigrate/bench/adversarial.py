"""Time and peak memory of one document per adversarial shape (``xmlmigrate perf adversarial``).

Each document is transformed in a fresh child process, so its peak resident set size is that
document's alone: the figure the memory bound is about (the bound itself is asserted in
``tests/unit/test_hostile_documents.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from xmlmigrate.mock.adversarial import SHAPES

# Peak memory as a run reports it (run.workers.peak_rss_mb: the kernel's high-water mark of the
# child's own memory, VmHWM; unlike getrusage's ru_maxrss, not carried over across exec).
CHILD = """
import gc, json, sys, time
from xmlmigrate.contract import load_contract
from xmlmigrate.model import RawRecord
from xmlmigrate.run.transform import transform_record
from xmlmigrate.run.workers import peak_rss_mb

def peak_kib():
    return round(peak_rss_mb() * 1024)

data = open(sys.argv[1], "rb").read()
contract = load_contract()
gc.collect()
before = peak_kib()
started = time.perf_counter()
result = transform_record(RawRecord(7, data), contract)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "peak_kib": peak_kib(), "before_kib": before,
                  "outcome": getattr(result, "code", "success")}))
"""


@dataclass(frozen=True)
class ShapeResult:
    shape: str
    bytes: int
    seconds: float
    peak_mb: float  # the child process's peak RSS: interpreter, contract, document bytes
    grew_mb: float  # how much the peak grew during the transform
    outcome: str


def measure_shapes(size: int, shapes: list[str] | None = None) -> list[ShapeResult]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in shapes or sorted(SHAPES):
            path = Path(tmp) / f"{name}.xml"
            data = SHAPES[name](7, size)
            path.write_bytes(data)
            del data
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(path)],
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            )
            r = json.loads(done.stdout)
            out.append(
                ShapeResult(
                    name,
                    path.stat().st_size,
                    r["seconds"],
                    r["peak_kib"] / 1024,
                    (r["peak_kib"] - r["before_kib"]) / 1024,
                    r["outcome"],
                )
            )
            path.unlink()
    return out
