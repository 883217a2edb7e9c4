"""The rows the shipped ``provenir_cc`` contract must produce from a generated model.

Written independently of the mapping code, from the contract's meaning: it is
the other side of every end-to-end equality check (a migrated database must
hold exactly these rows, no more, no fewer).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from xmlmigrate.mock.model import AppModel

PRODUCT_LINE = {"CC": 600, "RL": 602}
CONTACT_TYPE = {"PR": 281, "AUTHU": 280}
ADDRESS_TYPE = {"CURR": 320, "PREV": 321}
EMPLOYMENT_TYPE = {"CURR": 350, "PREV": 351}
DECISION = {"APPRV": 50, "DECLN": 51, "PEND": 52, "WITHD": 53, "CNTR": 54}
SALARY_BASIS = {"ANNUM": 360, "MONTH": 361, "WEEK": 362, "HOUR": 363}
ROLE_RANK = {"PR": 0, "AUTHU": 1}

Row = dict[str, Any]


def _q(value: Decimal | None, scale: int) -> Decimal | None:
    return None if value is None else value.quantize(Decimal(1).scaleb(-scale))


def _cut(value: str | None, length: int) -> str | None:
    return None if value is None else value[:length]


def expected_rows(app: AppModel) -> dict[str, list[Row]]:
    rows: dict[str, list[Row]] = {
        "app_base": [
            {
                "app_id": app.app_id,
                "product_line_enum": PRODUCT_LINE["CC"],
                "receive_date": app.receive_date,
                "app_type_code": app.app_type_code,
                "campaign_num": app.campaign_num,
                "population_assignment": app.population_assignment,
                "app_entry_date": app.app_entry_date,
                "ip_address": app.ip_address,
                "decision_enum": DECISION[app.decision] if app.decision else None,
                "decision_date": app.decision_date,
            }
        ],
        "app_operational_cc": [
            {
                "app_id": app.app_id,
                "assigned_to": _cut(app.assigned_to, 50),
                "queue_name": app.queue_name,
                "regb_start_date": app.regb_start_date,
                "signature_flag": bool(app.signature_flag),  # blank → the contract default N
                "fraud_review_flag": app.fraud_review,
                "backend_fico_score": app.backend_fico_score,
            }
        ],
        "app_pricing_cc": [
            {
                "app_id": app.app_id,
                "monthly_income": _q(app.monthly_income, 2),
                "debt_to_income_ratio": _q(app.debt_to_income_ratio, 2),
                "credit_line": _q(app.credit_line, 2),
                "purchase_apr": _q(app.purchase_apr, 3),
                "pricing_tier": app.pricing_tier,
            }
        ],
        "app_contact_base": [],
        "app_contact_address": [],
        "app_contact_employment": [],
    }
    # One contact per con_id among valid roles: PR over AUTHU, then the last one wins.
    chosen: dict[int, Any] = {}
    for c in app.contacts:
        if c.role not in ROLE_RANK:
            continue
        old = chosen.get(c.con_id)
        if old is None or ROLE_RANK[c.role] <= ROLE_RANK[old.role]:
            chosen[c.con_id] = c
    for c in chosen.values():
        rows["app_contact_base"].append(
            {
                "con_id": c.con_id,
                "app_id": app.app_id,
                "contact_type_enum": CONTACT_TYPE[c.role],
                "first_name": _cut(c.first_name, 50),
                "last_name": _cut(c.last_name, 50),
                "middle_initial": c.middle_initial,
                "suffix": c.suffix,
                "birth_date": c.birth_date,
                "ssn": c.ssn,
                "email": _cut(c.email, 100),
                "home_phone": c.home_phone,
                "cell_phone": c.cell_phone,
            }
        )
        addresses = {a.type: a for a in c.addresses if a.type in ADDRESS_TYPE}
        for a in addresses.values():
            rows["app_contact_address"].append(
                {
                    "con_id": c.con_id,
                    "address_type_enum": ADDRESS_TYPE[a.type],
                    "street_line_1": a.street_line_1,
                    "city": _cut(a.city, 50),
                    "state": _cut(a.state, 2),
                    "zip": _cut(a.zip, 10),
                    "years_at_residence": a.years_at_residence,
                    "months_at_residence": a.months_at_residence,
                    "residence_type": a.residence_type,
                    "monthly_housing_payment": _q(a.housing_payment, 2),
                }
            )
        employments = {e.type: e for e in c.employments if e.type in EMPLOYMENT_TYPE}
        for e in employments.values():
            rows["app_contact_employment"].append(
                {
                    "con_id": c.con_id,
                    "employment_type_enum": EMPLOYMENT_TYPE[e.type],
                    "employer_name": e.employer_name,
                    "job_title": e.job_title,
                    "salary": _q(e.salary, 2),
                    "salary_basis_enum": SALARY_BASIS[e.salary_basis] if e.salary_basis else None,
                    "years_employed": e.years,
                    "months_employed": e.months,
                    "work_phone": e.phone,
                }
            )
    return rows
