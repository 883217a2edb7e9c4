"""Element paths of the contract: ``sub/element[@type='X'][last]/@attr``, relative to a row's
element. ElementPath (lxml's ``find``) does the walking; a step ending in ``[last]`` takes
the last of its matches, and ``..`` climbs to the parent (the application's ancestors)."""

from __future__ import annotations

from functools import cache

from lxml import etree


def split_path(path: str) -> tuple[str | None, str]:
    """'a/b[@x='1']/@y' → ("a/b[@x='1']", 'y'); '@y' → (None, 'y')."""
    if path.startswith("@"):
        head, attr = "", path[1:]
    else:
        head, sep, attr = path.rpartition("/@")
        if not sep:
            raise ValueError(f"path {path!r} must end in /@attribute")
    if not attr or any(ch in attr for ch in "/@[]='\""):
        raise ValueError(f"path {path!r} must end in /@attribute")
    if head:
        check_element_path(head)
    return (head or None), attr


_PROBE = etree.Element("probe")


LAST = "[last]"  # a path step's predicate: the last of its matches (ElementPath has none)


def check_element_path(path: str) -> None:
    if path.startswith("/"):
        raise ValueError(f"path {path!r} must be relative (no leading '/')")
    try:
        for step in path_steps(path) if LAST in path else [path]:
            _PROBE.find(step.removesuffix(LAST))
    except (SyntaxError, KeyError, TypeError) as exc:
        raise ValueError(f"invalid element path {path!r}: {exc}") from None


def path_steps(path: str) -> list[str]:
    """``a[@x='1/2']/b[last]`` → ``["a[@x='1/2']", "b[last]"]`` (slashes in predicates kept,
    and brackets and slashes inside a predicate's quoted value: ``a[@x="]/["]``)."""
    steps, depth, start, quote = [], 0, 0, ""
    for i, ch in enumerate(path):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"" and depth:
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "/" and depth == 0:
            steps.append(path[start:i])
            start = i + 1
    steps.append(path[start:])
    return steps


def locate(el: etree._Element, path: str | None) -> etree._Element | None:
    """The element ``path`` leads to from ``el`` (ElementPath's first match), where a step
    ending in ``[last]`` takes the last of its matches instead: ``contact[@r='PR'][last]``
    is the last PR contact, whatever elements follow it."""
    if path is None:
        return el
    if LAST not in path:
        return el.find(path)
    current: etree._Element | None = el
    for step, last in _located_steps(path):
        if current is None:
            return None
        if last:
            matches = current.findall(step)
            current = matches[-1] if matches else None
        else:
            current = current.find(step)
    return current


@cache
def _located_steps(path: str) -> tuple[tuple[str, bool], ...]:
    """``path``'s steps once per path (a run locates the same few paths in every row): each
    without its ``[last]``, and whether it had one."""
    return tuple((step.removesuffix(LAST), step.endswith(LAST)) for step in path_steps(path))
