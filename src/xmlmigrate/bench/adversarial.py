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

_CHILD = """
import gc, json, resource, sys, time
from xmlmigrate.contract import load_contract
from xmlmigrate.model import RawRecord
from xmlmigrate.transform import transform_record
data = open(sys.argv[1], "rb").read()
contract = load_contract()
gc.collect()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
result = transform_record(RawRecord(7, data), contract)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_kib": peak, "before_kib": before,
                  "outcome": getattr(result, "code", "success")}))
"""


@dataclass(frozen=True)
class ShapeResult:
    shape: str
    bytes: int
    seconds: float
    peak_mb: float  # the child process's peak RSS, the document's bytes included
    grew_mb: float  # peak RSS growth during the transform
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
                [sys.executable, "-c", _CHILD, str(path)],
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
