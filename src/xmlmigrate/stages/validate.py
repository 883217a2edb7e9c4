"""Pre-processing rules: decide whether a parsed document may be mapped at all.

Each rule yields a :class:`~xmlmigrate.model.Rejection` with a stable reason
code, so the processing log and the run summary can group them:

``not_provenir``        the root element is not the contract's root
``app_id_missing``      no app id attribute where the contract says it is
``app_id_invalid``      the app id is not a positive integer
``app_id_mismatch``     the document's app id differs from the key it is stored under
``wrong_product_line``  the document is of another product line (e.g. ``IL_application``)
``no_application``      no application element at all
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from xmlmigrate.contract import CompiledContract
from xmlmigrate.model import Rejection

_INTEGER = re.compile(r"-?[0-9]{1,30}\Z")  # ASCII digits only: not '²', not '--5'


def parse_app_id(text: str | None) -> int | None:
    """An app id as written in a document (ASCII digits, an optional minus), or None."""
    if text is None or not _INTEGER.match(text.strip()):
        return None
    return int(text.strip())


def document_app_id(root: etree._Element, contract: CompiledContract) -> int | None:
    """The app id a document carries where the contract says it is, or None."""
    holder = root if contract.app_id_path == "." else root.find(contract.app_id_path)
    return parse_app_id(holder.get(contract.app_id_attr) if holder is not None else None)


@dataclass(frozen=True, slots=True)
class ValidDocument:
    app_id: int
    application: etree._Element


def validate_document(
    root: etree._Element, contract: CompiledContract, expected_app_id: int
) -> ValidDocument | Rejection:
    def reject(code: str, detail: str) -> Rejection:
        return Rejection(expected_app_id, code, detail)

    tag = root.tag
    if not isinstance(tag, str) or etree.QName(root).localname != contract.root:
        return reject(
            "not_provenir", f"root element is <{_tag_name(root)}>, expected <{contract.root}>"
        )
    holder = root if contract.app_id_path == "." else root.find(contract.app_id_path)
    raw_id = holder.get(contract.app_id_attr) if holder is not None else None
    where = f"{contract.app_id_path}/@{contract.app_id_attr}"
    if raw_id is None or not raw_id.strip():
        return reject("app_id_missing", f"no app id at {where}")
    parsed = parse_app_id(raw_id)
    if parsed is None:
        return reject(
            "app_id_invalid", f"app id {raw_id.strip()[:40]!r} at {where} is not an integer"
        )
    app_id = parsed
    if app_id <= 0:
        return reject("app_id_invalid", f"app id {app_id} at {where} is not positive")
    if app_id > contract.app_id_max:
        return reject(
            "app_id_invalid",
            f"app id {app_id} at {where} is out of range (at most {contract.app_id_max:,})",
        )
    if app_id != expected_app_id:
        return reject(
            "app_id_mismatch",
            f"document says app id {app_id} but is stored under {expected_app_id}",
        )
    application = root.find(contract.application)
    if application is None:
        for other in contract.other_product_lines:
            if root.find(other) is not None:
                return reject(
                    "wrong_product_line",
                    f"document has {other}, the {contract.name} contract reads "
                    f"{contract.application} ({contract.product_line})",
                )
        return reject("no_application", f"no {contract.application} element")
    return ValidDocument(app_id, application)


def _tag_name(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else "?"
