"""Fixtures every test may use.

* ``pg_server_url`` (session): an admin URL of a real Postgres server.
* ``template_db`` (session): a database with every service's migrations applied, used as template.
* ``database_url``: a fresh database cloned from the template, dropped after the test.
* ``redis_url`` (session) and ``redis_prefix``: a real Redis and a key prefix no other test uses
  (its keys are deleted after the test).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.harness.services import IN_CI, ServiceMissing, postgres_url, with_database
from tests.harness.services import redis_url as redis_url_cm
from tollgate_common.logging import cache_loggers
from tollgate_common.migrate import apply_migrations

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = ("router", "api")


def pytest_configure(config: pytest.Config) -> None:
    # Each test builds apps that configure logging at their own level and stream; cached loggers
    # would keep the first test's configuration for the whole run.
    cache_loggers(False)


def _fail_or_skip(exc: ServiceMissing) -> None:
    if IN_CI:
        pytest.fail(f"required service missing under CI: {exc}")
    pytest.skip(str(exc))


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    try:
        with postgres_url() as url:
            yield url
    except ServiceMissing as exc:
        _fail_or_skip(exc)


def migrate_all(url: str) -> None:
    for schema in SCHEMAS:
        directory = REPO / "db" / schema / "migrations"
        if any(directory.glob("*.sql")):
            apply_migrations(url, schema=schema, directory=directory)


@pytest.fixture(scope="session")
def template_db(pg_server_url: str) -> Iterator[str]:
    name = f"tollgate_tpl_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        migrate_all(with_database(pg_server_url, name))
        yield name
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(pg_server_url: str, template_db: str) -> Iterator[str]:
    name = f"tollgate_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    try:
        yield with_database(pg_server_url, name)
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    try:
        with redis_url_cm() as url:
            yield url
    except ServiceMissing as exc:
        _fail_or_skip(exc)


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"tgtest:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        batch = list(client.scan_iter(match=prefix + "*", count=1000))
        if batch:
            client.delete(*batch)
    finally:
        client.close()
