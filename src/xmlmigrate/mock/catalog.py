"""The attributes the generator writes on each ``CustData`` element, and their kinds.

This is the document side of the data, independent of any contract: what a
Provenir credit-card document carries. The default contract maps every
attribute listed here (``xmlmigrate contract check`` against a generated
corpus reports any contract path that never matched).

Kinds: ``date``/``datetime`` (rendered in the several real formats), ``int``,
``money`` and ``rate`` (decimals), ``flag`` (Y/N, yes/no, true/false, 1/0),
``tri`` (a truth table with "unknown" codes), ``code`` (enum codes),
``text`` (from a word pool), ``digits`` (SSN, phone, zip, account numbers
rendered with separators), ``money_text`` ("Up to $40").
"""

from __future__ import annotations

from datetime import date
from typing import Any

Spec = tuple[str, str, Any]

D2000 = (date(2000, 1, 1), 9000)
D2015 = (date(2015, 1, 1), 2200)

APPLICATION: list[Spec] = [
    ("app_type_code", "code", ("PRODB", "PRODA", "PREAPP", "INSTNT")),
    ("campaign_num", "text", ("P1B", "P2A", "DM7", "WEB1", "BR22")),
    ("population_assignment", "code", ("EV", "CM", "NW", "XX")),
    ("app_entry_date", "datetime", D2015),
    ("ip_address", "text", "ip"),
    ("app_source_tp_c", "code", ("WEB", "BRANCH", "PHONE", "MAIL")),
    ("channel_tp_c", "code", ("DIRECT", "PARTNER", "AFFILIATE")),
    ("language_tp_c", "code", ("EN", "ES")),
    ("branch_num", "text", ("0012", "0144", "0201", "0999")),
    ("promo_code", "text", ("SPRING16", "BONUS200", "NOFEE", "CASHBACK5")),
    ("app_status_tp_c", "code", ("OPEN", "CLOSED", "BOOKED", "CANCEL")),
    ("signature_date", "date", D2015),
    ("esign_ind", "flag", None),
    ("solicitation_id", "text", ("SOL-0001", "SOL-2016-07", "DM-448812")),
    ("offer_code", "text", ("OFR1", "OFR22", "XB7")),
    ("mail_date", "date", D2015),
    ("response_date", "date", D2015),
    ("segment_tp_c", "code", ("PRIME", "NEAR", "SUB", "YOUNG")),
    ("prescreen_ind", "flag", None),
    ("prescreen_score", "int", (300, 850)),
    ("offer_expiration_date", "date", D2015),
    ("list_source", "text", ("EXPERIAN-PS", "INHOUSE", "PARTNER-A")),
    ("response_channel_tp_c", "code", ("DIRECT", "PARTNER", "AFFILIATE")),
    ("cell_code", "text", ("C01", "C02", "C17")),
    ("test_group", "text", ("CONTROL", "TEST-A", "TEST-B")),
]

