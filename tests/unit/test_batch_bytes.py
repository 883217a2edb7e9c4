"""Memory is bounded by bytes, not by a count of documents: a page is cut once its documents
reach --max-batch-bytes (never fewer than one document), the pages read and not yet committed
stay within IN_FLIGHT_PAGES of them, and the option is validated, shown and recorded."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.memory import MiB, load, peak_growth

from xmlmigrate.config import DEFAULT_MAX_BATCH_BYTES, IN_FLIGHT_PAGES, MigrationConfig
from xmlmigrate.contract import load_contract
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.model import RawRecord
from xmlmigrate.run.pipeline import _Prefetch
from xmlmigrate.sources import TableSource

SCHEMA = build_schema(load_contract())
KiB = 1024
LINUX = Path("/proc/self/status").exists()


def _pages(url: str, **knobs: int) -> list[list[int]]:
    engine = make_engine(url)
    source = TableSource(engine, SCHEMA, MigrationConfig(db_url=url, **knobs))
    pages = [[len(r.xml) for r in page] for page in source.pages()]
    engine.dispose()
    return pages


def test_a_page_is_cut_when_its_documents_reach_max_batch_bytes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sized.db'}"
    sizes = [10, 10, 10, 50, 70, 5, 5, 5, 5, 200, 1]  # KiB
    engine = make_engine(url)
    load(engine, SCHEMA, [s * KiB for s in sizes])
    engine.dispose()
    pages = _pages(url, batch_size=4, max_batch_bytes=64 * KiB)
    assert [[n // KiB for n in page] for page in pages] == [
        [10, 10, 10],  # the next one would take it to 80 KiB
        [50],
        [70],  # larger than the limit alone: a page of its own
        [5],  # after a page of big documents the next query sizes up fewer ids (here one)
        [5, 5, 5],  # then as many as fit again, up to the batch size
        [200],
        [1],
    ]
    assert all(sum(p) <= 64 * KiB or len(p) == 1 for p in pages)
    # the count alone, as before, when the documents are small
    assert [len(p) for p in _pages(url, batch_size=4)] == [4, 4, 3]


def test_the_reader_reads_no_page_past_the_bytes_in_flight() -> None:
    read: list[int] = []

    def pages() -> Iterator[list[RawRecord]]:
        for i in range(10):
            read.append(i)
            yield [RawRecord(i, b"x" * 10)]  # 10 bytes each

    prefetch = _Prefetch(pages(), depth=1, max_bytes=30, page_bytes=10)
    try:
        taken = [prefetch.next() for _ in range(3)]  # transforming, none committed yet
        time.sleep(0.5)
        assert len(read) == 3 and [p[0].app_id for p in taken if p] == [0, 1, 2]
        prefetch.committed()  # the oldest page's 10 bytes leave: room for one more
        assert (page := prefetch.next()) is not None and page[0].app_id == 3
        time.sleep(0.5)
        assert len(read) == 4
    finally:
        prefetch.close()


@pytest.mark.skipif(not LINUX, reason="reads VmRSS and VmHWM (Linux)")
@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_run_over_big_documents_holds_a_bounded_number_of_bytes(
    tmp_path: Path, workers: str
) -> None:
    url = f"sqlite:///{tmp_path / 'big.db'}"
    engine = make_engine(url)
    load(engine, SCHEMA, [8 * MiB] * 20)  # 160 MiB: one page of 100 documents before
    engine.dispose()
    limit = 16 * MiB
    args = ["run", "--db", url, "-q", "--workers", workers, "--max-batch-bytes", str(limit)]
    args += ["--min-filled", "0%"]  # these documents fill little of the contract: not a misfit
    code, grew, stderr = peak_growth(args, tmp_path)
    assert code == 0, stderr
    # the pages in flight, the one just committed, the driver's copies of the page being read
    # and the document being parsed: 128 MiB (before: one page of all 20, 204 MiB grown)
    bound = (IN_FLIGHT_PAGES + 4) * limit / MiB
    assert grew < bound, f"peak grew by {grew:.0f} MiB, bound {bound:.0f} MiB"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xmlmigrate", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("command", [["run"], ["demo"], ["perf", "pipeline"]])
def test_max_batch_bytes_is_shown_with_its_default(command: list[str]) -> None:
    out = _cli(*command, "--help")
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    assert "--max-batch-bytes" in text and "default 16 MiB" in text, text


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1.5.3MiB", "12 parsecs", "1e400"])
def test_nonsense_max_batch_bytes_is_refused_in_one_line(value: str) -> None:
    out = _cli("run", "--max-batch-bytes", value)
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("xmlmigrate run: error: argument --max-batch-bytes"), out.stderr
    assert "Traceback" not in out.stderr


def test_max_batch_bytes_takes_units_and_is_recorded_with_the_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'few.db'}"
    engine = make_engine(url)
    load(engine, SCHEMA, [4 * KiB] * 3)
    engine.dispose()
    metrics = tmp_path / "metrics.json"
    out = _cli("run", "--db", url, "-q", "--max-batch-bytes", "5KiB", "--metrics-out", str(metrics))
    assert out.returncode == 0, out.stderr
    recorded = json.loads(metrics.read_text())
    assert recorded["config"]["max_batch_bytes"] == 5 * KiB
    assert recorded["batches"] == 3  # one 4 KiB document per page
    assert 16 * MiB == DEFAULT_MAX_BATCH_BYTES
    with pytest.raises(ValueError, match="max_batch_bytes"):
        MigrationConfig(max_batch_bytes=0)
