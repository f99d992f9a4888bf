"""Where the test run's Postgres and Redis come from.

``TEST_DATABASE_URL`` / ``TEST_REDIS_URL`` when set (CI points them at the machine's services);
otherwise embedded servers started once per session under ``.tollgate/test-<pid>/`` and stopped at
the end. An unreachable configured server fails the run under ``CI=true`` and skips locally.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis

from tollgate_common.embedded import EmbeddedPostgres, EmbeddedRedis, EmbeddedUnavailable

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


class ServiceMissing(RuntimeError):
    pass


def _check_pg(url: str) -> None:
    with psycopg.connect(url, connect_timeout=3) as conn:
        conn.execute("SELECT 1")


def _check_redis(url: str) -> None:
    redis.Redis.from_url(url, socket_connect_timeout=2).ping()


@contextmanager
def postgres_url() -> Iterator[str]:
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        try:
            _check_pg(configured)
        except psycopg.Error as exc:
            raise ServiceMissing(f"TEST_DATABASE_URL is set but unreachable: {exc}") from exc
        yield configured
        return
    workdir = Path(tempfile.mkdtemp(prefix="tollgate-test-pg-"))
    server = EmbeddedPostgres(workdir / "data", fast_unsafe=True)
    try:
        url = server.start()
    except EmbeddedUnavailable as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        raise ServiceMissing(f"no TEST_DATABASE_URL and embedded Postgres failed: {exc}") from exc
    try:
        yield url
    finally:
        server.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def redis_url() -> Iterator[str]:
    configured = os.environ.get("TEST_REDIS_URL")
    if configured:
        try:
            _check_redis(configured)
        except redis.RedisError as exc:
            raise ServiceMissing(f"TEST_REDIS_URL is set but unreachable: {exc}") from exc
        yield configured
        return
    workdir = Path(tempfile.mkdtemp(prefix="tollgate-test-redis-"))
    server = EmbeddedRedis(workdir)
    try:
        url = server.start()
    except EmbeddedUnavailable as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        raise ServiceMissing(f"no TEST_REDIS_URL and embedded Redis failed: {exc}") from exc
    try:
        yield url
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def with_database(url: str, dbname: str) -> str:
    """``url`` pointing at another database on the same server."""
    base, _, query = url.partition("?")
    head, _, _old = base.rpartition("/")
    return f"{head}/{dbname}" + (f"?{query}" if query else "")
