"""Hypothesis properties of the whole transform (decode → parse → validate → map)."""

from __future__ import annotations

import time

from hypothesis import given

from xmlmigrate.contract import load_contract
from xmlmigrate.mock import GeneratedDoc
from xmlmigrate.model import MappedApp, RawRecord, Rejection
from xmlmigrate.run.transform import transform_record
from xmlmigrate.testing.expected import expected_outcome
from xmlmigrate.testing.strategies import Mutated, generated_documents, mutated_documents

CONTRACT = load_contract()
TIME_BOUND_S = 5.0  # far above the ~10 ms a document takes; a hang or blow-up exceeds it
# examples, deadline and health checks come from the hypothesis profile (conftest.py: "ci"
# 2,000, "dev" 200; --hypothesis-profile NAME)


@given(generated_documents())
def test_generated_documents_map_to_exactly_what_their_model_implies(doc: GeneratedDoc) -> None:
    expected = expected_outcome(doc.model, CONTRACT)
    result = transform_record(RawRecord(doc.app_id, doc.xml), CONTRACT)
    if expected.status == "success":
        assert isinstance(result, MappedApp), (doc.model.edges, result)
        assert result.rows == expected.rows, doc.model.edges
        found = {w.code for w in result.warnings}
        assert found & expected.checked == expected.check_codes
    else:
        assert isinstance(result, Rejection), doc.model.edges
        assert result.code == expected.code, (doc.model.edges, result)


def _assert_rows_fit_the_schema(result: MappedApp) -> None:
    for table in CONTRACT.tables:
        keys = set()
        for row in result.rows[table.name]:
            for col in table.columns:
                value = row[col.name]
                if not col.nullable:
                    assert value is not None, (table.name, col.name)
                if col.length is not None and value is not None:
                    assert len(value) <= col.length, (table.name, col.name, value)
            key = tuple(row[k] for k in table.key)
            assert key not in keys, (table.name, key)
            keys.add(key)


@given(mutated_documents())
def test_any_mutation_gives_rows_or_a_rejection_in_bounded_time(doc: Mutated) -> None:
    started = time.perf_counter()
    result = transform_record(RawRecord(doc.app_id, doc.data), CONTRACT)
    elapsed = time.perf_counter() - started
    assert elapsed < TIME_BOUND_S, (doc.mutation, elapsed)
    assert isinstance(result, MappedApp | Rejection)
    if isinstance(result, Rejection):
        # internal_error is how the transform reports a bug: no mutation may cause one
        assert result.code != "internal_error", (doc.mutation, result)
        assert result.app_id == doc.app_id and result.detail
    else:
        _assert_rows_fit_the_schema(result)
