"""``xmlmigrate contract import``: the predecessor's JSON mapping contract → this tool's TOML.

The format and the predecessor's behaviour are specified in the project's reference
(xmlconversion-contract-format.md, "the spec"). The import translates every part of it:

* the top-level keys (root element, application path → the contract header);
* ``enum_mappings`` → ``[enums.*]`` (text-valued enums → a calculated column);
  ``bit_conversions`` → truth tables;
* single-row tables (``app_base`` and every table without a dedicated builder) with the field
  mapping types ``enum``, ``char_to_bit``, ``boolean_to_bit``, ``numbers_only``,
  ``extract_numeric``, ``identity_insert``, ``extract_date``, plain mappings, ``data_type``,
  ``data_length``, ``nullable`` and ``default_value``;
* contacts, addresses and employments from ``element_filtering``; the contact selectors;
* key/value tables (``add_score``, ``add_history``, ``add_report_lookup``, ``add_indicator``)
  and grouped rows (``policy_exceptions``, ``warranty_field``, ``add_collateral``);
* ``calculated_field`` through :mod:`xmlmigrate.contract.import_expr`;
* paths outside the application element (``..``).

What cannot be translated is an error naming the mapping — never dropped silently. Where
the predecessor's behaviour is a defect, the import follows the evident intent and says so in
a numbered note (``--strict``: an error); where this engine merely works differently, a note
says so too.

The JSON is the user's and may be hostile: it is read as UTF-8 of at most MAX_INPUT_BYTES,
every value is checked for its kind and where it stands before anything is built, names must
be XML names (paths, attributes) or SQL identifiers (tables, columns), and every value reaches
the TOML, a TOML comment, an expression or an element path through that target's one quoting
function — so the contract written reads and writes what the JSON says, or the import says
in one line, naming the place, why it cannot. Errors and notes show values cut (SHOWN).
"""

from __future__ import annotations

import codecs
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xmlmigrate.contract import expressions as ex
from xmlmigrate.contract import import_expr as ix
from xmlmigrate.contract.errors import ContractImportError
from xmlmigrate.contract.kinds import MAX_STRING_LENGTH, TYPES
from xmlmigrate.contract.model import parse_source
from xmlmigrate.identifiers import identifier_problem

CONTACT = "app_contact_base"
# contact child tables and the element_filtering rule each follows
CONTACT_CHILDREN = {"app_contact_address": "address", "app_contact_employment": "employment"}
# the predecessor's hard-coded "meaningful" tests (spec §4.1, §9.3): target columns, source attrs
MEANINGFUL_CONTACT = ["birth_date", "first_name", "last_name", "ssn"]
MEANINGFUL_CHILD = {
    "address": (
        ["zip", "city", "street_name", "street_number", "state"],
        ["zip_code", "city", "street_name"],
    ),
    "employment": (
        ["business_name", "job_title", "zip", "city", "monthly_salary"],
        ["business_name", "zip_code", "city"],
    ),
}
# tables the predecessor builds with dedicated code (spec §9.1): only their row-creating
# mapping types (key/value tokens, grouping tokens) may write them
DEDICATED = frozenset(
    {
        "app_collateral_rl",
        "scores",
        "indicators",
        "app_historical_lookup",
        "app_report_results_lookup",
        "app_policy_exceptions_rl",
        "app_warranties_rl",
    }
)
# grouped rows (spec §9.4, §9.5): the token's parameter names the group (the row)
GROUP_TOKENS = {
    "policy_exceptions": "app_policy_exceptions_rl",
    "warranty_field": "app_warranties_rl",
    "add_collateral": "app_collateral_rl",
}
PRODUCT_LINES = ("application", "IL_application")  # credit card, rec lending
GROUP_NAME_COLUMN = {
    "app_policy_exceptions_rl": "policy_exception_type_enum",
    "app_warranties_rl": "warranty_type_enum",
    "app_collateral_rl": "sort_order",
}
FIELD_TOKENS = frozenset(
    {
        "enum",
        "char_to_bit",
        "boolean_to_bit",
        "numbers_only",
        "extract_numeric",
        "identity_insert",
        "extract_date",
    }
)
# key/value tables (spec §9.4): one row per mapping, named by the token's parameter or the
# attribute; their columns are the predecessor's, fixed in its code
KV_TOKENS = {
    "add_score": "scores",
    "add_history": "app_historical_lookup",
    "add_report_lookup": "app_report_results_lookup",
    "add_indicator": "indicators",
}
TRUTHY = ["y", "yes", "true", "t", "1"]  # add_indicator writes "1" for these, no row else
MEANINGLESS = ["null", "none"]  # history and report values the predecessor does not write
# contact selectors (spec §7.3): a value from one chosen contact, or the current contact's
# CURR address; the element paths below take the last match as the predecessor does
SELECTORS = {
    "last_valid_pr_contact": 0,
    "last_valid_sec_contact": 1,
    "authu_contact": 1,
    "curr_address_only": None,
}
INT_TYPES = {"int": "int", "smallint": "int", "tinyint": "int", "bigint": "bigint"}
DATE_TYPES = {"date": "date", "datetime": "datetime", "smalldatetime": "datetime"}
DEFAULT_STRING_LENGTH = 255
DECIMAL_PRECISION = 18  # a decimal column is decimal(18, data_length)
# The input's size cap: the predecessor's real contracts are under 50 kB (280 bytes a
# mapping); 64 MiB is some 230,000 mappings of that shape
MAX_INPUT_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64  # levels of nesting: the format has 4 (mappings, a mapping, its token list)
SHOWN = 60  # characters of a value that an error or a note shows
LONGEST_MESSAGE = 600  # characters of one error or note


# Every key of the predecessor's format (spec §2, §3) and what the import does with it: none
# is ignored without a reason, and a key not listed here is refused by name.
TOP_LEVEL_KEYS = {
    "xml_root_element": "[contract] root",
    "xml_application_path": "[contract] application",
    "source_table": "[contract] source table",
    "source_column": "[contract] source document column",
    "source_application_table": "[contract] product_line; the application element of names",
    "target_schema": "a note: the schema is the connection's",
    "table_insertion_order": "the order of the tables (parents first whatever it says)",
    "element_filtering": "contacts, addresses and employments: rows, where, meaningful, dedup",
    "mappings": "the columns",
    "relationships": "not needed: keys are the predecessor's hard-coded con_id/app_id, child "
    "elements come from element_filtering",
    "enum_mappings": "[enums.*] and text lookups",
    "bit_conversions": "truth tables",
    "validation_rules": "not needed: the predecessor accepts and ignores it",
    "description": "not needed: informational, never read by the predecessor",
}
MAPPING_KEYS = {
    "xml_path": "attr / path",
    "xml_attribute": "attr / path",
    "target_table": "the table",
    "target_column": "the column",
    "data_type": "type",
    "data_length": "length, or a decimal's scale",
    "mapping_type": "the tokens",
    "expression": "expr",
    "default_value": "default",
    "nullable": "nullable",
    "exclude_default_when_record_empty": "default_when = 'row_has_values'",
    "enum_name": "the enum",
    "required": "not needed: informational, never read by the predecessor",
    "description": "not needed: informational, never read by the predecessor",
}


# -- what the JSON says, shown and quoted -------------------------------------------------
#
# Every value of the JSON reaches the output through one function per target: TOML text
# (_q), a TOML comment (_comment), an expression's text literal or document read
# (ix.sql_text, ix.value_of), an element path's predicate value (_predicate), an error or
# note (_shown). Names are checked, not quoted: an XML name (_check_xml_name) or a SQL
# identifier (identifier_problem).

# XML 1.0 (fifth edition) names without ':' (the predecessor removes namespace prefixes),
# and none with a character Python counts as a space (U+1680 is a name character, yet an
# element path splits on it)
_NAME_START = (
    "A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_XML_NAME = re.compile(
    f"(?!.*\\s)[{_NAME_START}][{_NAME_START}\\-.0-9\u00b7\u0300-\u036f\u203f-\u2040]*", re.DOTALL
)
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a key a JSON path names as .key
_TOML_BARE = re.compile(r"[A-Za-z0-9_-]+")  # a TOML key without quotes


def _is_xml_name(value: object) -> bool:
    return isinstance(value, str) and _XML_NAME.fullmatch(value) is not None


def _check_xml_name(value: object, what: str, kind: str = "element") -> str:
    """``value`` if it is an XML name, else a ValueError saying what it is not."""
    if not _is_xml_name(value):
        raise ValueError(
            f"{what} {_shown(value)} is not an XML {kind} name (letters, digits, '_', '-', "
            "'.'; no spaces, quotes, brackets or ':'), so no document holds it"
        )
    return str(value)


