"""Value coercions: XML attribute text → typed Python values.

Every converter takes a non-empty, already stripped string and returns the
typed value or raises :class:`InvalidValue` with a short reason. Blank and
missing values never reach a converter: the mapper handles them (default or
NULL) so the converters stay small and fast.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from xmlmigrate.contract.errors import InvalidValue

Converter = Callable[[str], Any]

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


_INT_RE = re.compile(r"-?\d+\Z", re.ASCII)
# MM/DD/YYYY and M/D/YYYY
# M/D/YYYY or MM-DD-YYYY (month first, as real documents write it), optionally followed by
# H:M[:S], 24-hour or 12-hour with AM/PM (6/1/2020 10:12:15 PM)
_US_DATE_RE = re.compile(
    r"(\d{1,2})([/-])(\d{1,2})\2(\d{4})"
    r"(?:\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\s*([AaPp][Mm]))?)?\Z",
    re.ASCII,
)
# YYYY-MM-DD, YYYY-M-D, optionally followed by H:M[:S[.fff]] (separator space or T)
_ISO_DATE_RE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,6}))?)?)?\Z",
    re.ASCII,
)

DEFAULT_TRUE = frozenset({"Y", "YES", "TRUE", "T", "1"})
DEFAULT_FALSE = frozenset({"N", "NO", "FALSE", "F", "0"})


def to_int(bounds: tuple[int, int] = INT32, rounding: bool = False) -> Converter:
    """``rounding``: a decimal number (``'611.0'``, ``'2,400.50'``) is rounded half-up, as
    the predecessor stores it; otherwise only whole numbers are integers."""
    lo, hi = bounds

    def convert(text: str) -> int:
        if not _INT_RE.match(text):
            if not rounding:
                raise InvalidValue(f"not an integer: {text[:40]!r}")
            try:
                number = Decimal(text.replace(",", "").strip())
            except InvalidOperation:
                raise InvalidValue(f"not a number: {text[:40]!r}") from None
            if not number.is_finite() or abs(number) > hi + 1:
                raise InvalidValue(f"integer out of range: {text[:40]!r}")
            text = str(int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
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
        if abs(value) >= limit:  # checked first: quantizing a huge value overflows
            raise InvalidValue(f"number too large for decimal({precision},{scale}): {text[:40]!r}")
        value = value.quantize(quantum, rounding=ROUND_HALF_UP)
        if abs(value) >= limit:  # 999.995 rounds up to 1000.00
            raise InvalidValue(f"number too large for decimal({precision},{scale}): {text[:40]!r}")
        return value

    return convert


@dataclass(frozen=True, slots=True)
class Clamped:
    """A converter's result when an impossible date component was clamped into range: a
    valid value (``value``) the mapper stores with a ``clamped_value`` warning. Returned, not
    raised — it carries a good value, not a failure."""

    value: Any
    text: str

    def __str__(self) -> str:
        return f"impossible date {self.text[:40]!r} clamped to {self.value}"


_FORMAT_TOKENS = ("YYYY", "fff", "MM", "DD", "HH", "SS", "M", "D", "H", "S")
_FIELD_OF = {
    "YYYY": "year",
    "DD": "day",
    "D": "day",
    "HH": "hour",
    "H": "hour",
    "SS": "second",
    "S": "second",
    "fff": "micro",
}
_REGEX_OF = {
    "YYYY": r"(\d{4})",
    "fff": r"(\d{1,6})",
    "MM": r"(\d{2})",
    "DD": r"(\d{2})",
    "HH": r"(\d{2})",
    "SS": r"(\d{2})",
    "M": r"(\d{1,2})",
    "D": r"(\d{1,2})",
    "H": r"(\d{1,2})",
    "S": r"(\d{1,2})",
}
FIELDS = ("year", "month", "day", "hour", "minute", "second", "micro")


def compile_date_format(fmt: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """'YYYY-M-D H:M:S.fff' → a regex and the field each group holds.

    M/MM mean month before an hour token and minutes after it.
    """
    pattern: list[str] = []
    fields: list[str] = []
    seen_hour = False
    i = 0
    while i < len(fmt):
        for tok in _FORMAT_TOKENS:
            if fmt.startswith(tok, i):
                if tok in ("M", "MM"):
                    field = "minute" if seen_hour else "month"
                else:
                    field = _FIELD_OF[tok]
                seen_hour = seen_hour or field == "hour"
                if field in fields:
                    raise ValueError(f"date format {fmt!r} has {tok!r} twice")
                fields.append(field)
                pattern.append(_REGEX_OF[tok])
                i += len(tok)
                break
        else:
            ch = fmt[i]
            pattern.append(r"\s+" if ch == " " else re.escape(ch))
            i += 1
    for needed in ("year", "month", "day"):
        if needed not in fields:
            raise ValueError(f"date format {fmt!r} has no {needed}")
    return re.compile("".join(pattern) + r"\Z", re.ASCII), tuple(fields)


def _builtin_parts(text: str) -> list[int] | None:
    m = _US_DATE_RE.match(text)
    if m is not None:
        month, _sep, day, year, hh, mm, ss, meridiem = m.groups()
        hour = int(hh or 0)
        if meridiem is not None:
            if not 1 <= hour <= 12:
                return None  # "13:00 PM" is no time
            hour = hour % 12 + (12 if meridiem.upper() == "PM" else 0)
        return [int(year), int(month), int(day), hour, int(mm or 0), int(ss or 0), 0]
    m = _ISO_DATE_RE.match(text)
    if m is None:
        return None
    year, month, day, hh, mm, ss, frac = m.groups()
    micro = int((frac or "0").ljust(6, "0"))
    return [int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0), micro]


def _make(p: list[int]) -> datetime:
    return datetime(p[0], p[1], p[2], p[3], p[4], p[5], p[6])


def _clamp(parts: list[int]) -> list[int]:
    year = min(max(parts[0], 1), 9999)
    month = min(max(parts[1], 1), 12)
    day = min(max(parts[2], 1), calendar.monthrange(year, month)[1])
    return [year, month, day, min(parts[3], 23), min(parts[4], 59), min(parts[5], 59), parts[6]]


def _datetime_parser(
    formats: Sequence[str] | None, clamp: bool
) -> Callable[[str], datetime | Clamped]:
    compiled = [compile_date_format(f) for f in formats] if formats else []

    def parts_of(text: str) -> list[int] | None:
        if not compiled:
            return _builtin_parts(text)
        for rx, fields in compiled:
            m = rx.match(text)
            if m is not None:
                values = dict.fromkeys(FIELDS, 0)
                for field, group in zip(fields, m.groups(), strict=True):
                    values[field] = int(group.ljust(6, "0")) if field == "micro" else int(group)
                return [values[f] for f in FIELDS]
        return None

    def parse(text: str) -> datetime | Clamped:
        parts = parts_of(text)
        if parts is None:
            raise InvalidValue(f"unrecognised date format: {text[:40]!r}")
        try:
            return _make(parts)
        except ValueError as exc:
            if clamp:
                return Clamped(_make(_clamp(parts)), text)
            raise InvalidValue(f"impossible date {text[:40]!r}: {exc}") from None

    return parse


def to_datetime(formats: Sequence[str] | None = None, clamp: bool = False) -> Converter:
    return _datetime_parser(formats, clamp)


def to_date(formats: Sequence[str] | None = None, clamp: bool = False) -> Converter:
    parse = _datetime_parser(formats, clamp)

    def convert(text: str) -> date | Clamped:
        value = parse(text)
        if isinstance(value, Clamped):
            return Clamped(value.value.date(), text)
        return value.date()

    return convert


def to_bit(
    true_values: frozenset[str] = DEFAULT_TRUE,
    false_values: frozenset[str] = DEFAULT_FALSE,
    null_values: frozenset[str] = frozenset(),
) -> Converter:
    """Truth table lookup (case-insensitive); codes in ``null_values`` mean "unknown" → NULL."""

    def convert(text: str) -> bool | None:
        key = text.upper()
        if key in true_values:
            return True
        if key in false_values:
            return False
        if key in null_values:
            return None
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


_NON_DIGITS = re.compile(r"[^0-9]+")
_NUMBER_IN_TEXT = re.compile(r"-?[0-9][0-9,]*(?:\.[0-9]+)?|-?\.[0-9]+")


def extract_digits(text: str) -> str:
    """'664-50-2346' → '664502346'; '(555) 555-5555 ext. 21' → '555555555521'."""
    digits = _NON_DIGITS.sub("", text)
    if not digits:
        raise InvalidValue(f"no digits in {text[:40]!r}")
    return digits


def extract_number(text: str) -> str:
    """'Up to $40' → '40'; 'approx. 1,250.50 USD' → '1250.50'."""
    m = _NUMBER_IN_TEXT.search(text)
    if m is None:
        raise InvalidValue(f"no number in {text[:40]!r}")
    return m.group(0).replace(",", "")


EXTRACTORS: dict[str, Callable[[str], str]] = {"digits": extract_digits, "number": extract_number}


def to_string() -> Converter:
    def convert(text: str) -> str:
        return text

    return convert
