"""The contract layer's errors: a contract that cannot be used or imported, a value a column
cannot take, an expression that does not parse or type. Each pickles (raised in worker
processes and Dask tasks)."""

from __future__ import annotations

from xmlmigrate.errors import UserError


class ContractError(UserError, ValueError):
    """A contract that cannot be used, with where and why (one line: names are shown as
    escaped, shortened literals, whatever they hold)."""

    def __init__(
        self, source: str, message: str, table: str | None = None, column: str | None = None
    ) -> None:
        where = source
        if table is not None:
            where += f": table {_shown(table)}"
        if column is not None:
            where += f", column {_shown(column)}"
        super().__init__(f"{where}: {message}")
        self.source = source
        self.message = message
        self.table = table
        self.column = column

    def __reduce__(self) -> tuple[type[ContractError], tuple[str, str, str | None, str | None]]:
        # raised in worker processes and Dask tasks: it must cross a pickle (the default
        # rebuilds it from the formatted text alone and fails for want of ``message``)
        return (type(self), (self.source, self.message, self.table, self.column))


def _shown(name: str) -> str:
    return repr(name) if len(name) <= 80 else repr(name[:80]) + f"… ({len(name)} characters)"


class InvalidValue(ValueError):
    """The text cannot be converted to the column's type."""


class ExprError(ValueError):
    """A syntax or type error, with the position in the expression text."""


class ContractImportError(UserError):
    """The JSON contract cannot be imported; the message says where."""
