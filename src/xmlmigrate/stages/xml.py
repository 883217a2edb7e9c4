"""The hardened XML parsing (one set of parsers per thread), and decoding of what sources
hand us.

Every document goes through :func:`parse_document`. The parser never resolves
entities, never touches the network, never loads a DTD and keeps libxml2's
size and depth limits (``huge_tree`` off). A document that carries a DOCTYPE is
refused outright: Provenir documents never have one, and refusing it closes
the door on entity-expansion attacks (billion laughs, external entities).

Memory is bounded whatever a document's shape: only the part the contract reads (its
scope, e.g. ``Provenir/Request/CustData``) is ever kept as a tree. Elements outside it are
dropped as soon as the parser has read them, and the kept part may hold at most
``MAX_TREE_NODES`` elements and attributes (else ``too_complex``). libxml2's own limits
(depth 256, 10 MB per text or attribute value) stay on.

Decoding: bytes are parsed as they are (libxml2 honours a BOM and the declared
encoding). Bytes meant as UTF-8 (declared so, defaulted, or text a database handed over)
that are not valid UTF-8 — windows-1252 from a legacy writer — are read with each invalid
byte taken as windows-1252, with an ``encoding_repaired`` warning, on every path (``run``,
``contract explain``), BOM or not. Text (``str``) from a database driver is already decoded,
so its declared encoding is ignored and it is parsed as UTF-8.
"""

from __future__ import annotations

import codecs
import gc
import re
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import NoReturn

from lxml import etree

from xmlmigrate.contract.scope import Scope
from xmlmigrate.model import Warn
from xmlmigrate.stages.errors import XmlRejected

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
# Elements and attributes one document may keep in a tree (libxml2 spends ~120-250 bytes on
# each): whatever a document's shape, its tree stays in the hundreds of MB at worst. Real
# Provenir documents keep a few thousand (only CustData is built).
MAX_TREE_NODES = 1_000_000
STREAM_CHUNK = 1 << 20


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


