"""Word pools the generators draw text from, and the invented attribute load of elements
whose real attributes no census lists (a contract of another application element).
"""

from __future__ import annotations

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
