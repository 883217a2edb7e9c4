"""The document side of generated Provenir applications: sizes, bulk sections, rendering.

A subclass (:class:`~xmlmigrate.mock.from_contract.ContractGenerator`) derives each
document's mapped part (``CustData``) as a typed tree (:class:`~xmlmigrate.mock.model.
MockElement`) from a contract and, for a Provenir application, from the census of real
documents; this module renders it with the value formats real documents use and adds the
unmapped bulk (``Journals``, ``Audits``, ``Reports``, ``Documents``) from blocks pre-rendered
once per generator, which is what makes hundreds of MB/s possible. Sizes follow the real
distribution (median ~145 KB, tail to ~2 MB) under the ``realistic`` profile.

Document *i* of a generator depends only on ``(seed, i, start_app_id, edge_rate)``.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from xmlmigrate.mock import catalog as cat
from xmlmigrate.mock.model import INVALID, AppModel, Attr, ClampTo, MockElement

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
BLANK_RATE = 0.08
FLAG_STYLES = (("Y", "N"),) * 6 + (("yes", "no"), ("true", "false"), ("1", "0"), ("T", "F"))


@dataclass(frozen=True, slots=True)
class GeneratedDoc:
    app_id: int
    xml: str
    model: AppModel


_NEEDS_ESCAPE = re.compile(r'[&<>"\t\n\r]')
_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)


def _a(name: str, value: object) -> str:
    text = "" if value is None else str(value)
    if _NEEDS_ESCAPE.search(text):
        text = text.translate(_ESCAPES)
    return f' {name}="{text}"'


def _fmt_date(rng: random.Random, d: date) -> str:
    style = rng.random()
    if style < 0.45:
        return f"{d.month:02d}/{d.day:02d}/{d.year}"
    if style < 0.5:  # seen in real birth dates: 05-10-1978
        return f"{d.month:02d}-{d.day:02d}-{d.year}"
    if style < 0.8:
        return f"{d.month}/{d.day}/{d.year}"
    return d.isoformat()


def _fmt_datetime_12h(dt: datetime) -> str:
    """Real documents' other style: 6/1/2020 10:12:15 PM (no fraction)."""
    hour = dt.hour % 12 or 12
    meridiem = "PM" if dt.hour >= 12 else "AM"
    return f"{dt.month}/{dt.day}/{dt.year} {hour}:{dt.minute:02d}:{dt.second:02d} {meridiem}"


def _fmt_datetime(dt: datetime) -> str:
    """Provenir's unpadded style: 2016-1-25 11:21:37.976"""
    return (
        f"{dt.year}-{dt.month}-{dt.day} {dt.hour}:{dt.minute:02d}:{dt.second:02d}."
        f"{dt.microsecond // 1000:03d}"
    )


