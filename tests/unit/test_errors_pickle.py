"""Every error the tool raises crosses a process boundary intact (worker processes and Dask
tasks send them back pickled): class, message and attributes survive."""

from __future__ import annotations

import pickle

import pytest

from xmlmigrate import errors
from xmlmigrate.contract import ContractError
from xmlmigrate.contract.import_ import ContractImportError
from xmlmigrate.db.errors import UnsupportedDatabase, WriteError
from xmlmigrate.run.errors import PartitionFailed

EXAMPLES: list[errors.XmlMigrateError] = [
    errors.XmlMigrateError("x"),
    errors.Interrupted("interrupted: no count given"),
    errors.UserError("bad flag"),
    errors.SourceError("app_xml: app_id is text"),
    errors.SourceMissing("no table app_xml"),
    errors.InfrastructureError("connection lost"),
    errors.LeaseBusy("run abc holds it"),
    errors.LeaseLost("run abc lost its lease"),
    errors.WorkerCrashed("worker 1 died"),
    errors.GateError("no base"),
    ContractError("my.toml", "unknown enum 'x'", table="app_base", column="status"),
    ContractError("my.toml", "no [contract] table"),
    ContractImportError("cc.json: mappings[3]: no xml_path"),
    WriteError("UniqueViolation: duplicate key", data_error=True),
    WriteError("OperationalError: server closed the connection", data_error=False),
    UnsupportedDatabase("no bulk writer for oracle+cx"),
    PartitionFailed("partition 1–100 failed: …"),
]


def _every_error_class() -> set[type]:
    found: set[type] = set()
    todo: list[type] = [errors.XmlMigrateError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("xmlmigrate"):
            found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_has_an_example() -> None:
    missing = _every_error_class() - {type(e) for e in EXAMPLES}
    assert not missing, f"add an example for {sorted(c.__name__ for c in missing)}"


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_an_error_survives_a_pickle(error: errors.XmlMigrateError) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert back.exit_code == error.exit_code
    assert vars(back) == vars(error)
