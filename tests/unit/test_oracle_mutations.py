"""The oracle cannot agree with a bug: break one engine rule at a time and the end-to-end
comparison (:func:`xmlmigrate.testing.expected.disagreement`, what the end-to-end and
property tests assert) must see it.

Each mutation changes the engine only — a converter, a truth table, the enum lookup, the
reading of constants, parents, app ids, unpivoted pairs, calculations, defaults, the
meaningful-row test, the row filter, the checks — and the oracle is handed the very same
(broken) compiled contract: it reads the contract's declarations, never its closures, so it
keeps deriving what the contract says and the comparison fails. Without a mutation, every
corpus agrees. A mutation that no longer reaches the engine (its target moved) fails here
too, with a message saying so."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from xmlmigrate.contract import CompiledContract, compile_contract, load_contract
from xmlmigrate.contract import expressions as ex
from xmlmigrate.contract.import_ import import_contract
from xmlmigrate.mock import ContractGenerator, GeneratedDoc
from xmlmigrate.model import MappedApp, RawRecord, Rejection
from xmlmigrate.run import transform
from xmlmigrate.run.transform import transform_record
from xmlmigrate.testing.expected import disagreement

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contracts"
# (contract, seed, documents, edge rate): small documents, some edge cases (rows without
# meaningful data, elements the row filter skips, impossible dates, unknown codes)
CORPORA = {
    "engine_cc": ("engine_cc", 4, 40, 0.1),
    "provenir_rl": ("provenir_rl", 5, 25, 0.1),
    "imported:cc": ("imported:cc", 2, 30, 0.0),
    "imported:rl": ("imported:rl", 4, 30, 0.05),
}


@cache
def _contract(name: str) -> CompiledContract:
    if name.startswith("imported:"):
        source = FIXTURES / f"predecessor_{name.split(':')[1]}.json"
        return compile_contract(import_contract(source).toml, f"{name}.toml")
    if name == "engine_cc":
        return load_contract(FIXTURES / "engine_cc.toml")
    return load_contract(name)


@cache
def _corpus(corpus: str) -> tuple[GeneratedDoc, ...]:
    name, seed, count, edge_rate = CORPORA[corpus]
    generator = ContractGenerator(_contract(name), seed, "small", 1, edge_rate)
    return tuple(generator.generate(count))


def _results(contract: CompiledContract, docs: tuple[GeneratedDoc, ...]) -> list[Any]:
    return [transform_record(RawRecord(d.app_id, d.xml), contract) for d in docs]


def _disagreements(
    contract: CompiledContract, docs: tuple[GeneratedDoc, ...], results: list[Any]
) -> list[str]:
    out = []
    for doc, result in zip(docs, results, strict=True):
        problem = disagreement(doc.model, contract, result)
        if problem is not None:
            out.append(problem)
    return out


def _shape(result: MappedApp | Rejection) -> Any:
    """What a comparison can see of a result."""
    if isinstance(result, Rejection):
        return ("rejected", result.code)
    return (result.rows, sorted({w.code for w in result.warnings}))


# -- how rules are broken ------------------------------------------------------------------


def _nudged(value: Any) -> Any:
    """A different value of the same type (None and clamped dates stay)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | Decimal):
        return value + 1
    if isinstance(value, datetime):
        return value + timedelta(seconds=1)
    if isinstance(value, date):
        return value + timedelta(days=1)
    if isinstance(value, str):
        return value + "~"
    return value


def _with_columns(
    contract: CompiledContract, change: Callable[[Any, Any], Any | None]
) -> CompiledContract:
    """The contract with each column ``change(table, column)`` gives a replacement for
    replaced, wherever its table holds it."""
    tables = []
    for table in contract.tables:
        swapped = {id(c): new for c in table.columns if (new := change(table, c)) is not None}

        def sub(value: Any, swapped: dict[int, Any] = swapped) -> Any:
            if id(value) in swapped:
                return swapped[id(value)]
            if isinstance(value, tuple):
                return tuple(sub(v) for v in value)
            if isinstance(value, Mapping) and not isinstance(value, str):
                return {k: sub(v) for k, v in value.items()}
            return value

        fields = {f.name: sub(getattr(table, f.name)) for f in dataclasses.fields(table)}
        tables.append(dataclasses.replace(table, **fields))
    return dataclasses.replace(
        contract, tables=tuple(tables), table_by_name={t.name: t for t in tables}
    )


