"""What the generator rendered, as typed values: the ground truth tests compare migrated rows with.

Each field holds the value a correct migration must produce from the
rendered attribute (``None`` where the attribute was blank or absent), so a
test can derive the expected rows without running any of the mapping code.
String fields hold the text exactly as rendered (before any truncation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


@dataclass(slots=True)
class AddressModel:
    type: str  # CURR / PREV, or "" for an address without a type
    street_line_1: str | None
    city: str | None
    state: str | None
    zip: str | None
    years_at_residence: int | None
    months_at_residence: int | None
    residence_type: str | None
    housing_payment: Decimal | None


@dataclass(slots=True)
class EmploymentModel:
    type: str
    employer_name: str | None
    job_title: str | None
    salary: Decimal | None
    salary_basis: str | None
    years: int | None
    months: int | None
    phone: str | None


@dataclass(slots=True)
class ContactModel:
    con_id: int
    role: str  # PR / AUTHU, or an invalid role such as SEC
    first_name: str
    last_name: str
    middle_initial: str | None
    suffix: str | None
    birth_date: date
    ssn: str
    email: str | None
    home_phone: str | None
    cell_phone: str | None
    addresses: list[AddressModel] = field(default_factory=list)
    employments: list[EmploymentModel] = field(default_factory=list)


@dataclass(slots=True)
class AppModel:
    app_id: int
    receive_date: date
    app_type_code: str | None
    campaign_num: str | None
    population_assignment: str | None
    app_entry_date: datetime | None
    ip_address: str | None
    decision: str | None
    decision_date: datetime | None
    assigned_to: str | None
    queue_name: str | None
    regb_start_date: date | None
    signature_flag: bool | None
    fraud_review: bool | None
    backend_fico_score: int | None
    monthly_income: Decimal | None
    debt_to_income_ratio: Decimal | None
    credit_line: Decimal | None
    purchase_apr: Decimal | None
    pricing_tier: str | None
    contacts: list[ContactModel] = field(default_factory=list)
