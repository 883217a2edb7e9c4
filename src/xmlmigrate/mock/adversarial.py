"""Documents shaped to exhaust a parser: the corpus the memory bound is tested and measured on.

Each shape fills about ``size`` bytes around a valid CC application, so a parser that keeps
what it reads grows with the document while one that keeps only the contract's scope does
not. Used by ``tests/unit/test_hostile_documents.py`` (the bound asserted on memory) and
``xmlmigrate perf adversarial`` (time and peak memory printed per shape).
"""

from __future__ import annotations

from collections.abc import Callable

APPLICATION = (
    b'<CustData><application app_receive_date="01/25/2016" campaign_num="P1B">'
    b'<contact con_id="9001" ac_role_tp_c="PR" first_name="A" last_name="B" '
    b'birth_date="05/10/1978" ssn="123456789"/></application></CustData>'
)
HEAD = b'<?xml version="1.0" encoding="UTF-8"?><Provenir><Request ID="%d">'
TAIL = b"</Request></Provenir>"


def _repeat(unit: bytes, size: int) -> bytes:
    return unit * max(1, size // len(unit))


def long_prefix(app_id: int, size: int) -> bytes:
    """Millions of tiny elements before CustData (the shape that once took 6.8 GB)."""
    return HEAD % app_id + b"<Junk>" + _repeat(b"<a/>", size) + b"</Junk>" + APPLICATION + TAIL


def wide_tail(app_id: int, size: int) -> bytes:
    """Millions of tiny elements after CustData, in the unmapped part."""
    return (
        HEAD % app_id + APPLICATION + b"<Reports>" + _repeat(b"<r/>", size) + b"</Reports>" + TAIL
    )


def no_fragment(app_id: int, size: int) -> bytes:
    """No CustData at all: the whole document must be read (and rejected) all the same."""
    return HEAD % app_id + b"<Junk>" + _repeat(b"<a/>", size) + b"</Junk>" + TAIL


def deep(app_id: int, size: int) -> bytes:
    """Nesting far past libxml2's depth limit, before CustData."""
    depth = size // 7
    return HEAD % app_id + b"<d>" * depth + b"</d>" * depth + APPLICATION + TAIL


def many_attributes(app_id: int, size: int) -> bytes:
    """One element before CustData with a million attributes."""
    attrs = b"".join(b' a%d="1"' % i for i in range(max(1, size // 12)))
    return HEAD % app_id + b"<Junk" + attrs + b"/>" + APPLICATION + TAIL


def huge_attribute(app_id: int, size: int) -> bytes:
    """One attribute value of ``size`` bytes (past libxml2's 10 MB value limit when large)."""
    return HEAD % app_id + b'<Junk v="' + b"x" * size + b'"/>' + APPLICATION + TAIL


def fat_fragment(app_id: int, size: int) -> bytes:
    """The mapped part itself stuffed with millions of elements."""
    inner = _repeat(b"<x/>", size)
    return (
        HEAD % app_id
        + b'<CustData><application app_receive_date="01/25/2016">'
        + inner
        + b"</application></CustData>"
        + TAIL
    )


SHAPES: dict[str, Callable[[int, int], bytes]] = {
    "long_prefix": long_prefix,
    "wide_tail": wide_tail,
    "no_fragment": no_fragment,
    "deep": deep,
    "many_attributes": many_attributes,
    "huge_attribute": huge_attribute,
    "fat_fragment": fat_fragment,
}
