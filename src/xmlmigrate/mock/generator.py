"""Generated documents, and the credit-card realism every Provenir document gets on top.

A generator (:class:`~xmlmigrate.mock.from_contract.ContractGenerator`) derives each
document's mapped part (``CustData``) as a typed tree (:class:`~xmlmigrate.mock.model.
MockElement`) from a contract and renders it (:mod:`xmlmigrate.mock.render`) with a profile;
:class:`ProvenirProfile` is the realism of real credit-card documents: the unmapped bulk
(``Journals``, ``Audits``, ``Reports``, ``Documents``) from blocks pre-rendered once per
generator, which is what makes hundreds of MB/s possible, sizes that follow the real
distribution (median ~145 KB, tail to ~2 MB) under the ``realistic`` profile, and, where no
census of real documents lists an element's attributes, an invented attribute load that gives
elements their real weight.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from xmlmigrate.mock import catalog as cat
from xmlmigrate.mock.model import AppModel
from xmlmigrate.mock.render import attribute
from xmlmigrate.mock.values import format_datetime

SIZE_PROFILES = ("small", "realistic", "large")
# Real sample of 165 CC documents: (low, high, count) in bytes.
REALISTIC_BUCKETS = (
    (7_000, 10_000, 16),
    (10_000, 50_000, 42),
    (50_000, 100_000, 10),
    (100_000, 250_000, 26),
    (250_000, 500_000, 50),
    (500_000, 1_000_000, 17),
    (1_000_000, 2_000_000, 4),
)
SMALL_RANGE = (8_000, 20_000)
LARGE_RANGE = (500_000, 2_000_000)
BLOCK_TARGET = 6_000
# How the unmapped bulk splits between sections. Base64 attachments parse ~20x faster than the
# attribute-dense journals and reports; this mix parses at about the rate of real documents.
SECTION_SHARES = (("Journals", 0.15), ("Audits", 0.15), ("Reports", 0.32), ("Documents", 0.38))
CONTACT_IDS_PER_APP = 8
# con_id = app_id * 8 + k must fit the 32-bit con_id column
MAX_APP_ID = (2**31 - 1) // CONTACT_IDS_PER_APP


@dataclass(frozen=True, slots=True)
class GeneratedDoc:
    app_id: int
    xml: str
    model: AppModel


class MockGenerator(Protocol):
    """What generates documents: document ``index`` is the same on every call."""

    def document(self, index: int) -> GeneratedDoc: ...

    def generate(self, count: int, offset: int = 0) -> Iterator[GeneratedDoc]:
        for i in range(offset, offset + count):
            yield self.document(i)


class MixedGenerator(MockGenerator):
    """Documents of several generators at once (``generate --contract cc --contract rl``):
    document ``i`` is the ``i mod n``-th generator's, so a corpus mixes the product lines
    evenly; app ids stay ``start_app_id + i``."""

    def __init__(self, generators: list[MockGenerator]) -> None:
        self.generators = generators

    def document(self, index: int) -> GeneratedDoc:
        return self.generators[index % len(self.generators)].document(index)


class ProvenirProfile:
    """The realism of real Provenir documents, for :func:`~xmlmigrate.mock.render.
    render_document`: a size drawn from ``size_profile``, reached with the unmapped bulk
    sections; with ``filler``, each element :data:`~xmlmigrate.mock.catalog.FILLER_COUNTS`
    names gets invented attributes and an application element its empty sections
    (:data:`~xmlmigrate.mock.catalog.EMPTY_SECTIONS`): for an application no census describes
    (a model that follows a census has the real ones)."""

    def __init__(self, seed: int = 0, size_profile: str = "realistic", filler: bool = True):
        if size_profile not in SIZE_PROFILES:
            raise ValueError(f"size profile must be one of {SIZE_PROFILES}, got {size_profile!r}")
        self.size_profile = size_profile
        self.filler = filler
        pool_rng = random.Random(f"pool:{seed}")
        # drawn whether used or not: the blocks after them come from the same stream
        fillers = {
            el: [_filler_attrs(pool_rng, el, n) for _ in range(16)]
            for el, n in cat.FILLER_COUNTS.items()
        }
        self._fillers = fillers if filler else {}
        items: tuple[tuple[str, Callable[[random.Random], str], int], ...] = (
            ("Journals", _journal, 24),
            ("Audits", _audit, 24),
            ("Reports", _report, 24),
            ("Documents", _document, 8),
        )
        self._blocks = {
            section: [_block(pool_rng, item) for _ in range(n)] for section, item, n in items
        }
        # single entries, to bring a document within an entry's size of its target
        self._items = [_journal(pool_rng) for _ in range(64)]

    def attributes(self, rng: random.Random, tag: str) -> str:
        pool = self._fillers.get(tag)
        return "" if pool is None else pool[rng.randrange(len(pool))]

    def content(self, tag: str) -> str:
        return cat.EMPTY_SECTIONS.get(tag, "") if self.filler else ""

    def bulk(self, rng: random.Random, written: int) -> Iterable[str]:
        """The sections that bring the document to a size drawn from the profile."""
        bulk = max(0, self.target_size(rng) - written - 80)
        parts: list[str] = []
        got = 0
        want = 0.0
        for section, share in SECTION_SHARES:
            parts.append(f"<{section}>")
            want += bulk * share  # what the sections so far should hold, shortfalls carried
            blocks = self._blocks[section]
            while got + BLOCK_TARGET // 2 < want:
                block = blocks[rng.randrange(len(blocks))]
                parts.append(block)
                got += len(block)
            if section == SECTION_SHARES[-1][0]:
                while got < want:  # the last part of a block: single entries
                    item = self._items[rng.randrange(len(self._items))]
                    parts.append(item)
                    got += len(item)
            parts.append(f"</{section}>")
        return parts

    def target_size(self, rng: random.Random) -> int:
        if self.size_profile == "small":
            lo, hi = SMALL_RANGE
        elif self.size_profile == "large":
            lo, hi = LARGE_RANGE
        else:
            ((lo, hi, _),) = rng.choices(
                REALISTIC_BUCKETS, weights=[b[2] for b in REALISTIC_BUCKETS]
            )
        return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


# -- pre-rendered pools ---------------------------------------------------------------------
def _filler_attrs(rng: random.Random, element: str, n: int) -> str:
    prefix = cat.FILLER_PREFIX[element]
    kinds = ("flag", "code", "amt", "date", "text", "num", "ind", "tp_c")
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        name = f"{prefix}_{kind}_{i:03d}"
        r = rng.random()
        if r < 0.35:
            value = ""
        elif kind in ("flag", "ind"):
            value = rng.choice(("Y", "N", "true", "false", "1", "0"))
        elif kind == "amt":
            value = f"{rng.randrange(0, 100000) / 100:.2f}"
        elif kind == "date":
            value = f"{rng.randrange(1, 13)}/{rng.randrange(1, 29)}/{rng.randrange(1990, 2020)}"
        elif kind == "num":
            value = str(rng.randrange(0, 1000))
        elif kind == "tp_c":
            value = rng.choice(("CURR", "PREV", "STD", "NA", "X1"))
        else:
            value = "".join(
                rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ ") for _ in range(rng.randrange(3, 24))
            )
        out.append(attribute(name, value))
    return "".join(out)


def _block(rng: random.Random, item: Callable[[random.Random], str]) -> str:
    """Items made by ``item`` until the block holds ``BLOCK_TARGET`` characters."""
    out: list[str] = []
    size = 0
    while size < BLOCK_TARGET:
        text = item(rng)
        out.append(text)
        size += len(text)
    return "".join(out)


def _journal(rng: random.Random) -> str:
    entries = "".join(
        f'<Entry Key="{rng.choice(("rule", "step", "var"))}{rng.randrange(999)}" '
        f'Value="{rng.randrange(10**5)}" Status="{rng.choice(("OK", "SKIP", "FAIL"))}"/>'
        for _ in range(rng.randrange(2, 8))
    )
    return (
        f'<Journal ID="{rng.randrange(10**6)}" Date="{format_datetime(datetime(2016, 1, 25, 11, 21, 33, 570000))}" '
        f'User="{rng.choice(("SYSTEM", "BATCH", "UW01"))}" Action="{rng.choice(("Decision", "Score", "Pull", "Route"))}">'
        f"{entries}</Journal>"
    )


def _audit(rng: random.Random) -> str:
    return (
        f'<Audit Table="{rng.choice(("application", "contact", "app_product"))}" '
        f'Field="f{rng.randrange(300)}" Old="{rng.randrange(10**4)}" New="{rng.randrange(10**4)}" '
        f'By="UW{rng.randrange(99):02d}" At="{rng.randrange(1, 13)}/{rng.randrange(1, 29)}/2016"/>'
    )


def _aeo(rng: random.Random, depth: int) -> str:
    name = rng.choice(("Tradeline", "Inquiry", "PublicRecord", "Attribute", "Segment", "Field"))
    attrs = (
        f' Name="{name}{rng.randrange(100)}" Type="{rng.choice(("String", "Number", "Date"))}"'
        f' Value="{rng.randrange(10**6)}" Index="{rng.randrange(50)}"'
    )
    if depth <= 0:
        return f"<ArrayElementObject{attrs}/>"
    kids = "".join(_aeo(rng, depth - 1) for _ in range(rng.randrange(1, 4)))
    return f"<ArrayElementObject{attrs}>{kids}</ArrayElementObject>"


def _report(rng: random.Random) -> str:
    kids = "".join(_aeo(rng, 2) for _ in range(rng.randrange(2, 6)))
    return (
        f'<Report Type="{rng.choice(("Experian", "Equifax", "TransUnion", "LexisNexis"))}" '
        f'ReportID="{rng.randrange(10**8)}">{kids}</Report>'
    )


def _document(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    body = "".join(rng.choice(alphabet) for _ in range(BLOCK_TARGET))
    return f'<Document Name="doc{rng.randrange(1000)}.pdf" Type="PDF">{body}</Document>'
