"""Does the contract fit the documents? Which of its mapped columns a run's migrated apps
ever filled.

A contract written for other documents (another spelling of the attributes, another
element layout) still "succeeds": every app loads, with NULL wherever a path never matched.
The run therefore tallies, for each column whose value comes from the document (attributes,
calculations, key/value values), whether any migrated row held a value — not NULL and not
the column's default — and the summary, ``--metrics-out`` and ``status`` list the columns
never filled; below ``--min-filled`` of them filled, ``run`` ends with exit status 6.

The tally costs almost nothing: once a column has been seen filled it is no longer looked
at, so after the first documents only the never-filled ones are checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xmlmigrate.contract import CompiledContract
from xmlmigrate.model import MappedApp


@dataclass
class FillTally:
    columns: int = 0  # mapped columns of the contract (values from the document)
    # table → column → (default, where it reads) of the columns not filled yet
    unseen: dict[str, dict[str, tuple[Any, str]]] = field(default_factory=dict)
    apps: int = 0

    @classmethod
    def of(cls, contract: CompiledContract) -> FillTally:
        tally = cls()
        for table in contract.tables:
            cols = {c.name: (c.default, c.where()) for c in table.columns if c.is_data}
            tally.columns += len(cols)
            if cols:
                tally.unseen[table.name] = cols
        return tally

    def add(self, app: MappedApp) -> None:
        self.apps += 1
        if not self.unseen:
            return
        for table in list(self.unseen):
            rows = app.rows.get(table)
            if not rows:
                continue
            cols = self.unseen[table]
            for name in [
                n
                for n, (default, _) in cols.items()
                if any((v := r.get(n)) is not None and v != default for r in rows)
            ]:
                del cols[name]
            if not cols:
                del self.unseen[table]

    @property
    def never_filled(self) -> list[str]:
        return [
            f"{t}.{c} ({where})"
            for t, cols in self.unseen.items()
            for c, (_, where) in cols.items()
        ]

    @property
    def filled(self) -> int:
        return self.columns - sum(len(cols) for cols in self.unseen.values())

    @property
    def share(self) -> float:
        """Filled columns as a share (0..1) of the mapped ones."""
        return self.filled / self.columns if self.columns else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "filled": self.filled,
            "filled_share": round(self.share, 4),
            "apps": self.apps,
            "never_filled": self.never_filled,
        }
