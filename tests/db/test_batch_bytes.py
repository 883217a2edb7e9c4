"""On each backend a page is cut by its documents' bytes (each database's own byte length),
and neither a run nor ``contract check --db`` holds a whole page or sample of big documents:
the drivers that buffer a whole result (psycopg, ODBC) made the bytes of the batch or the
sample the memory floor."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.memory import MiB, load, peak_growth

from xmlmigrate.cli.contract import SAMPLE_CHUNK_BYTES
from xmlmigrate.config import IN_FLIGHT_PAGES, MigrationConfig
from xmlmigrate.contract import load_contract
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.sources import TableSource

from .conftest import BACKENDS, drop_every_table, target_url

SCHEMA = build_schema(load_contract())  # what run and contract check take by default

KiB = 1024
LINUX = Path("/proc/self/status").exists()
BIG = [8 * MiB] * 20  # 160 MiB


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend (this worker's own, every table dropped)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = target_url(request.param, worker, tmp_path)
    engine = make_engine(url)
    drop_every_table(engine)
    yield url
    drop_every_table(engine)  # 160 MiB of documents are not left behind
    engine.dispose()


def test_pages_are_cut_by_bytes(db_url: str) -> None:
    engine = make_engine(db_url)
    load(engine, SCHEMA, [s * KiB for s in (10, 10, 10, 50, 70, 5, 5, 5, 5, 200, 1)])
    config = MigrationConfig(db_url=db_url, batch_size=4, max_batch_bytes=64 * KiB)
    source = TableSource(engine, SCHEMA, config)
    pages = [[len(r.xml) // KiB for r in page] for page in source.pages()]
    engine.dispose()
    # after a page cut by bytes the next query sizes up fewer ids: a 5 KiB page after 70 KiB
    assert pages == [[10, 10, 10], [50], [70], [5], [5, 5, 5], [200], [1]]


@pytest.mark.skipif(not LINUX, reason="reads VmRSS and VmHWM (Linux)")
def test_a_run_over_big_documents_holds_a_bounded_number_of_bytes(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url)
    load(engine, SCHEMA, BIG)
    engine.dispose()
    limit = 16 * MiB
    args = ["run", "--db", db_url, "-q", "--workers", "0", "--max-batch-bytes", str(limit)]
    args += ["--min-filled", "0%"]  # these documents fill little of the contract: not a misfit
    code, grew, stderr = peak_growth(args, tmp_path)
    assert code == 0, stderr
    # the pages in flight, the one just committed, the driver's copies of the page being read
    # (psqlODBC's hold it as hex text too) and the document being parsed: 160 MiB (before: one
    # page of all 20 documents, 333 MiB grown on psycopg, 340 MiB on MariaDB)
    bound = (IN_FLIGHT_PAGES + 6) * limit / MiB
    assert grew < bound, f"peak grew by {grew:.0f} MiB, bound {bound:.0f} MiB"


@pytest.mark.skipif(not LINUX, reason="reads VmRSS and VmHWM (Linux)")
def test_contract_check_streams_its_sample(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    load(engine, SCHEMA, BIG)
    engine.dispose()
    code, grew, stderr = peak_growth(
        ["contract", "check", "--db", db_url, "--sample", "500"], tmp_path
    )
    assert code in (0, 1), (
        stderr
    )  # 1: paths the sample never matched (these documents are tiny inside)
    # a chunk of documents as the driver hands it over and as Python objects, one document
    # being parsed: 96 MiB (before: the whole sample at once, 193 MiB grown on psycopg)
    bound = 6 * SAMPLE_CHUNK_BYTES / MiB
    assert grew < bound, f"peak grew by {grew:.0f} MiB, bound {bound:.0f} MiB"
