"""Seeded Provenir credit-card documents in the real shape, fast.

The mapped part (``CustData``) is rendered per document from a typed model
(returned with the XML). The unmapped bulk (``Journals``, ``Audits``,
``Reports``, ``Documents``) is assembled from blocks pre-rendered once per
generator, which is what makes hundreds of MB/s possible; sizes follow the
real distribution (median ~145 KB, tail to ~2 MB) under the ``realistic``
profile.

Document *i* of a generator depends only on ``(seed, i, start_app_id)``.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from xmlmigrate.mock.model import AddressModel, AppModel, ContactModel, EmploymentModel

T = TypeVar("T")

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
# attribute-dense journals and reports; this mix parses at the rate measured on real documents.
SECTION_SHARES = (("Journals", 0.15), ("Audits", 0.15), ("Reports", 0.32), ("Documents", 0.38))
CONTACT_IDS_PER_APP = 4

FIRST = [
    "JAMES",
    "MARY",
    "ROBERT",
    "PATRICIA",
    "JOHN",
    "JENNIFER",
    "MICHAEL",
    "LINDA",
    "DAVID",
    "ELIZABETH",
    "WILLIAM",
    "BARBARA",
    "RICHARD",
    "SUSAN",
    "JOSEPH",
    "JESSICA",
    "THOMAS",
    "SARAH",
    "CARLOS",
    "MARIA",
    "JOSÉ",
    "ZOË",
]
LAST = [
    "SMITH",
    "JOHNSON",
    "WILLIAMS",
    "BROWN",
    "JONES",
    "GARCIA",
    "MILLER",
    "DAVIS",
    "RODRIGUEZ",
    "MARTINEZ",
    "HERNANDEZ",
    "LOPEZ",
    "GONZALEZ",
    "WILSON",
    "ANDERSON",
    "THOMAS",
    "TAYLOR",
    "MOORE",
    "JACKSON",
    "MARTIN",
    "O'BRIEN",
    "MÜLLER",
]
CITIES = [
    "DALLAS",
    "HOUSTON",
    "AUSTIN",
    "PLANO",
    "IRVING",
    "FRISCO",
    "DENVER",
    "PHOENIX",
    "TULSA",
    "OMAHA",
    "BOISE",
    "RENO",
    "FARGO",
]
STATES = ["TX", "TX", "TX", "CA", "NY", "FL", "IL", "OK", "CO", "AZ", "NE", "ID", "NV", "ND"]
STREETS = ["MAIN", "OAK", "ELM", "MAPLE", "CEDAR", "PINE", "LAKE", "HILL", "PARK", "WASHINGTON"]
EMPLOYERS = (
    "ACME CORP",
    "GLOBEX",
    "INITECH",
    "UMBRELLA LLC",
    "STARK & SONS",
    "WAYNE ENT",
    "CITY OF DALLAS",
    "SELF EMPLOYED",
)
TITLES = ("ENGINEER", "MANAGER", "NURSE", "TEACHER", "CLERK", "DRIVER", "ANALYST", "OWNER")
APP_TYPES = ("PRODB", "PRODA", "PREAPP", "INSTNT")
CAMPAIGNS = ("P1B", "P2A", "DM7", "WEB1", "BR22")
POPULATIONS = ("EV", "CM", "NW", "XX")
DECISIONS = ("APPRV", "APPRV", "APPRV", "DECLN", "DECLN", "PEND", "WITHD", "CNTR")
QUEUES = ("UNDERWRITING", "FRAUD", "VERIFY", "BOOKING")
TIERS = ("T1", "T2", "T3", "PRIME", "SUB")
BASES = ("ANNUM", "ANNUM", "ANNUM", "MONTH", "WEEK", "HOUR")
RESIDENCE = ("OWN", "RENT", "FAMILY", "OTHER")

# Number of unmapped attributes per element, so elements carry the real attribute load.
FILLER_COUNTS = {
    "application": 69,
    "app_product": 115,
    "rmts_info": 86,
    "contact": 26,
    "contact_address": 31,
    "contact_employment": 32,
    "app_prod_bcard": 24,
}


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
    if style < 0.5:
        return f"{d.month:02d}/{d.day:02d}/{d.year}"
    if style < 0.8:
        return f"{d.month}/{d.day}/{d.year}"
    return d.isoformat()


def _fmt_datetime(dt: datetime) -> str:
    """Provenir's unpadded style: 2016-1-25 11:21:37.976"""
    return (
        f"{dt.year}-{dt.month}-{dt.day} {dt.hour}:{dt.minute:02d}:{dt.second:02d}."
        f"{dt.microsecond // 1000:03d}"
    )


