"""The one hardened XML parser, and decoding of what sources hand us.

Every document goes through :func:`parse_document`. The parser never resolves
entities, never touches the network, never loads a DTD and keeps libxml2's
size and depth limits (``huge_tree`` off). A document that carries a DOCTYPE is
refused outright: Provenir documents never have one, and refusing it closes
the door on entity-expansion attacks (billion laughs, external entities).

Decoding: bytes are parsed as they are (libxml2 honours a BOM and the declared
encoding). Bytes that claim UTF-8 but are not (windows-1252 from a legacy
writer) are re-decoded as windows-1252 with a warning instead of being lost.
Text (``str``) from a database driver is already decoded, so its declared
encoding is ignored and it is parsed as UTF-8.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from xmlmigrate.model import Warn

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
DOCTYPE_SCAN_BYTES = 64 * 1024


def _parser(encoding: str | None = None) -> etree.XMLParser:
    return etree.XMLParser(
        encoding=encoding,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


_BYTES_PARSER = _parser()
_UTF8_PARSER = _parser("utf-8")


class XmlRejected(Exception):
    """The input is not a document we will read; ``code`` is the rejection reason code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(slots=True)
class ParsedDocument:
    root: etree._Element
    warnings: list[Warn]


def _looks_like_xml(head: bytes) -> bool:
    head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")


def to_bytes(data: bytes | str) -> tuple[bytes, bool]:
    """Bytes to hand to libxml2, and whether they must be read as UTF-8 whatever they declare."""
    if isinstance(data, str):
        return data.encode("utf-8", errors="surrogatepass"), True
    return data, False


def parse_document(data: bytes | str, max_bytes: int = MAX_DOCUMENT_BYTES) -> ParsedDocument:
    """Parse one document or raise :class:`XmlRejected`. Never raises anything else for bad input."""
    raw, forced_utf8 = to_bytes(data)
    if not raw.strip():
        raise XmlRejected("not_xml", "document is empty")
    if len(raw) > max_bytes:
        raise XmlRejected("too_large", f"document is {len(raw):,} bytes, limit {max_bytes:,}")
    if not _looks_like_xml(raw[:64]):
        raise XmlRejected("not_xml", f"does not start with '<': {raw[:20]!r}")
    warnings: list[Warn] = []
    parser = _UTF8_PARSER if forced_utf8 else _BYTES_PARSER
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        if _has_doctype(raw):
            raise XmlRejected(
                "forbidden_dtd", f"documents with a DOCTYPE/DTD are not accepted ({exc})"
            ) from None
        if forced_utf8 or not _is_encoding_error(exc, raw):
            raise XmlRejected("malformed", _syntax_message(exc)) from None
        # Declared (or defaulted) UTF-8 but carries windows-1252 bytes.
        repaired = raw.decode("cp1252", errors="replace").encode("utf-8")
        try:
            root = etree.fromstring(repaired, _UTF8_PARSER)
        except etree.XMLSyntaxError as exc2:
            raise XmlRejected("malformed", _syntax_message(exc2)) from None
        warnings.append(
            Warn("encoding_repaired", "bytes were not valid UTF-8, read as windows-1252")
        )
    except (ValueError, TypeError) as exc:  # e.g. NUL bytes, unsupported input
        raise XmlRejected("not_xml", str(exc)[:200]) from None
    if root is None:
        raise XmlRejected("not_xml", "no root element")
    tree = root.getroottree()
    docinfo = tree.docinfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        raise XmlRejected("forbidden_dtd", "documents with a DOCTYPE/DTD are not accepted")
    return ParsedDocument(root, warnings)


def _has_doctype(raw: bytes) -> bool:
    head = raw[:DOCTYPE_SCAN_BYTES]
    return b"<!DOCTYPE" in head or b"<!ENTITY" in head


def _is_encoding_error(exc: etree.XMLSyntaxError, raw: bytes) -> bool:
    message = str(exc).lower()
    if "encoding" not in message and "utf-8" not in message and "char" not in message:
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _syntax_message(exc: etree.XMLSyntaxError) -> str:
    text = str(exc).strip().replace("\n", " ")
    return text[:300] if text else "not well-formed"