APP_PRODUCT: list[Spec] = [
    (
        "decision_tp_c",
        "code",
        ("APPRV", "APPRV", "APPRV", "DECLN", "DECLN", "PEND", "WITHD", "CNTR"),
    ),
    ("decision_date", "datetime", D2015),
    ("signature_flag", "flag", None),
    ("backend_fico_score", "int", (450, 850)),
    ("monthly_income", "money", (1500, 25000)),
    ("debt_to_income_ratio", "rate", (0, 90, 1)),
    ("credit_line", "money", (500, 30000)),
    ("purchase_apr", "rate", (9, 30, 2)),
    ("pricing_tier", "text", ("T1", "T2", "T3", "PRIME", "SUB")),
    ("cash_apr", "rate", (15, 30, 2)),
    ("bt_apr", "rate", (0, 25, 2)),
    ("intro_apr", "rate", (0, 10, 2)),
    ("intro_period_months", "int", (0, 21)),
    ("annual_fee", "money", (0, 550)),
    ("late_fee_desc", "money_text", (15, 40)),
    ("over_limit_fee_desc", "money_text", (15, 40)),
    ("cash_advance_fee", "money", (5, 15)),
    ("foreign_txn_fee_pct", "rate", (0, 3, 1)),
    ("min_payment", "money", (25, 200)),
    ("requested_credit_line", "money", (500, 30000)),
    ("approved_credit_line", "money", (500, 30000)),
    ("cash_credit_line", "money", (100, 5000)),
    ("risk_score", "int", (1, 999)),
    ("risk_tier_tp_c", "code", ("A", "B", "C", "D", "E")),
    ("pricing_strategy", "text", ("STANDARD", "PROMO-Q3", "RETENTION")),
    ("rate_index_tp_c", "code", ("PRIME", "SOFR", "FIXED")),
    ("margin", "rate", (0, 15, 3)),
    ("rewards_tp_c", "code", ("CASH", "POINTS", "MILES", "NONE")),
    ("account_num", "digits", ("account", 16)),
    ("card_last4", "digits", ("plain", 4)),
    ("card_type_tp_c", "code", ("VISA", "MC", "AMEX", "DISC")),
    ("open_date", "date", D2015),
    ("first_statement_date", "date", D2015),
    ("billing_cycle", "int", (1, 28)),
    ("payment_due_day", "int", (1, 28)),
    ("autopay_ind", "flag", None),
    ("paperless_ind", "flag", None),
    ("bt_amount", "money", (0, 15000)),
    ("bt_ind", "flag", None),
    ("cash_advance_amount", "money", (0, 2000)),
    ("embossed_name", "text", "embossed"),
    ("card_design_code", "text", ("BLUE01", "GOLD02", "PLAT03")),
    ("activation_date", "datetime", D2015),
    ("plastic_count", "int", (1, 3)),
    ("delivery_tp_c", "code", ("STD", "EXPED", "PICKUP")),
    ("payment_method_tp_c", "code", ("ACH", "CHECK", "CARD")),
    ("hist_prior_app_id", "int", (1000, 999999)),
    ("hist_prior_decision", "text", ("APPRV", "DECLN")),
    ("hist_prior_credit_line", "money", (500, 20000)),
    ("hist_months_since_last_app", "int", (0, 120)),
    ("hist_prior_bankruptcy_ind", "flag", None),
    ("hist_prior_chargeoff_ind", "flag", None),
    ("hist_prior_product", "text", ("CC-CLASSIC", "CC-GOLD", "CC-SECURED")),
]

RMTS_INFO: list[Spec] = [
    ("assigned_to", "text", "person"),
    ("queue_name", "text", ("UNDERWRITING", "FRAUD", "VERIFY", "BOOKING")),
    ("regb_start_date", "date", D2015),
    ("regb_end_date", "date", D2015),
    ("fraud_review_ind", "flag", None),
    ("verification_tp_c", "code", ("PASS", "FAIL", "REVIEW", "NA")),
    ("fraud_level_tp_c", "code", ("LOW", "MED", "HIGH")),
    ("review_count", "int", (0, 9)),
    ("last_review_date", "datetime", D2015),
    ("underwriter_id", "text", ("UW01", "UW17", "UW42", "AUTO")),
    ("override_ind", "flag", None),
    ("override_reason", "text", ("MANAGER APPROVAL", "INCOME VERIFIED", "POLICY EXCEPTION")),
    ("sla_minutes", "int", (5, 4320)),
    ("id_verified_ind", "tri", (("Y",), ("N", "D"), ("U", "R", "P"))),
    ("ofac_check_ind", "tri", (("Y", "P"), ("N",), ("U", "R", "D"))),
    ("bureau_pull_date", "datetime", D2015),
    ("bureau_tp_c", "code", ("EXP", "EQF", "TU")),
    ("manual_review_ind", "flag", None),
    ("docs_received_ind", "flag", None),
    ("welcome_kit_date", "date", D2015),
    ("priority_tp_c", "code", ("HIGH", "NORM", "LOW")),
]

