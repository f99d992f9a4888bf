"""Limits that hold across replicas: RPM/TPM per virtual key and per deployment, budgets per key.

Everything lives in Redis and every decision is one Lua script call (one round trip, atomic), so N
replicas enforce one limit, not N.

* **RPM / TPM** use GCRA (the "generic cell rate algorithm", a token bucket stored as one timestamp):
  a limit ``L`` per window ``W`` lets a burst of up to ``L`` requests (tokens) through at once and then
  refills continuously at ``L / W``. It needs one key per limit, is exact under concurrency, and gives an
  exact ``Retry-After``. A single request larger than the whole TPM limit is admitted only when the bucket
  is full (it then pushes the bucket into debt) so that it is never refused forever.
* **TPM reservation**: ``admit`` reserves the caller's *estimated* tokens; ``settle`` moves the bucket by
  ``actual - estimated`` (refund or top-up). Deployment TPM (``admit_deployment``) is charged by estimate.
* **Budgets**: a counter of micro-USD per key and period bucket (``day``/``week``/``month`` in UTC, or
  ``total``). ``admit`` refuses when the counter has reached the budget and otherwise adds the
  estimated cost; ``settle`` replaces the estimate by the actual cost. With N concurrent calls at the
  edge, each one sees the reservations of those before it, so the overshoot is at most one call's
  estimate. Counters expire a little after their period ends. They can be rebuilt from the spend log
  (:meth:`Limiter.reconcile_budget`, exposed as ``POST /admin/spend/reconcile``); calls in flight during
  a reconcile lose their reservation (they are settled on top of the rebuilt value).

Keys use a ``{hash tag}`` per virtual key / deployment so the script's keys share a Redis Cluster slot.
Redis unreachable: ``admit`` fails closed (503 ``Unavailable``), ``settle`` logs and gives up (the spend
log is the record; reconcile rebuilds the counters), ``admit_deployment`` fails open (the provider's own
limits still apply). The window length and the clock are parameters so that tests can use 1-second
windows or a fake clock.

The scripts run over a :class:`~tollgate_router.limits.wire.ScriptRunner` when one is given (one
pipelined connection per process, the hot path's choice) and through redis-py otherwise; both raise
redis-py's errors, so the rules above hold either way. Other commands always use redis-py.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from tollgate_common.errors import Unavailable
from tollgate_router.errors import BudgetExceeded, KeyRateLimited
from tollgate_router.limits.wire import Script, ScriptRunner

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

    from tollgate_router.catalog.service import Deployment
    from tollgate_router.keys.service import AuthedKey

_log = structlog.get_logger("tollgate.router.limits")

# GCRA check for one bucket. Returns 0 when admitted (and the new TAT via `out`), else the wait in µs.
_ADMIT_LUA: Final = """
local function now_us()
  if ARGV[1] ~= '' then return tonumber(ARGV[1]) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local function gcra(key, limit, amount, window, now)
  if limit <= 0 then return 0, nil end
  local interval = window / limit
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local new_tat = tat + amount * interval
  if new_tat - now <= window or tat <= now then
    return 0, new_tat
  end
  return math.ceil(new_tat - window - now), nil
end

local now = now_us()
local window = tonumber(ARGV[2])
local rpm, tpm, tokens = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local budget, cost, budget_ttl = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])

local wait, rpm_tat = gcra(KEYS[1], rpm, 1, window, now)
if wait > 0 then return {1, wait, 0} end
local tpm_tat
wait, tpm_tat = gcra(KEYS[2], tpm, tokens, window, now)
if wait > 0 then return {2, wait, 0} end
local spent = 0
if budget >= 0 then
  spent = tonumber(redis.call('GET', KEYS[3]) or '0')
  if spent >= budget then return {3, 0, spent} end
end

if rpm_tat then
  redis.call('SET', KEYS[1], string.format('%.0f', rpm_tat), 'PX', math.ceil((rpm_tat - now) / 1000) + 1)
end
if tpm_tat then
  redis.call('SET', KEYS[2], string.format('%.0f', tpm_tat), 'PX', math.ceil((tpm_tat - now) / 1000) + 1)
end
if budget >= 0 then
  spent = redis.call('INCRBY', KEYS[3], cost)
  if budget_ttl > 0 then redis.call('EXPIRE', KEYS[3], budget_ttl) end
end
return {0, 0, spent}
"""

# Move a TPM bucket by a token delta and a budget counter by a cost delta.
_SETTLE_LUA: Final = """
local now
if ARGV[1] ~= '' then now = tonumber(ARGV[1]) else
  local t = redis.call('TIME'); now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local window, tpm, delta = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local cost_delta, budget_ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