class MockGenerator:
    def __init__(self, seed: int = 0, size_profile: str = "realistic", start_app_id: int = 1):
        if size_profile not in SIZE_PROFILES:
            raise ValueError(f"size profile must be one of {SIZE_PROFILES}, got {size_profile!r}")
        if start_app_id < 1:
            raise ValueError("start_app_id must be >= 1")
        self.seed = seed
        self.size_profile = size_profile
        self.start_app_id = start_app_id
        pool_rng = random.Random(f"pool:{seed}")
        self._fillers = {
            el: [self._filler_attrs(pool_rng, el, n) for _ in range(16)]
            for el, n in FILLER_COUNTS.items()
        }
        self._blocks = {
            "Journals": [self._journal_block(pool_rng) for _ in range(24)],
            "Audits": [self._audit_block(pool_rng) for _ in range(24)],
            "Reports": [self._report_block(pool_rng) for _ in range(24)],
            "Documents": [self._document_block(pool_rng) for _ in range(8)],
        }

    # -- public -----------------------------------------------------------
    def generate(self, count: int, offset: int = 0) -> Iterator[GeneratedDoc]:
        for i in range(offset, offset + count):
            yield self.document(i)

    def document(self, index: int) -> GeneratedDoc:
        rng = random.Random(self.seed * 1_000_003 + index)
        app_id = self.start_app_id + index
        model = self._model(rng, app_id)
        custdata = self._render_custdata(rng, model)
        target = self._target_size(rng)
        head = (
            '\ufeff<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<Provenir Version="4.0.0" Server="PRVNR{rng.randint(1, 9)}">'
            f'<Request ID="{app_id}" Process="99000" Workflow="1" Trans="WEBAPP" '
            f'User="SYSTEM" Date="{_fmt_datetime(datetime(2016, 1, 1) + timedelta(seconds=app_id))}">'
        )
        parts = [head, "<CustData>", custdata, "</CustData>"]
        bulk = max(0, target - sum(len(p) for p in parts) - 80)
        shares = SECTION_SHARES
        for section, share in shares:
            parts.append(f"<{section}>")
            want = bulk * share
            blocks = self._blocks[section]
            got = 0
            while got + BLOCK_TARGET // 2 < want:
                block = blocks[rng.randrange(len(blocks))]
                parts.append(block)
                got += len(block)
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
    @staticmethod
    def _maybe(rng: random.Random, value: T, blank: float = 0.08) -> T | None:
        return None if rng.random() < blank else value

    def _model(self, rng: random.Random, app_id: int) -> AppModel:
        m = self._maybe
        received = date(2015, 1, 1) + timedelta(days=rng.randrange(2200))
        entered = datetime(
            received.year,
            received.month,
            received.day,
            rng.randrange(24),
            rng.randrange(60),
            rng.randrange(60),
            rng.randrange(1000) * 1000,
        )
        decided = entered + timedelta(
            seconds=rng.randrange(1, 86400 * 3), microseconds=rng.randrange(1000) * 1000
        )
        decided = decided.replace(microsecond=decided.microsecond // 1000 * 1000)
        n_contacts = rng.choices((1, 2, 3), weights=(88, 9, 3))[0]
        contacts = []
        for k in range(n_contacts):
            if k == 0:
                role = "PR"
            elif k == 1:
                role = "AUTHU"
            else:
                role = rng.choice(("AUTHU", "SEC"))
            contacts.append(self._contact(rng, app_id * CONTACT_IDS_PER_APP + k, role))
        return AppModel(
            app_id=app_id,
            receive_date=received,
            app_type_code=m(rng, rng.choice(APP_TYPES)),
            campaign_num=m(rng, rng.choice(CAMPAIGNS)),
            population_assignment=m(rng, rng.choice(POPULATIONS)),
            app_entry_date=m(rng, entered),
            ip_address=m(rng, ".".join(str(rng.randrange(1, 255)) for _ in range(4))),
            decision=m(rng, rng.choice(DECISIONS)),
            decision_date=m(rng, decided),
            assigned_to=m(rng, f"{rng.choice(FIRST)} {rng.choice(LAST)}", 0.3),
            queue_name=m(rng, rng.choice(QUEUES)),
            regb_start_date=m(rng, received + timedelta(days=rng.randrange(30))),
            signature_flag=m(rng, rng.random() < 0.5, 0.2),
            fraud_review=m(rng, rng.random() < 0.1, 0.2),
            backend_fico_score=m(rng, rng.randrange(450, 850)),
            monthly_income=m(
                rng,
                Decimal(rng.randrange(1500, 25000))
                if rng.random() < 0.7
                else Decimal(rng.randrange(150000, 2500000)) / 100,
            ),
            debt_to_income_ratio=m(rng, Decimal(rng.randrange(0, 900)) / 10),
            credit_line=m(rng, Decimal(rng.randrange(5, 300) * 100)),
            purchase_apr=m(rng, Decimal(rng.randrange(999, 2999)) / 100),
            pricing_tier=m(rng, rng.choice(TIERS)),
            contacts=contacts,
        )

    def _contact(self, rng: random.Random, con_id: int, role: str) -> ContactModel:
        m = self._maybe
        first, last = rng.choice(FIRST), rng.choice(LAST)
        addresses = []
        if rng.random() < 0.95:
            addresses.append(self._address(rng, "CURR"))
        if rng.random() < 0.4:
            addresses.append(self._address(rng, "PREV"))
        if rng.random() < 0.03:
            addresses.append(self._address(rng, ""))
        employments = []
        if rng.random() < 0.85:
            employments.append(self._employment(rng, "CURR"))
        if rng.random() < 0.25:
            employments.append(self._employment(rng, "PREV"))
        area = rng.randrange(200, 999)
        ssn = f"{rng.randrange(1, 899):03d}{rng.randrange(1, 99):02d}{rng.randrange(1, 9999):04d}"
        if rng.random() < 0.3:
            ssn = f"{ssn[:3]}-{ssn[3:5]}-{ssn[5:]}"
        return ContactModel(
            con_id=con_id,
            role=role,
            first_name=first,
            last_name=last,
            middle_initial=m(rng, rng.choice("ABCDEFGHJKLMNPRSTW"), 0.4),
            suffix=m(rng, rng.choice(("JR", "SR", "III")), 0.9),
            birth_date=date(1940, 1, 1) + timedelta(days=rng.randrange(23000)),
            ssn=ssn,
            email=m(rng, f"{first.lower()}.{last.lower()}{rng.randrange(100)}@example.com"),
            home_phone=m(rng, f"({area}) 555-{rng.randrange(10000):04d}", 0.3),
            cell_phone=m(
                rng,
                f"{area}555{rng.randrange(10000):04d}"
                + (" ext. 21" if rng.random() < 0.05 else ""),
            ),
            addresses=addresses,
            employments=employments,
        )

    def _address(self, rng: random.Random, kind: str) -> AddressModel:
        m = self._maybe
        city = rng.choice(CITIES)
        if rng.random() < 0.02:  # over-long: the contract truncates to 50
            city = ("NORTH " * 12) + city
        return AddressModel(
            type=kind,
            street_line_1=m(rng, f"{rng.randrange(1, 9999)} {rng.choice(STREETS)} ST"),
            city=city,
            state=rng.choice(STATES),
            zip=rng.choice(
                (
                    f"{rng.randrange(10000, 99999)}",
                    f"{rng.randrange(10000, 99999)}{rng.randrange(10000):04d}",
                    f"{rng.randrange(10000, 99999)}-{rng.randrange(10000):04d}",
                )
            ),
            years_at_residence=m(rng, rng.randrange(0, 40)),
            months_at_residence=m(rng, rng.randrange(0, 12)),
            residence_type=m(rng, rng.choice(RESIDENCE)),
            housing_payment=m(rng, Decimal(rng.randrange(0, 500000)) / 100, 0.2),
        )

    def _employment(self, rng: random.Random, kind: str) -> EmploymentModel:
        m = self._maybe
        return EmploymentModel(
            type=kind,
            employer_name=m(rng, rng.choice(EMPLOYERS)),
            job_title=m(rng, rng.choice(TITLES)),
            salary=m(rng, Decimal(rng.randrange(15, 400) * 1000)),
            salary_basis=m(rng, rng.choice(BASES)),
            years=m(rng, rng.randrange(0, 30)),
            months=m(rng, rng.randrange(0, 12)),
            phone=m(rng, f"({rng.randrange(200, 999)}) 555-{rng.randrange(10000):04d}"),
        )

    # -- rendering --------------------------------------------------------
    def _opt(self, rng: random.Random, value: object) -> str | None:
        """An optional value: None renders as a blank attribute or (rarely) as an absent one."""
        if value is None:
            return None if rng.random() < 0.2 else ""
        if isinstance(value, bool):
            return "Y" if value else "N"
        if isinstance(value, datetime):
            return _fmt_datetime(value)
        if isinstance(value, date):
            return _fmt_date(rng, value)
        return str(value)

    def _attrs(self, rng: random.Random, pairs: list[tuple[str, object]]) -> str:
        out = []
        for name, value in pairs:
            text = self._opt(rng, value)
            if text is not None:
                out.append(_a(name, text))
        return "".join(out)

    def _filler(self, rng: random.Random, element: str) -> str:
        pool = self._fillers[element]
        return pool[rng.randrange(len(pool))]

    def _render_custdata(self, rng: random.Random, m: AppModel) -> str:
        app_attrs = self._attrs(
            rng,
            [
                ("app_receive_date", m.receive_date),
                ("app_type_code", m.app_type_code),
                ("campaign_num", m.campaign_num),
                ("population_assignment", m.population_assignment),
                ("app_entry_date", m.app_entry_date),
                ("ip_address", m.ip_address),
            ],
        )
        product = self._attrs(
            rng,
            [
                ("decision_tp_c", m.decision),
                ("decision_date", m.decision_date),
                ("signature_flag", m.signature_flag),
                ("backend_fico_score", m.backend_fico_score),
                ("monthly_income", m.monthly_income),
                ("debt_to_income_ratio", m.debt_to_income_ratio),
                ("credit_line", m.credit_line),
                ("purchase_apr", m.purchase_apr),
                ("pricing_tier", m.pricing_tier),
            ],
        )
        rmts = self._attrs(
            rng,
            [
                ("assigned_to", m.assigned_to),
                ("queue_name", m.queue_name),
                ("regb_start_date", m.regb_start_date),
                ("fraud_review_ind", m.fraud_review),
            ],
        )
        out = [
            f"<application{app_attrs}{self._filler(rng, 'application')}>",
            f"<app_product{product}{self._filler(rng, 'app_product')}/>",
            f"<rmts_info{rmts}{self._filler(rng, 'rmts_info')}/>",
        ]
        for c in m.contacts:
            out.append(self._render_contact(rng, c))
        n_scores = rng.randrange(2, 6)
        out.append("<scores>")
        for s in range(n_scores):
            out.append(f'<score score_identifier="MODEL{s}" score="{rng.randrange(300, 850)}"/>')
        out.append("</scores><Indicators>")
        for s in range(rng.randrange(3, 12)):
            out.append(f'<Indicator ID="IND{s:03d}" value="{rng.choice("YN")}"/>')
        out.append("</Indicators><comments/><communications/><TempVariables/></application>")
        return "".join(out)

    def _render_contact(self, rng: random.Random, c: ContactModel) -> str:
        attrs = (
            _a("con_id", c.con_id)
            + _a("ac_role_tp_c", c.role)
            + self._attrs(
                rng,
                [
                    ("first_name", c.first_name),
                    ("last_name", c.last_name),
                    ("middle_initial", c.middle_initial),
                    ("suffix", c.suffix),
                    ("birth_date", c.birth_date),
                    ("ssn", c.ssn),
                    ("email", c.email),
                    ("home_phone", c.home_phone),
                    ("cell_phone", c.cell_phone),
                ],
            )
        )
        out = [f"<contact{attrs}{self._filler(rng, 'contact')}>"]
        for a in c.addresses:
            a_attrs = _a("address_tp_c", a.type) + self._attrs(
                rng,
                [
                    ("street_line_1", a.street_line_1),
                    ("city", a.city),
                    ("state", a.state),
                    ("zip", a.zip),
                    ("years_at_residence", a.years_at_residence),
                    ("months_at_residence", a.months_at_residence),
                    ("residence_tp_c", a.residence_type),
                    ("housing_payment", a.housing_payment),
                ],
            )
            out.append(f"<contact_address{a_attrs}{self._filler(rng, 'contact_address')}/>")
        for e in c.employments:
            e_attrs = _a("employment_tp_c", e.type) + self._attrs(
                rng,
                [
                    ("b_name", e.employer_name),
                    ("b_job_title", e.job_title),
                    ("b_salary", e.salary),
                    ("b_salary_basis_tp_c", e.salary_basis),
                    ("b_years", e.years),
                    ("b_months", e.months),
                    ("b_phone", e.phone),
                ],
            )
            out.append(f"<contact_employment{e_attrs}{self._filler(rng, 'contact_employment')}/>")
        out.append(f"<app_prod_bcard{self._filler(rng, 'app_prod_bcard')}/>")
        out.append("</contact>")
        return "".join(out)

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

    def _journal_block(self, rng: random.Random) -> str:
        out: list[str] = []
        size = 0
        while size < BLOCK_TARGET:
            entries = "".join(
                f'<Entry Key="{rng.choice(("rule", "step", "var"))}{rng.randrange(999)}" '
                f'Value="{rng.randrange(10**5)}" Status="{rng.choice(("OK", "SKIP", "FAIL"))}"/>'
                for _ in range(rng.randrange(2, 8))
            )
            item = (
                f'<Journal ID="{rng.randrange(10**6)}" Date="{_fmt_datetime(datetime(2016, 1, 25, 11, 21, 33, 570000))}" '
                f'User="{rng.choice(("SYSTEM", "BATCH", "UW01"))}" Action="{rng.choice(("Decision", "Score", "Pull", "Route"))}">'
                f"{entries}</Journal>"
            )
            out.append(item)
            size += len(item)
        return "".join(out)

    def _audit_block(self, rng: random.Random) -> str:
        out: list[str] = []
        size = 0
        while size < BLOCK_TARGET:
            item = (
                f'<Audit Table="{rng.choice(("application", "contact", "app_product"))}" '
                f'Field="f{rng.randrange(300)}" Old="{rng.randrange(10**4)}" New="{rng.randrange(10**4)}" '
                f'By="UW{rng.randrange(99):02d}" At="{rng.randrange(1, 13)}/{rng.randrange(1, 29)}/2016"/>'
            )
            out.append(item)
            size += len(item)
        return "".join(out)

    def _report_block(self, rng: random.Random) -> str:
        out: list[str] = []
        size = 0
        while size < BLOCK_TARGET:
            kids = "".join(self._aeo(rng, 2) for _ in range(rng.randrange(2, 6)))
            item = (
                f'<Report Type="{rng.choice(("Experian", "Equifax", "TransUnion", "LexisNexis"))}" '
                f'ReportID="{rng.randrange(10**8)}">{kids}</Report>'
            )
            out.append(item)
            size += len(item)
        return "".join(out)

    def _document_block(self, rng: random.Random) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        body = "".join(rng.choice(alphabet) for _ in range(BLOCK_TARGET))
        return f'<Document Name="doc{rng.randrange(1000)}.pdf" Type="PDF">{body}</Document>'