CONTACT: list[Spec] = [
    ("middle_initial", "text", tuple("ABCDEFGHJKLMNPRSTW")),
    ("suffix", "text", ("JR", "SR", "III")),
    ("email", "text", "email"),
    ("home_phone", "digits", ("phone", 10)),
    ("cell_phone", "digits", ("phone", 10)),
    ("citizenship_tp_c", "code", ("US", "US", "US", "PRA", "NRA")),
    ("marital_status_tp_c", "code", ("M", "S", "D", "W")),
    ("dependents", "int", (0, 6)),
    ("mother_maiden_name", "text", "last"),
    ("dl_number", "text", ("D1234567", "TX09981234", "F55501234")),
    ("dl_state", "text", ("TX", "CA", "NY", "FL", "OK")),
    ("employment_status_tp_c", "code", ("EMP", "EMP", "SELF", "RET", "UNEMP", "STUD")),
    ("total_income", "money", (15000, 300000)),
    ("other_income", "money", (0, 30000)),
    ("other_income_source", "text", ("RENTAL", "ALIMONY", "INVESTMENTS", "PENSION")),
    ("email_opt_in_ind", "flag", None),
    ("preferred_language_tp_c", "code", ("EN", "ES")),
]

BCARD: list[Spec] = [
    ("embossing_name", "text", "embossed"),
    ("spend_limit", "money", (100, 10000)),
    ("card_activated_ind", "flag", None),
]

ADDRESS: list[Spec] = [
    ("street_line_1", "text", "street"),
    ("street_line_2", "text", ("APT 1", "UNIT 204", "STE 9", "#12")),
    ("city", "text", "city"),
    ("state", "text", ("TX", "TX", "TX", "CA", "NY", "FL", "IL", "OK", "CO", "AZ")),
    ("zip", "digits", ("zip", 9)),
    ("county", "text", ("DALLAS", "HARRIS", "TRAVIS", "COLLIN", "TARRANT")),
    ("country_code", "text", ("USA",)),
    ("years_at_residence", "int", (0, 40)),
    ("months_at_residence", "int", (0, 11)),
    ("residence_tp_c", "code", ("OWN", "RENT", "FAMILY", "OTHER")),
    ("housing_payment", "money", (0, 5000)),
    ("address_verified_ind", "flag", None),
    ("move_in_date", "date", D2000),
]

EMPLOYMENT: list[Spec] = [
    (
        "b_name",
        "text",
        (
            "ACME CORP",
            "GLOBEX",
            "INITECH",
            "UMBRELLA LLC",
            "STARK & SONS",
            "CITY OF DALLAS",
            "SELF EMPLOYED",
        ),
    ),
    ("b_job_title", "text", ("ENGINEER", "MANAGER", "NURSE", "TEACHER", "CLERK", "DRIVER")),
    ("b_salary", "money", (15000, 400000)),
    ("b_salary_basis_tp_c", "code", ("ANNUM", "ANNUM", "ANNUM", "MONTH", "WEEK", "HOUR")),
    ("b_years", "int", (0, 30)),
    ("b_months", "int", (0, 11)),
    ("b_phone", "digits", ("phone", 10)),
    ("b_city", "text", "city"),
    ("b_state", "text", ("TX", "CA", "NY", "FL")),
    ("b_occupation_code", "text", ("11-1011", "29-1141", "25-2021", "43-9061")),
    ("b_start_date", "date", D2000),
    ("b_self_employed_ind", "flag", None),
]

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
STREETS = ["MAIN", "OAK", "ELM", "MAPLE", "CEDAR", "PINE", "LAKE", "HILL", "PARK", "WASHINGTON"]
SCORE_MODELS = ("FICO8", "VANTAGE3", "BNI", "CUSTOM_RISK", "FRAUD_SCORE", "INCOME_EST")
INDICATORS = tuple(f"IND{i:03d}" for i in range(40))
REPORT_RESULTS = (
    "TRADES_OPEN",
    "TRADES_DEROG",
    "INQ_6M",
    "UTIL_PCT",
    "OLDEST_TRADE_MO",
    "PUBLIC_RECORDS",
    "COLLECTIONS",
    "TOTAL_BALANCE",
)

# Unmapped attributes per element, so elements carry the real attribute load (~77 on
# application, ~125 on app_product, ~90 on rmts_info, ~37 on contact, ~40 on address).
FILLER_COUNTS = {
    "application": 52,
    "app_product": 72,
    "rmts_info": 69,
    "contact": 14,
    "contact_address": 26,
    "contact_employment": 27,
    "app_prod_bcard": 21,
}