class MockGenerator:
    def __init__(
        self,
        seed: int = 0,
        size_profile: str = "realistic",
        start_app_id: int = 1,
        edge_rate: float = 0.0,
    ):
        if size_profile not in SIZE_PROFILES:
            raise ValueError(f"size profile must be one of {SIZE_PROFILES}, got {size_profile!r}")
        if start_app_id < 1:
            raise ValueError("start_app_id must be >= 1")
        if not 0.0 <= edge_rate <= 1.0:
            raise ValueError("edge_rate must be between 0 and 1")
        self.seed = seed
        self.size_profile = size_profile
        self.start_app_id = start_app_id
        self.edge_rate = edge_rate
        # invented attributes and empty sections that give elements their real weight; a
        # generator that renders what the census of real documents lists turns this off
        self.unmapped_filler = True
        pool_rng = random.Random(f"pool:{seed}")
        self._fillers = {
            el: [self._filler_attrs(pool_rng, el, n) for _ in range(16)]
            for el, n in cat.FILLER_COUNTS.items()
        }
        self._blocks = {
            "Journals": [self._journal_block(pool_rng) for _ in range(24)],
            "Audits": [self._audit_block(pool_rng) for _ in range(24)],
            "Reports": [self._report_block(pool_rng) for _ in range(24)],
            "Documents": [self._document_block(pool_rng) for _ in range(8)],
        }
        # single entries, to bring a document within an entry's size of its target
        self._items = [self._journal(pool_rng) for _ in range(64)]

    # -- public -----------------------------------------------------------
    def generate(self, count: int, offset: int = 0) -> Iterator[GeneratedDoc]:
        for i in range(offset, offset + count):
            yield self.document(i)

    def document(self, index: int) -> GeneratedDoc:
        rng = random.Random(self.seed * 1_000_003 + index)
        app_id = self.start_app_id + index
        if app_id > MAX_APP_ID:
            raise ValueError(f"app id {app_id} is above {MAX_APP_ID}: contact ids would overflow")
        model = self._model(rng, app_id)
        head = {"ID": str(app_id), "Process": "99000", "Workflow": "1", "Trans": "WEBAPP"}
        head["User"] = "SYSTEM"
        for name, (text, _) in model.request.items():  # what a contract reads of Request
            if text is not None and name != "ID":
                same = [k for k in head if k.lower() == name.lower()]
                for k in same:
                    del head[k]
                head[model.request_spelled.get(name, name)] = text
        attrs = "".join(_a(k, t) for k, t in head.items())
        root = "".join(
            _a(model.provenir_spelled.get(k, k), t)
            for k, (t, _) in model.provenir.items()
            if t is not None and k not in ("Version", "Server")
        )
        parts = [
            '\ufeff<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<Provenir Version="4.0.0" Server="PRVNR{rng.randint(1, 9)}"{root}>'
            f"<Request{attrs}><CustData>",
        ]
        self._render(rng, model.application, parts)
        for sibling in model.siblings:
            self._render(rng, sibling, parts)
        parts.append("</CustData>")
        target = self._target_size(rng)
        bulk = max(0, target - sum(len(p) for p in parts) - 80)
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
        parts.append("</Request></Provenir>")
        return GeneratedDoc(app_id, "".join(parts), model)

    # -- sizes ------------------------------------------------------------
    def _target_size(self, rng: random.Random) -> int:
        if self.size_profile == "small":
            lo, hi = SMALL_RANGE
        elif self.size_profile == "large":
            lo, hi = LARGE_RANGE
        else:
            ((lo, hi, _),) = rng.choices(
                REALISTIC_BUCKETS, weights=[b[2] for b in REALISTIC_BUCKETS]
            )
        return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    # -- model ------------------------------------------------------------
    def _model(self, rng: random.Random, app_id: int) -> AppModel:
        """What the document's ``CustData`` holds: a subclass derives it (from a contract)."""
        raise NotImplementedError

    def _draw(self, rng: random.Random, kind: str, arg: Any) -> Attr:
        if kind == "date":
            start, span = arg
            d = start + timedelta(days=rng.randrange(span))
            return _fmt_date(rng, d), d
        if kind == "datetime":
            start, span = arg
            seconds = rng.randrange(span * 86400)  # drawn in the order they always were
            ms = rng.randrange(1000)
            dt = datetime(start.year, start.month, start.day) + timedelta(
                seconds=seconds, milliseconds=ms
            )
            if ms % 10 == 0:  # a tenth: the 12-hour style, which carries no fraction
                whole = dt.replace(microsecond=0)
                return _fmt_datetime_12h(whole), whole
            return _fmt_datetime(dt), dt
        if kind == "int":
            n = rng.randint(*arg)
            return str(n), n
        if kind == "money":
            lo, hi = arg
            value = Decimal(rng.randint(lo, hi))
            if rng.random() < 0.3:
                value += Decimal(rng.randrange(100)) / 100
            return str(value), value
        if kind == "rate":
            lo, hi, places = arg
            value = Decimal(rng.randint(lo * 10**places, hi * 10**places)).scaleb(-places)
            return str(value), value
        if kind == "flag":
            yes, no = rng.choice(FLAG_STYLES)
            truth = rng.random() < 0.5
            return (yes if truth else no), truth
        if kind == "tri":
            true_codes, false_codes, null_codes = arg
            choices: tuple[tuple[tuple[str, ...], bool | None], ...] = (
                (true_codes, True),
                (false_codes, False),
                (null_codes, None),
            )
            group, tri = rng.choice(choices)
            return rng.choice(group), tri
        if kind == "code":
            code = rng.choice(arg)
            return code, code
        if kind == "text":
            text = self._text(rng, arg)
            return text, text
        if kind == "digits":
            style, n = arg
            return self._digits(rng, style, n)
        if kind == "money_text":
            lo, hi = arg
            amount = Decimal(rng.randint(lo, hi))
            text = rng.choice((f"Up to ${amount}", f"${amount}.00 per occurrence", str(amount)))
            return text, amount
        raise ValueError(f"unknown kind {kind!r}")

    def _edge(self, rng: random.Random, kind: str, arg: Any) -> Attr:
        """A value real documents carry that no column accepts as-is."""
        if kind in ("date", "datetime"):
            _, value = self._draw(rng, kind, arg)
            if kind == "datetime":
                clamped = value.replace(second=59, microsecond=0)
                bad = (
                    f"{value.year}-{value.month}-{value.day} {value.hour}:{value.minute:02d}:88.000"
                )
                return bad, ClampTo(clamped)
            clamped_date = value.replace(month=12)
            return f"13/{value.day:02d}/{value.year}", ClampTo(clamped_date)
        if kind == "text":
            long = ("OVERLONG " * 20).strip()
            return long, long
        if kind in ("int", "money", "rate"):
            return "12abc", INVALID
        if kind == "flag":
            return "MAYBE", INVALID
        if kind == "code":
            return "WEIRD", INVALID
        if kind == "digits":
            return "N/A", INVALID
        if kind == "money_text":
            return "waived", INVALID
        if kind == "tri":
            return "Q", INVALID
        raise ValueError(f"unknown kind {kind!r}")

    @staticmethod
    def _text(rng: random.Random, arg: Any) -> str:
        if isinstance(arg, tuple):
            return str(rng.choice(arg))
        if arg == "ip":
            return ".".join(str(rng.randrange(1, 255)) for _ in range(4))
        if arg == "person":
            return f"{rng.choice(cat.FIRST)} {rng.choice(cat.LAST)}"
        if arg == "embossed":
            return f"{rng.choice(cat.FIRST)} {rng.choice(cat.LAST)}"[:26]
        if arg == "email":
            return f"{rng.choice(cat.FIRST).lower()}.{rng.randrange(1000)}@example.com"
        if arg == "last":
            return rng.choice(cat.LAST)
        if arg == "street":
            return f"{rng.randrange(1, 9999)} {rng.choice(cat.STREETS)} ST"
        if arg == "city":
            return rng.choice(cat.CITIES)
        raise ValueError(f"unknown text pool {arg!r}")

    @staticmethod
    def _digits(rng: random.Random, style: str, n: int) -> Attr:
        digits = "".join(str(rng.randrange(10)) for _ in range(n))
        if style == "ssn":
            digits = str(rng.randrange(1, 9)) + digits[1:]
            text = rng.choice((digits, f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"))
        elif style == "phone":
            text = rng.choice(
                (
                    f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
                    f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
                    digits,
                )
            )
            if rng.random() < 0.05:
                text += " ext. 21"
                digits += "21"
        elif style == "zip":
            r = rng.random()
            if r < 0.5:
                digits = digits[:5]
                text = digits
            elif r < 0.8:
                text = f"{digits[:5]}-{digits[5:]}"
            elif r < 0.95:
                text = digits
            else:
                digits = digits[:5]
                text = f"{digits}-XYZ"
        elif style == "account":
            text = rng.choice(
                (
                    " ".join(digits[i : i + 4] for i in range(0, n, 4)),
                    "-".join(digits[i : i + 4] for i in range(0, n, 4)),
                    digits,
                )
            )
        else:
            text = digits
        return text, digits

    # -- rendering --------------------------------------------------------
    def _render(self, rng: random.Random, el: MockElement, out: list[str]) -> None:
        out.append(f"<{el.tag}")
        spelled = el.spelled
        for name, (text, _) in el.attrs.items():
            if text is not None:
                out.append(_a(spelled.get(name, name), text))
        filler = self._fillers.get(el.tag) if self.unmapped_filler else None
        if filler is not None:
            out.append(filler[rng.randrange(len(filler))])
        application = self.unmapped_filler and el.tag in ("application", "IL_application")
        if not el.children and not application:
            out.append("/>")
            return
        out.append(">")
        for child in el.children:
            self._render(rng, child, out)
        if application:
            out.append("<comments/><communications/><TempVariables/>")
        out.append(f"</{el.tag}>")

    # -- pre-rendered pools -------------------------------------------------
    @staticmethod
    def _filler_attrs(rng: random.Random, element: str, n: int) -> str:
        prefix = {
            "application": "app",
            "app_product": "ap",
            "rmts_info": "rm",
            "contact": "con",
            "contact_address": "adr",
            "contact_employment": "emp",
            "app_prod_bcard": "bc",
        }[element]
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
            out.append(_a(name, value))
        return "".join(out)

    @staticmethod
    def _aeo(rng: random.Random, depth: int) -> str:
        name = rng.choice(("Tradeline", "Inquiry", "PublicRecord", "Attribute", "Segment", "Field"))
        attrs = (
            f' Name="{name}{rng.randrange(100)}" Type="{rng.choice(("String", "Number", "Date"))}"'
            f' Value="{rng.randrange(10**6)}" Index="{rng.randrange(50)}"'
        )
        if depth <= 0:
            return f"<ArrayElementObject{attrs}/>"
        kids = "".join(MockGenerator._aeo(rng, depth - 1) for _ in range(rng.randrange(1, 4)))
        return f"<ArrayElementObject{attrs}>{kids}</ArrayElementObject>"

    @staticmethod
    def _block(rng: random.Random, item: Callable[[random.Random], str]) -> str:
        """Items made by ``item`` until the block holds ``BLOCK_TARGET`` characters."""
        out: list[str] = []
        size = 0
        while size < BLOCK_TARGET:
            text = item(rng)
            out.append(text)
            size += len(text)
        return "".join(out)

    def _journal_block(self, rng: random.Random) -> str:
        return self._block(rng, self._journal)

    @staticmethod
    def _journal(rng: random.Random) -> str:
        entries = "".join(
            f'<Entry Key="{rng.choice(("rule", "step", "var"))}{rng.randrange(999)}" '
            f'Value="{rng.randrange(10**5)}" Status="{rng.choice(("OK", "SKIP", "FAIL"))}"/>'
            for _ in range(rng.randrange(2, 8))
        )
        return (
            f'<Journal ID="{rng.randrange(10**6)}" Date="{_fmt_datetime(datetime(2016, 1, 25, 11, 21, 33, 570000))}" '
            f'User="{rng.choice(("SYSTEM", "BATCH", "UW01"))}" Action="{rng.choice(("Decision", "Score", "Pull", "Route"))}">'
            f"{entries}</Journal>"
        )

    def _audit_block(self, rng: random.Random) -> str:
        return self._block(rng, self._audit)

    @staticmethod
    def _audit(rng: random.Random) -> str:
        return (
            f'<Audit Table="{rng.choice(("application", "contact", "app_product"))}" '
            f'Field="f{rng.randrange(300)}" Old="{rng.randrange(10**4)}" New="{rng.randrange(10**4)}" '
            f'By="UW{rng.randrange(99):02d}" At="{rng.randrange(1, 13)}/{rng.randrange(1, 29)}/2016"/>'
        )

    def _report_block(self, rng: random.Random) -> str:
        return self._block(rng, self._report)

    @classmethod
    def _report(cls, rng: random.Random) -> str:
        kids = "".join(cls._aeo(rng, 2) for _ in range(rng.randrange(2, 6)))
        return (
            f'<Report Type="{rng.choice(("Experian", "Equifax", "TransUnion", "LexisNexis"))}" '
            f'ReportID="{rng.randrange(10**8)}">{kids}</Report>'
        )

    def _document_block(self, rng: random.Random) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        body = "".join(rng.choice(alphabet) for _ in range(BLOCK_TARGET))
        return f'<Document Name="doc{rng.randrange(1000)}.pdf" Type="PDF">{body}</Document>'
