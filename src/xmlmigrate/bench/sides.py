"""Where the two sides of the A/B gate run: the head in the repository, the base commit in a
temporary git worktree, and each side in its own database on the same server."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from xmlmigrate.errors import GateError


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise GateError(f"git {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


@contextlib.contextmanager
def base_worktree(repo: Path, ref: str) -> Iterator[tuple[Path, str]]:
    """``ref`` checked out (detached) in a temporary worktree; removed afterwards."""
    commit = git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}")
    tmp = Path(tempfile.mkdtemp(prefix="xmlmigrate-gate-base-"))
    path = tmp / "base"
    git(repo, "worktree", "add", "--detach", "--quiet", str(path), commit)
    try:
        yield path, commit
    finally:
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "remove", "--force", str(path)],
            capture_output=True,
            check=False,
        )
        git(repo, "worktree", "prune")
        with contextlib.suppress(OSError):
            tmp.rmdir()


def head_of(repo: Path) -> tuple[Path, str]:
    """The top of the repository holding ``repo``, and its HEAD commit (noting uncommitted
    changes to tracked files: they are measured too)."""
    top = Path(git(repo, "rev-parse", "--show-toplevel"))
    commit = git(top, "rev-parse", "HEAD")
    if git(top, "status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return top, commit


def side_url(url: str | None, side: str) -> str | None:
    """The database of one side on the same server: ``<database>_<side>`` (a SQLite file gets
    the suffix before its extension). Each side recreates its own tables in it."""
    if url is None:
        return None
    parsed = sa.engine.make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite":
        if not database or database == ":memory:":
            return url
        path = Path(database)
        renamed = parsed.set(database=str(path.with_name(f"{path.stem}_{side}{path.suffix}")))
    else:
        renamed = parsed.set(database=f"{database}_{side}")
    return renamed.render_as_string(hide_password=False)


def ensure_database(url: str, database_url: str) -> None:
    """Create the database of ``database_url`` on the server of ``url`` if it is missing."""
    target = sa.engine.make_url(database_url)
    backend = target.get_backend_name()
    if backend == "sqlite":
        return
    name = target.database or ""
    if backend not in ("postgresql", "mysql", "mariadb"):
        raise GateError(
            f"perf gate creates its per-side databases on PostgreSQL or MySQL only, not {backend}"
        )
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if backend == "postgresql":
                found = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).first()
                if found is None:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS `{name}`"))
    except sa.exc.SQLAlchemyError as exc:
        raise GateError(f"cannot create database {name}: {exc}") from None
    finally:
        engine.dispose()
