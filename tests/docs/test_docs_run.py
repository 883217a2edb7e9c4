"""The README executes: the documented commands are run and the figures quoted from them checked.

Not part of the README's test command (`pytest -n auto` collects `testpaths`, tests/unit and
tests/db); CI runs it as its own stage: `pytest -p no:xdist tests/docs`.

Conventions in README.md and docs/*.md (HTML comments: invisible when rendered):

* every ```bash block is preceded, on the line before its fence, by one of
  ``<!-- runnable -->``, ``<!-- runnable: postgres -->`` (run on the embedded SQLite default
  and again on a fresh PostgreSQL database), optionally followed by
  ``files=DEST:SRC,DEST:SRC`` (repository files copied into the run's directory under the
  names the block uses), or ``<!-- not runnable: REASON -->``;
* after the closing fence, one ``<!-- output: TEXT -->`` line per figure the docs quote from
  the block's output: TEXT must appear in the output (stdout and stderr, ANSI codes removed),
  and in the document itself outside comments, so the check is tied to the quoted figure.

How a runnable block is run: in a new temporary directory, by `bash -eo pipefail`, with the
current interpreter's bin directory first on PATH (so `xmlmigrate` is the one under test) and
no VIRTUAL_ENV or XMLMIGRATE_* variables. In a `&&` chain, the segments that make the
environment (`python3 -m venv …`, `. .venv/bin/activate`, `pip install …`) are dropped: the
environment is the one CI installed with `pip install -e ".[dev]"`. The word `URL` is replaced
by the target (`sqlite:///docs.db`, or the PostgreSQL database). Comments after `#` are
left to bash.

Figures the docs quote from measurements (timings, rates, runs on other data) are not checked:
they say where and with which command they were measured ("Measured here", "measured on …").

Every relative link in these documents must name a file of the repository, and a `#anchor` a
heading of the target document.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from xmlmigrate.testing.plugin import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PG = os.environ.get("XMLMIGRATE_TEST_PG", "postgres@127.0.0.1:5432")
SQLITE_URL = "sqlite:///docs.db"
BLOCK_TIMEOUT = 120  # seconds; runnable blocks are meant to finish in seconds

MARKER = re.compile(r"^<!--\s*(runnable|not runnable)\s*(?::\s*(.*?))?\s*-->\s*$")
OUTPUT = re.compile(r"^<!--\s*output:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")
COMMENT = re.compile(r"<!--.*?-->", re.S)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
ENV_SEGMENT = re.compile(
    r"^\s*(python3?\s+-m\s+venv\b.*|\.\s+\S*\.venv/bin/activate|source\s+\S*\.venv/bin/activate|pip3?\s+install\b.*?)\s*$"
)


@dataclass
class Block:
    doc: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    marker: str | None = None  # "runnable", "not runnable" or None
    options: str = ""
    outputs: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def parse_blocks(doc: Path, text: str | None = None) -> list[Block]:
    lines = (doc.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group(1), m.group(2)
        start = i
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence):
            j += 1
        block = Block(doc, start + 1, lang, "\n".join(lines[start + 1 : j]))
        prev = lines[start - 1] if start > 0 else ""
        if mm := MARKER.match(prev.strip()):
            block.marker, block.options = mm.group(1), mm.group(2) or ""
        k = j + 1
        while k < len(lines) and (om := OUTPUT.match(lines[k].strip())):
            block.outputs.append(om.group(1))
            k += 1
        blocks.append(block)
        i = j + 1
    return blocks


def _options(block: Block) -> tuple[bool, dict[str, str]]:
    postgres = False
    files: dict[str, str] = {}
    for token in block.options.split():
        if token == "postgres":
            postgres = True
        elif token.startswith("files="):
            for pair in token.removeprefix("files=").split(","):
                dest, _, src = pair.partition(":")
                files[dest] = src
        else:
            raise AssertionError(f"{block.where}: unknown runnable option {token!r}")
    return postgres, files


def shell_script(block: Block, url: str) -> str:
    """The block as it is run: environment-making `&&` segments dropped, `URL` replaced."""
    out = []
    for line in block.text.splitlines():
        segments = [s for s in line.split("&&") if not ENV_SEGMENT.match(s)]
        if not segments:
            continue
        out.append(re.sub(r"\bURL\b", url, "&&".join(segments).strip()))
    return "\n".join(out) + "\n"


def _normalized(text: str) -> str:
    return " ".join(text.split())


def prose(doc_text: str) -> str:
    """The document as a reader sees it: comments removed, whitespace normalized."""
    return _normalized(COMMENT.sub(" ", doc_text))


def figure_problems(block: Block, output: str, doc_text: str) -> list[str]:
    """Each quoted figure that the output does not show, or that the document does not quote."""
    seen = _normalized(ANSI.sub("", output))
    visible = prose(doc_text)
    problems = []
    for figure in block.outputs:
        want = _normalized(figure)
        if want not in seen:
            problems.append(
                f"{block.where}: the docs quote {figure!r}; the output does not show it"
            )
        if want not in visible:
            problems.append(
                f"{block.where}: <!-- output: {figure} --> is not quoted in the document's text"
            )
    return problems


def _slug(heading: str) -> str:
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    in_fence = False
    for line in doc.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (m := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)):
            slug = _slug(m.group(1))
            n = counts.get(slug, 0)
            counts[slug] = n + 1
            found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def link_problems(doc: Path, text: str | None = None) -> list[str]:
    """Relative links of ``doc`` (outside code) that name no file of the repository, or no
    heading of it."""
    raw = doc.read_text(encoding="utf-8") if text is None else text
    problems = []
    in_fence = False
    for number, line in enumerate(raw.splitlines(), 1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for m in LINK.finditer(re.sub(r"`[^`]*`", "", line)):
            target = m.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # http:, https:, mailto:
            path_part, _, anchor = target.partition("#")
            dest = (doc.parent / path_part).resolve() if path_part else doc
            where = f"{doc.relative_to(ROOT)}:{number}"
            if not dest.is_relative_to(ROOT) or not dest.exists():
                problems.append(f"{where}: link {target!r}: no such file in the repository")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                problems.append(
                    f"{where}: link {target!r}: no heading #{anchor} in {path_part or doc.name}"
                )
    return problems


ALL_BLOCKS = [b for doc in DOCS for b in parse_blocks(doc)]
RUNNABLE = [b for b in ALL_BLOCKS if b.marker == "runnable"]
CASES = [
    pytest.param(b, target, id=f"{b.where}-{target}")
    for b in RUNNABLE
    for target in (["sqlite", "postgres"] if _options(b)[0] else ["sqlite"])
]


def _postgres_url() -> str:
    import sqlalchemy as sa

    prefix = os.environ.get("XMLMIGRATE_TEST_DB_PREFIX", "xmlmigrate")
    if not prefix.isidentifier():
        raise pytest.UsageError(f"XMLMIGRATE_TEST_DB_PREFIX={prefix!r}: letters, digits and _ only")
    name = f"{prefix}_docs"
    try:
        admin = sa.create_engine(
            f"postgresql+psycopg://{PG}/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:
        skip_or_fail(f"postgresql server not reachable: {type(exc).__name__}: {str(exc)[:200]}")
    return f"postgresql+psycopg://{PG}/{name}"


def run_block(block: Block, url: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    _, files = _options(block)
    for dest, src in files.items():
        shutil.copyfile(ROOT / src, workdir / dest)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XMLMIGRATE_", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]
    )
    env["COLUMNS"] = "200"
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", shell_script(block, url)],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
    )


@pytest.mark.parametrize(("block", "target"), CASES)
def test_runnable_block(block: Block, target: str, tmp_path: Path) -> None:
    url = _postgres_url() if target == "postgres" else SQLITE_URL
    done = run_block(block, url, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{block.where} exited {done.returncode}:\n{output[-4000:]}"
    problems = figure_problems(block, output, block.doc.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems) + f"\n--- output ---\n{ANSI.sub('', output)[-4000:]}"


def test_every_shell_block_is_marked() -> None:
    """No ```bash block is silently left unchecked: runnable, or not runnable with a reason."""
    unmarked = [
        b.where for b in ALL_BLOCKS if b.lang in ("bash", "sh", "shell") and b.marker is None
    ]
    assert not unmarked, (
        "mark each with <!-- runnable --> or <!-- not runnable: REASON -->: " + ", ".join(unmarked)
    )
    reasonless = [b.where for b in ALL_BLOCKS if b.marker == "not runnable" and not b.options]
    assert not reasonless, "<!-- not runnable: REASON --> needs its reason: " + ", ".join(
        reasonless
    )
    orphans = [b.where for b in ALL_BLOCKS if b.outputs and b.marker != "runnable"]
    assert not orphans, "<!-- output: … --> after a block that is not run: " + ", ".join(orphans)
    for block in RUNNABLE:
        _options(block)  # unknown options fail here


def test_links_resolve() -> None:
    problems = [p for doc in DOCS for p in link_problems(doc)]
    assert not problems, "\n".join(problems)


# The checks themselves, on the drift issue 22 found (so a check that never fails is caught).


def test_guard_catches_quoted_figures_that_drifted() -> None:
    doc = ROOT / "README.md"
    text = (
        "<!-- runnable: files=rl.json:x -->\n```bash\nxmlmigrate contract import rl.json\n```\n"
        "<!-- output: 5 tables, 27 columns, 2 enums; 11 note(s) -->\n"
        "Prints 5 tables, 27 columns, 2 enums; 11 note(s).\n"
    )
    (block,) = parse_blocks(doc, text)
    printed = "Imported rl.json → rl.toml: 5 tables, 33 columns, 2 enums; 14 note(s)\n"
    assert figure_problems(block, printed, text) == [
        f"{block.where}: the docs quote '5 tables, 27 columns, 2 enums; 11 note(s)'; "
        "the output does not show it"
    ]
    # the comment must quote the text: a figure edited in the prose alone is caught too
    edited = text.replace("Prints 5 tables, 27", "Prints 5 tables, 33")
    assert len(figure_problems(block, "5 tables, 27 columns, 2 enums; 11 note(s)", edited)) == 1


def test_guard_catches_a_link_to_a_missing_file() -> None:
    doc = ROOT / "docs" / "contract.md"
    text = "See [the spec](reference/xmlconversion-contract-format.md) and [this](#importing).\n"
    problems = link_problems(doc, text)
    assert len(problems) == 2, problems
    assert "reference/xmlconversion-contract-format.md" in problems[0]
    assert "no heading #importing" in problems[1]
    assert link_problems(doc, "[ok](../README.md#commands) [ok2](#columns-tablesnamecolumns)") == []
