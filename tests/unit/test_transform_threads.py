"""Transform threads: a batch transformed by several threads in one process gives exactly the
results of one thread, in the batch's order, and each thread parses with its own parsers (a
parser shared between threads would make them parse one at a time)."""

from __future__ import annotations

import threading

from tests.contracts import engine_contract, engine_generator

from xmlmigrate.model import MappedApp, RawRecord, Rejection
from xmlmigrate.run.workers import TransformOptions, transform_batch
from xmlmigrate.stages import xml


def _records() -> list[RawRecord]:
    docs = engine_generator(seed=31, size_profile="small", edge_rate=0.05).generate(40)
    records = [RawRecord(d.app_id, d.xml) for d in docs]
    # the ways a document is rejected before mapping, among them
    records[3] = RawRecord(records[3].app_id, b"<Provenir><Request></Provenir>")
    records[9] = RawRecord(records[9].app_id, b"")
    records[17] = RawRecord(records[17].app_id, None)
    records[25] = RawRecord(records[25].app_id, b'<!DOCTYPE x [<!ENTITY a "b">]><x/>')
    return records


def _seen(result: MappedApp | Rejection) -> object:
    if isinstance(result, Rejection):
        return ("rejected", result.app_id, result.code)
    warnings = sorted((w.code, w.detail) for w in result.warnings)
    return ("mapped", result.app_id, result.rows, warnings)


def test_threads_give_the_results_of_one_thread_in_order() -> None:
    contract = engine_contract()
    records = _records()
    one, one_times = transform_batch(records, contract, TransformOptions(threads=1))
    for threads in (2, 3):
        many, many_times = transform_batch(records, contract, TransformOptions(threads=threads))
        assert [_seen(r) for r in many] == [_seen(r) for r in one]
        assert set(many_times) == set(one_times)
        assert all(seconds > 0 for seconds in many_times.values()), many_times
    codes = [r.code for r in one if isinstance(r, Rejection)]
    assert {"malformed", "not_xml", "xml_missing", "forbidden_dtd"} <= set(codes), codes


def test_each_thread_parses_with_its_own_parser() -> None:
    seen: list[object] = []

    def look() -> None:
        seen.append(xml.hardened_parser())

    threads = [threading.Thread(target=look) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen.append(xml.hardened_parser())
    assert len({id(p) for p in seen}) == 3
