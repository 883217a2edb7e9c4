"""The stages' errors: a document the tool will not read. Raised in worker processes, so it
pickles with its code and detail."""

from __future__ import annotations


class XmlRejected(Exception):
    """The input is not a document we will read; ``code`` is the rejection reason code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    def __reduce__(self) -> tuple[type[XmlRejected], tuple[str, str]]:
        return type(self), (self.code, self.detail)
