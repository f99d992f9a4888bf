"""The spend log: every data-plane call lands in ``router.spend_log``, batched off the hot path.

Behaviour (documented contract):

* ``SpendLog.record`` only appends to an in-memory buffer (no I/O, never blocks the request).
* A background task flushes every ``flush_interval_s`` (50 ms) or as soon as ``batch_size`` records are
  waiting, with ONE ``INSERT ... SELECT FROM jsonb_to_recordset(...) ON CONFLICT DO NOTHING`` per batch
  (a batch retried after an ambiguous failure cannot double-count).
* Postgres down: the failed batch goes back to the front of the buffer and the task retries with
  exponential backoff (up to ``max_backoff_s``). The buffer is bounded by ``max_buffer`` records: when
  full, the OLDEST records are dropped and counted (memory: ``max_buffer`` records plus the one batch
  being written) (``tollgate_router_spend_log_dropped_total``, and a
  ``spend_log_dropped`` warning at most once per second). Memory stays bounded; requests never wait.
* ``tollgate_router_spend_log_buffer_depth`` exposes the buffer depth.
* Why 50 ms and not less often: each flush makes Postgres work for a moment (16-25 µs of its CPU per
  row); on a small machine shared with the router, a 250 ms batch was a burst long enough to show in
  the data plane's c=1 p99 (5 ms vs 3.5 ms measured with 50 ms batches, docs/performance.md).
* On shutdown the buffer is flushed (bounded by ``shutdown_timeout_s``); what cannot be written is
  counted as dropped and logged.

Budget counters in Redis are reconciled from this table by :meth:`SpendAdmin.reconcile_budgets`
(``POST /admin/spend/reconcile``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_router.spend import repository as repo
from tollgate_router.spend import schemas

if TYPE_CHECKING:
    from tollgate_router.keys.service import AuthedKey, KeyAdmin
    from tollgate_router.limits.service import Limiter

_log = structlog.get_logger("tollgate.router.spend")

Pool = AsyncConnectionPool[AsyncConnection[Any]]


@dataclass(frozen=True, slots=True)
class SpendRecord:
    request_id: str
    key_id: uuid.UUID
    owner_ref: str
    model: str
    deployment_id: uuid.UUID | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    cost_micro_usd: int
    latency_ms: int
    status: str
    cache_hit: bool
    error_kind: str | None
    created_at: datetime.datetime  # timezone-aware


class SpendLog:
    """app.state.spend_log: a bounded buffer and its background flusher."""

    def __init__(
        self,
        *,
        pool: Pool,
        registry: CollectorRegistry | None = None,
        max_buffer: int = 50_000,
        batch_size: int = 500,
        flush_interval_s: float = 0.05,
        max_backoff_s: float = 5.0,
        connect_timeout_s: float = 2.0,
        shutdown_timeout_s: float = 5.0,
    ) -> None:
        self._pool = pool
        self._max = max_buffer
        self._batch = batch_size
        self._interval = flush_interval_s
        self._max_backoff = max_backoff_s
        self._connect_timeout = connect_timeout_s
        self._shutdown_timeout = shutdown_timeout_s
        self._buffer: deque[SpendRecord] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._last_drop_log = 0.0
        self.dropped = 0
        self.flushes = 0
        self.written = 0
        registry = registry or CollectorRegistry()
        self._m_depth = Gauge(
            "tollgate_router_spend_log_buffer_depth", "Spend records waiting to be written", registry=registry
        )
        self._m_depth.set_function(lambda: len(self._buffer))
        self._m_dropped = Counter(
            "tollgate_router_spend_log_dropped", "Spend records dropped (buffer full)", registry=registry
        )
        self._m_written = Counter(
            "tollgate_router_spend_log_written", "Spend records written to Postgres", registry=registry
        )
        self._m_failures = Counter(
            "tollgate_router_spend_log_flush_failures", "Failed spend-log batch writes", registry=registry
        )

    @property
    def depth(self) -> int:
        return len(self._buffer)

    def record(self, rec: SpendRecord) -> None:
        """Queue one record; never blocks, never raises."""
        self._buffer.append(rec)
        self._trim()
        if len(self._buffer) >= self._batch:
            self._wake.set()

    def _trim(self) -> None:
        over = len(self._buffer) - self._max
        if over <= 0:
            return
        for _ in range(over):
            self._buffer.popleft()
        self.dropped += over
        self._m_dropped.inc(over)
        now = time.monotonic()
        if now - self._last_drop_log >= 1.0:
            self._last_drop_log = now
            _log.warning("spend_log_dropped", dropped_total=self.dropped, buffer=len(self._buffer))

    async def start(self) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="spend-log-flusher")

    async def stop(self) -> None:
        """Stop the flusher and write what is buffered (bounded by ``shutdown_timeout_s``)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(self._shutdown_timeout):
                    await task
        try:
            async with asyncio.timeout(self._shutdown_timeout):
                while self._buffer and await self.flush_once():
                    pass
        except TimeoutError:
            pass
        if self._buffer:
            lost = len(self._buffer)
            self._buffer.clear()
            self.dropped += lost
            self._m_dropped.inc(lost)
            _log.error("spend_log_lost_on_shutdown", dropped=lost)

    async def _run(self) -> None:
        backoff = self._interval
        # `_closing` as well as cancellation: a driver may swallow a CancelledError mid-query
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()
            while self._buffer and not self._closing:
                if await self.flush_once():
                    backoff = self._interval
                    continue
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                break

    async def flush_once(self) -> bool:
        """Write one batch; on failure put it back (oldest first) and return False."""
        if not self._buffer:
            return True
        batch = [self._buffer.popleft() for _ in range(min(self._batch, len(self._buffer)))]
        try:
            await repo.insert_batch(self._pool, batch, timeout_s=self._connect_timeout)
        except BaseException as exc:
            self._buffer.extendleft(reversed(batch))  # back in front: oldest first, still bounded
            self._trim()
            if not isinstance(exc, Exception):  # cancelled mid-write: nothing lost, nothing counted
                raise
            self._m_failures.inc()
            _log.warning("spend_log_flush_failed", error=type(exc).__name__, buffer=len(self._buffer))
            return False
        self.flushes += 1
        self.written += len(batch)
        self._m_written.inc(len(batch))
        return True


