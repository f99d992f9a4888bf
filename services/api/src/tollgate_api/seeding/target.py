"""Where the large data set lives: database ``tollgate_large`` next to the configured database.

``TOLLGATE_DATABASE_URL`` set: the same server, database ``tollgate_large``. Unset: the dev stack's
embedded Postgres (``.tollgate/dev/pg`` on ``TOLLGATE_DEV_PG_PORT``), used as is when `make run` has
it up, else started for the duration of the command and stopped after.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from tollgate_api.devstack.database import with_database
from tollgate_api.devstack.settings import DevSettings
from tollgate_common.env import Env

LARGE_DATABASE: Final = "tollgate_large"


class LargeDatabaseMissing(RuntimeError):
    """No server holds (or could hold) the large data set; the message says what to run."""


@contextmanager
def large_database_url(
    env: Env, explicit: str | None = None, *, start_embedded: bool = True
) -> Iterator[str]:
    """The URL of the large data set's database (the database itself may not exist yet)."""
    if explicit:
        yield explicit
        return
    configured = env.get_optional("DATABASE_URL")
    if configured:
        yield with_database(configured, LARGE_DATABASE)
        return
    from tollgate_common.embedded import (  # noqa: PLC0415 - embedded extras are dev-only
        EmbeddedPostgres,
        EmbeddedUnavailable,
        port_in_use,
    )

    dev = DevSettings.from_env(env)
    if port_in_use(dev.pg_port):  # `make run` has the embedded server up
        yield f"postgresql://postgres@127.0.0.1:{dev.pg_port}/{LARGE_DATABASE}"
        return
    data_dir = dev.state_dir / "pg"
    if not start_embedded and not data_dir.is_dir():
        raise LargeDatabaseMissing(
            f"no database: TOLLGATE_DATABASE_URL is unset and {data_dir} does not exist"
        )
    server = EmbeddedPostgres(data_dir, port=dev.pg_port)
    try:
        url = server.start()
    except EmbeddedUnavailable as exc:
        raise LargeDatabaseMissing(f"cannot start the embedded Postgres: {exc}") from exc
    try:
        yield with_database(url, LARGE_DATABASE)
    finally:
        server.stop()