def _patch_method(
    monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, wrap: Callable[[Any], Any]
) -> None:
    monkeypatch.setattr(owner, name, wrap(getattr(owner, name)))


Mutation = Callable[[pytest.MonkeyPatch, CompiledContract], CompiledContract]


def _recompiled(contract: CompiledContract) -> CompiledContract:
    assert contract.text is not None
    return compile_contract(contract.text, contract.source)


def _converter(ctype: str, bounds: tuple[int, int] | None = None) -> Mutation:
    """The converter of every ``ctype`` column the document's text goes through gives a
    nudged value (an int one more, a flag flipped, a date a day later, an enum the next id)."""

    def nudge(convert: Any) -> Any:
        return lambda text: _nudged(convert(text))

    def mutate(mp: pytest.MonkeyPatch, contract: CompiledContract) -> CompiledContract:
        return _with_columns(
            contract,
            lambda t, c: (
                dataclasses.replace(c, convert=nudge(c.convert)) if c.type == ctype else None
            ),
        )

    return mutate


def _extraction(mp: pytest.MonkeyPatch, contract: CompiledContract) -> CompiledContract:
    def shorter(extract: Any) -> Any:
        return lambda text: extract(text)[:-1] or "0"

    return _with_columns(
        contract,
        lambda t, c: (
            None if c.extract is None else dataclasses.replace(c, extract=shorter(c.extract))
        ),
    )


def _truncation(mp: pytest.MonkeyPatch, contract: CompiledContract) -> CompiledContract:
    def shorter(table: Any, col: Any) -> Any:
        if col.type == "string" and col.length is not None and col.length > 1:
            return dataclasses.replace(col, length=col.length - 1)
        return None

    return _with_columns(contract, shorter)


def _const(mp: pytest.MonkeyPatch, contract: CompiledContract) -> CompiledContract:
    return _with_columns(
        contract,
        lambda t, c: dataclasses.replace(c, const=_nudged(c.const)) if c.kind == "const" else None,
    )


def _parent(mp: pytest.MonkeyPatch, contract: CompiledContract) -> CompiledContract:
    def elsewhere(table: Any, col: Any) -> Any:
        if col.kind != "parent":
            return None
        parent = contract.table_by_name[table.parent]
        other = next(c.name for c in parent.columns if c.name != col.parent_column)
        return dataclasses.replace(col, parent_column=other)

    return _with_columns(contract, elsewhere)


def _app_id(mp: pytest.MonkeyPatch, contract: CompiledContract) -> CompiledContract:
    _patch_method(
        mp,
        transform,
        "map_application",
        lambda original: lambda app_id, *args, **kwargs: original(app_id + 1, *args, **kwargs),
    )
    return contract


def _unpivot(part: int) -> Mutation:
    def alter(pair: tuple[str, str, Mapping[str, str]]) -> tuple[str, str, Mapping[str, str]]:
        name, text, fields = pair
        if part == 0:
            return name + "0", text, fields
        if part == 1:
            return name, text + "0", fields
        return name, text, {k: v + "0" for k, v in fields.items()}

    def mutate(mp: pytest.MonkeyPatch, contract: CompiledContract) -> CompiledContract:
        kind = type(next(t.unpivot for t in contract.tables if t.unpivot is not None))
        _patch_method(
            mp,
            kind,
            "pairs",
            lambda original: lambda self, el: [alter(p) for p in original(self, el)],
        )
        return contract

    return mutate


def _nudged_expr(expr: Any) -> Any:
    evaluate = expr.evaluate
    return dataclasses.replace(expr, evaluate=lambda env: _nudged(evaluate(env)))


def _calculation(mp: pytest.MonkeyPatch, contract: CompiledContract) -> CompiledContract:
    return _with_columns(
        contract,
        lambda t, c: (
            dataclasses.replace(c, expr=_nudged_expr(c.expr)) if c.kind == "expr" else None
        ),
    )


def _arithmetic(mp: pytest.MonkeyPatch, contract: CompiledContract) -> CompiledContract:
    """The expression engine's + - * / add one to what they give."""

    def wrap(original: Any) -> Any:
        def compile_arith(self: Any, node: Any) -> Any:
            typ, evaluate = original(self, node)
            return typ, lambda env: _nudged(evaluate(env))

        return compile_arith

    _patch_method(mp, ex._Compiler, "c_arith", wrap)
    return _recompiled(contract)


