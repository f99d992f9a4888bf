"""Embedded servers start on loopback and leave nothing running when stopped."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tollgate_common.embedded import EmbeddedRedis, EmbeddedUnavailable, port_in_use


def test_embedded_redis_starts_answers_and_stops(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "r")
    url = server.start()
    try:
        assert redis.Redis.from_url(url).ping()
    finally:
        server.stop()
    assert not port_in_use(server.port)


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    first = EmbeddedRedis(tmp_path / "a")
    first.start()
    try:
        with pytest.raises(EmbeddedUnavailable, match="already in use"):
            EmbeddedRedis(tmp_path / "b", port=first.port).start()
    finally:
        first.stop()
