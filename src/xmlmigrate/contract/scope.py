"""The part of a document a contract reads (so the parser builds only that)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    """The part of a document a contract reads: ``root/prefix.../fragment``.

    For Provenir CC: root ``Provenir``, prefix ``("Request",)``, fragment ``CustData`` —
    about 3 % of the bytes. Only that element is built into a tree; the rest of the
    document is still checked for well-formedness (by libxml2 with a target that builds nothing),
    unless the caller opts out.
    """

    root: str
    prefix: tuple[str, ...]
    fragment: str
