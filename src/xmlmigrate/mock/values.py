"""Dates and datetimes written the way real Provenir documents write them.

Real documents carry a date in several styles (``05/10/1978``, ``05-10-1978``, ``5/10/1978``,
``1978-05-10``) and a datetime in Provenir's unpadded style with milliseconds
(``2016-1-25 11:21:37.976``) or, for a tenth, the 12-hour style without a fraction
(``6/1/2020 10:12:15 PM``). The impossible values (month 13, second 88) are the edge cases a
contract rejects or clamps. Each function returns the text together with the value a correct
migration recovers from it (see :mod:`xmlmigrate.mock.model`).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from xmlmigrate.mock.model import ClampTo


def format_date(rng: random.Random, d: date) -> str:
    """``d`` in one of the styles real documents use, drawn in their proportions."""
    style = rng.random()
    if style < 0.45:
        return f"{d.month:02d}/{d.day:02d}/{d.year}"
    if style < 0.5:  # seen in real birth dates: 05-10-1978
        return f"{d.month:02d}-{d.day:02d}-{d.year}"
    if style < 0.8:
        return f"{d.month}/{d.day}/{d.year}"
    return d.isoformat()


def format_datetime(dt: datetime) -> str:
    """Provenir's unpadded style: 2016-1-25 11:21:37.976"""
    return (
        f"{dt.year}-{dt.month}-{dt.day} {dt.hour}:{dt.minute:02d}:{dt.second:02d}."
        f"{dt.microsecond // 1000:03d}"
    )


def format_datetime_12h(dt: datetime) -> str:
    """Real documents' other style: 6/1/2020 10:12:15 PM (no fraction)."""
    hour = dt.hour % 12 or 12
    meridiem = "PM" if dt.hour >= 12 else "AM"
    return f"{dt.month}/{dt.day}/{dt.year} {hour}:{dt.minute:02d}:{dt.second:02d} {meridiem}"


def draw_date(rng: random.Random, start: date, days: int) -> tuple[str, date]:
    """A day of the ``days`` from ``start``, in a style real documents use."""
    d = start + timedelta(days=rng.randrange(days))
    return format_date(rng, d), d


def draw_datetime(rng: random.Random, start: date, days: int) -> tuple[str, datetime]:
    """A moment of the ``days`` from ``start`` (to the millisecond), in Provenir's style or,
    for a tenth, the 12-hour style, which carries no fraction."""
    seconds = rng.randrange(days * 86400)
    ms = rng.randrange(1000)
    dt = datetime(start.year, start.month, start.day) + timedelta(seconds=seconds, milliseconds=ms)
    if ms % 10 == 0:
        whole = dt.replace(microsecond=0)
        return format_datetime_12h(whole), whole
    return format_datetime(dt), dt


def impossible_date(rng: random.Random, start: date, days: int) -> tuple[str, ClampTo]:
    """Month 13 of a drawn day: invalid, or December where the column clamps."""
    _, d = draw_date(rng, start, days)
    return f"13/{d.day:02d}/{d.year}", ClampTo(d.replace(month=12))


def impossible_datetime(rng: random.Random, start: date, days: int) -> tuple[str, ClampTo]:
    """Second 88 of a drawn moment: invalid, or second 59 where the column clamps."""
    _, dt = draw_datetime(rng, start, days)
    bad = f"{dt.year}-{dt.month}-{dt.day} {dt.hour}:{dt.minute:02d}:88.000"
    return bad, ClampTo(dt.replace(second=59, microsecond=0))
