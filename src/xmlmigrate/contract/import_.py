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
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xmlmigrate.contract import import_expr as ix
from xmlmigrate.contract.compiled import parse_source
from xmlmigrate.errors import UserError

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


class ContractImportError(UserError):
    """The JSON contract cannot be imported; the message says where."""


@dataclass
class Imported:
    toml: str
    notes: list[str] = field(default_factory=list)
    tables: int = 0
    columns: int = 0
    enums: int = 0


def _q(value: Any) -> str:
    """A TOML value: strings as basic strings (JSON escapes are TOML's), lists, numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_q(v) for v in value) + "]"
    if isinstance(value, dict):
        return _inline(value)
    return json.dumps(str(value), ensure_ascii=False)


def _inline(spec: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{k} = {_q(v)}" for k, v in spec.items()) + " }"


def _attribute(m: dict[str, Any]) -> str:
    attr = m.get("xml_attribute")
    if not isinstance(attr, str) or not attr:
        raise ValueError("xml_attribute is required")
    return attr


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
    raise ValueError(f"mapping_type must be a list or a comma-separated string, not {raw!r}")


def _tokens_or_empty(raw: Any) -> list[str]:
    try:
        return _tokens(raw)
    except ValueError:
        return []


class _Importer:
    def __init__(self, source: str, data: Any, strict: bool) -> None:
        if not isinstance(data, dict):
            raise ContractImportError(f"{source}: the contract must be a JSON object")
        self.source = source
        self.data = data
        self.strict = strict
        self.notes: list[str] = []
        self.errors: list[str] = []
        self.kv: dict[str, list[dict[str, Any]]] = {}
        # grouped rows (spec §9.4 policy exceptions, §9.5): table → group → column → how
        self.groups: dict[str, dict[str, dict[str, tuple[str, dict[str, Any]]]]] = {}
        self.notes_path: dict[str, str] = {}
        self._score_type = "int"

    def differs(self, where: str, predecessor: str, instead: str) -> None:
        """A numbered note where this engine works differently (not a predecessor defect:
        never an error under --strict)."""
        text = f"{where}: the predecessor {predecessor}; the import {instead}"
        if not any(n.endswith(text) for n in self.notes):
            self.notes.append(f"{len(self.notes) + 1}. {text}")

    def note(self, where: str, predecessor: str, instead: str) -> None:
        text = f"{where}: the predecessor {predecessor}; the import {instead}"
        if any(n.endswith(text) or n.startswith(text) for n in (*self.notes, *self.errors)):
            return
        if self.strict:
            self.errors.append(f"{text} (--strict)")
        else:
            self.notes.append(f"{len(self.notes) + 1}. {text}")

    def run(self) -> Imported:
        d = self.data
        root = d.get("xml_root_element")
        app_path = d.get("xml_application_path")
        if not isinstance(root, str) or not root or not isinstance(app_path, str):
            raise ContractImportError(
                f"{self.source}: xml_root_element and xml_application_path are required"
            )
        steps = [s for s in app_path.split("/") if s]
        if len(steps) < 2 or steps[0] != root:
            raise ContractImportError(
                f"{self.source}: xml_application_path {app_path!r} must start at /{root}"
            )
        self.app_path = "/" + "/".join(steps)
        unknown = sorted(k for k in d if k not in TOP_LEVEL_KEYS)
        if unknown:
            raise ContractImportError(
                f"{self.source}: unknown top-level key(s) {', '.join(map(repr, unknown))}: not "
                "part of the predecessor's format as this import knows it"
            )
        mappings = d.get("mappings")
        if not isinstance(mappings, list) or not mappings:
            raise ContractImportError(f"{self.source}: mappings must be a non-empty list")
        enums = self._enums(d.get("enum_mappings") or {})
        self.rules = self._rules(d.get("element_filtering"))
        bits = d.get("bit_conversions") or {}
        tables: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        used_enums: set[str] = set()
        for i, m in enumerate(mappings):
            where = self._where(i, m)
            try:
                unknown = (
                    sorted(k for k in m if k not in MAPPING_KEYS) if isinstance(m, dict) else []
                )
                if unknown:
                    raise ValueError(
                        f"unknown key(s) {', '.join(map(repr, unknown))}: not part of the "
                        "predecessor's format as this import knows it"
                    )
                if self._key_value(where, m):
                    continue
                if self._grouped(where, m, enums, bits, used_enums):
                    continue
                column = self._column(where, m, enums, bits, used_enums)
            except ValueError as exc:
                self.errors.append(f"{where}: {exc}")
                continue
            if column is not None:
                tables.setdefault(m["target_table"], []).append((m["target_column"], column))
        if self.errors:
            shown = "\n  ".join(self.errors[:50])
            more = f"\n  … and {len(self.errors) - 50} more" if len(self.errors) > 50 else ""
            raise ContractImportError(
                f"{self.source}: {len(self.errors)} mapping(s) cannot be imported:\n  {shown}{more}"
            )
        if "app_base" not in tables:
            raise ContractImportError(f"{self.source}: no mapping targets app_base")
        for table in [*self.kv, *self.groups]:
            tables.setdefault(table, [])
        return self._render(root, steps, tables, {n: enums[n] for n in sorted(used_enums)})

    def _key_value(self, where: str, m: Any) -> bool:
        """A key/value mapping becomes a listed pair of its table; False if it is none."""
        if not isinstance(m, dict):
            return False
        tokens = _tokens(m.get("mapping_type"))
        kv = [t for t in tokens if t.split("(", 1)[0] in KV_TOKENS]
        if not kv:
            return False
        selectors = [t for t in tokens if t in SELECTORS]
        if len(tokens) - len(selectors) > 1 or len(selectors) > 1:
            raise ValueError(
                f"mapping type {', '.join(tokens)}: a key/value token takes at most one contact "
                "selector and nothing else"
            )
        token = kv[0]
        kind, _, rest = token.partition("(")
        param = rest[:-1].strip() if rest.endswith(")") else None
        table = KV_TOKENS[kind]
        if m.get("target_table") != table:
            if m.get("target_table") not in KV_TOKENS.values():
                raise ValueError(f"{kind} writes {table}, not {m.get('target_table')!r}")
            self.differs(
                where,
                f"was given {token} with target_table {m.get('target_table')!r} (what it "
                "writes then is not specified)",
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
        """element_type → (child path, type attribute, allowed types in priority order)."""
        rules = raw.get("filter_rules", []) if isinstance(raw, dict) else []
        out: dict[str, tuple[str, str, list[str]]] = {}
        for rule in rules if isinstance(rules, list) else []:
            if not isinstance(rule, dict) or not isinstance(rule.get("element_type"), str):
                continue
            required = rule.get("required_attributes") or {}
            typed = [(k, v) for k, v in required.items() if isinstance(v, list) and v]
            child = rule.get("xml_child_path")
            if typed and isinstance(child, str):
                out[rule["element_type"]] = (child, typed[0][0], [str(v) for v in typed[0][1]])
        return out

    def _rule(self, kind: str) -> tuple[str, str, list[str]]:
        rule = self.rules.get(kind)
        if rule is None:
            raise ContractImportError(
                f"{self.source}: element_filtering has no '{kind}' rule with a typed attribute"
            )
        return rule

    def _where(self, i: int, m: Any) -> str:
        if isinstance(m, dict):
            return (
                f"{self.source}: mappings[{i}] ({m.get('target_table')}.{m.get('target_column')})"
            )
        return f"{self.source}: mappings[{i}]"

    def _enums(self, raw: Any) -> dict[str, dict[str, int]]:
        if not isinstance(raw, dict):
            raise ContractImportError(f"{self.source}: enum_mappings must be an object")
        out: dict[str, dict[str, int]] = {}
        owners: dict[int, tuple[str, str]] = {}
        self.text_enums: dict[str, dict[str, str]] = {}
        for name, codes in raw.items():
            if not isinstance(codes, dict):
                raise ContractImportError(f"{self.source}: enum_mappings.{name} must be an object")
            if all(isinstance(v, int) and not isinstance(v, bool) for v in codes.values()):
                out[name] = dict(codes)
                for code, value in codes.items():
                    first = owners.setdefault(value, (name, code))
                    if first[0] != name:
                        self.note(
                            f"{self.source}: enum_mappings",
                            f"writes id {value} for both {first[0]} {first[1]!r} and {name} "
                            f"{code!r} (one id in two enums: a typo in one of them, most likely)",
                            "writes the same id, as given; app_enums seeds it once, as "
                            f"{first[0]} {first[1]!r}",
                        )
            elif all(isinstance(v, str) for v in codes.values()):
                self.text_enums[name] = dict(codes)  # e.g. officer code → e-mail address
            else:
                raise ContractImportError(
                    f"{self.source}: enum_mappings.{name}: values must all be integer ids or "
                    "all be text"
                )
        return out

    def _column(
        self,
        where: str,
        m: Any,
        enums: dict[str, dict[str, int]],
        bits: dict[str, Any],
        used_enums: set[str],
        grouped: bool = False,
    ) -> dict[str, Any] | None:
        if not isinstance(m, dict):
            raise ValueError("a mapping must be an object")
        for key in ("xml_path", "target_table", "data_type"):
            if not isinstance(m.get(key), str) or not m[key]:
                raise ValueError(f"{key} is required")
        table, column = m["target_table"], m.get("target_column") or ""
        tokens = _tokens(m.get("mapping_type"))
        calculated = "calculated_field" in tokens
        if calculated:
            if tokens[0] != "calculated_field" or (tokens[1:] and tokens[1:] != ["enum"]):
                raise ValueError(
                    f"mapping type {', '.join(tokens)}: calculated_field is imported alone or "
                    "followed by enum"
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
            raise ValueError(f"mapping type {', '.join(unknown)} is not one the predecessor knows")
        if table in DEDICATED and not grouped:
            raise ValueError(
                f"table {table} is built by the predecessor's dedicated code: a mapping to it "
                "needs its row-creating mapping type"
            )
        if not column:
            raise ValueError("target_column is required")
        text_enum = self._text_enum(m) if "enum" in tokens else None
        empty_enum = (
            "enum" in tokens
            and text_enum is None
            and self._enum_name(m, enums) in {n for n, codes in enums.items() if not codes}
        )
        if empty_enum:
            self.differs(
                where,
                f"looks codes up in the empty enum {self._enum_name(m, enums)} and stores NULL",
                "makes the column one that is always NULL",
            )
            spec: dict[str, Any] = {"expr": "NULL", "type": "int"}
        elif text_enum is not None:
            if selectors or len(tokens) > 1:
                raise ValueError(f"mapping type {', '.join(tokens)} with the text enum {text_enum}")
            spec = self._text_enum_column(where, m, table, text_enum, calculated)
        elif calculated:
            typed = self._type(where, m, tokens, enums, bits, used_enums)
            expr = self._calculated(where, m, table, typed, enums)
            # the predecessor's defaults of bits and catch-all codes do not apply to a
            # calculation; its default_value only fills a NULL of a required column (§10.2)
            skip = ("extract", "default")
            spec = {"expr": expr, **{k: v for k, v in typed.items() if k not in skip}}
        else:
            if selectors:
                spec = self._selected(where, m, selectors[0])
                typed = self._type(where, m, tokens, enums, bits, used_enums)
                if typed["type"] == "bit" and selectors[0] != "curr_address_only":
                    spec = self._selected_bit(spec, typed)
            elif table == CONTACT or table in CONTACT_CHILDREN:
                if column in ("con_id", "app_id"):
                    return None  # keys: set by the predecessor's code, and by the import's
                spec = self._contact_source(table, m)
            else:
                spec = dict(self._source(m))
            if "expr" not in spec:
                spec.update(self._type(where, m, tokens, enums, bits, used_enums))
        if m.get("nullable") is False:
            spec["nullable"] = False
        default = m.get("default_value")
        if calculated and m.get("nullable") is not False:
            default = None
        if isinstance(default, str) and re.fullmatch(r"[A-Za-z_]+\(\)", default.strip()):
            self.differs(
                where,
                f"leaves {default} (a SQL function) to the database's column default",
                "writes NULL where the value is blank (its tables have no SQL defaults)",
            )
            default = None
        if default is not None and "default" not in spec and default != "":
            if spec["type"] == "enum":  # the predecessor's default is the stored id
                codes = enums[spec["enum"]]
                by_id = {v: c for c, v in codes.items()}
                if isinstance(default, int) and default in by_id:
                    default = by_id[default]
                elif str(default) not in codes:
                    raise ValueError(
                        f"default {default!r} is neither an id nor a code of enum {spec['enum']}"
                    )
            spec["default"] = default if isinstance(default, str) else str(default)
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
            source = f"VALUE('@{attr}')"
        else:
            source = f"VALUE('{self._path_of(self._source(m))}')"
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
        if not isinstance(length, int) or length <= 0:
            length = DEFAULT_STRING_LENGTH
        return {"expr": expr, "type": "string", "length": length}

    def _grouped(
        self,
        where: str,
        m: Any,
        enums: dict[str, dict[str, int]],
        bits: dict[str, Any],
        used_enums: set[str],
    ) -> bool:
        """A mapping of a grouped row (policy_exceptions, warranty_field, add_collateral):
        one row per group of the table, each column read along its own path; False if the
        mapping is none."""
        if not isinstance(m, dict):
            return False
        tokens = _tokens(m.get("mapping_type"))
        found = [t for t in tokens if t.split("(", 1)[0] in GROUP_TOKENS]
        if not found:
            return False
        token = found[0]
        kind, _, rest = token.partition("(")
        param = rest[:-1].strip() if rest.endswith(")") else ""
        table = GROUP_TOKENS[kind]
        if m.get("target_table") != table:
            raise ValueError(f"{kind} writes {table}, not {m.get('target_table')!r}")
        if len(found) > 1:
            raise ValueError(f"mapping type {', '.join(tokens)}: two grouping tokens")
        if kind != "policy_exceptions" and not param.isdigit():
            raise ValueError(f"{token}: the group must be a number")
        if kind == "policy_exceptions" and param and not param.isdigit():
            raise ValueError(f"{token}: the exception type must be a number")
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
        spec = self._column(where, plain, enums, bits, used_enums, grouped=True)
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
            raise ValueError(f"{token}: column {column!r} is mapped twice in this group")
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
        target = {
            "string": ix.TEXT,
            "int": ix.NUMBER,
            "bigint": ix.NUMBER,
            "decimal": ix.NUMBER,
            "enum": ix.NUMBER,
            "date": ix.DATE,
            "datetime": ix.DATETIME,
            "bit": ix.BIT,
        }[kind]
        expr = self._translator(where, table).translate(m.get("expression") or "", target)
        if kind == "enum":
            # with enum after it, the predecessor looks the raw attribute up when the
            # expression gives nothing (spec §7.1 step 3)
            codes = enums[typed["enum"]]
            raw = (
                f"UPPER(VALUE('@{_attribute(m)}'))"
                if table != CONTACT
                else f"UPPER(@{_attribute(m)})"
            )
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
        """Names of the predecessor's evaluation context (spec §11.1) → expressions of text."""
        if table == CONTACT or table in CONTACT_CHILDREN:

            def element(name: str) -> str:
                if table != CONTACT and name == "con_id":
                    return "VALUE('../@con_id')"
                return f"VALUE('@{name.split('.')[-1]}')"

            return element
        app_element = self.app_path.rsplit("/", 1)[-1]
        app_table = str(self.data.get("source_application_table") or app_element)
        up = "/".join([".."] * (len(self.app_path.strip("/").split("/")) - 2))

        def app_level(name: str) -> str:
            if name == "app_id":
                return f"VALUE('{up}/@ID')"
            head, _, attr = name.rpartition(".")
            if head.lower() == "contact":
                if "contact" not in self.rules:
                    raise ValueError(f"{name}: element_filtering has no typed contact rule")
                contact_path, type_attr, roles = self.rules["contact"]
                contacts = self._relative(contact_path)
                self.differs(
                    where,
                    f"reads {name} from the first valid contact, {roles[0]} first",
                    f"reads it from the first {roles[0]} contact",
                )
                return f"VALUE('{contacts}[@{type_attr}=''{roles[0]}'']/@{attr}')"
            if head.lower() in ("application", app_table.lower(), app_element.lower()):
                return f"VALUE('@{self._attr_case(attr, self.app_path)}')"
            if head:
                path = self._element_named(head)
                if path is None:
                    raise ValueError(
                        f"{name}: no mapping reads an element named {head!r}, so where it "
                        "lies is unknown"
                    )
                return f"VALUE('{path}/@{self._attr_case(attr, None)}')"
            found = self._elements_with(attr)
            if not found:  # no mapping reads it: any element the contract reads may hold it
                found = [f"{p}/@{attr}" if p else f"@{attr}" for p in self._elements()]
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
                    f"takes the first of {', '.join(found)} that does (elements later in the "
                    "document first, the application's own attributes last)",
                )
            if len(found) == 1:
                return f"VALUE('{found[0]}')"
            return "COALESCE(" + ", ".join(f"VALUE('{p}')" for p in found) + ")"

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

    @functools.cached_property
    def _mapped(self) -> list[dict[str, Any]]:
        """The mappings that read an attribute of an app-level element (what names in
        calculations resolve against); computed once."""
        return [
            m
            for m in self.data.get("mappings") or []
            if isinstance(m, dict)
            and isinstance(m.get("xml_path"), str)
            and isinstance(m.get("xml_attribute"), str)
            and m.get("target_table") not in (CONTACT, *CONTACT_CHILDREN)
            and not any(t in SELECTORS for t in _tokens_or_empty(m.get("mapping_type")))
        ]

    def _attr_case(self, attr: str, xml_path: str | None) -> str:
        for m in self._mapped:
            if m["xml_attribute"].lower() == attr.lower() and (
                xml_path is None or m["xml_path"].rstrip("/") == xml_path
            ):
                return str(m["xml_attribute"])
        return attr

    def _element_named(self, segment: str) -> str | None:
        for m in self._mapped:
            path = m["xml_path"].rstrip("/")
            if path.rsplit("/", 1)[-1].lower() == segment.lower():
                return self._app_relative(path)
        return None

    def _elements(self) -> list[str]:
        """Every element (relative to the application element, '' for itself) an
        application-level mapping reads, later mappings first, the application last."""
        out: list[str] = []
        for m in reversed(self._mapped):
            rel = self._app_relative(m["xml_path"].rstrip("/"))
            if rel is not None and rel not in out:
                out.append(rel)
        if "" not in out:
            out.append("")
        out.sort(key=lambda p: p == "")
        return out

    def _elements_with(self, attr: str) -> list[str]:
        """Where a bare name may be read: every element a mapping reads that attribute from,
        as the predecessor's context holds every element's attributes and the later one wins
        — elements of the contract's later mappings first (nested ones come later in a
        document), the application element's own attributes last."""
        found: list[str] = []
        for m in reversed(self._mapped):
            if m["xml_attribute"].lower() != attr.lower():
                continue
            rel = self._app_relative(m["xml_path"].rstrip("/"))
            if rel is None:
                continue
            path = f"{rel}/@{m['xml_attribute']}" if rel else f"@{m['xml_attribute']}"
            if path not in found:
                found.append(path)
        found.sort(key=lambda p: p.startswith("@"))  # the application's own: last
        return found

    def _selected(self, where: str, m: dict[str, Any], selector: str) -> dict[str, Any]:
        """A contact selector (spec §7.3) as an element path with predicates."""
        attr = _attribute(m)
        _, type_attr, roles = self._rule("contact")
        address_path, address_type, address_types = self._rule("address")
        address = address_path.rstrip("/").rsplit("/", 1)[-1]
        preferred = f"[@{address_type}='{address_types[0]}']"
        if selector == "curr_address_only":
            if m["target_table"] != CONTACT:
                raise ValueError(
                    "curr_address_only reads the current contact's address: the predecessor "
                    "uses it in app_contact_base only"
                )
            return {"path": f"{address}{preferred}[last]/@{attr}"}
        index = SELECTORS[selector]
        assert index is not None
        if index >= len(roles):
            raise ValueError(f"{selector}: the contact rule lists no role {index + 1}")
        contact_path = self._relative(self._rule("contact")[0])
        if selector == "authu_contact":
            contact_path = (
                contact_path.rsplit("/", 1)[0] + "/contact" if "/" in contact_path else "contact"
            )
        chosen = f"{contact_path}[@{type_attr}='{roles[index]}'][last]"
        self.differs(
            where,
            f"takes the last {roles[index]} contact that has a con_id",
            f"takes the last {roles[index]} contact",
        )
        if m["target_table"] == "app_contact_address" or address in m["xml_path"]:
            self.differs(
                where,
                f"takes its first {address_types[0]} address with a value, else its last",
                f"takes its first {address_types[0]} address",
            )
            return {"path": f"{chosen}/{address}{preferred}/@{attr}"}
        if "app_prod_bcard" in m["xml_path"]:
            return {"path": f"{chosen}/app_prod_bcard[last]/@{attr}"}
        return {"path": f"{chosen}/@{attr}"}

    def _selected_bit(self, spec: dict[str, Any], typed: dict[str, Any]) -> dict[str, Any]:
        """A bit map after a contact selector (``[authu_contact, char_to_bit]``): NULL when
        there is no such contact (the selector gives None), else the bit, 0 for a blank or
        unknown code (spec §7.3)."""
        _, type_attr, _ = self._rule("contact")
        path = str(spec["path"])
        contact = path[: path.index("[last]") + len("[last]")]
        exists = f"VALUE('{contact}/@{type_attr}')".replace("='", "=''").replace("']", "'']")
        value = f"VALUE('{path}')".replace("='", "=''").replace("']", "'']")
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
            raise ValueError(f"xml_path {m['xml_path']!r} lies outside the document root")
        return {"path": f"{rel}/@{attr}"}

    def _type(
        self,
        where: str,
        m: dict[str, Any],
        tokens: list[str],
        enums: dict[str, dict[str, int]],
        bits: dict[str, Any],
        used_enums: set[str],
    ) -> dict[str, Any]:
        dtype = m["data_type"].lower()
        length = m.get("data_length")
        if "enum" in tokens:
            found = self._enum_name(m, enums)
            if found is None:
                raise ValueError(f"no enum for {m['target_column']!r} among enum_mappings")
            used_enums.add(found)
            if "" in enums[found]:
                # the predecessor's catch-all: blank and unknown codes both take it (its
                # default_value only comes after); here, the column's default
                return {"type": "enum", "enum": found, "default": ""}
            return {"type": "enum", "enum": found}
        for token in ("char_to_bit", "boolean_to_bit"):
            if token in tokens:
                table = bits.get(token)
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
            elif not isinstance(length, int) or length <= 0:
                self.note(where, "does not limit the length", f"uses {DEFAULT_STRING_LENGTH}")
                length = DEFAULT_STRING_LENGTH
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
                scale = length if isinstance(length, int) and length >= 0 else 2
                spec.update(precision=18, scale=scale)
                if dtype == "float":
                    self.note(where, "stores a float", f"stores decimal(18,{scale})")
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
        self.note(where, f"treats data_type {dtype!r} as a string", "does the same")
        return {"type": "string", "length": DEFAULT_STRING_LENGTH}

    def _render(
        self,
        root: str,
        steps: list[str],
        tables: dict[str, list[tuple[str, dict[str, Any]]]],
        enums: dict[str, dict[str, int]],
    ) -> Imported:
        order = [t for t in (self.data.get("table_insertion_order") or []) if t in tables]
        order += sorted(t for t in tables if t not in order)
        order.remove("app_base")
        schema = self.data.get("target_schema") or "dbo"
        placement = []
        if isinstance(schema, str) and schema != "dbo":
            self.differs(
                f"{self.source}: target_schema",
                f"writes every table to the schema {schema!r}",
                "leaves the schema to the connection: PostgreSQL URL "
                f"'?options=-csearch_path%3D{schema}', SQL Server the login's default schema, "
                f"MariaDB the database {schema!r} in the URL, SQLite none (docs/contract.md)",
            )
            placement = [
                f"# the predecessor's target_schema {schema!r}: choose it through the --db URL "
                "(docs/contract.md, 'Schemas')"
            ]
        lines = [
            f"# imported from {Path(self.source).name} by xmlmigrate contract import",
            *placement,
            "[contract]",
            f"name = {_q(Path(self.source).stem)}",
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
            raise ContractImportError(f"{self.source}: source_table/source_column: {exc}") from None
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
                raise ContractImportError(
                    f"{self.source}: {table}: no mapping reads the {kind} type "
                    f"attribute {type_attr!r}, which its key needs"
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
            raise ContractImportError(
                f"{self.source}: contact path {path!r} lies outside {self.app_path}"
            )
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
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ContractImportError(f"{source}: cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractImportError(
            f"{source}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    return _Importer(source, data, strict).run()