def _start_events(encoding: str | None) -> etree.XMLPullParser:
    """A hardened pull parser that reports each element as it starts."""
    return etree.XMLPullParser(
        events=("start",),
        encoding=encoding,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


class _Parsers(threading.local):
    """One set of parsers per thread. lxml releases the GIL while libxml2 parses, but a parser
    object is locked while in use: threads sharing one would parse one at a time."""

    def __init__(self) -> None:
        self.bytes = _parser()
        self.utf8 = _parser("utf-8")
        self.check_bytes = _check_parser(None)
        self.check_utf8 = _check_parser("utf-8")


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


def parse_document(
    data: bytes | str,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    scope: Scope | None = None,
    check_well_formed: bool = True,
    utf8_text: bool = False,
) -> ParsedDocument:
    """Parse one document or raise :class:`XmlRejected`. Never raises anything else for bad input.

    With a ``scope``, the result is a small tree holding the root and prefix elements (with
    their attributes) and the fragment element(s); everything else was read and dropped.
    """
    raw, forced_utf8 = to_bytes(data, utf8_text)
    if not raw.strip():
        raise XmlRejected("not_xml", "document is empty")
    if len(raw) > max_bytes:
        raise XmlRejected("too_large", f"document is {len(raw):,} bytes, limit {max_bytes:,}")
    if not _looks_like_xml(raw[:64]):
        raise XmlRejected("not_xml", f"does not start with '<': {raw[:20]!r}")
    if _has_doctype(raw):
        raise XmlRejected("forbidden_dtd", "documents with a DOCTYPE/DTD are not accepted")
    meant_utf8 = forced_utf8 or _is_utf8_document(raw)
    if scope is not None and meant_utf8 and not check_well_formed:  # the caller's choice
        scoped = _parse_scope(raw, scope)
        if scoped is not None:
            return ParsedDocument(scoped, [])
    # libxml2 with a target that builds nothing: fast, and memory-bounded whatever the shape
    warnings: list[Warn] = []
    error = _syntax_error(raw, forced_utf8)
    if error is not None and meant_utf8 and not _valid_utf8(raw):
        raw, forced_utf8, meant_utf8 = _repair_cp1252(raw), True, True
        warnings.append(
            Warn("encoding_repaired", "bytes were not valid UTF-8, read as windows-1252")
        )
        error = _syntax_error(raw, True)
    if isinstance(error, etree.XMLSyntaxError):
        raise XmlRejected("malformed", _syntax_message(error))
    if error is not None:  # e.g. NUL bytes, unsupported input
        raise XmlRejected("not_xml", str(error)[:200])
    encoding = "utf-8" if forced_utf8 else None
    try:
        if scope is None:
            root = _parse_whole(raw, encoding)
        elif not meant_utf8:  # another encoding: no textual shortcuts
            root = _stream_scope(raw, scope, encoding)
        elif (scoped := _parse_scope(raw, scope)) is not None:
            root = scoped
        elif _fragment_opening(scope.fragment).search(raw) is None:
            # no fragment anywhere: the root and prefix elements are all there is to read
            root = _stream_scope(raw, scope, encoding, prefix_only=True)
        else:
            root = _stream_scope(raw, scope, encoding)
    except etree.XMLSyntaxError as exc:  # well-formed, yet refused when built (rare)
        raise XmlRejected("malformed", _syntax_message(exc)) from None
    except (ValueError, TypeError) as exc:
        raise XmlRejected("not_xml", str(exc)[:200]) from None
    return ParsedDocument(root, warnings)


def _valid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _cp1252_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: an invalid UTF-8 sequence is read as windows-1252 characters."""
    assert isinstance(exc, UnicodeDecodeError)
    bad = exc.object[exc.start : exc.end]
    return bad.decode("cp1252", errors="replace"), exc.end


codecs.register_error("xmlmigrate-cp1252", _cp1252_bytes)


def _repair_cp1252(raw: bytes) -> bytes:
    """UTF-8 bytes with stray windows-1252 ones → valid UTF-8 (the valid parts unchanged)."""
    return raw.decode("utf-8", errors="xmlmigrate-cp1252").encode("utf-8")


def _reject_dtd(el: etree._Element) -> None:
    docinfo = el.getroottree().docinfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        raise XmlRejected("forbidden_dtd", "documents with a DOCTYPE/DTD are not accepted")


def _parse_whole(raw: bytes, encoding: str | None) -> etree._Element:
    """The whole document as a tree (a contract without a scope), within the node budget."""
    if raw.count(b"<") + raw.count(b"=") > 2 * MAX_TREE_NODES:  # cheap upper bound first
        _too_complex("the document")
    root = etree.fromstring(raw, _PARSERS.utf8 if encoding else _PARSERS.bytes)
    if root is None:
        raise XmlRejected("not_xml", "no root element")
    _reject_dtd(root)
    return root


def _too_complex(what: str) -> NoReturn:
    raise XmlRejected(
        "too_complex", f"{what} has more than {MAX_TREE_NODES:,} elements and attributes"
    )


_FRAGMENT = -1  # depth marker of elements inside a fragment


def _stream_scope(
    raw: bytes, scope: Scope, encoding: str | None, prefix_only: bool = False
) -> etree._Element:
    """Stream the document, keeping the root, the prefix path and the fragment(s) only.

    One ``start`` event per element: when an element starts, its previous sibling has ended,
    and is dropped unless kept — so at any moment the tree holds the kept part plus at most
    one element per open level. ``prefix_only``: stop as soon as the last prefix element has
    started (the caller knows there is no fragment and the document is well-formed)."""
    path = (scope.root, *scope.prefix, scope.fragment)
    with _no_gc():
        return _stream_events(_start_events(encoding), raw, path, prefix_only)


def _stream_events(
    parser: etree.XMLPullParser, raw: bytes, path: tuple[str, ...], prefix_only: bool
) -> etree._Element:
    last_prefix = len(path) - 2
    kept: dict[etree._Element, int] = {}  # kept element → its depth on the path, or _FRAGMENT
    nodes = 0
    root: etree._Element | None = None
    view = memoryview(raw)
    for offset in range(0, len(raw), STREAM_CHUNK):
        parser.feed(view[offset : offset + STREAM_CHUNK].tobytes())
        for _event, el in parser.read_events():
            assert isinstance(el, etree._Element)
            parent = el.getparent()
            if parent is None:
                _reject_dtd(el)
                root, kept[el] = el, 0
                if prefix_only and last_prefix == 0:
                    return root
                continue
            earlier = el.getprevious()
            if earlier is not None and earlier not in kept:
                parent.remove(earlier)  # ended; its own children went the same way
            depth = kept.get(parent)
            if depth is None:
                continue  # inside a dropped element: dropped in turn
            if depth != _FRAGMENT:
                if el.tag != path[depth + 1]:
                    continue
                depth = _FRAGMENT if depth + 1 == len(path) - 1 else depth + 1
            kept[el] = depth
            nodes += 1 + len(el.attrib)
            if nodes > MAX_TREE_NODES:
                _too_complex(f"the part of the document under {'/'.join(path)}")
            if prefix_only and depth == last_prefix:
                return root  # type: ignore[return-value]  # set by the root's event
    closed = parser.close()
    if closed is None:
        raise XmlRejected("not_xml", "no root element")
    for el in [e for e in closed.iter() if e not in kept]:  # the last sibling of each level
        parent = el.getparent()
        if parent is not None:
            parent.remove(el)
    return closed


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


_PARSERS = _Parsers()


def hardened_parser() -> etree.XMLParser:
    """This thread's whole-document parser, for references that time lxml."""
    return _PARSERS.bytes


def _syntax_error(raw: bytes, utf8: bool = False) -> Exception | None:
    """Why the document is not well-formed, or None. The same libxml2 parser as a full parse,
    with a target that builds nothing: about three times the speed of building the tree, and
    its memory does not grow with the number of elements."""
    try:
        etree.fromstring(raw, _PARSERS.check_utf8 if utf8 else _PARSERS.check_bytes)
    except (etree.XMLSyntaxError, ValueError, TypeError) as exc:
        return exc
    return None


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a pull parser hands out millions of element
    proxies: they form no cycles, and each collection would walk the whole heap (measured:
    a 15-million-element prefix in 16 s with collections, 4 s without)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@cache
def _fragment_opening(tag: str) -> re.Pattern[bytes]:
    return re.compile(rb"<" + re.escape(tag.encode()) + rb"[\s/>]")


def _parse_scope(raw: bytes, scope: Scope) -> etree._Element | None:
    """Locate the fragment textually, prove the location with a pull parser over the bytes
    before it, parse only the fragment. None whenever anything does not line up.

    After each chunk fed to the pull parser, every ended element is dropped (at each open
    level, all children but the last), so a long prefix (millions of elements before the
    fragment) costs time, not memory."""
    tag = scope.fragment.encode()
    m = _fragment_opening(scope.fragment).search(raw)
    if m is None:
        return None
    start = m.start()
    head_end = raw.find(b">", start)
    if head_end < 0:
        return None
    try:
        pull = _start_events(None)
        view = memoryview(raw)
        last: etree._Element | None = None
        with _no_gc():
            for offset in range(0, head_end + 1, STREAM_CHUNK):
                pull.feed(view[offset : min(offset + STREAM_CHUNK, head_end + 1)].tobytes())
                newest = deque(pull.read_events(), maxlen=1)  # only the newest start matters
                if newest:
                    last = newest[0][1]  # type: ignore[assignment]
                level = last
                while level is not None and (parent := level.getparent()) is not None:
                    del parent[:-1]  # the open element is the last child: the others ended
                    level = parent
        stack: list[etree._Element] = []
        while last is not None:
            stack.insert(0, last)
            last = last.getparent()
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
        if raw.count(b"<", start, end) + raw.count(b"=", start, end) > MAX_TREE_NODES:
            _too_complex(f"<{scope.fragment}>")  # an upper bound on its elements + attributes
        fragment = etree.fromstring(raw[start:end], _PARSERS.utf8)
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


_SPACE = re.compile(rb"[ \t\r\n]*")


def _has_doctype(raw: bytes) -> bool:
    """Whether the prolog (everything before the root element: the XML declaration, comments,
    processing instructions) holds a DOCTYPE or any other ``<!`` declaration, however long it
    is. Encodings that are not ASCII-compatible (UTF-16) are checked after parsing instead."""
    i = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    while True:
        i = _SPACE.match(raw, i).end()  # type: ignore[union-attr]
        if raw.startswith(b"<?", i):
            end = raw.find(b"?>", i + 2)
            i = end + 2
        elif raw.startswith(b"<!--", i):
            end = raw.find(b"-->", i + 4)
            i = end + 3
        else:
            return raw.startswith(b"<!", i)
        if end < 0:
            return False  # unterminated: the parser rejects the document as malformed


def _syntax_message(exc: etree.XMLSyntaxError) -> str:
    text = str(exc).strip().replace("\n", " ")
    return text[:300] if text else "not well-formed"
