"""Every error the tool raises crosses a process boundary intact (worker processes and Dask
tasks send them back pickled): class, message and attributes survive. "Every" is found by
importing every module of the package; a private exception class (``_Reject``) is caught in
the function that raises it and is left out."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil

import pytest

import xmlmigrate
from xmlmigrate import errors
from xmlmigrate.contract.errors import (
    ContractError,
    ContractImportError,
    ExprError,
    InvalidValue,
)
from xmlmigrate.db.errors import UnsupportedDatabase, WriteError
from xmlmigrate.run.errors import PartitionFailed
from xmlmigrate.stages.errors import XmlRejected

EXAMPLES: list[Exception] = [
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
    InvalidValue("not a flag: 'MAYBE'"),
    ExprError("at 4: unknown function FOO"),
    XmlRejected("malformed", "line 3: mismatched tag"),
]


def _every_error_class() -> set[type]:
    found: set[type] = set()
    for info in pkgutil.walk_packages(xmlmigrate.__path__, "xmlmigrate."):
        if info.name.endswith(".__main__"):  # importing one runs the command
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == info.name
                and not name.startswith("_")
            ):
                found.add(obj)
    return found


def test_every_error_class_has_an_example() -> None:
    missing = _every_error_class() - {type(e) for e in EXAMPLES}
    assert not missing, f"add an example for {sorted(c.__name__ for c in missing)}"


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_an_error_survives_a_pickle(error: Exception) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert getattr(back, "exit_code", None) == getattr(error, "exit_code", None)
    assert vars(back) == vars(error)
