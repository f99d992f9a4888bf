"""Migrations apply once, in order, into the service's schema — even when replicas race."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.harness.services import with_database
from tollgate_common.migrate import apply_migrations


@pytest.fixture
def empty_db(pg_server_url: str) -> str:
    name = f"tollgate_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield with_database(pg_server_url, name)  # type: ignore[misc]
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_migrations(directory: Path) -> None:
    directory.mkdir()
    (directory / "0001_things.sql").write_text(
        "CREATE TABLE demo.things (id int PRIMARY KEY);\n", encoding="utf-8"
    )
    (directory / "0002_counter.sql").write_text(
        "CREATE TABLE demo.applied (n int);\nINSERT INTO demo.applied VALUES (1);\n", encoding="utf-8"
    )


def test_applies_pending_once(empty_db: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    write_migrations(directory)
    assert apply_migrations(empty_db, schema="demo", directory=directory) == ["0001_things", "0002_counter"]
    assert apply_migrations(empty_db, schema="demo", directory=directory) == []
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) FROM demo.applied").fetchone() == (1,)
        history = conn.execute("SELECT count(*) FROM demo._yoyo_migration").fetchone()
    assert history == (2,)


def test_racing_replicas_apply_each_migration_exactly_once(empty_db: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    write_migrations(directory)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(apply_migrations(empty_db, schema="demo", directory=directory))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sorted(len(r) for r in results) == [0, 0, 0, 2]
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) FROM demo.applied").fetchone() == (1,)
