"""Database chores of the CLI: create the database if missing, apply every service's migrations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from tollgate_common.migrate import apply_migrations, migrations_dir

# Order matters only for humans reading the log: the schemas never reference each other.
SERVICES: Final = ("router", "api")


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` on the same server (query string kept)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def ensure_database(url: str) -> bool:
    """Create the database ``url`` names when it does not exist; ``True`` when it was created."""
    name = database_name(url)
    try:
        with psycopg.connect(url, connect_timeout=5):
            return False
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    with psycopg.connect(with_database(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    return False


def migrate(url: str, services: Sequence[str] = SERVICES) -> dict[str, list[str]]:
    """Apply pending migrations of ``services``; returns the migration ids applied per service."""
    applied: dict[str, list[str]] = {}
    for service in services:
        directory = migrations_dir(service)
        if not directory.is_dir() or not any(directory.glob("*.sql")):
            applied[service] = []
            continue
        applied[service] = apply_migrations(url, schema=service, directory=directory)
    return applied
