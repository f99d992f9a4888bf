"""Forward-only SQL migrations per service schema, applied by yoyo-migrations.

Each service owns one Postgres schema (``api``, ``router``) and a folder
``db/<service>/migrations/NNNN_name.sql``. yoyo keeps its history tables inside that schema
(``search_path`` is set to it), and the whole apply runs under a Postgres advisory lock keyed by the
schema, so replicas starting at the same moment apply each migration exactly once.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import psycopg
import structlog
from yoyo import get_backend, read_migrations

_log = structlog.get_logger("tollgate.migrate")


def _lock_id(schema: str) -> int:
    digest = hashlib.sha256(f"tollgate-migrate:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _yoyo_url(url: str, schema: str) -> str:
    # yoyo's psycopg 3 backend; schema for its history tables via search_path.
    base = url.replace("postgresql://", "postgresql+psycopg://", 1).replace(
        "postgres://", "postgresql+psycopg://", 1
    )
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}schema={schema}"


def migrations_dir(service: str) -> Path:
    """The migrations shipped with a service package (copied into it at build) or the repo's db/."""
    repo = Path(__file__).resolve().parents[4] / "db" / service / "migrations"
    if repo.is_dir():
        return repo
    packaged = resources.files(f"tollgate_{service}").joinpath("migrations")
    return Path(str(packaged))


def apply_migrations(url: str, *, schema: str, directory: Path) -> list[str]:
    """Apply pending migrations; returns the ids applied. Safe to call from many replicas at once."""
    with psycopg.connect(url, autocommit=True) as lock_conn:
        lock_conn.execute("SELECT pg_advisory_lock(%s)", (_lock_id(schema),))
        try:
            lock_conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            backend = get_backend(_yoyo_url(url, schema))
            migrations = read_migrations(str(directory))
            with backend.lock():
                pending = backend.to_apply(migrations)
                backend.apply_migrations(pending)
            applied = [m.id for m in pending]
            backend.connection.close()
        finally:
            lock_conn.execute("SELECT pg_advisory_unlock(%s)", (_lock_id(schema),))
    if applied:
        _log.info("migrations_applied", schema=schema, ids=applied)
    return applied