def _default(mp: pytest.MonkeyPatch, contract: CompiledContract) -> CompiledContract:
    return _with_columns(
        contract,
        lambda t, c: (
            None if c.default is None else dataclasses.replace(c, default=_nudged(c.default))
        ),
    )


def _meaningful(mp: pytest.MonkeyPatch, contract: CompiledContract) -> CompiledContract:
    kind = type(next(t.meaningful for t in contract.tables if t.meaningful is not None))
    mp.setattr(kind, "keeps", lambda self, get: True)
    return contract


def _row_filter(mp: pytest.MonkeyPatch, contract: CompiledContract) -> CompiledContract:
    tables = tuple(
        t
        if t.where is None
        else dataclasses.replace(
            t, where=dataclasses.replace(t.where, allowed=t.where.allowed | {"WEIRD"})
        )
        for t in contract.tables
    )
    return dataclasses.replace(contract, tables=tables, table_by_name={t.name: t for t in tables})


def _checks(mp: pytest.MonkeyPatch, contract: CompiledContract) -> CompiledContract:
    """Every per-document check wants one row more; every per-row check is negated."""

    def broken(check: Any) -> Any:
        if check.min_rows is not None:
            return dataclasses.replace(check, min_rows=check.min_rows + 1)
        when = check.when
        negated = dataclasses.replace(when, evaluate=lambda env: when.evaluate(env) is not True)
        return dataclasses.replace(check, when=negated)

    return dataclasses.replace(contract, checks=tuple(broken(c) for c in contract.checks))


MUTATIONS: dict[str, tuple[str, Mutation]] = {
    # each column type's conversion
    "int": ("engine_cc", _converter("int")),
    "bigint": ("provenir_rl", _converter("bigint")),
    "decimal": ("engine_cc", _converter("decimal")),
    "date": ("engine_cc", _converter("date")),
    "datetime": ("engine_cc", _converter("datetime")),
    "bit truth table": ("engine_cc", _converter("bit")),
    "enum codes": ("engine_cc", _converter("enum")),
    "string": ("engine_cc", _converter("string")),
    "string truncation": ("engine_cc", _truncation),
    "extraction": ("engine_cc", _extraction),
    # each column kind that is not an attribute's conversion
    "const": ("engine_cc", _const),
    "parent": ("engine_cc", _parent),
    "app_id": ("engine_cc", _app_id),
    "unpivot name": ("engine_cc", _unpivot(0)),
    "unpivot value": ("engine_cc", _unpivot(1)),
    "unpivot field": ("provenir_rl", _unpivot(2)),
    "calculation": ("engine_cc", _calculation),
    # the rules around them
    "default": ("engine_cc", _default),
    "meaningful row": ("engine_cc", _meaningful),
    "row filter": ("engine_cc", _row_filter),
    "checks": ("engine_cc", _checks),
    # an imported contract's calculations, translated from the predecessor's format
    "imported calculation (cc)": ("imported:cc", _arithmetic),
    "imported calculation (rl)": ("imported:rl", _arithmetic),
}


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_the_engine_and_the_oracle_agree_without_a_mutation(corpus: str) -> None:
    contract = _contract(CORPORA[corpus][0])
    docs = _corpus(corpus)
    results = _results(contract, docs)
    assert _disagreements(contract, docs, results) == []
    assert sum(isinstance(r, MappedApp) for r in results) >= len(docs) // 2  # rows compared


@pytest.mark.parametrize("rule", list(MUTATIONS))
def test_breaking_one_engine_rule_fails_the_end_to_end_comparison(
    rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, mutate = MUTATIONS[rule]
    contract = _contract(CORPORA[corpus][0])
    docs = _corpus(corpus)  # generated before anything is broken
    before = [_shape(r) for r in _results(contract, docs)]
    broken = mutate(monkeypatch, contract)
    results = _results(broken, docs)
    assert [_shape(r) for r in results] != before, (
        f"breaking {rule!r} no longer changes what the engine produces: the mutation's "
        "target has moved (update this test to break the rule where it now lives)"
    )
    # the oracle gets the same broken contract, and still derives what its text declares
    assert _disagreements(broken, docs, results), f"the oracle agrees with a broken {rule}"
