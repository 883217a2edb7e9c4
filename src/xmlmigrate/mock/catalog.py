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
# The invented attributes' names start with their element's prefix (``con_flag_000``).
FILLER_PREFIX = {
    "application": "app",
    "app_product": "ap",
    "rmts_info": "rm",
    "contact": "con",
    "contact_address": "adr",
    "contact_employment": "emp",
    "app_prod_bcard": "bc",
}
# What an application element carries after its children, where no census lists its content.
EMPTY_SECTIONS = {
    tag: "<comments/><communications/><TempVariables/>" for tag in ("application", "IL_application")
}

# The spellings of a flag the generator writes: a column's truth table says which of them it
# knows and what each stands for.
FLAG_SPELLINGS = ("Y", "N", "U", "D", "R", "P", "J", "I", "C", "T", "F", "1", "0", "yes", "no")
