"""The limits scripts' own Redis connection (``tollgate_router.limits.wire``): the same answers as
redis-py, pipelined calls matched to their callers, NOSCRIPT, error replies, unreachable and silent
servers, a connection killed by the server, and the Limiter's rules over it.

Disruptive cases (a server that never answers, AUTH, unix sockets) run against a small RESP server on
loopback (:class:`FakeRedis`); SCRIPT FLUSH runs on a private embedded Redis (6.2, as ``make run``
uses) so that other suites sharing the test Redis keep their scripts.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import hiredis
import pytest
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, ConnectionError, ResponseError, TimeoutError

from tests.router_support import a_deployment, a_key, assert_fails_closed_for_keys_open_for_deployments
from tollgate_common.embedded import EmbeddedRedis, EmbeddedUnavailable
from tollgate_common.redis import make_redis
from tollgate_router.errors import BudgetExceeded, KeyRateLimited
from tollgate_router.limits.service import _ADMIT_LUA, Limiter
from tollgate_router.limits.wire import Script, ScriptRunner, runner_for

ECHO = Script("return ARGV")  # the arguments back, as bulk strings
KEYS_AND_ARGS = Script("return {KEYS[1], ARGV[1], tonumber(ARGV[2]) * 2}")
MIXED = Script(
    "return {1, -7, 'text', '', {2, {'nested'}}, false, redis.status_reply('FINE'), tonumber(ARGV[1])}"
)
FAILING = Script("return redis.error_reply('ERR boom: ' .. ARGV[1])")
ADMIT = Script(_ADMIT_LUA)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeRedis:
    """Just enough RESP on loopback: AUTH, SELECT, and EVALSHA/EVAL answered with the script's ARGV.
    The first ``silent`` connections never get an answer."""

    def __init__(self, *, silent: int = 0, password: str | None = None) -> None:
        self.silent = silent
        self.password = password
        self.commands: list[list[bytes]] = []
        self.connections = 0
        self.hung_up = 0  # connections the client closed
        self._server: asyncio.Server | None = None

    def _reply(self, command: list[bytes]) -> bytes:
        name = command[0].upper()
        if name == b"AUTH":
            ok = command[-1].decode() == self.password
            return b"+OK\r\n" if ok else b"-WRONGPASS invalid username-password pair\r\n"
        if name == b"SELECT":
            return b"+OK\r\n"
        if name in {b"EVALSHA", b"EVAL"}:
            args = command[3 + int(command[2]) :]
            return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)
        return b"-ERR unknown command\r\n"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        silent = self.connections <= self.silent
        parser = hiredis.Reader()
        while data := await reader.read(65536):
            parser.feed(data)
            while (command := parser.gets()) is not False:
                self.commands.append(command)
                if not silent:
                    writer.write(self._reply(command))
        self.hung_up += 1
        writer.close()

    async def start_tcp(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def start_unix(self, path: Path) -> str:
        self._server = await asyncio.start_unix_server(self._handle, str(path))
        return f"unix://{path}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = make_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def runner(redis_url: str) -> AsyncIterator[ScriptRunner]:
    runner = ScriptRunner.from_url(redis_url, timeout_s=2.0)
    yield runner
    await runner.aclose()


@pytest.fixture
async def fake() -> AsyncIterator[FakeRedis]:
    server = FakeRedis()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
def embedded_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("wire-redis"))
    try:
        url = server.start()
    except EmbeddedUnavailable as exc:
        pytest.skip(f"embedded Redis unavailable: {exc}")
    try:
        yield url
    finally:
        server.stop()


async def test_replies_equal_redis_py_for_the_same_scripts(
    runner: ScriptRunner, redis: Redis, redis_prefix: str
) -> None:
    mixed = redis.register_script(MIXED.source)
    assert await runner.run(MIXED, [], [42]) == await mixed(keys=[], args=[42])
    assert await runner.run(MIXED, [], [42]) == [1, -7, b"text", b"", [2, [b"nested"]], None, b"FINE", 42]
    keys_and_args = redis.register_script(KEYS_AND_ARGS.source)
    key = f"{redis_prefix}k"
    for arg in ("21", 21, b"21", 21.0):
        assert await runner.run(KEYS_AND_ARGS, [key], [arg, 4]) == await keys_and_args(
            keys=[key], args=[arg, 4]
        )
    # the limiter's admit script, same arguments on twin keys: same decision, same stored state
    admit = redis.register_script(_ADMIT_LUA)
    args: list[Any] = ["", 60_000_000, 10, 10_000, 400, 5_000, 1_234, 3_600]
    mine = [f"{redis_prefix}wire:{{a}}:{part}" for part in ("rpm", "tpm", "budget")]
    theirs = [f"{redis_prefix}py:{{a}}:{part}" for part in ("rpm", "tpm", "budget")]
    for _ in range(3):
        assert await runner.run(ADMIT, mine, args) == await admit(keys=theirs, args=args)
    assert await redis.get(mine[2]) == await redis.get(theirs[2]) == b"3702"
    assert 3590 < await redis.ttl(mine[2]) <= 3600
    assert 3590 < await redis.ttl(theirs[2]) <= 3600


async def test_two_hundred_concurrent_calls_each_get_their_own_reply(runner: ScriptRunner) -> None:
    replies = await asyncio.gather(
        *(runner.run(ECHO, [], [i, f"call-{i}", b"x" * (i % 7)]) for i in range(200))
    )
    assert replies == [[b"%d" % i, b"call-%d" % i, b"x" * (i % 7)] for i in range(200)]
    # and a large argument split over many TCP segments still lines up
    big = b"y" * 300_000
    replies = await asyncio.gather(runner.run(ECHO, [], [big]), runner.run(ECHO, [], ["after"]))
    assert replies == [[big], [b"after"]]


async def test_all_concurrent_calls_share_one_connection(fake: FakeRedis) -> None:
    runner = ScriptRunner.from_url(await fake.start_tcp(), timeout_s=2.0)
    try:
        replies = await asyncio.gather(*(runner.run(ECHO, ["k"], [i]) for i in range(50)))
        assert replies == [[b"%d" % i] for i in range(50)]
        assert fake.connections == 1
        assert [c[0] for c in fake.commands] == [b"EVALSHA"] * 50
    finally:
        await runner.aclose()


async def test_commands_issued_in_one_loop_iteration_leave_in_one_write(runner: ScriptRunner) -> None:
    await runner.run(ECHO, [], ["connect"])
    conn = runner._conn
    assert conn is not None
    assert conn.transport is not None
    writes: list[bytes] = []
    real_write = conn.transport.write

    def counting_write(data: bytes) -> None:
        writes.append(bytes(data))
        real_write(data)

    conn.transport.write = counting_write  # type: ignore[method-assign]
    try:
        replies = await asyncio.gather(*(runner.run(ECHO, [], [i]) for i in range(40)))
        alone = await runner.run(ECHO, [], ["alone"])
    finally:
        conn.transport.write = real_write  # type: ignore[method-assign]

    assert replies == [[b"%d" % i] for i in range(40)]
    assert alone == [b"alone"]
    assert len(writes) == 2  # the 40 gathered calls in one write (auto-pipelining), then the lone one
    assert writes[0].count(b"EVALSHA") == 40


async def test_a_script_redis_does_not_know_is_sent_with_eval_and_then_cached(
    runner: ScriptRunner, redis: Redis
) -> None:
    unique = Script(f"-- {uuid.uuid4()}\nreturn ARGV[1] .. '!'")
    assert await redis.script_exists(unique.sha) == [False]
    assert await runner.run(unique, [], ["first"]) == b"first!"  # NOSCRIPT, then EVAL
    assert await redis.script_exists(unique.sha) == [True]
    assert await runner.run(unique, [], ["second"]) == b"second!"


async def test_after_script_flush_the_next_call_still_succeeds(embedded_url: str) -> None:
    runner = ScriptRunner.from_url(embedded_url, timeout_s=2.0)
    client = Redis.from_url(embedded_url)
    try:
        assert await runner.run(KEYS_AND_ARGS, ["k"], ["a", 1]) == [b"k", b"a", 2]
        await client.script_flush()
        assert await client.script_exists(KEYS_AND_ARGS.sha) == [False]
        replies = await asyncio.gather(*(runner.run(KEYS_AND_ARGS, ["k"], [str(i), i]) for i in range(20)))
        assert replies == [[b"k", str(i).encode(), 2 * i] for i in range(20)]
    finally:
        await runner.aclose()
        await client.aclose()


async def test_an_error_reply_raises_response_error_and_the_connection_stays_usable(
    runner: ScriptRunner,
) -> None:
    results = await asyncio.gather(
        runner.run(ECHO, [], ["before"]),
        runner.run(FAILING, [], ["x"]),
        runner.run(ECHO, [], ["after"]),
        return_exceptions=True,
    )
    assert results[0] == [b"before"]
    assert isinstance(results[1], ResponseError)
    assert "boom: x" in str(results[1])
    assert results[2] == [b"after"]
    with pytest.raises(ResponseError, match="boom: y"):
        await runner.run(FAILING, [], ["y"])
    assert await runner.run(ECHO, [], ["still"]) == [b"still"]


async def test_a_closed_port_raises_connection_error_at_once() -> None:
    runner = ScriptRunner.from_url(f"redis://127.0.0.1:{closed_port()}/0", timeout_s=2.0)
    started = time.perf_counter()
    with pytest.raises(ConnectionError):
        await runner.run(ECHO, [], ["x"])
    with pytest.raises(ConnectionError):  # and again on the next call (it tries to reconnect)
        await runner.run(ECHO, [], ["x"])
    assert time.perf_counter() - started < 1.0
    await runner.aclose()


async def test_no_reply_in_time_raises_timeout_drops_the_connection_and_the_next_call_reconnects(
    fake: FakeRedis,
) -> None:
    fake.silent = 1  # the first connection is never answered
    runner = ScriptRunner.from_url(await fake.start_tcp(), timeout_s=0.2)
    try:
        started = time.perf_counter()
        first = asyncio.ensure_future(runner.run(ECHO, [], ["one"]))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(runner.run(ECHO, [], ["two"]))
        async with asyncio.timeout(2):  # a runner that never gives up fails here, not at pytest's limit
            results = await asyncio.gather(first, second, return_exceptions=True)
        elapsed = time.perf_counter() - started
        assert isinstance(results[0], TimeoutError)
        assert isinstance(results[1], ConnectionError)  # in flight on the dropped connection
        assert 0.15 <= elapsed < 1.0
        for _ in range(50):  # the server sees the client hang up
            if fake.hung_up:
                break
            await asyncio.sleep(0.01)
        assert fake.hung_up == 1
        assert await runner.run(ECHO, [], ["three"]) == [b"three"]  # a new connection, answered
        assert fake.connections == 2
    finally:
        await runner.aclose()


async def test_concurrent_callers_share_one_connect_attempt_and_its_failure(fake: FakeRedis) -> None:
    fake.silent, fake.password = 1, "pw"  # the first connection's AUTH is never answered
    runner = ScriptRunner.from_url(
        (await fake.start_tcp()).replace("redis://", "redis://:pw@"), timeout_s=0.2
    )
    try:
        started = time.perf_counter()
        async with asyncio.timeout(2):
            results = await asyncio.gather(
                *(runner.run(ECHO, [], [i]) for i in range(20)), return_exceptions=True
            )
        assert all(isinstance(r, TimeoutError) for r in results), results
        assert time.perf_counter() - started < 0.6  # one timeout for all, not one each in turn
        assert fake.connections == 1
        assert await runner.run(ECHO, [], ["next"]) == [b"next"]
    finally:
        await runner.aclose()


async def test_a_connection_killed_by_the_server_is_replaced(runner: ScriptRunner, redis: Redis) -> None:
    assert await runner.run(ECHO, [], ["hello"]) == [b"hello"]
    conn = runner._conn
    assert conn is not None
    assert conn.transport is not None
    host, port = conn.transport.get_extra_info("sockname")[:2]
    assert await redis.client_kill(f"{host}:{port}") is True
    for _ in range(50):  # the FIN reaches this loop
        if not conn.alive:
            break
        await asyncio.sleep(0.01)
    assert not conn.alive
    assert await runner.run(ECHO, [], ["again"]) == [b"again"]
    assert runner._conn is not conn


async def test_auth_and_select_are_sent_first_and_a_refused_password_is_an_authentication_error(
    fake: FakeRedis,
) -> None:
    fake.password = "s3cret"
    url = await fake.start_tcp()
    good = ScriptRunner.from_url(url.replace("redis://", "redis://app:s3cret@").replace("/0", "/3"))
    try:
        assert await good.run(ECHO, [], ["in"]) == [b"in"]
        assert fake.commands[:2] == [[b"AUTH", b"app", b"s3cret"], [b"SELECT", b"3"]]
    finally:
        await good.aclose()
    bad = ScriptRunner.from_url(url.replace("redis://", "redis://:wrong@"))
    try:
        with pytest.raises(AuthenticationError):
            await bad.run(ECHO, [], ["in"])
        assert fake.commands[-1] == [b"AUTH", b"wrong"]  # password only: no username, no SELECT 0
    finally:
        await bad.aclose()


async def test_select_picks_the_database(runner: ScriptRunner, redis_url: str, redis_prefix: str) -> None:
    head, _, _db = redis_url.rpartition("/")
    other = ScriptRunner.from_url(f"{head}/7")
    client = Redis.from_url(f"{head}/7")
    key = f"{redis_prefix}db7"
    write = Script("redis.call('SET', KEYS[1], ARGV[1], 'EX', 60) return 1")
    try:
        assert await other.run(write, [key], ["seven"]) == 1
        assert await runner.run(write, [key], ["default"]) == 1
        assert await client.get(key) == b"seven"
    finally:
        await client.delete(key)
        await client.aclose()
        await other.aclose()


async def test_unix_socket_urls_connect_over_the_socket(fake: FakeRedis, tmp_path: Path) -> None:
    runner = ScriptRunner.from_url(await fake.start_unix(tmp_path / "redis.sock") + "?db=2")
    try:
        assert await runner.run(ECHO, [], ["unix"]) == [b"unix"]
        assert fake.commands[0] == [b"SELECT", b"2"]
    finally:
        await runner.aclose()


def test_urls_the_runner_cannot_speak_fall_back_to_redis_py() -> None:
    client = make_redis("redis://127.0.0.1:6379/0")
    runner = runner_for("redis://127.0.0.1:6379/0", client)
    assert runner is not None
    assert runner.timeout_s == 5.0  # the redis-py client's socket timeout
    assert runner.connect_timeout_s == 2.0
    assert runner_for("rediss://u:p@cache.internal:6380/1", client) is not None
    assert runner_for("redis://127.0.0.1:6379/0?client_name=router", client) is None
    assert runner_for("rediss://cache.internal?ssl_cert_reqs=none", client) is None
    timeouts = ScriptRunner.from_url("redis://h?socket_timeout=0.5&socket_connect_timeout=0.25")
    assert (timeouts.timeout_s, timeouts.connect_timeout_s) == (0.5, 0.25)


async def test_a_closed_runner_refuses_calls(redis_url: str) -> None:
    runner = ScriptRunner.from_url(redis_url)
    assert await runner.run(ECHO, [], ["x"]) == [b"x"]
    await runner.aclose()
    with pytest.raises(ConnectionError):
        await runner.run(ECHO, [], ["x"])


# ---------------------------------------------------------------- the Limiter over the runner


async def test_the_limiter_over_the_runner_keeps_budget_and_rpm_rules(
    runner: ScriptRunner, redis: Redis, redis_prefix: str
) -> None:
    limiter = Limiter(redis=redis, prefix=redis_prefix, window_s=1.0, runner=runner)
    key = a_key(budget_micro_usd=1_000, budget_period="day")
    results = await asyncio.gather(
        *(limiter.admit(key, estimated_tokens=10, estimated_cost_micro_usd=30) for _ in range(100)),
        return_exceptions=True,
    )
    admitted = [r for r in results if not isinstance(r, BaseException)]
    assert all(isinstance(r, BudgetExceeded) for r in results if isinstance(r, BaseException))
    assert 1_000 <= 30 * len(admitted) <= 1_030
    assert (await limiter.current_spend(key))[1] == 30 * len(admitted)
    await limiter.settle(admitted[0], actual_tokens=10, actual_cost_micro_usd=0)  # refund 30
    assert (await limiter.current_spend(key))[1] == 30 * (len(admitted) - 1)

    rpm_key = a_key(rpm=5)
    outcomes = await asyncio.gather(
        *(limiter.admit(rpm_key, estimated_tokens=1, estimated_cost_micro_usd=0) for _ in range(8)),
        return_exceptions=True,
    )
    refused = [r for r in outcomes if isinstance(r, KeyRateLimited)]
    assert len(refused) == 3
    assert refused[0].headers["Retry-After"] == "1"

    deployment = a_deployment(rpm=2)
    assert [await limiter.admit_deployment(deployment, estimated_tokens=1) for _ in range(3)] == [
        True,
        True,
        False,
    ]


async def test_the_limiter_over_an_unreachable_runner_fails_closed_for_keys_and_open_for_deployments(
    redis: Redis, redis_prefix: str
) -> None:
    runner = ScriptRunner.from_url(f"redis://127.0.0.1:{closed_port()}/0")
    limiter = Limiter(redis=redis, prefix=redis_prefix, runner=runner)
    await assert_fails_closed_for_keys_open_for_deployments(limiter)
    await limiter.aclose()


async def test_the_limiter_runs_on_the_embedded_redis_through_the_runner(embedded_url: str) -> None:
    client = Redis.from_url(embedded_url)
    limiter = Limiter(redis=client, prefix="w:", runner=ScriptRunner.from_url(embedded_url))
    try:
        key = a_key(rpm=2, budget_micro_usd=1_000)
        first = await limiter.admit(key, estimated_tokens=10, estimated_cost_micro_usd=600)
        await limiter.settle(first, actual_tokens=10, actual_cost_micro_usd=1_000)
        assert (await limiter.current_spend(key))[1] == 1_000
        with pytest.raises(BudgetExceeded):
            await limiter.admit(key, estimated_tokens=10, estimated_cost_micro_usd=1)
        rpm_key = a_key(rpm=2)
        await limiter.admit(rpm_key, estimated_tokens=1, estimated_cost_micro_usd=0)
        await limiter.admit(rpm_key, estimated_tokens=1, estimated_cost_micro_usd=0)
        with pytest.raises(KeyRateLimited):
            await limiter.admit(rpm_key, estimated_tokens=1, estimated_cost_micro_usd=0)
    finally:
        await limiter.aclose()
        await client.aclose()
