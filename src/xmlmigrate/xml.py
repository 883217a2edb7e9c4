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

import re
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


def to_bytes(data: bytes | str, utf8_text: bool = False) -> tuple[bytes, bool]:
    """Bytes to hand to libxml2, and whether they must be read as UTF-8 whatever they declare."""
    if isinstance(data, str):
        return data.encode("utf-8", errors="surrogatepass"), True
    return data, utf8_text


@dataclass(frozen=True, slots=True)
class Scope:
    """The part of a document a contract reads: ``root/prefix.../fragment``.

    For Provenir CC: root ``Provenir``, prefix ``("Request",)``, fragment ``CustData`` —
    about 3 % of the bytes. Only that element is built into a tree; the rest of the
    document is still checked for well-formedness (by libxml2 with a target that builds nothing),
    unless the caller opts out.
    """

    root: str
    prefix: tuple[str, ...]
    fragment: str


def parse_document(
    data: bytes | str,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    scope: Scope | None = None,
    check_well_formed: bool = True,
    utf8_text: bool = False,
) -> ParsedDocument:
    """Parse one document or raise :class:`XmlRejected`. Never raises anything else for bad input.

    With a ``scope``, a UTF-8 document that passes the well-formedness check is returned as a
    small tree holding the root and prefix elements (with their attributes) and the parsed
    fragment element; anything unusual falls back to parsing the whole document.
    """
    raw, forced_utf8 = to_bytes(data, utf8_text)
    if not raw.strip():
        raise XmlRejected("not_xml", "document is empty")
    if len(raw) > max_bytes:
        raise XmlRejected("too_large", f"document is {len(raw):,} bytes, limit {max_bytes:,}")
    if not _looks_like_xml(raw[:64]):
        raise XmlRejected("not_xml", f"does not start with '<': {raw[:20]!r}")
    if (
        scope is not None
        and (forced_utf8 or _is_utf8_document(raw))
        and (not check_well_formed or _well_formed(raw, forced_utf8))
    ):
        scoped = _parse_scope(raw, scope)
        if scoped is not None:
            return ParsedDocument(scoped, [])
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


_DECLARED_ENCODING = re.compile(
    rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']"""
)


def _is_utf8_document(raw: bytes) -> bool:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    m = _DECLARED_ENCODING.match(raw[:200])
    return m is None or m.group(1).lower() in (b"utf-8", b"utf8")


class _NoTree:
    """A parser target with no callbacks: libxml2 tokenizes and checks, builds nothing."""

    def close(self) -> bool:
        return True


def _check_parser(encoding: str | None) -> etree.XMLParser:
    return etree.XMLParser(
        target=_NoTree(),  # type: ignore[arg-type]  # close() is all a target needs
        encoding=encoding,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )


_CHECK_BYTES = _check_parser(None)
_CHECK_UTF8 = _check_parser("utf-8")


def _well_formed(raw: bytes, utf8: bool = False) -> bool:
    """The same libxml2 parser as a full parse, with a target that builds nothing (about three
    times the speed of building the tree). A DTD, any error or oddity answers False: the full
    parse then decides and gives the reason."""
    if _has_doctype(raw):
        return False
    try:
        etree.fromstring(raw, _CHECK_UTF8 if utf8 else _CHECK_BYTES)
    except (etree.XMLSyntaxError, ValueError, TypeError):
        return False
    return True


def _parse_scope(raw: bytes, scope: Scope) -> etree._Element | None:
    """Locate the fragment textually, prove the location with a pull parser over the bytes
    before it, parse only the fragment. None whenever anything does not line up."""
    tag = scope.fragment.encode()
    opening = re.compile(rb"<" + re.escape(tag) + rb"[\s/>]")
    m = opening.search(raw)
    if m is None:
        return None
    start = m.start()
    head_end = raw.find(b">", start)
    if head_end < 0:
        return None
    try:
        pull = etree.XMLPullParser(
            events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False
        )
        pull.feed(raw[: head_end + 1])
        stack: list[etree._Element] = []
        for event, el in pull.read_events():
            if event == "start" and isinstance(el, etree._Element):
                stack.append(el)
            elif stack:
                stack.pop()
        expected = [scope.root, *scope.prefix, scope.fragment]
        if [el.tag for el in stack] != expected:
            return None
        if raw[head_end - 1 : head_end] == b"/":
            end = head_end + 1
        else:
            close = re.compile(rb"</" + re.escape(tag) + rb"\s*>").search(raw, head_end)
            if close is None:
                return None
            end = close.end()
        fragment = etree.fromstring(raw[start:end], _UTF8_PARSER)
    except (etree.XMLSyntaxError, ValueError, TypeError):
        return None
    if fragment.tag != scope.fragment:
        return None
    root = etree.Element(str(stack[0].tag), _attrs(stack[0]))
    parent = root
    for el in stack[1:-1]:
        parent = etree.SubElement(parent, str(el.tag), _attrs(el))
    parent.append(fragment)
    return root


def _attrs(el: etree._Element) -> dict[str, str]:
    return {str(k): str(v) for k, v in el.attrib.items()}


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