if tpm > 0 and delta ~= 0 then
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat < now then tat = now end
  tat = tat + delta * (window / tpm)
  if tat > now then
    redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  else
    redis.call('DEL', KEYS[1])
  end
end
if ARGV[7] == '1' and cost_delta ~= 0 then
  redis.call('INCRBY', KEYS[2], cost_delta)
  if budget_ttl > 0 then redis.call('EXPIRE', KEYS[2], budget_ttl) end
end
return 1
"""

_REASONS: Final = {1: "rpm", 2: "tpm", 3: "budget"}
_ADMIT_SCRIPT: Final = Script(_ADMIT_LUA)
_SETTLE_SCRIPT: Final = Script(_SETTLE_LUA)


@dataclass(slots=True)
class Reservation:
    """What ``admit`` took, so that ``settle`` can put the difference right. Opaque to callers."""

    key_id: Any
    tpm_key: str
    tpm_limit: int
    budget_key: str
    budget_ttl_s: int
    has_budget: bool
    estimated_tokens: int
    estimated_cost_micro_usd: int
    settled: bool = False


def period_bounds(period: str, now: datetime.datetime) -> tuple[str, datetime.datetime | None, int]:
    """(bucket id, start of the period in UTC or None for ``total``, counter TTL in seconds)."""
    now = now.astimezone(datetime.UTC)
    day = datetime.datetime(now.year, now.month, now.day, tzinfo=datetime.UTC)
    if period == "day":
        return f"d{day:%Y%m%d}", day, 2 * 86400
    if period == "week":
        start = day - datetime.timedelta(days=day.weekday())
        return f"w{start:%Y%m%d}", start, 8 * 86400
    if period == "month":
        start = day.replace(day=1)
        return f"m{start:%Y%m}", start, 32 * 86400
    return "total", None, 0


class Limiter:
    """app.state.limiter."""

    def __init__(
        self,
        *,
        redis: Redis,
        prefix: str,
        window_s: float = 60.0,
        clock_us: Callable[[], int] | None = None,
        now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
        runner: ScriptRunner | None = None,
    ) -> None:
        # rejections are counted by the data plane (tollgate_router_limit_rejections, chat/metrics.py)
        self._redis = redis
        self._prefix = prefix
        self._window_us = round(window_s * 1_000_000)
        self._clock_us = clock_us  # None: Redis server time (one clock for every replica)
        self._now = now
        self._admit: AsyncScript = redis.register_script(_ADMIT_LUA)
        self._settle: AsyncScript = redis.register_script(_SETTLE_LUA)
        self._runner = runner  # None: the scripts go through redis-py
        # Hot-path memos: a key's Redis key names, and each period's bucket for the current UTC day.
        self._bases: dict[tuple[str, Any], str] = {}
        self._periods: dict[tuple[str, int, int, int], tuple[str, datetime.datetime | None, int]] = {}

    async def aclose(self) -> None:
        """Close the script runner's connection (the redis-py client belongs to the caller)."""
        if self._runner is not None:
            await self._runner.aclose()

    async def _run(self, script: Script, keys: list[str], args: list[str | int]) -> Any:
        if self._runner is not None:
            return await self._runner.run(script, keys, args)
        registered = self._admit if script is _ADMIT_SCRIPT else self._settle
        return await registered(keys=keys, args=args)

    def _base(self, kind: str, ident: Any) -> str:
        """``<prefix>lim:<kind>:{<id>}:``, built once per key or deployment (hash tag: one cluster slot)."""
        base = self._bases.get((kind, ident))
        if base is None:
            if len(self._bases) >= 100_000:  # deleted keys must not pile up forever
                self._bases.clear()
            base = self._bases[(kind, ident)] = f"{self._prefix}lim:{kind}:{{{ident}}}:"
        return base

    def _period(self, period: str) -> tuple[str, datetime.datetime | None, int]:
        now = self._now().astimezone(datetime.UTC)
        memo = (period, now.year, now.month, now.day)
        bounds = self._periods.get(memo)
        if bounds is None:
            if len(self._periods) > 16:  # a new day: yesterday's buckets are done
                self._periods.clear()
            bounds = self._periods[memo] = period_bounds(period, now)
        return bounds

    def budget_key(self, key: AuthedKey, bucket: str) -> str:
        return self._base("key", key.id) + "budget:" + bucket

    def _clock_arg(self) -> str:
        return "" if self._clock_us is None else str(self._clock_us())

    async def admit(
        self, key: AuthedKey, *, estimated_tokens: int, estimated_cost_micro_usd: int
    ) -> Reservation:
        """Reserve one request, its estimated tokens and cost; raises KeyRateLimited or BudgetExceeded."""
        tokens = max(0, estimated_tokens)
        cost = max(0, estimated_cost_micro_usd)
        bucket, _, ttl = self._period(key.budget_period)
        base = self._base("key", key.id)
        rpm_key, tpm_key = base + "rpm", base + "tpm"
        reservation = Reservation(
            key_id=key.id,
            tpm_key=tpm_key,
            tpm_limit=key.tpm or 0,
            budget_key=base + "budget:" + bucket,
            budget_ttl_s=ttl,
            has_budget=key.budget_micro_usd is not None,
            estimated_tokens=tokens,
            estimated_cost_micro_usd=cost,
        )
        if not key.rpm and not key.tpm and key.budget_micro_usd is None:
            return reservation  # nothing to enforce: no round trip
        try:
            result = await self._run(
                _ADMIT_SCRIPT,
                keys=[rpm_key, tpm_key, reservation.budget_key],
                args=[
                    self._clock_arg(),
                    self._window_us,
                    key.rpm or 0,
                    key.tpm or 0,
                    tokens,
                    -1 if key.budget_micro_usd is None else key.budget_micro_usd,
                    cost,
                    ttl,
                ],
            )
        except RedisError as exc:  # fail closed: limits and budgets must hold
            _log.warning("limits_unavailable", error=type(exc).__name__)
            raise Unavailable("Limits cannot be checked right now; retry.", retry_after_s=1) from exc
        code, wait_us, _spent = (int(x) for x in result)
        if code == 0:
            return reservation
        reason = _REASONS[code]
        _log.info("limit_rejected", key_id=str(key.id), reason=reason)
        if reason == "budget":
            raise BudgetExceeded("The key's budget for this period is exhausted.", extra={"reason": reason})
        raise KeyRateLimited(
            f"Rate limit ({reason}) exceeded for this key.",
            retry_after_s=max(1, math.ceil(wait_us / 1_000_000)),
            extra={"reason": reason},
        )

    async def settle(
        self, reservation: Reservation, *, actual_tokens: int, actual_cost_micro_usd: int
    ) -> None:
        """Replace the reservation's estimates by the actuals (refund or top-up). Idempotent."""
        if reservation.settled:
            return
        reservation.settled = True
        token_delta = max(0, actual_tokens) - reservation.estimated_tokens if reservation.tpm_limit else 0
        cost_delta = max(0, actual_cost_micro_usd) - reservation.estimated_cost_micro_usd
        if not reservation.has_budget:
            cost_delta = 0
        if token_delta == 0 and cost_delta == 0:
            return
        try:
            await self._run(
                _SETTLE_SCRIPT,
                keys=[reservation.tpm_key, reservation.budget_key],
                args=[
                    self._clock_arg(),
                    self._window_us,
                    reservation.tpm_limit,
                    token_delta,
                    cost_delta,
                    reservation.budget_ttl_s,
                    "1" if reservation.has_budget else "0",
                ],
            )
        except RedisError as exc:  # the call is done; the counters are rebuilt by reconciliation
            _log.warning("limits_settle_failed", error=type(exc).__name__)

    async def admit_deployment(self, deployment: Deployment, *, estimated_tokens: int) -> bool:
        """Take one request and the estimated tokens from the deployment's RPM/TPM; False = skip it."""
        if not deployment.rpm and not deployment.tpm:
            return True
        base = self._base("dep", deployment.id)
        try:
            result = await self._run(
                _ADMIT_SCRIPT,
                keys=[base + "rpm", base + "tpm", base + "unused"],
                args=[
                    self._clock_arg(),
                    self._window_us,
                    deployment.rpm or 0,
                    deployment.tpm or 0,
                    max(0, estimated_tokens),
                    -1,
                    0,
                    0,
                ],
            )
        except RedisError as exc:  # fail open: the provider's own limits still apply
            _log.warning("deployment_limits_unavailable", error=type(exc).__name__)
            return True
        return int(result[0]) == 0

    async def current_spend(self, key: AuthedKey) -> tuple[datetime.datetime | None, int]:
        """(period start, micro-USD counted in Redis for the key's current budget period)."""
        bucket, start, _ = period_bounds(key.budget_period, self._now())
        value = await self._redis.get(self.budget_key(key, bucket))
        return start, int(value or 0)

    async def set_spend(self, key: AuthedKey, spent_micro_usd: int) -> None:
        """Overwrite the key's current-period counter (reconciliation from the spend log)."""
        bucket, _, ttl = period_bounds(key.budget_period, self._now())
        if ttl:
            await self._redis.set(self.budget_key(key, bucket), spent_micro_usd, ex=ttl)
        else:
            await self._redis.set(self.budget_key(key, bucket), spent_micro_usd)

    def period_start(self, key: AuthedKey) -> datetime.datetime | None:
        return period_bounds(key.budget_period, self._now())[1]