class SpendAdmin:
    """Spend reports (/admin/spend) and budget reconciliation from the spend log."""

    def __init__(self, *, pool: Pool, limiter: Limiter, keys: KeyAdmin) -> None:
        self._pool = pool
        self._limiter = limiter
        self._keys = keys

    async def report(
        self,
        *,
        group_by: schemas.GroupBy,
        from_at: datetime.datetime,
        to_at: datetime.datetime,
        key_id: uuid.UUID | None,
    ) -> schemas.SpendReport:
        args: dict[str, Any] = {"from_at": from_at, "to_at": to_at, "key_id": key_id}
        rows: list[schemas.SpendRow]
        if group_by == "key":
            rows = [
                _spend_row(r, key_id=r.key_id, owner_ref=r.owner_ref)
                for r in await repo.by_key(self._pool, **args)
            ]
        elif group_by == "model":
            rows = [_spend_row(r, model=r.model) for r in await repo.by_model(self._pool, **args)]
        elif group_by == "deployment":
            rows = [
                _spend_row(r, deployment_id=r.deployment_id)
                for r in await repo.by_deployment(self._pool, **args)
            ]
        else:
            rows = [_spend_row(r, day=r.day) for r in await repo.by_day(self._pool, **args)]
        return schemas.SpendReport(
            group_by=group_by,
            from_at=from_at,
            to_at=to_at,
            key_id=key_id,
            rows=rows,
            total_cost_micro_usd=sum(r.cost_micro_usd for r in rows),
        )

    async def period_spend(self, key: AuthedKey) -> int:
        return await repo.total_since(self._pool, key.id, self._limiter.period_start(key))

    async def reconcile_budgets(self) -> schemas.ReconcileResult:
        """Set every budgeted key's Redis counter to the spend log's total for its current period."""
        keys = await self._keys.with_budget()
        changed = 0
        for key in keys:
            logged = await self.period_spend(key)
            _, counted = await self._limiter.current_spend(key)
            if counted != logged:
                await self._limiter.set_spend(key, logged)
                changed += 1
        _log.info("budgets_reconciled", keys=len(keys), changed=changed)
        return schemas.ReconcileResult(keys=len(keys), changed=changed)


class _Totals(Protocol):
    @property
    def requests(self) -> int: ...
    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def cost_micro_usd(self) -> int: ...


def _spend_row(totals: _Totals, **dimension: Any) -> schemas.SpendRow:
    """One report row: the group's dimension (key, model, deployment or day) and its totals."""
    return schemas.SpendRow(
        requests=totals.requests,
        prompt_tokens=totals.prompt_tokens,
        completion_tokens=totals.completion_tokens,
        cost_micro_usd=totals.cost_micro_usd,
        **dimension,
    )
