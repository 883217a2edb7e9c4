"""The contract header the tests' small contracts share."""

from __future__ import annotations


def contract_section(name: str = "t") -> str:
    return f"""
[contract]
name = "{name}"
root = "Provenir"
app_id = "Request/@ID"
application = "Request/CustData/application"
product_line = "CC"
"""


HEAD = (
    contract_section()
    + """
[enums.kind]
A = 1
B = 2
"""
)
