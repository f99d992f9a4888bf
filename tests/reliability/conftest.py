"""One stack (embedded Postgres and Redis, router, api, worker, fake upstream) per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with running_stack() as started:
        yield started