def _surrogate(text: str) -> bool:
    """Whether ``text`` holds half of a UTF-16 pair (JSON's ``"\\ud800"``): no character."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@dataclass(frozen=True)
class _Unreadable:
    """A number of the JSON that no Python number holds as written: kept as its text, so
    that the check names it where it stands."""

    text: str
    why: str


def _float(text: str) -> float | _Unreadable:
    value = float(text)
    if math.isfinite(value):
        return value
    return _Unreadable(text, "is beyond a floating-point number's range")


def _int(text: str) -> int | _Unreadable:
    if len(text.lstrip("-")) > 4_000:  # Python reads at most 4,300 digits
        return _Unreadable(text, f"is a number of {len(text.lstrip('-'))} digits")
    return int(text)


def _constant(text: str) -> _Unreadable:
    return _Unreadable(text, "is not a JSON number (JSON has no NaN or Infinity)")


def _kind(value: object) -> str:
    """The JSON kind of ``value``, as a message names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _shown(value: object) -> str:
    """A value of the JSON as an error or a note shows it: on one line (line breaks, control
    characters and lone surrogates escaped), cut after SHOWN characters."""
    if isinstance(value, str):
        return repr(value) if len(value) <= SHOWN else repr(value[:SHOWN]) + "…"
    text = value.text if isinstance(value, _Unreadable) else json.dumps(value, default=str)
    return text if len(text) <= SHOWN else text[:SHOWN] + "…"


def _label(text: object) -> str:
    """A name (a file's, a table's) in a message: as it is when it is short and printable."""
    if isinstance(text, str) and text.isprintable() and len(text) <= SHOWN:
        return text
    return _shown(text)


def _printable(text: str) -> str:
    """``text`` with every character that is not printable (line breaks, control characters,
    lone surrogates) written as its escape."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _one_line(message: str) -> str:
    """The last guard of every error and note: one line, cut."""
    message = _printable(message)
    if len(message) > LONGEST_MESSAGE:
        message = message[: LONGEST_MESSAGE - 1] + "…"
    return message


def _json_path(where: str, key: object) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    if isinstance(key, str) and len(key) < SHOWN and _BARE.fullmatch(key):
        return f"{where}.{key}" if where else key
    return f"{where}[{_shown(key)}]"


def _predicate(attr: str, value: str) -> str:
    """``[@attr='value']``, an element path's test of an attribute's value. The path language
    has no escapes: a value with ' is quoted with ", one with both cannot be said."""
    if "'" not in value:
        return f"[@{attr}='{value}']"
    if '"' not in value:
        return f'[@{attr}="{value}"]'
    raise ValueError(f"the value {_shown(value)} holds both ' and \": no element path can quote it")


@dataclass
class _Codes:
    """The predecessor's code tables a column may look its values up in (``enum_mappings``
    with integer ids, ``bit_conversions``), and the enums some column does look up."""

    enums: dict[str, dict[str, int]]
    bits: dict[str, Any]
    used: set[str] = field(default_factory=set)


@dataclass
class Imported:
    toml: str
    notes: list[str] = field(default_factory=list)
    tables: int = 0
    columns: int = 0
    enums: int = 0


def _q(value: Any) -> str:
    """A TOML value: text as a basic string (JSON's escapes are TOML's, and DEL, which JSON
    leaves as it is, escaped too), lists, inline tables, integers, finite floats, booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_q(v) for v in value) + "]"
    if isinstance(value, dict):
        return _inline(value)
    if not isinstance(value, str) or _surrogate(value):
        raise ValueError(f"{_shown(value)} has no TOML form")  # checked before: a bug
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _key(name: str) -> str:
    """A TOML key: bare when it can be, else quoted."""
    return name if _TOML_BARE.fullmatch(name) else _q(name)


def _inline(spec: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{_key(k)} = {_q(v)}" for k, v in spec.items()) + " }"


def _comment(text: str) -> str:
    """A TOML comment line (values in it shown with _label or _shown): nothing ends it."""
    return "# " + _printable(text)


def _length_problem(dtype: str, length: object) -> str:
    """Why ``data_length`` cannot be a ``dtype`` column's length or scale, with the range."""
    if dtype in ("decimal", "float"):
        return (
            f"data_length {_shown(length)} (a decimal's scale) must be an integer from 0 to "
            f"{DECIMAL_PRECISION}: the column is decimal({DECIMAL_PRECISION}, data_length)"
        )
    return (
        f"data_length {_shown(length)} must be an integer from 1 to {MAX_STRING_LENGTH} (the "
        "longest varchar of the databases this tool writes, PostgreSQL's; SQL Server's "
        "NVARCHAR takes 4000, MariaDB's VARCHAR 16383), or -1, 0 or null"
    )


def _attribute(m: dict[str, Any]) -> str:
    attr = m.get("xml_attribute")
    if not isinstance(attr, str) or not attr:
        raise ValueError("xml_attribute is required")
    return _check_xml_name(attr, "xml_attribute", "attribute")


# a calculation translated for a column: the translator's type of what the column's type
# takes from an expression (xmlmigrate.contract.kinds)
_TRANSLATED = {
    ex.NUMBER: ix.NUMBER,
    ex.STRING: ix.TEXT,
    ex.BOOL: ix.BIT,
    ex.DATE: ix.DATE,
    ex.DATETIME: ix.DATETIME,
}
_VALUE_OF_ATTRIBUTE = re.compile(r"VALUE\('@([^'/\[\]]+)'\)")


def _attributes_read(expr: str) -> list[str]:
    """The row element's own attributes a translated calculation reads (``VALUE('@x')``)."""
    return sorted(set(_VALUE_OF_ATTRIBUTE.findall(expr)))


