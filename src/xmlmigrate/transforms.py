"""Value coercions: XML attribute text → typed Python values.

Every converter takes a non-empty, already stripped string and returns the
typed value or raises :class:`InvalidValue` with a short reason. Blank and
missing values never reach a converter: the mapper handles them (default or
NULL) so the converters stay small and fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

Converter = Callable[[str], Any]

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


class InvalidValue(ValueError):
    """The text cannot be converted to the column's type."""


_INT_RE = re.compile(r"-?\d+\Z", re.ASCII)
# MM/DD/YYYY and M/D/YYYY
_US_DATE_RE = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?\Z", re.ASCII
)
# YYYY-MM-DD, YYYY-M-D, optionally followed by H:M[:S[.fff]] (separator space or T)
_ISO_DATE_RE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,6}))?)?)?\Z",
    re.ASCII,
)

DEFAULT_TRUE = frozenset({"Y", "YES", "TRUE", "T", "1"})
DEFAULT_FALSE = frozenset({"N", "NO", "FALSE", "F", "0"})


def to_int(bounds: tuple[int, int] = INT32) -> Converter:
    lo, hi = bounds

    def convert(text: str) -> int:
        if not _INT_RE.match(text):
            raise InvalidValue(f"not an integer: {text[:40]!r}")
        value = int(text)
        if not lo <= value <= hi:
            raise InvalidValue(f"integer out of range: {text[:40]!r}")
        return value

    return convert


def to_decimal(precision: int, scale: int) -> Converter:
    quantum = Decimal(1).scaleb(-scale)
    limit = Decimal(10) ** (precision - scale)

    def convert(text: str) -> Decimal:
        try:
            value = Decimal(text.replace(",", ""))
        except InvalidOperation:
            raise InvalidValue(f"not a number: {text[:40]!r}") from None
        if not value.is_finite():
            raise InvalidValue(f"not a finite number: {text[:40]!r}")
        value = value.quantize(quantum, rounding=ROUND_HALF_UP)
        if abs(value) >= limit:
            raise InvalidValue(f"number too large for decimal({precision},{scale}): {text[:40]!r}")
        return value

    return convert


def _parse_datetime(text: str) -> datetime:
    m = _US_DATE_RE.match(text)
    if m is not None:
        month, day, year, hh, mm, ss = m.groups()
        parts = (int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0), 0)
    else:
        m = _ISO_DATE_RE.match(text)
        if m is None:
            raise InvalidValue(f"unrecognised date format: {text[:40]!r}")
        year, month, day, hh, mm, ss, frac = m.groups()
        micro = int((frac or "0").ljust(6, "0"))
        parts = (int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0), micro)
    try:
        return datetime(*parts)
    except ValueError as exc:
        raise InvalidValue(f"impossible date {text[:40]!r}: {exc}") from None


def to_datetime() -> Converter:
    return _parse_datetime


def to_date() -> Converter:
    def convert(text: str) -> date:
        return _parse_datetime(text).date()

    return convert


def to_bit(
    true_values: frozenset[str] = DEFAULT_TRUE, false_values: frozenset[str] = DEFAULT_FALSE
) -> Converter:
    def convert(text: str) -> bool:
        key = text.upper()
        if key in true_values:
            return True
        if key in false_values:
            return False
        raise InvalidValue(f"not a flag: {text[:40]!r}")

    return convert


def to_enum(codes: Mapping[str, int], enum_name: str) -> Converter:
    upper = {k.upper(): v for k, v in codes.items()}

    def convert(text: str) -> int:
        value = codes.get(text)
        if value is None:
            value = upper.get(text.upper())
            if value is None:
                raise InvalidValue(f"unknown {enum_name} code {text[:40]!r}")
        return value

    return convert


def to_string() -> Converter:
    def convert(text: str) -> str:
        return text

    return convert
