"""The oracle's own date reading: the built-in formats and a contract's declared ``formats``.

Written apart from the engine's converters (:mod:`xmlmigrate.contract.converters`), from the
rules the contract documentation gives:

- built in: month first, ``M/D/YYYY`` or ``M-D-YYYY`` (one separator), optionally a time
  ``H:M[:S]`` in 24 hours or 12 with ``AM``/``PM``; or ``YYYY-M-D`` optionally with
  ``H:M[:S[.fraction]]`` after a space or ``T``;
- declared: ``YYYY``, ``MM``/``M`` (the month, or the minutes after an hour token), ``DD``/``D``,
  ``HH``/``H``, ``SS``/``S``, ``fff`` (a fraction of a second); a space is any run of spaces,
  anything else stands for itself;
- an impossible date (February 30th, second 88) is clamped into range where the column says
  ``on_impossible = "clamp"``.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime
from functools import cache

Parts = list[int]  # year, month, day, hour, minute, second, microsecond

_DIGITS = "[0-9]"
_MONTH_FIRST = re.compile(
    rf"({_DIGITS}{{1,2}})([/-])({_DIGITS}{{1,2}})\2({_DIGITS}{{4}})"
    rf"(?:[ \t\n\r\f\v]+({_DIGITS}{{1,2}}):({_DIGITS}{{1,2}})(?::({_DIGITS}{{1,2}}))?"
    rf"(?:[ \t\n\r\f\v]*([AaPp][Mm]))?)?"
)
_YEAR_FIRST = re.compile(
    rf"({_DIGITS}{{4}})-({_DIGITS}{{1,2}})-({_DIGITS}{{1,2}})"
    rf"(?:[ T]({_DIGITS}{{1,2}}):({_DIGITS}{{1,2}})"
    rf"(?::({_DIGITS}{{1,2}})(?:\.({_DIGITS}{{1,6}}))?)?)?"
)


def _micro(fraction: str | None) -> int:
    return int((fraction or "0") + "0" * (6 - len(fraction or "0")))


def builtin_date_parts(text: str) -> Parts | None:
    """The parts of ``text`` in one of the built-in formats (not checked for range)."""
    m = _MONTH_FIRST.fullmatch(text)
    if m is not None:
        month, _, day, year, hour, minute, second, half = m.groups()
        h = int(hour or 0)
        if half is not None:
            if h < 1 or h > 12:
                return None
            h = (0 if h == 12 else h) + (12 if half.lower() == "pm" else 0)
        return [int(year), int(month), int(day), h, int(minute or 0), int(second or 0), 0]
    m = _YEAR_FIRST.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction = m.groups()
    return [
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        _micro(fraction),
    ]


_TOKENS = (
    ("YYYY", "year", 4, 4),
    ("fff", "micro", 1, 6),
    ("MM", "month", 2, 2),
    ("DD", "day", 2, 2),
    ("HH", "hour", 2, 2),
    ("SS", "second", 2, 2),
    ("M", "month", 1, 2),
    ("D", "day", 1, 2),
    ("H", "hour", 1, 2),
    ("S", "second", 1, 2),
)
_ORDER = ("year", "month", "day", "hour", "minute", "second", "micro")


@cache
def _declared(fmt: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    pattern, fields, i = "", [], 0
    while i < len(fmt):
        for token, field, low, high in _TOKENS:
            if fmt.startswith(token, i):
                if field == "month" and "hour" in fields:
                    field = "minute"
                fields.append(field)
                pattern += f"({_DIGITS}{{{low},{high}}})"
                i += len(token)
                break
        else:
            pattern += "[ \t\n\r\f\v]+" if fmt[i] == " " else re.escape(fmt[i])
            i += 1
    return re.compile(pattern), tuple(fields)


def declared_date_parts(formats: list[str], text: str) -> Parts | None:
    """The parts of ``text`` in the first of ``formats`` it matches."""
    for fmt in formats:
        rx, fields = _declared(fmt)
        m = rx.fullmatch(text)
        if m is not None:
            values = dict.fromkeys(_ORDER, 0)
            for field, digits in zip(fields, m.groups(), strict=True):
                values[field] = _micro(digits) if field == "micro" else int(digits)
            return [values[f] for f in _ORDER]
    return None


def possible(parts: Parts) -> bool:
    year, month, day, hour, minute, second, _ = parts
    if not 1 <= year <= 9999 or not 1 <= month <= 12:
        return False
    return (
        1 <= day <= calendar.monthrange(year, month)[1]
        and hour < 24
        and minute < 60
        and (second < 60)
    )


def clamped(parts: Parts) -> Parts:
    """Each part pulled into its range (day 31 of a 30-day month is the 30th)."""
    year = min(max(parts[0], 1), 9999)
    month = min(max(parts[1], 1), 12)
    day = min(max(parts[2], 1), calendar.monthrange(year, month)[1])
    return [year, month, day, min(parts[3], 23), min(parts[4], 59), min(parts[5], 59), parts[6]]


def moment(parts: Parts) -> datetime:
    """The datetime of (possible) parts."""
    year, month, day, hour, minute, second, micro = parts
    return datetime(year, month, day, hour, minute, second, micro)