def _tokens(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [t.strip() for t in raw.split(",") if t.strip()]
    if isinstance(raw, list) and all(isinstance(t, str) for t in raw):
        return [t.strip() for t in raw]
    raise ValueError(f"mapping_type must be a list or a comma-separated text, not {_shown(raw)}")


def _tokens_or_empty(raw: Any) -> list[str]:
    try:
        return _tokens(raw)
    except ValueError:
        return []


# the JSON kinds each key may hold: (kinds, as a message says them); the rest is checked
# where it is used (data_length per data type, mapping_type tokens, element_filtering)
_TOP_SHAPE = {
    "xml_root_element": ({"str"}, "text"),
    "xml_application_path": ({"str"}, "text"),
    "source_table": ({"str", "null"}, "text"),
    "source_column": ({"str", "null"}, "text"),
    "source_application_table": ({"str", "null"}, "text"),
    "target_schema": ({"str", "null"}, "text"),
    "table_insertion_order": ({"list", "null"}, "a list of table names"),
    "element_filtering": ({"dict", "null"}, "an object"),
    "mappings": ({"list"}, "a list"),
    "relationships": ({"list", "null"}, "a list"),
    "enum_mappings": ({"dict", "null"}, "an object"),
    "bit_conversions": ({"dict", "null"}, "an object"),
}
_MAPPING_SHAPE = {
    "xml_path": ({"str"}, "text"),
    "xml_attribute": ({"str", "null"}, "text"),
    "target_table": ({"str"}, "text"),
    "target_column": ({"str", "null"}, "text"),
    "data_type": ({"str"}, "text"),
    "mapping_type": ({"list", "str", "null"}, "a list or a comma-separated text"),
    "expression": ({"str", "null"}, "text"),
    "default_value": ({"str", "int", "float", "bool", "null"}, "text, a number or null"),
    "nullable": ({"bool", "null"}, "true or false"),
    "exclude_default_when_record_empty": ({"bool", "null"}, "true or false"),
    "enum_name": ({"str", "null"}, "text"),
}
_KINDS = {"null": type(None), "bool": bool, "str": str, "list": list, "dict": dict}


def _fits(value: object, kinds: set[str]) -> bool:
    if isinstance(value, bool):
        return "bool" in kinds
    if isinstance(value, int):
        return "int" in kinds
    if isinstance(value, float):
        return "float" in kinds
    return any(isinstance(value, _KINDS[k]) for k in kinds if k in _KINDS)


def _shape_problem(data: dict[str, Any], shape: dict[str, tuple[set[str], str]]) -> str | None:
    for key, (kinds, said) in shape.items():
        if key in data and not _fits(data[key], kinds):
            return f"{key} must be {said}, not {_kind(data[key])}"
    return None


class _Importer:
    def __init__(self, source: str, data: Any, strict: bool, path: Path | None = None) -> None:
        self.source = source if source.isprintable() else repr(source)
        self.path = Path(source) if path is None else path
        if not isinstance(data, dict):
            raise ContractImportError(f"{self.source}: the contract must be a JSON object")
        self.data = data
        self.strict = strict
        self.notes: list[str] = []
        self.errors: list[str] = []
        self._said: set[str] = set()  # the notes' (and --strict errors') texts
        self.kv: dict[str, list[dict[str, Any]]] = {}
        # grouped rows (spec §9.4 policy exceptions, §9.5): table → group → column → how
        self.groups: dict[str, dict[str, dict[str, tuple[str, dict[str, Any]]]]] = {}
        self.notes_path: dict[str, str] = {}
        self._score_type = "int"

    def fail(self, message: str) -> ContractImportError:
        return ContractImportError(_one_line(f"{self.source}: {message}"))

    def differs(self, where: str, predecessor: str, instead: str) -> None:
        """A numbered note where this engine works differently (not a predecessor defect:
        never an error under --strict)."""
        text = _one_line(f"{where}: the predecessor {predecessor}; the import {instead}")
        if text not in self._said:
            self._said.add(text)
            self.notes.append(f"{len(self.notes) + 1}. {text}")

    def note(self, where: str, predecessor: str, instead: str) -> None:
        text = _one_line(f"{where}: the predecessor {predecessor}; the import {instead}")
        if text in self._said:
            return
        self._said.add(text)
        if self.strict:
            self.errors.append(f"{text} (--strict)")
        else:
            self.notes.append(f"{len(self.notes) + 1}. {text}")

    def _check_top(self) -> None:
        d = self.data
        unknown = sorted(k for k in d if k not in TOP_LEVEL_KEYS)
        if unknown:
            raise self.fail(
                f"unknown top-level key(s) {', '.join(map(_shown, unknown))}: not part of the "
                "predecessor's format as this import knows it"
            )
        problem = _shape_problem(d, _TOP_SHAPE)
        if problem is not None:
            raise self.fail(problem)
        for i, table in enumerate(d.get("table_insertion_order") or []):
            if not isinstance(table, str):
                raise self.fail(
                    f"table_insertion_order[{i}] must be a table name (text), not {_kind(table)}"
                )
        for kind in ("char_to_bit", "boolean_to_bit"):
            table = (d.get("bit_conversions") or {}).get(kind)
            if table is not None and not isinstance(table, dict):
                raise self.fail(f"bit_conversions.{kind} must be an object, not {_kind(table)}")

    def run(self) -> Imported:
        d = self.data
        self._check_top()
        root = d.get("xml_root_element")
        app_path = d.get("xml_application_path")
        if not isinstance(root, str) or not root or not isinstance(app_path, str):
            raise self.fail("xml_root_element and xml_application_path are required")
        steps = [s for s in app_path.split("/") if s]
        try:
            _check_xml_name(root, "xml_root_element")
            for step in steps:
                _check_xml_name(step, f"xml_application_path {_shown(app_path)}: its step")
        except ValueError as exc:
            raise self.fail(str(exc)) from None
        if len(steps) < 2 or steps[0] != root:
            raise self.fail(f"xml_application_path {_shown(app_path)} must start at /{root}")
        self.app_path = "/" + "/".join(steps)
        mappings = d.get("mappings")
        if not isinstance(mappings, list) or not mappings:
            raise self.fail("mappings must be a non-empty list")
        enums = self._enums(d.get("enum_mappings") or {})
        self._empty_enums = {n for n, codes in enums.items() if not codes}
        self.rules = self._rules(d.get("element_filtering"))
        self._index(mappings)
        codes = _Codes(enums, d.get("bit_conversions") or {})
        tables: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for i, m in enumerate(mappings):
            where = self._where(i, m)
            if not isinstance(m, dict):
                self.errors.append(f"{where} must be an object, not {_kind(m)}")
                continue
            try:
                self._check_mapping(m)
                if self._key_value(where, m):
                    continue
                if self._grouped(where, m, codes):
                    continue
                column = self._column(where, m, codes)
            except ValueError as exc:
                self.errors.append(_one_line(f"{where}: {exc}"))
                continue
            if column is not None:
                tables.setdefault(m["target_table"], []).append((m["target_column"], column))
        if self.errors:  # one line: at most 20 errors of at most LONGEST_MESSAGE characters
            prefix = f"{self.source}: "
            shown = "; ".join(e.removeprefix(prefix) for e in self.errors[:20])
            more = f"; … and {len(self.errors) - 20} more" if len(self.errors) > 20 else ""
            raise ContractImportError(
                f"{self.source}: {len(self.errors)} mapping(s) cannot be imported: {shown}{more}"
            )
        if "app_base" not in tables:
            raise self.fail("no mapping targets app_base")
        for table in [*self.kv, *self.groups]:
            tables.setdefault(table, [])
        try:
            return self._render(root, steps, tables, {n: enums[n] for n in sorted(codes.used)})
        except ValueError as exc:
            raise self.fail(str(exc)) from None

    @staticmethod
    def _check_mapping(m: dict[str, Any]) -> None:
        """A mapping's keys and their kinds, its path and attribute names: what the rest
        relies on (a ValueError says what is wrong)."""
        unknown = sorted(k for k in m if k not in MAPPING_KEYS)
        if unknown:
            raise ValueError(
                f"unknown key(s) {', '.join(map(_shown, unknown))}: not part of the "
                "predecessor's format as this import knows it"
            )
        problem = _shape_problem(m, _MAPPING_SHAPE)
        if problem is not None:
            raise ValueError(problem)
        for key in ("xml_path", "target_table", "data_type"):
            if not m.get(key):
                raise ValueError(f"{key} is required")
        path = m["xml_path"]
        inner = path.strip("/").split("/")
        if "" in inner:
            raise ValueError(f"xml_path {_shown(path)} has an empty step ('//')")
        for step in inner:
            _check_xml_name(step, f"xml_path {_shown(path)}: its step")
        if m.get("xml_attribute"):
            _check_xml_name(m["xml_attribute"], "xml_attribute", "attribute")

    def _key_value(self, where: str, m: dict[str, Any]) -> bool:
        """A key/value mapping becomes a listed pair of its table; False if it is none."""
        tokens = _tokens(m.get("mapping_type"))
        kv = [t for t in tokens if t.split("(", 1)[0] in KV_TOKENS]
        if not kv:
            return False
        selectors = [t for t in tokens if t in SELECTORS]
        if len(tokens) - len(selectors) > 1 or len(selectors) > 1:
            raise ValueError(
                f"mapping type {_label(', '.join(tokens))}: a key/value token takes at most one "
                "contact selector and nothing else"
            )
        token = kv[0]
        kind, _, rest = token.partition("(")
        param = rest[:-1].strip() if rest.endswith(")") else None
        table = KV_TOKENS[kind]
        if m.get("target_table") != table:
            if m.get("target_table") not in KV_TOKENS.values():
                raise ValueError(f"{kind} writes {table}, not {_shown(m.get('target_table'))}")
            self.differs(
                where,
                f"was given {_label(token)} with target_table {_shown(m.get('target_table'))} "
                "(what it writes then is not specified)",
                f"writes the row to {table}, as the token says",
            )
        source = self._selected(where, m, selectors[0]) if selectors else self._source(m)
        attr = m["xml_attribute"]
        path = source.get("path") or f"@{source['attr']}"
        segment = m["xml_path"].rstrip("/").rsplit("/", 1)[-1]
        if kind == "add_score":
            if not param:
                raise ValueError("add_score() needs a score identifier")
            pair: dict[str, Any] = {"name": param, "path": path}
            self._score_type = m.get("data_type", "int")
        elif kind == "add_indicator":
            if not param:
                raise ValueError("add_indicator() needs an indicator name")
            pair = {"name": param, "path": path, "fields": {"one": "1"}}
        elif kind == "add_history":
            pair = {"name": f"[{attr}]", "path": path, "fields": {"source": f"[{segment}]"}}
        else:
            pair = {"name": attr, "path": path}
            if param:  # a bare token leaves the key NULL, and so does ()
                pair["fields"] = {"source_report_key": param}
        self.kv.setdefault(table, []).append(pair)
        return True

    def _rules(self, raw: Any) -> dict[str, tuple[str, str, list[str]]]:
        """element_type → (child path, type attribute, allowed types in priority order); where
        each rule is (``self.rule_at``), for the errors about its values."""
        self.rule_at: dict[str, str] = {}
        rules = raw.get("filter_rules") if isinstance(raw, dict) else None
        if rules is not None and not isinstance(rules, list):
            raise self.fail(f"element_filtering.filter_rules must be a list, not {_kind(rules)}")
        out: dict[str, tuple[str, str, list[str]]] = {}
        for i, rule in enumerate(rules or []):
            at = f"element_filtering.filter_rules[{i}]"
            if not isinstance(rule, dict):
                raise self.fail(f"{at} must be an object, not {_kind(rule)}")
            kinds = {"element_type": "text", "xml_child_path": "text", "xml_parent_path": "text"}
            for key, said in kinds.items():
                if rule.get(key) is not None and not isinstance(rule[key], str):
                    raise self.fail(f"{at}.{key} must be {said}, not {_kind(rule[key])}")
            required = rule.get("required_attributes") or {}
            if not isinstance(required, dict):
                raise self.fail(
                    f"{at}.required_attributes must be an object, not {_kind(required)}"
                )
            for name, value in required.items():
                here = _json_path(f"{at}.required_attributes", name)
                if isinstance(value, list):
                    for j, item in enumerate(value):
                        if not isinstance(item, str):
                            raise self.fail(f"{here}[{j}] must be text, not {_kind(item)}")
                elif not isinstance(value, bool):
                    raise self.fail(f"{here} must be true or a list of values, not {_kind(value)}")
            typed = [(k, v) for k, v in required.items() if isinstance(v, list) and v]
            child = rule.get("xml_child_path")
            kind = rule.get("element_type")
            if typed and isinstance(child, str) and isinstance(kind, str):
                try:
                    _check_xml_name(typed[0][0], f"{at}.required_attributes: the key", "attribute")
                    steps = child.strip("/").split("/")
                    for step in steps:
                        _check_xml_name(step, f"{at}.xml_child_path {_shown(child)}: its step")
                except ValueError as exc:
                    raise self.fail(str(exc)) from None
                out[kind] = (child, typed[0][0], list(typed[0][1]))
                self.rule_at[kind] = at
        return out

    def _rule(self, kind: str) -> tuple[str, str, list[str]]:
        rule = self.rules.get(kind)
        if rule is None:
            raise self.fail(f"element_filtering has no '{kind}' rule with a typed attribute")
        return rule

    def _test(self, kind: str, value: str) -> str:
        """The predicate ``[@type='value']`` of the ``kind`` rule's type attribute."""
        try:
            return _predicate(self._rule(kind)[1], value)
        except ValueError as exc:
            raise ValueError(f"{self.rule_at[kind]}: {exc}") from None

    def _where(self, i: int, m: Any) -> str:
        if isinstance(m, dict):
            table, column = m.get("target_table"), m.get("target_column")
            return f"{self.source}: mappings[{i}] ({_label(table)}.{_label(column)})"
        return f"{self.source}: mappings[{i}]"

    def _enums(self, raw: Any) -> dict[str, dict[str, int]]:
        if not isinstance(raw, dict):
            raise self.fail(f"enum_mappings must be an object, not {_kind(raw)}")
        out: dict[str, dict[str, int]] = {}
        owners: dict[int, tuple[str, str]] = {}
        self.text_enums: dict[str, dict[str, str]] = {}
        for name, codes in raw.items():
            at = _json_path("enum_mappings", name)
            if not isinstance(codes, dict):
                raise self.fail(f"{at} must be an object, not {_kind(codes)}")
            if all(isinstance(v, int) and not isinstance(v, bool) for v in codes.values()):
                out[name] = dict(codes)
                for code, value in codes.items():
                    first = owners.setdefault(value, (name, code))
                    if first[0] != name:
                        self.note(
                            f"{self.source}: enum_mappings",
                            f"writes id {value} for both {_label(first[0])} {_shown(first[1])} "
                            f"and {_label(name)} {_shown(code)} (one id in two enums: a typo in "
                            "one of them, most likely)",
                            "writes the same id, as given; app_enums seeds it once, as "
                            f"{_label(first[0])} {_shown(first[1])}",
                        )
            elif all(isinstance(v, str) for v in codes.values()):
                self.text_enums[name] = dict(codes)  # e.g. officer code → e-mail address
            else:
                raise self.fail(f"{at}: values must all be integer ids or all be text")
        return out

    def _column(
        self, where: str, m: dict[str, Any], codes: _Codes, grouped: bool = False
    ) -> dict[str, Any] | None:
        enums = codes.enums
        table, column = m["target_table"], m.get("target_column") or ""
        if (problem := identifier_problem(table)) is not None:
            raise ValueError(f"target_table: {problem}")
        tokens = _tokens(m.get("mapping_type"))
        calculated = "calculated_field" in tokens
        if calculated:
            if tokens[0] != "calculated_field" or (tokens[1:] and tokens[1:] != ["enum"]):
                raise ValueError(
                    f"mapping type {_label(', '.join(tokens))}: calculated_field is imported "
                    "alone or followed by enum"
                )
            tokens = tokens[1:]
        unknown = [t for t in tokens if t not in FIELD_TOKENS and t not in SELECTORS]
        selectors = [t for t in tokens if t in SELECTORS]
        if len(selectors) > 1:
            unknown = selectors
        if "default_getutcdate_if_null" in unknown:
            raise ValueError(
                "mapping type default_getutcdate_if_null (the time of the run for a blank "
                "value) is not imported: a rerun would give the same app another value; map "
                "the column plainly, with a default_value if it needs one"
            )
        if unknown:
            raise ValueError(
                f"mapping type {_label(', '.join(unknown))} is not one the predecessor knows"
            )
        if table in DEDICATED and not grouped:
            raise ValueError(
                f"table {table} is built by the predecessor's dedicated code: a mapping to it "
                "needs its row-creating mapping type"
            )
        if not column:
            raise ValueError("target_column is required")
        if (problem := identifier_problem(column)) is not None:
            raise ValueError(f"target_column: {problem}")
        text_enum = self._text_enum(m) if "enum" in tokens else None
        empty_enum = (
            "enum" in tokens
            and text_enum is None
            and self._enum_name(m, enums) in self._empty_enums
        )
        if empty_enum:
            self.differs(
                where,
                f"looks codes up in the empty enum {_label(self._enum_name(m, enums))} and "
                "stores NULL",
                "makes the column one that is always NULL",
            )
            spec: dict[str, Any] = {"expr": "NULL", "type": "int"}
        elif text_enum is not None:
            if selectors or len(tokens) > 1:
                raise ValueError(
                    f"mapping type {_label(', '.join(tokens))} with the text enum "
                    f"{_label(text_enum)}"
                )
            spec = self._text_enum_column(where, m, table, text_enum, calculated)
        elif calculated:
            typed = self._type(where, m, tokens, codes)
            expr = self._calculated(where, m, table, typed, enums)
            # the predecessor's defaults of bits and catch-all codes do not apply to a
            # calculation; its default_value only fills a NULL of a required column (§10.2)
            skip = ("extract", "default")
            spec = {"expr": expr, **{k: v for k, v in typed.items() if k not in skip}}
        else:
            if selectors:
                spec = self._selected(where, m, selectors[0])
                typed = self._type(where, m, tokens, codes)
                if typed["type"] == "bit" and selectors[0] != "curr_address_only":
                    spec = self._selected_bit(where, selectors[0], spec, typed)
            elif table == CONTACT or table in CONTACT_CHILDREN:
                if column in ("con_id", "app_id"):
                    return None  # keys: set by the predecessor's code, and by the import's
                spec = self._contact_source(table, m)
            else:
                spec = dict(self._source(m))
            if "expr" not in spec:
                spec.update(self._type(where, m, tokens, codes))
        if m.get("nullable") is False:
            spec["nullable"] = False
        default = m.get("default_value")
        if calculated and m.get("nullable") is not False:
            default = None
        if isinstance(default, str) and re.fullmatch(r"[A-Za-z_]+\(\)", default.strip()):
            self.differs(
                where,
                f"leaves {default.strip()} (a SQL function) to the database's column default",
                "writes NULL where the value is blank (its tables have no SQL defaults)",
            )
            default = None
        if default is not None and "default" not in spec and default != "":
            spec["default"] = self._default(default, spec, enums)
            if m.get("exclude_default_when_record_empty") is True:
                # a "conditional" default (spec §10.2-10.3): only beside other values
                spec["default_when"] = "row_has_values"
                self.differs(
                    where,
                    "drops its conditional default when fewer than two other columns of the "
                    "row hold values",
                    "keeps it when any other column does (default_when = 'row_has_values')",
                )
        elif m.get("exclude_default_when_record_empty") is True:
            self.differs(
                where,
                "has exclude_default_when_record_empty without a default to exclude",
                "has nothing to do for it",
            )
        return spec

    @staticmethod
    def _default(value: Any, spec: dict[str, Any], enums: dict[str, dict[str, int]]) -> Any:
        """The column's default as the JSON's ``default_value`` says it: text as it is, a
        number as its text, an enum's id as its code, true/false for a bit column only."""
        shown = f"default_value {_shown(value)}"
        if isinstance(value, bool):
            if spec["type"] == "bit":
                return value
            raise ValueError(
                f"{shown} is a truth value, and the column is no bit column: write the text "
                'the column should hold ("true", "1")'
            )
        if spec["type"] == "enum":  # the predecessor's default is the stored id
            codes = enums[spec["enum"]]
            by_id = {v: c for c, v in codes.items()}
            if isinstance(value, int) and value in by_id:
                return by_id[value]
            if str(value) not in codes:
                raise ValueError(
                    f"{shown} is neither an id nor a code of enum {_label(spec['enum'])}"
                )
        text = value if isinstance(value, str) else repr(value)
        length = spec.get("length")
        if spec["type"] == "string" and isinstance(length, int) and len(text) > length:
            raise ValueError(
                f"{shown} is {len(text):,} characters long, longer than the column's data_length "
                f"{length} (the predecessor cuts it; write it as the column should hold it)"
            )
        return text

    def _enum_name(self, m: dict[str, Any], known: dict[str, Any]) -> str | None:
        name = m.get("enum_name") or (
            m["target_column"][: -len("_enum")] if m["target_column"].endswith("_enum") else ""
        )
        candidates = [name, f"{name}_enum"] if name else []
        return next((c for c in candidates if c in known), None)

    def _text_enum(self, m: dict[str, Any]) -> str | None:
        if self._enum_name(m, self.data.get("enum_mappings") or {}) is None:
            return None
        return self._enum_name(m, self.text_enums)

    def _text_enum_column(
        self, where: str, m: dict[str, Any], table: str, name: str, calculated: bool
    ) -> dict[str, Any]:
        """An enum whose values are text (RL's officer code → e-mail): the looked-up text,
        as a CASE over its codes (exact, then any case, then the '' catch-all, as the
        predecessor); after a calculation, the lookup only where it gives nothing (§16.3)."""
        codes = self.text_enums[name]
        attr = _attribute(m)
        if table == CONTACT or table in CONTACT_CHILDREN:
            source = ix.value_of(f"@{attr}")
        else:
            source = ix.value_of(self._path_of(self._source(m)))
        exact = [
            f"WHEN {source} = {ix.sql_text(code.strip())} THEN {ix.sql_text(value)}"
            for code, value in codes.items()
            if code.strip()
        ]
        any_case = [
            f"WHEN UPPER({source}) = {ix.sql_text(code.strip().upper())} THEN {ix.sql_text(value)}"
            for code, value in codes.items()
            if code.strip()
        ]
        whens = " ".join([*exact, *any_case])
        catch_all = f" ELSE {ix.sql_text(codes[''])}" if "" in codes else ""
        expr = f"CASE {whens}{catch_all} END" if whens else ix.sql_text(codes.get("", ""))
        length = m.get("data_length")
        if calculated:
            calc = self._translator(where, table).translate(m.get("expression") or "", ix.TEXT)
            expr = f"COALESCE({calc}, {expr})"
        if isinstance(length, bool) or not isinstance(length, int | None):
            raise ValueError(_length_problem("string", length))
        if length is None or length in (0, -1):
            length = DEFAULT_STRING_LENGTH
        elif not 0 < length <= MAX_STRING_LENGTH:
            raise ValueError(_length_problem("string", length))
        return {"expr": expr, "type": "string", "length": length}

    def _grouped(self, where: str, m: dict[str, Any], codes: _Codes) -> bool:
        """A mapping of a grouped row (policy_exceptions, warranty_field, add_collateral):
        one row per group of the table, each column read along its own path; False if the
        mapping is none."""
        tokens = _tokens(m.get("mapping_type"))
        found = [t for t in tokens if t.split("(", 1)[0] in GROUP_TOKENS]
        if not found:
            return False
        token = found[0]
        kind, _, rest = token.partition("(")
        param = rest[:-1].strip() if rest.endswith(")") else ""
        table = GROUP_TOKENS[kind]
        if m.get("target_table") != table:
            raise ValueError(f"{kind} writes {table}, not {_shown(m.get('target_table'))}")
        if len(found) > 1:
            raise ValueError(f"mapping type {_label(', '.join(tokens))}: two grouping tokens")
        number = re.fullmatch(r"[0-9]{1,9}", param) is not None  # ASCII digits: '²' is none
        if kind != "policy_exceptions" and not number:
            raise ValueError(f"{_label(token)}: the group must be a number")
        if kind == "policy_exceptions" and param and not number:
            raise ValueError(f"{_label(token)}: the exception type must be a number")
        rest_tokens = [t for t in tokens if t != token]
        column = m.get("target_column") or ""
        if kind == "policy_exceptions":
            column = "notes" if not param else "reason_code"
        if not column:
            raise ValueError("target_column is required")
        plain = {**m, "mapping_type": rest_tokens, "target_column": column}
        if kind == "policy_exceptions":
            plain.pop("default_value", None)
            plain["nullable"] = True
        spec = self._column(where, plain, codes, grouped=True)
        assert spec is not None
        if kind == "warranty_field":  # the predecessor ignores them here (§9.5)
            spec.pop("nullable", None)
            if spec.get("type") != "bit":
                spec.pop("default", None)
        if spec.get("type") == "string":
            # the predecessor does not truncate: a longer value fails its insert
            spec["on_overflow"] = "reject"
        if kind == "policy_exceptions" and not param:
            if table in self.notes_path:
                self.differs(
                    where,
                    "reads the notes of the first policy_exceptions() entry only",
                    "does the same",
                )
                return True
            self.notes_path[table] = self._path_of(spec)
            self.groups.setdefault(table, {}).setdefault("", {})["notes"] = ("notes", spec)
            return True
        role = "expr" if "expr" in spec else ("also" if spec.get("type") == "bit" else "read")
        if kind == "add_collateral" and column == "wholesale_value":
            role = "also"  # the predecessor: a slot's wholesale value counts only above 0
        group = self.groups.setdefault(table, {}).setdefault(param, {})
        if column in group:
            raise ValueError(f"{_label(token)}: column {column!r} is mapped twice in this group")
        group[column] = (role, spec)
        return True

    @staticmethod
    def _path_of(spec: dict[str, Any]) -> str:
        return str(spec["path"]) if "path" in spec else f"@{spec['attr']}"

    def _calculated(
        self,
        where: str,
        m: dict[str, Any],
        table: str,
        typed: dict[str, Any],
        enums: dict[str, dict[str, int]],
    ) -> str:
        """A calculated field (spec §11) in this tool's expression language."""
        kind = typed["type"]
        target = _TRANSLATED[TYPES[kind].expr_type]
        expr = self._translator(where, table).translate(m.get("expression") or "", target)
        if kind == "enum":
            # with enum after it, the predecessor looks the raw attribute up when the
            # expression gives nothing (spec §7.1 step 3); a contact's row element is the
            # contact, the others' the application
            codes = enums[typed["enum"]]
            raw = f"UPPER({ix.value_of('@' + _attribute(m))})"
            whens = " ".join(
                f"WHEN {raw} = {ix.sql_text(code.upper())} THEN {value}"
                for code, value in codes.items()
                if code.strip()
            )
            catch_all = f" ELSE {codes['']}" if "" in codes else ""
            expr = f"COALESCE({expr}, CASE {whens}{catch_all} END)" if whens else expr
        return expr

    def _translator(self, where: str, table: str) -> ix.ExpressionTranslator:
        return ix.ExpressionTranslator(
            self._resolver(where, table),
            lambda before, instead: self.note(where, before, instead),
            lambda before, instead: self.differs(where, before, instead),
        )

    def _resolver(self, where: str, table: str) -> ix.Resolver:
        """Names of the predecessor's evaluation context (spec §11.1) → expressions of text.
        A name is letters, digits, '_' and '.' (import_expr); the paths it resolves to are
        the contract's, quoted by ix.value_of."""
        if table == CONTACT or table in CONTACT_CHILDREN:

            def element(name: str) -> str:
                if table != CONTACT and name == "con_id":
                    return ix.value_of("../@con_id")
                return ix.value_of(f"@{name.split('.')[-1]}")

            return element
        app_element = self.app_path.rsplit("/", 1)[-1]
        app_table = str(self.data.get("source_application_table") or app_element)
        up = "/".join([".."] * (len(self.app_path.strip("/").split("/")) - 2))

        def app_level(name: str) -> str:
            if name == "app_id":
                return ix.value_of(f"{up}/@ID")
            head, _, attr = name.rpartition(".")
            if head.lower() == "contact":
                if "contact" not in self.rules:
                    raise ValueError(f"{name}: element_filtering has no typed contact rule")
                contact_path, _, roles = self.rules["contact"]
                contacts = self._relative(contact_path)
                self.differs(
                    where,
                    f"reads {name} from the first valid contact, {_label(roles[0])} first",
                    f"reads it from the first {_label(roles[0])} contact",
                )
                return ix.value_of(f"{contacts}{self._test('contact', roles[0])}/@{attr}")
            if head.lower() in ("application", app_table.lower(), app_element.lower()):
                return ix.value_of(f"@{self._attr_case(attr, self.app_path)}")
            if head:
                path = self._element_at.get(head.lower())  # None: unknown, or outside
                if path is None:
                    raise ValueError(
                        f"{name}: no mapping reads an element named {_shown(head)}, so where "
                        "it lies is unknown"
                    )
                return ix.value_of(f"{path}/@{self._attr_case(attr, None)}")
            found = list(self._with_attr.get(attr.lower(), ()))
            if not found:  # no mapping reads it: any element the contract reads may hold it
                found = [f"{p}/@{attr}" if p else f"@{attr}" for p in self._elements]
                self.differs(
                    where,
                    f"resolves {name} to the last element in the document that carries it",
                    f"takes the first of the {len(found)} elements the contract reads that "
                    "does (later elements first, the application's own attributes last)",
                )
            elif len(found) > 1:
                self.differs(
                    where,
                    f"resolves {name} to the last element in the document that carries it",
                    f"takes the first of {_label(', '.join(found))} that does (elements later "
                    "in the document first, the application's own attributes last)",
                )
            if len(found) == 1:
                return ix.value_of(found[0])
            return "COALESCE(" + ", ".join(ix.value_of(p) for p in found) + ")"

        return app_level

    def _app_relative(self, xml_path: str) -> str | None:
        """An absolute element path relative to the application element ('' for itself),
        climbing with '..' where it lies outside; None if it is not under the root."""
        steps = [s for s in xml_path.split("/") if s]
        app = self.app_path.strip("/").split("/")
        if not steps or steps[0] != app[0]:
            return None
        common = 0
        while common < min(len(steps), len(app)) and steps[common] == app[common]:
            common += 1
        return "/".join([".."] * (len(app) - common) + steps[common:])

    def _index(self, mappings: list[Any]) -> None:
        """What names in calculations resolve against, found once (a lookup per name, not a
        walk through every mapping): the mappings that read an attribute of an app-level
        element, by attribute and by element."""
        mapped = []
        for m in mappings:
            if not isinstance(m, dict) or m.get("target_table") in (CONTACT, *CONTACT_CHILDREN):
                continue
            path, attr = m.get("xml_path"), m.get("xml_attribute")
            if not isinstance(path, str) or not _is_xml_name(attr):
                continue
            steps = path.strip("/").split("/")
            if not all(map(_is_xml_name, steps)):
                continue
            if any(t in SELECTORS for t in _tokens_or_empty(m.get("mapping_type"))):
                continue
            mapped.append(("/" + "/".join(steps), str(attr)))
        # the contract's spelling of an attribute: the first mapping's, anywhere or at a path
        self._spelled: dict[str, str] = {}
        self._spelled_at: dict[tuple[str, str], str] = {}
        self._element_at: dict[str, str | None] = {}  # an element's name → where it lies
        for path, attr in mapped:
            self._spelled.setdefault(attr.lower(), attr)
            self._spelled_at.setdefault((attr.lower(), path), attr)
            self._element_at.setdefault(path.rsplit("/", 1)[-1].lower(), self._app_relative(path))
        # every element an app-level mapping reads, later mappings first, the application
        # last; and per attribute the paths that read it, in the same order
        elements: dict[str, None] = {}
        with_attr: dict[str, dict[str, None]] = {}
        for path, attr in reversed(mapped):
            rel = self._app_relative(path)
            if rel is None:
                continue
            elements.setdefault(rel)
            with_attr.setdefault(attr.lower(), {}).setdefault(
                f"{rel}/@{attr}" if rel else f"@{attr}"
            )
        elements.setdefault("")
        self._elements = sorted(elements, key=lambda p: p == "")
        self._with_attr = {
            a: sorted(paths, key=lambda p: p.startswith("@")) for a, paths in with_attr.items()
        }

    def _attr_case(self, attr: str, xml_path: str | None) -> str:
        if xml_path is None:
            return self._spelled.get(attr.lower(), attr)
        return self._spelled_at.get((attr.lower(), xml_path), attr)

    def _chosen(self, where: str, selector: str) -> str:
        """The contact a selector reads (spec §7.3): the last of its role."""
        _, _, roles = self._rule("contact")
        index = SELECTORS[selector]
        assert index is not None
        if index >= len(roles):
            raise ValueError(f"{selector}: the contact rule lists no role {index + 1}")
        contact_path = self._relative(self._rule("contact")[0])
        if selector == "authu_contact":
            contact_path = (
                contact_path.rsplit("/", 1)[0] + "/contact" if "/" in contact_path else "contact"
            )
        self.differs(
            where,
            f"takes the last {_label(roles[index])} contact that has a con_id",
            f"takes the last {_label(roles[index])} contact",
        )
        return f"{contact_path}{self._test('contact', roles[index])}[last]"

    def _selected(self, where: str, m: dict[str, Any], selector: str) -> dict[str, Any]:
        """A contact selector (spec §7.3) as an element path with predicates."""
        attr = _attribute(m)
        address_path, _, address_types = self._rule("address")
        address = address_path.rstrip("/").rsplit("/", 1)[-1]
        preferred = self._test("address", address_types[0])
        if selector == "curr_address_only":
            if m["target_table"] != CONTACT:
                raise ValueError(
                    "curr_address_only reads the current contact's address: the predecessor "
                    "uses it in app_contact_base only"
                )
            return {"path": f"{address}{preferred}[last]/@{attr}"}
        chosen = self._chosen(where, selector)
        if m["target_table"] == "app_contact_address" or address in m["xml_path"]:
            self.differs(
                where,
                f"takes its first {_label(address_types[0])} address with a value, else its last",
                f"takes its first {_label(address_types[0])} address",
            )
            return {"path": f"{chosen}/{address}{preferred}/@{attr}"}
        if "app_prod_bcard" in m["xml_path"]:
            return {"path": f"{chosen}/app_prod_bcard[last]/@{attr}"}
        return {"path": f"{chosen}/@{attr}"}

    def _selected_bit(
        self, where: str, selector: str, spec: dict[str, Any], typed: dict[str, Any]
    ) -> dict[str, Any]:
        """A bit map after a contact selector (``[authu_contact, char_to_bit]``): NULL when
        there is no such contact (the selector gives None), else the bit, 0 for a blank or
        unknown code (spec §7.3)."""
        _, type_attr, _ = self._rule("contact")
        exists = ix.value_of(f"{self._chosen(where, selector)}/@{type_attr}")
        value = ix.value_of(str(spec["path"]))
        trues = ", ".join(ix.sql_text(t.upper()) for t in typed["true"])
        return {
            "expr": f"CASE WHEN {exists} IS NULL THEN NULL "
            f"WHEN UPPER(COALESCE({value}, '')) IN ({trues}) THEN TRUE ELSE FALSE END",
            "type": "bit",
        }

    def _contact_source(self, table: str, m: dict[str, Any]) -> dict[str, Any]:
        """Contact rows read the contact's own attributes (spec §5); address and employment
        rows their own element's, whatever ``xml_path`` says."""
        attr = _attribute(m)
        if table == CONTACT and "contact" not in m["xml_path"]:
            # another element (CC: the application's own attributes), reached by climbing
            # from the contact to the application element
            rows = self._relative(self._rule("contact")[0])
            up = "/".join([".."] * len(rows.split("/")))
            rel = self._source(m)
            inner = rel.get("path") or f"@{rel['attr']}"
            return {"path": f"{up}/{inner}"}
        return {"attr": attr}

    def _source(self, m: dict[str, Any]) -> dict[str, Any]:
        """The attribute a mapping reads, relative to the application element: outside it,
        the path climbs with '..' (Request/@ID is '../../@ID')."""
        path = "/" + "/".join(s for s in m["xml_path"].split("/") if s)
        attr = _attribute(m)
        if path == self.app_path:
            return {"attr": attr}
        rel = self._app_relative(path)
        if rel is None:
            raise ValueError(f"xml_path {_shown(m['xml_path'])} lies outside the document root")
        return {"path": f"{rel}/@{attr}"}

    def _type(
        self,
        where: str,
        m: dict[str, Any],
        tokens: list[str],
        codes: _Codes,
    ) -> dict[str, Any]:
        dtype = m["data_type"].lower()
        length = m.get("data_length")
        if length is not None and (not isinstance(length, int) or isinstance(length, bool)):
            if dtype == "string" or dtype in ("decimal", "float"):
                raise ValueError(_length_problem(dtype, length))
            raise ValueError(
                f"data_length {_shown(length)} must be an integer or null (the predecessor "
                f"ignores it for a {_label(dtype)} column)"
            )
        if "enum" in tokens:
            found = self._enum_name(m, codes.enums)
            if found is None:
                raise ValueError(f"no enum for {_shown(m['target_column'])} among enum_mappings")
            codes.used.add(found)
            if "" in codes.enums[found]:
                # the predecessor's catch-all: blank and unknown codes both take it (its
                # default_value only comes after); here, the column's default
                return {"type": "enum", "enum": found, "default": ""}
            return {"type": "enum", "enum": found}
        for token in ("char_to_bit", "boolean_to_bit"):
            if token in tokens:
                table = codes.bits.get(token)
                if not isinstance(table, dict):
                    raise ValueError(f"bit_conversions.{token} is missing")
                true = sorted(k for k, v in table.items() if v == 1 and k.strip())
                false = sorted(k for k, v in table.items() if v == 0 and k.strip())
                if not true or not false:
                    raise ValueError(f"bit_conversions.{token} needs codes for 1 and 0")
                # the predecessor stores 0 for blank or unmatched codes, never NULL
                return {"type": "bit", "true": true, "false": false, "default": false[0]}
        digits = "numbers_only" in tokens or "extract_numeric" in tokens
        if dtype == "string":
            if length == -1:
                self.note(
                    where,
                    "cuts the last character off every value (data_length -1)",
                    "keeps the whole value in a text column without limit (length 'max')",
                )
                length = "max"
            elif length is None or length == 0:
                self.note(where, "does not limit the length", f"uses {DEFAULT_STRING_LENGTH}")
                length = DEFAULT_STRING_LENGTH
            elif not 0 < length <= MAX_STRING_LENGTH:
                raise ValueError(_length_problem(dtype, length))
            spec: dict[str, Any] = {"type": "string", "length": length}
            if digits:
                spec["extract"] = "digits"
                self.note(
                    where,
                    "stores the digits as a number's text, dropping leading zeros ('01234' "
                    "becomes '1234')",
                    "keeps every digit",
                )
            return spec
        if dtype in INT_TYPES or dtype in ("decimal", "float"):
            spec = {"type": INT_TYPES.get(dtype, "decimal")}
            if dtype in INT_TYPES:  # '611.0' is 611 there (half-up), not an invalid value
                spec["round"] = True
            if spec["type"] == "decimal":
                scale = 2 if length is None else length
                if not 0 <= scale <= DECIMAL_PRECISION:
                    raise ValueError(_length_problem(dtype, length))
                spec.update(precision=DECIMAL_PRECISION, scale=scale)
                if dtype == "float":
                    self.note(
                        where, "stores a float", f"stores decimal({DECIMAL_PRECISION},{scale})"
                    )
            if digits:
                self.note(
                    where,
                    "concatenates every digit ('12.50' becomes 1250)",
                    "reads the number ('12.50' is 12.50)",
                )
            spec["extract"] = "number"
            return spec
        if dtype in DATE_TYPES:
            return {"type": DATE_TYPES[dtype]}
        if dtype in ("bit", "boolean"):
            return {"type": "bit"}
        self.note(where, f"treats data_type {_shown(dtype)} as a string", "does the same")
        return {"type": "string", "length": DEFAULT_STRING_LENGTH}

    def _render(
        self,
        root: str,
        steps: list[str],
        tables: dict[str, list[tuple[str, dict[str, Any]]]],
        enums: dict[str, dict[str, int]],
    ) -> Imported:
        listed = self.data.get("table_insertion_order") or []
        order = list(dict.fromkeys(t for t in listed if t in tables))
        order += sorted(t for t in tables if t not in order)
        order.remove("app_base")
        schema = self.data.get("target_schema") or "dbo"
        placement = []
        if isinstance(schema, str) and schema != "dbo":
            self.differs(
                f"{self.source}: target_schema",
                f"writes every table to the schema {_shown(schema)}",
                "leaves the schema to the connection: PostgreSQL URL "
                f"'?options=-csearch_path%3D{_label(schema)}', SQL Server the login's default "
                f"schema, MariaDB the database {_shown(schema)} in the URL, SQLite none "
                "(docs/contract.md)",
            )
            placement = [
                _comment(
                    f"the predecessor's target_schema {_shown(schema)}: choose it through the --db "
                    "URL (docs/contract.md, 'Schemas')"
                )
            ]
        lines = [
            _comment(f"imported from {_label(self.path.name)} by xmlmigrate contract import"),
            *placement,
            "[contract]",
            f"name = {_q(self.path.stem)}",
            f"root = {_q(root)}",
            'app_id = "Request/@ID"',  # hard-coded in the predecessor: /Provenir/Request/@ID
            f"application = {_q('/'.join(steps[1:]))}",
            f"product_line = {_q(self.data.get('source_application_table') or steps[-1])}",
            f"other_product_lines = {_q(self._other_lines(steps))}",
            *self._source_line(),
            "# the predecessor finds an attribute in any case (Partner_URL_ID for partner_url_id)",
            "attributes_any_case = true",
            "",
        ]
        for name, codes in enums.items():
            lines.append(f"[enums.{_q(name)}]")
            lines += [f"{_q(code)} = {value}" for code, value in codes.items()]
            lines.append("")
        columns = 0
        if CONTACT in order:  # parents first, whatever table_insertion_order says
            order.remove(CONTACT)
            order.insert(0, CONTACT)
        for table in ["app_base", *order]:
            if table == CONTACT or table in CONTACT_CHILDREN:
                lines += self._render_contact(table, tables[table])
                columns += len(tables[table])
                continue
            if table in self.kv:
                lines += self._render_kv(table)
                columns += len(self.kv[table])
                continue
            if table in self.groups:
                lines += self._render_grouped(table)
                columns += sum(len(g) for g in self.groups[table].values())
                continue
            lines.append(f"[tables.{_q(table)}]")
            if table != "app_base":
                lines.append('parent = "app_base"')
            lines += ['rows = "."', 'key = ["app_id"]']
            if table != "app_base":  # the predecessor writes no row of keys and defaults only
                lines.append("skip_empty = true")
            lines += ["", f"[tables.{_q(table)}.columns]"]
            key = {"source": "app_id"} if table == "app_base" else {"parent": "app_id"}
            lines.append(f"app_id = {_inline({**key, 'type': 'int', 'nullable': False})}")
            seen = {"app_id"}
            for column, spec in tables[table]:
                if column.lower() in seen:
                    continue  # the predecessor's key columns are set by code, not mappings
                seen.add(column.lower())
                lines.append(f"{_q(column)} = {_inline(spec)}")
                columns += 1
            lines.append("")
        return Imported("\n".join(lines), self.notes, len(tables), columns, len(enums))

    def _source_line(self) -> list[str]:
        """The predecessor's staging table (``source_table``/``source_column``, key
        ``app_id``): where the documents are read from, in place."""
        table = self.data.get("source_table")
        column = self.data.get("source_column")
        if table is None and column is None:
            return []
        spec = {"table": table or "app_xml", "key": "app_id", "document": column or "xml"}
        try:
            parse_source(spec)
        except ValueError as exc:
            raise self.fail(f"source_table/source_column: {exc}") from None
        return [f"source = {_inline(spec)}"]

    def _render_contact(self, table: str, mapped: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """Contacts (spec §4.1) and their addresses and employments (§4.2)."""
        contact_path, contact_type, roles = self._rule("contact")
        rows = self._relative(contact_path)
        if table == CONTACT:
            head = [
                f"[tables.{_q(table)}]",
                'parent = "app_base"',
                f"rows = {_q(rows)}",
                'key = ["con_id"]',
                "where = "
                + _inline({"attr": contact_type, "in": roles, "warn": "invalid_contact_role"}),
                "meaningful = "
                + _inline({"any_of": MEANINGFUL_CONTACT, "warn": "contact_without_data"}),
                "dedup = "
                + _inline({"by": "con_id", "prefer": {"attr": contact_type, "order": roles}}),
                'skip_if_null = ["con_id"]',
                'skip_warn = "contact_without_con_id"',
                # the predecessor drops contact rows another application already wrote
                'on_duplicate = "keep_existing"',
            ]
            keys = [
                f"con_id = {_inline({'attr': 'con_id', 'type': 'int', 'nullable': False})}",
                f"app_id = {_inline({'parent': 'app_id', 'type': 'int', 'nullable': False})}",
            ]
        else:
            kind = CONTACT_CHILDREN[table]
            child_path, type_attr, types = self._rule(kind)
            element = child_path.rstrip("/").rsplit("/", 1)[-1]
            type_column = next((c for c, spec in mapped if spec.get("attr") == type_attr), None)
            if type_column is None:
                raise self.fail(
                    f"{table}: no mapping reads the {kind} type attribute {_shown(type_attr)}, "
                    "which its key needs"
                )
            # the predecessor matches types in any case: list each as written, upper and lower
            allowed = sorted({v for t in types for v in (t, t.upper(), t.lower())})
            head = [
                f"[tables.{_q(table)}]",
                f'parent = "{CONTACT}"',
                f"rows = {_q(element)}",
                f"key = {_q(['con_id', type_column])}",
                "where = "
                + _inline({"attr": type_attr, "in": allowed, "warn": f"{kind}_type_skipped"}),
                'on_duplicate = "keep_existing"',
            ]
            record, source = MEANINGFUL_CHILD[kind]
            specs = dict(mapped)
            if not any("default" in specs[c] for c in record if c in specs):
                # the predecessor counts defaults as data: with one, every row passes
                attrs = list(source)
                for c in record:
                    spec = specs.get(c)
                    if spec is None:
                        continue
                    if "attr" in spec:
                        attrs.append(spec["attr"])
                    elif "expr" in spec:
                        # a calculation: the attributes it reads count as data (spec §16.2)
                        read = _attributes_read(spec["expr"])
                        attrs += read
                        self.differs(
                            f"{self.source}: {table}.{c}",
                            "counts the computed value as data only when it is not 0",
                            f"counts the attributes it reads ({', '.join(read) or 'none'}) as "
                            "data, so a row whose only value computes to 0 is kept",
                        )
                head.append(
                    "meaningful = "
                    + _inline({"any_of": sorted(set(attrs)), "warn": f"{kind}_without_data"})
                )
            self.differs(
                f"{self.source}: {table}",
                f"keeps the first of two {kind} rows of one contact and type",
                "keeps the last (with a duplicate_key warning)",
            )
            keys = [f"con_id = {_inline({'parent': 'con_id', 'type': 'int', 'nullable': False})}"]
        columns = [f"{_q(c)} = {_inline(spec)}" for c, spec in mapped]
        return [*head, "", f"[tables.{_q(table)}.columns]", *keys, *columns, ""]

    def _relative(self, path: str) -> str:
        full = "/" + "/".join(s for s in path.split("/") if s)
        if not full.startswith(self.app_path + "/"):
            raise self.fail(f"contact path {_shown(path)} lies outside {self.app_path}")
        return full[len(self.app_path) + 1 :]

    @staticmethod
    def _other_lines(steps: list[str]) -> list[str]:
        """The other product line's application element, so that its documents are
        ``wrong_product_line`` rather than ``no_application`` (the predecessor's validator
        knows both)."""
        parent = "/".join(steps[1:-1])
        return [f"{parent}/{e}" for e in PRODUCT_LINES if e != steps[-1]]

    def _render_grouped(self, table: str) -> list[str]:
        """Grouped rows: one pair per group, its columns read along their own paths."""
        groups = {g: cols for g, cols in self.groups[table].items() if g}
        name_column = GROUP_NAME_COLUMN[table]
        if not groups:
            raise ContractImportError(f"{self.source}: {table}: no group has a mapping")
        specs: dict[str, dict[str, Any]] = {}
        exprs: dict[str, list[tuple[str, str]]] = {}
        for group, cols in groups.items():
            for column, (role, spec) in cols.items():
                typed = {k: v for k, v in spec.items() if k not in ("attr", "path", "expr")}
                first = specs.setdefault(column, typed)
                if first.get("type") != typed.get("type"):
                    raise ContractImportError(
                        f"{self.source}: {table}.{column}: group {group} makes it "
                        f"{typed.get('type')}, another group {first.get('type')}"
                    )
                if role == "expr":
                    exprs.setdefault(column, []).append((group, spec["expr"]))
        notes = self.groups[table].get("", {}).get("notes")
        pairs = []
        for group, cols in groups.items():
            pair: dict[str, Any] = {"name": group}
            read = {c: self._path_of(sp) for c, (r, sp) in cols.items() if r == "read"}
            also = {c: self._path_of(sp) for c, (r, sp) in cols.items() if r == "also"}
            if table == "app_policy_exceptions_rl":
                pair["path"] = read.pop("reason_code")
                if notes is not None:
                    also["notes"] = self.notes_path[table]
            if table == "app_warranties_rl" and "merrick_lienholder_flag" not in also:
                # the predecessor stores 0 where the group does not map the flag
                flag = specs.get("merrick_lienholder_flag", {}).get("false", ["0"])[0]
                pair["fields"] = {"merrick_lienholder_flag": flag}
            if read:
                pair["read"] = read
            if also:
                pair["also"] = also
            if "path" not in pair and not read:
                raise ContractImportError(
                    f"{self.source}: {table}: group {group} has no column that makes its row "
                    "(only flags or calculations)"
                )
            pairs.append(pair)
        if table == "app_warranties_rl":
            specs.setdefault(
                "merrick_lienholder_flag", {"type": "bit", "true": ["1"], "false": ["0"]}
            )
        if table == "app_collateral_rl":
            self.differs(
                f"{self.source}: {table}",
                "counts wholesale_value towards a slot only above 0",
                "never counts it (a slot holding only a positive wholesale value is not written)",
            )
        head = [
            f"[tables.{_q(table)}]",
            'parent = "app_base"',
            'rows = "."',
            f"key = {_q(['app_id', name_column])}",
            f"unpivot = {{ pairs = [{', '.join(_inline(p) for p in pairs)}], "
            f"ignore = {_q(MEANINGLESS)} }}",
        ]
        columns = [
            f"app_id = {_inline({'parent': 'app_id', 'type': 'int', 'nullable': False})}",
            f"{name_column} = {_inline({'unpivot': 'name', 'type': 'int', 'nullable': False})}",
        ]
        for column, typed in specs.items():
            if column in exprs:
                whens = " ".join(f"WHEN {name_column} = {g} THEN {e}" for g, e in exprs[column])
                source: dict[str, Any] = {"expr": f"CASE {whens} END"}
            elif table == "app_policy_exceptions_rl" and column == "reason_code":
                source = {"unpivot": "value"}
            else:
                source = {"unpivot": column}
            columns.append(f"{_q(column)} = {_inline({**source, **typed})}")
        if notes is not None and "notes" not in specs:
            typed = {k: v for k, v in notes[1].items() if k not in ("attr", "path", "expr")}
            columns.append(f"notes = {_inline({'unpivot': 'notes', **typed})}")
        # calculated columns read the others: they come last
        columns.sort(key=lambda line: "expr = " in line)
        return [*head, "", f"[tables.{_q(table)}.columns]", *columns, ""]

    def _render_kv(self, table: str) -> list[str]:
        """A key/value table: one row per listed pair whose value is there (spec §9.4)."""
        pairs = self.kv[table]
        ignore = [] if table in ("scores", "indicators") else MEANINGLESS
        listed = ", ".join(_inline(p) for p in pairs)
        head = [
            f"[tables.{_q(table)}]",
            'parent = "app_base"',
            'rows = "."',
        ]
        app_id = _inline({"parent": "app_id", "type": "int", "nullable": False})
        if table == "scores":
            score_type = "decimal" if self._score_type in ("decimal", "float") else "int"
            score: dict[str, Any] = {"unpivot": "value", "type": score_type}
            if score_type == "int":
                score["round"] = True  # '52.88' is 53 (half-up)
            if score_type == "decimal":
                score.update(precision=18, scale=2)
            columns = [
                f"app_id = {app_id}",
                f"score_identifier = {_inline({'unpivot': 'name', 'type': 'string', 'length': 50, 'nullable': False})}",
                f"score = {_inline(score)}",
            ]
            key, skip = ["app_id", "score_identifier"], ["score"]
        elif table == "indicators":
            columns = [
                f"app_id = {app_id}",
                f"indicator = {_inline({'unpivot': 'name', 'type': 'string', 'length': 50, 'nullable': False})}",
                f"value = {_inline({'unpivot': 'one', 'type': 'string', 'length': 10})}",
            ]
            key, skip = ["app_id", "indicator"], []
        elif table == "app_historical_lookup":
            columns = [
                f"app_id = {app_id}",
                f"name = {_inline({'unpivot': 'name', 'type': 'string', 'length': 100, 'nullable': False})}",
                f"source = {_inline({'unpivot': 'source', 'type': 'string', 'length': 100})}",
                # no truncation: a longer value fails the predecessor's insert, here the app
                f"value = {_inline({'unpivot': 'value', 'type': 'string', 'length': 250, 'on_overflow': 'reject'})}",
            ]
            key, skip = ["app_id", "name"], []
        else:
            has_key = any("fields" in p for p in pairs)
            columns = [
                f"app_id = {app_id}",
                f"name = {_inline({'unpivot': 'name', 'type': 'string', 'length': 100, 'nullable': False})}",
                f"value = {_inline({'unpivot': 'value', 'type': 'string', 'length': 250, 'on_overflow': 'reject'})}",
            ]
            if has_key:
                columns.append(
                    f"source_report_key = {_inline({'unpivot': 'source_report_key', 'type': 'string', 'length': 100})}"
                )
            key, skip = ["app_id", "name"], []
        head.append(f"key = {_q(key)}")
        ignore_text = f", ignore = {_q(ignore)}" if ignore else ""
        if table == "indicators":
            ignore_text = f", only = {_q(TRUTHY)}"
        head.append(f"unpivot = {{ pairs = [{listed}]{ignore_text} }}")
        if skip:
            head.append(f"skip_if_null = {_q(skip)}")
        return [*head, "", f"[tables.{_q(table)}.columns]", *columns, ""]


def import_contract(path: str | Path, strict: bool = False) -> Imported:
    """Translate the predecessor's JSON contract at ``path``; see the module docstring."""
    path = Path(path)
    source = str(path) if str(path).isprintable() else repr(str(path))
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise ContractImportError(
                f"{source}: is {size:,} bytes; the import reads at most {MAX_INPUT_BYTES:,} "
                "bytes (the predecessor's real contracts are under 50 kB): is it the contract?"
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise ContractImportError(f"{source}: cannot read: {exc.strerror or exc}") from None
    data = _parsed(_text(raw, source), source)
    _check_values(data, source)
    return _Importer(str(path), data, strict, path).run()


def _line_column(text: bytes | str, position: int) -> tuple[int, int]:
    """1-based line and column of ``position`` (a column counts characters)."""
    before = text[:position]
    if isinstance(before, bytes):
        before = before.decode("utf-8", "replace")
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def _text(raw: bytes, source: str) -> str:
    """The file's text: UTF-8 (a byte-order mark allowed), as JSON files are."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "UTF-32"),
        (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"),
        (codecs.BOM_UTF16_BE, "UTF-16"),
    ):
        if raw.startswith(bom):
            raise ContractImportError(
                f"{source}: is {encoding} text (it starts with a {encoding} byte-order mark): "
                "save it as UTF-8, the encoding of JSON files"
            )
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(raw, exc.start)
        raise ContractImportError(
            f"{source}: is not UTF-8 text: byte 0x{raw[exc.start]:02X} at line {line}, column "
            f"{column} is no UTF-8 character (a Latin-1 or Windows-1252 file?): save it as "
            "UTF-8, the encoding of JSON files"
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        line, column = _line_column(text, nul)
        raise ContractImportError(
            f"{source}: holds a NUL character at line {line}, column {column} (UTF-16 text "
            "without a byte-order mark, or no text at all?): save it as UTF-8"
        )
    return text


def _parsed(text: str, source: str) -> Any:
    try:
        return json.loads(text, parse_float=_float, parse_int=_int, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise ContractImportError(
            f"{source}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise ContractImportError(
            f"{source}: is nested more than {MAX_DEPTH} levels deep (the predecessor's format "
            "nests 4): not a contract"
        ) from None


def _check_values(data: Any, source: str) -> None:
    """Every value of the JSON is one the import can carry: text without lone surrogates,
    numbers Python holds, at most MAX_DEPTH levels of nesting. The first that is not is an
    error saying where it is (``mappings[3].xml_attribute``)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        at = f"{source}: {where or 'the contract'}"
        if depth > MAX_DEPTH:
            raise ContractImportError(
                f"{at} is nested more than {MAX_DEPTH} levels deep (the predecessor's format "
                "nests 4): not a contract"
            )
        if isinstance(value, dict):
            for key in value:
                if _surrogate(key):
                    raise ContractImportError(f"{at}: the key {_shown(key)} {_HALF_PAIR}")
            items = [(v, _json_path(where, k), depth + 1) for k, v in value.items()]
            stack.extend(reversed(items))
        elif isinstance(value, list):
            stack.extend(reversed([(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]))
        elif isinstance(value, str) and _surrogate(value):
            raise ContractImportError(f"{at}: {_shown(value)} {_HALF_PAIR}")
        elif isinstance(value, _Unreadable):
            raise ContractImportError(f"{at}: {_shown(value)} {value.why}")


_HALF_PAIR = (
    "holds a lone surrogate (half of a UTF-16 pair, such as \\ud800), which is no "
    "character: the file was written from broken text"
)
