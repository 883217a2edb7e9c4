"""``xmlmigrate contract``: check a contract, explain what it does to one document."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from rich.table import Table

from xmlmigrate.cli.common import console, contract_option, db_option, positive
from xmlmigrate.cli.render import show
from xmlmigrate.contract import (
    CompiledContract,
    compile_contract,
    load_contracts,
)
from xmlmigrate.db import make_engine
from xmlmigrate.db.schema import build_schema
from xmlmigrate.errors import UserError
from xmlmigrate.model import RawRecord, Rejection
from xmlmigrate.run.transform import transform_record
from xmlmigrate.sources import check_source, document_bytes
from xmlmigrate.stages.coverage import measure
from xmlmigrate.stages.errors import XmlRejected
from xmlmigrate.stages.validate import document_app_id
from xmlmigrate.stages.xml import parse_document


def _corpus_documents(
    args: argparse.Namespace, contract: CompiledContract
) -> Iterator[tuple[int | None, bytes | str]]:
    if args.corpus is not None:
        files = sorted(Path(args.corpus).rglob("*.xml"))
        if not files:
            raise UserError(f"no *.xml files under {args.corpus}")
        for f in files[: args.sample]:
            yield None, f.read_bytes()
        return
    schema = build_schema(contract)
    engine = make_engine(args.db)
    try:
        schema = check_source(engine, schema)  # each contract's own source table
        for src in schema.sources:
            yield from _sample(engine, src, args.sample)
    finally:
        engine.dispose()


SAMPLE_CHUNK_BYTES = 16 * 2**20  # documents of a sample fetched at once (never fewer than one)


def _sample(engine: sa.Engine, src: sa.Table, n: int) -> Iterator[tuple[int, bytes | str]]:
    """The first ``n`` documents of ``src`` by app id, streamed: their ids and sizes first,
    then the documents a key range at a time, each range within SAMPLE_CHUNK_BYTES. Never
    the whole sample in one result: psycopg and the ODBC drivers hold a result in memory."""
    sized = sa.select(src.c.app_id, document_bytes(src.c.xml, engine))
    with engine.connect() as conn:
        sizes = conn.execute(sized.order_by(src.c.app_id).limit(n)).all()
    chunk: list[int] = []
    held = 0
    for app_id, size in sizes:
        if chunk and held + int(size) > SAMPLE_CHUNK_BYTES:
            yield from _documents(engine, src, chunk)
            chunk, held = [], 0
        chunk.append(int(app_id))
        held += int(size)
    if chunk:
        yield from _documents(engine, src, chunk)


def _documents(
    engine: sa.Engine, src: sa.Table, ids: list[int]
) -> Iterator[tuple[int, bytes | str]]:
    stmt = sa.select(src.c.app_id, src.c.xml).where(src.c.app_id.between(ids[0], ids[-1]))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    wanted = set(ids)  # a document added inside the range since is not the sample's
    for app_id, xml in sorted(rows, key=lambda r: int(r[0])):
        if int(app_id) in wanted:
            yield int(app_id), xml


def cmd_contract_check(args: argparse.Namespace) -> int:
    contract = load_contracts(args.file)  # several: each checked, then checked together
    console.print(
        f"[bold]{contract.name}[/bold] v{contract.version} ({contract.source}): valid — "
        f"{len(contract.tables)} tables, {contract.field_count} mapped fields, "
        f"{len(contract.enums)} enums, {len(contract.checks)} checks"
    )
    tables = Table(show_edge=False)
    for heading in ("table", "parent", "rows", "key", "columns", "calculated"):
        tables.add_column(heading)
    for t in contract.tables:
        tables.add_row(
            t.name,
            t.parent or "",
            t.rows,
            ", ".join(t.key),
            str(len(t.columns)),
            str(len(t.computed)),
        )
    console.print(tables)
    console.print(
        "Enums: " + ", ".join(f"{name} ({len(codes)})" for name, codes in contract.enums.items())
    )
    if args.corpus is None and args.db is None:
        return 0
    cov = measure(contract, _corpus_documents(args, contract))
    console.print(
        f"Sample: {cov.documents:,} documents ({cov.unreadable:,} not readable as "
        f"{contract.product_line} applications)"
    )
    missing = cov.never_matched(contract)
    if not missing:
        console.print("Every row path and attribute path matched at least once.")
        return 0
    console.print(f"[yellow]{len(missing)} paths never matched anything:[/yellow]")
    for line in missing:
        console.print(f"  {line}", highlight=False)
    return 1


def _explaining(args: argparse.Namespace, data: bytes) -> CompiledContract:
    """The contract that maps this document: the one given (positional or ``--contract``),
    else — several given, as ``run`` takes them — the one whose application element the
    document has (the first when none is found: its validation then says why)."""
    paths = [*([args.file] if args.file else []), *(args.contract or [])]
    combined = load_contracts(paths)
    if not combined.members:
        return combined
    why = "the first given: the document cannot be read"
    chosen = combined.members[0]
    try:
        root = parse_document(data).root
    except XmlRejected:
        root = None
    if root is not None:
        chosen = combined.route(root)
        why = (
            "the contract whose application element the document has"
            if root.find(chosen.application) is not None
            else "the first given: the document has none of their application elements"
        )
    console.print(
        f"Explained by {Path(chosen.source).name} ({chosen.product_line}): {why}",
        highlight=False,
        markup=False,
    )
    return chosen


def cmd_contract_explain(args: argparse.Namespace) -> int:
    data = Path(args.xml).read_bytes()
    contract = _explaining(args, data)
    app_id = args.app_id
    if app_id is None:  # where this contract says the app id is (not a Provenir guess)
        try:
            root = parse_document(data, scope=contract.scope).root
        except XmlRejected:
            root = None
        app_id = (document_app_id(root, contract) if root is not None else None) or 0
    result = transform_record(RawRecord(app_id, data), contract, explain=True)
    if isinstance(result, Rejection):
        console.print(f"[red]rejected[/red] ({result.stage}): {result.reason}", highlight=False)
        return 1
    notes: dict[tuple[str, str, str], list[str]] = {}
    for table_name, key, column, what in result.events:
        notes.setdefault((table_name, key, column), []).append(what)
    for table in contract.tables:
        rows = result.rows[table.name]
        console.print(f"\n[bold]{table.name}[/bold]: {len(rows)} row(s)")
        for row in rows:
            key = ", ".join(f"{k}={row.get(k)}" for k in table.key)
            grid = Table(show_edge=False, title=key, title_justify="left")
            grid.add_column("column")
            grid.add_column("value")
            grid.add_column("note")
            for name, value in row.items():
                grid.add_row(name, show(value), ", ".join(notes.get((table.name, key, name), [])))
            console.print(grid)
    console.print(
        f"\nDefaults applied: {result.defaulted}   truncated: {result.truncated}   "
        f"invalid → NULL: {result.invalid}   clamped: {result.clamped}"
    )
    if result.warnings:
        console.print("Warnings:")
        for w in result.warnings:
            console.print(f"  {w.code}: {w.detail}", highlight=False)
    return 0


def _write_whole(path: Path, text: str) -> None:
    """``text`` into ``path`` all at once or not at all: written beside it and renamed over
    it, so that a failure leaves what was there (and no temporary file)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("x", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            shutil.copymode(path, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def cmd_contract_import(args: argparse.Namespace) -> int:
    from xmlmigrate.contract.import_ import import_contract

    out = args.out or Path(args.file).with_suffix(".toml")
    result = import_contract(args.file, strict=args.strict)
    compile_contract(result.toml, str(out))  # what it writes must load
    _write_whole(out, result.toml)  # only now, and whole
    console.print(
        f"Imported {args.file} → {out}: {result.tables} tables, {result.columns} columns, "
        f"{result.enums} enums; {len(result.notes)} note(s)",
        highlight=False,
        markup=False,  # names and expressions hold brackets
    )
    for note in result.notes:
        console.print(f"  {note}", highlight=False, markup=False)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    contract_parser = sub.add_parser(
        "contract", help="check a mapping contract or explain what it does to a document"
    )
    contract_sub = contract_parser.add_subparsers(dest="contract_command", required=True)
    check = contract_sub.add_parser(
        "check",
        help="validate a contract; with a sample, list paths that never matched",
        description="Validate a contract and print its tables and enums. With --corpus or "
        "--db, also walk sample documents and list every row path and attribute path that "
        "never matched (exit status 1 if any).",
    )
    check.set_defaults(func=cmd_contract_check)
    check.add_argument(
        "file",
        nargs="*",
        help="contract file(s) (default: the shipped provenir_cc); several are also checked "
        "as one run would combine them (shared tables and enums must agree)",
    )
    sample = check.add_mutually_exclusive_group()
    sample.add_argument("--corpus", metavar="DIR", help="directory of *.xml documents")
    db_option(sample, "database whose app_xml holds documents")
    check.add_argument(
        "--sample", type=positive, default=500, help="documents to read (default %(default)s)"
    )
    imp = contract_sub.add_parser(
        "import",
        help="convert the predecessor's JSON mapping contract into this tool's TOML",
        description="Translate an XmlConversion JSON contract (enums, bit maps, one-row-per-"
        "application tables and their field mapping types). Where the predecessor's behaviour "
        "is a defect the import follows the evident intent and prints a numbered note "
        "(--strict: an error); a mapping it cannot translate yet is an error naming it.",
    )
    imp.set_defaults(func=cmd_contract_import)
    imp.add_argument("file", type=Path, help="the JSON contract")
    imp.add_argument("--out", type=Path, help="TOML file to write (default: FILE.toml)")
    imp.add_argument("--strict", action="store_true", help="treat notes as errors")
    explain = contract_sub.add_parser(
        "explain",
        help="show the rows one document gets, warnings, defaults and truncations",
        description="Map one document and print, per table, its rows with the columns that "
        "took defaults, were truncated, clamped or invalid, and the warnings.",
    )
    explain.set_defaults(func=cmd_contract_explain)
    explain.add_argument("file", nargs="?", help="contract file (default: the shipped provenir_cc)")
    contract_option(explain)
    explain.add_argument("--xml", required=True, metavar="DOC", help="the XML document")
    explain.add_argument("--app-id", type=int, help="app id (default: the document's Request/@ID)")
