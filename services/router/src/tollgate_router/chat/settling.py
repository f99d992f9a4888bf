"""Settling limit reservations in batches, off the request path.

Every admitted call reserved estimated tokens and cost (``Limiter.admit``); when it finishes, the
reservation is settled with the actual usage (``Limiter.settle``: one Redis round trip). Under load
that second round trip per call is the largest cost left on the data plane, so finished calls are
queued here and settled every ``window_s`` (5 ms): reservations of the same key window are merged into
one (their estimates and actuals summed) and settled with one ``settle`` call each.

Merging relies on settling being additive (``settle`` applies ``actual - estimated`` to the TPM window
and to the budget counter), which is how ``tollgate_router.limits`` works; reservations whose fields
differ in anything but the amounts are never merged. Delaying a settle by a few milliseconds only
delays refunds (estimates are upper bounds) and, for calls that used more than estimated, the top-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Hashable

import structlog

from tollgate_router.limits.service import Limiter, Reservation

__all__ = ["SettleBatcher"]

_log = structlog.get_logger("tollgate.router.chat")


def _group(reservation: Reservation) -> Hashable:
    return (
        reservation.key_id,
        reservation.tpm_key,
        reservation.tpm_limit,
        reservation.budget_key,
        reservation.budget_ttl_s,
        reservation.has_budget,
    )


class SettleBatcher:
    def __init__(self, limiter: Limiter, *, window_s: float = 0.005) -> None:
        self._limiter = limiter
        self._window_s = window_s
        self._pending: list[tuple[Reservation, int, int]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._stop = asyncio.Event()

    def add(self, reservation: Reservation, *, actual_tokens: int, actual_cost_micro_usd: int) -> None:
        """Queue a settle; never blocks."""
        self._pending.append((reservation, actual_tokens, actual_cost_micro_usd))
        if self._task is None and not self._closing:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="tollgate-settle")
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._closing:  # gather a window's worth; closing cuts the wait short
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self._window_s)
            await self.flush()
            if self._closing:
                return

    async def flush(self) -> None:
        """Settle everything queued so far."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        merged: dict[Hashable, tuple[Reservation, int, int]] = {}
        for reservation, tokens, cost in batch:
            if reservation.settled:
                continue
            reservation.settled = True  # it is settled through the merged one below
            group = _group(reservation)
            found = merged.get(group)
            if found is None:
                merged[group] = (dataclasses.replace(reservation, settled=False), tokens, cost)
                continue
            into, total_tokens, total_cost = found
            into.estimated_tokens += reservation.estimated_tokens
            into.estimated_cost_micro_usd += reservation.estimated_cost_micro_usd
            merged[group] = (into, total_tokens + tokens, total_cost + cost)
        results = await asyncio.gather(
            *(
                self._limiter.settle(r, actual_tokens=t, actual_cost_micro_usd=c)
                for r, t, c in merged.values()
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, Exception):  # the reservation expires with its window
                _log.warning("limit_settle_failed", error=type(result).__name__)

    async def close(self) -> None:
        """Flush and stop (lifespan shutdown)."""
        self._closing = True
        task, self._task = self._task, None
        self._stop.set()
        self._wake.set()
        if task is not None and task.get_loop() is not asyncio.get_running_loop():
            task.get_loop().call_soon_threadsafe(task.cancel)  # started on another loop: can't await it
            return
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()
