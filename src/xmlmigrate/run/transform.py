"""The whole pure transform of one record: decode+parse → validate → map.

``(RawRecord, CompiledContract) → MappedApp | Rejection``, with the seconds
spent in each stage added to a caller-owned dict. Nothing here touches a
database, and no input can make it raise: any unexpected error becomes a
``Rejection`` with code ``internal_error`` so one bad record never stops a run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from time import perf_counter

from xmlmigrate.contract import CompiledContract
from xmlmigrate.contract.spelling import respell
from xmlmigrate.model import MappedApp, RawRecord, Rejection
from xmlmigrate.stages.errors import XmlRejected
from xmlmigrate.stages.mapping import map_application
from xmlmigrate.stages.validate import validate_document
from xmlmigrate.stages.xml import parse_document


def pad_rows(result: MappedApp, pad: Mapping[str, tuple[str, ...]]) -> None:
    """The columns of a shared table this product line does not map, as NULL (several
    contracts write one layout)."""
    for table, missing in pad.items():
        for row in result.rows.get(table, ()):
            for name in missing:
                row[name] = None


def widen_rows(result: MappedApp, widened: Mapping[str, tuple[str, ...]]) -> None:
    """This product line's dates in a column the union made datetime, as midnight."""
    for table, names in widened.items():
        for row in result.rows.get(table, ()):
            for name in names:
                v = row.get(name)
                if isinstance(v, date) and not isinstance(v, datetime):
                    row[name] = datetime(v.year, v.month, v.day)


def transform_record(
    record: RawRecord,
    contract: CompiledContract,
    times: dict[str, float] | None = None,
    explain: bool = False,
    scoped: bool = True,
    check_well_formed: bool = True,
) -> MappedApp | Rejection:
    """``scoped``: build a tree of only the part of the document the contract reads (when the
    contract says which); ``check_well_formed``: still prove the whole document well-formed."""
    t0 = perf_counter()
    if record.xml is None:
        return Rejection(record.app_id, "xml_missing", "the xml column is NULL", stage="parse")
    try:
        try:
            parsed = parse_document(
                record.xml,
                scope=contract.scope if scoped else None,
                check_well_formed=check_well_formed,
                utf8_text=record.utf8_text,
            )
        except XmlRejected as exc:
            return Rejection(record.app_id, exc.code, exc.detail, stage="parse")
        t1 = perf_counter()
        member = contract.route(parsed.root)  # several contracts: the one of this product line
        if member.spelling is not None:  # attributes_any_case
            respell(parsed.root, member.spelling)
        valid = validate_document(parsed.root, member, record.app_id)
        t2 = perf_counter()
        if isinstance(valid, Rejection):
            result: MappedApp | Rejection = valid
        else:
            result = map_application(valid.app_id, valid.application, member, explain)
            if (contract.pads or contract.widened) and isinstance(result, MappedApp):
                index = next(i for i, m in enumerate(contract.members) if m is member)
                if contract.pads:
                    pad_rows(result, contract.pads[index])
                if contract.widened:
                    widen_rows(result, contract.widened[index])
            if parsed.warnings and isinstance(result, MappedApp):
                result.warnings[:0] = parsed.warnings
            del valid
        t3 = perf_counter()
        # Freeing a large tree is part of what parsing costs: count it there, not nowhere.
        del parsed
        t4 = perf_counter()
    except MemoryError:  # the machine's problem, not the document's: the run must stop
        raise
    except Exception as exc:  # a bug must cost one record, not the run
        return Rejection(
            record.app_id, "internal_error", f"{type(exc).__name__}: {exc}"[:300], stage="map"
        )
    if times is not None:
        times["parse"] += (t1 - t0) + (t4 - t3)
        times["validate"] += t2 - t1
        times["map"] += t3 - t2
    return result
