"""The credit ledger as a hypothesis state machine, against real Postgres through the service layer
(and the job API over HTTP for LLM calls), with some steps run concurrently on the same team or job.

Rules: allocate, adjust (signed), refund, create a job (its hold), call in a job, complete, fail,
expire, and concurrent pairs (complete + complete, complete + expire, two creates, call + complete).
After every step, for the team under test:

* balance == Σ balance-moving ledger entries and held == Σ open holds (``verify_team``);
* available (balance - held) ≥ -overdraft limit;
* no job is captured twice (at most one ``capture`` entry per job);
* every captured job has its answered calls recorded in ``api.llm_calls``;
* a finished job holds nothing (its hold is captured and/or released in full).

The app, its pool and clients live on a dedicated event loop (``BackgroundWorld``); the synchronous
state machine hands each step to that loop and waits. One world (one database) serves every example;
each example seeds a team of its own.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, ClassVar, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from tests.fuzz.fuzz_support import BackgroundWorld
from tests.jobs_support import ACTOR, GROUP, JobWorld, SeededTeam, job_world
from tollgate_api.credits import service as credits
from tollgate_api.errors import TollgateError
from tollgate_api.jobs import service as jobs
from tollgate_api.jobs.schemas import CreateJobRequest

T = TypeVar("T")
SEEN: dict[str, int] = {"answered": 0, "finished": 0}  # across examples: the rules did reach the API
OPEN = ("pending", "in_progress")


class LedgerMachine(RuleBasedStateMachine):
    bg: ClassVar[BackgroundWorld[JobWorld]]
    jobs_made = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        self.world = self.bg.value
        self.overdraft = 0
        self.team: SeededTeam | None = None
        self.answered: dict[uuid.UUID, int] = {}  # calls the API answered, per job
        self.refused: list[str] = []  # expected refusals (402, 409...), kept for debugging

    # ---------------------------------------------------------------- plumbing

    def run(self, *coros: Awaitable[Any]) -> Any:
        """Run the steps on the world's loop, concurrently when there are several."""

        async def wrapped() -> Any:
            if len(coros) == 1:
                return await coros[0]
            return await asyncio.gather(*coros)

        return self.bg.run(wrapped())

    async def _tolerate(self, coro: Awaitable[Any]) -> Any:
        """A refusal the API documents (a 4xx domain error) is a legal outcome; anything else is not."""
        try:
            return await coro
        except TollgateError as exc:
            if exc.status >= 500:
                raise
            self.refused.append(type(exc).__name__)
            return None

    @property
    def seeded(self) -> SeededTeam:
        assert self.team is not None
        return self.team

    # ---------------------------------------------------------------- rules

    @initialize(credits_amount=st.integers(0, 20), overdraft=st.sampled_from([0, 0, 3]))
    def start(self, credits_amount: int, overdraft: int) -> None:
        self.overdraft = overdraft
        self.team = self.run(self.world.seed_team(credits_amount=credits_amount, overdraft_limit=overdraft))

    def _movement(self, kind: Any, amount: int) -> None:
        self.run(
            self._tolerate(
                credits.record_movement(
                    self.world.pool,
                    ACTOR,
                    team_id=self.seeded.team_id,
                    amount=amount,
                    kind=kind,
                    reason="state machine",
                    idempotency_key=f"sm-{uuid.uuid4()}",
                )
            )
        )

    @rule(amount=st.integers(1, 10))
    def allocate(self, amount: int) -> None:
        self._movement("allocation", amount)

    @rule(amount=st.integers(-12, 12).filter(bool))
    def adjust(self, amount: int) -> None:
        self._movement("adjustment", amount)

    @rule(amount=st.integers(1, 5))
    def refund(self, amount: int) -> None:
        self._movement("refund", amount)

    async def _create(self) -> uuid.UUID | None:
        job = await self._tolerate(
            jobs.create_job(self.world.ctx, self.seeded.principal, CreateJobRequest(job_type="sm"))
        )
        return None if job is None else job.id

    @rule(target=jobs_made)
    def create_job(self) -> MultipleResults[uuid.UUID]:
        job = self.run(self._create())
        return multiple() if job is None else multiple(job)

    @rule(target=jobs_made)
    def create_two_at_once(self) -> MultipleResults[uuid.UUID]:
        return multiple(*(job for job in self.run(self._create(), self._create()) if job is not None))

    async def _call(self, job_id: uuid.UUID) -> None:
        response = await self.world.client.post(
            f"/api/jobs/{job_id}/llm-call",
            json={"model": GROUP, "messages": [{"role": "user", "content": "hello"}]},
            headers=self.seeded.headers,
        )
        assert response.status_code < 500 or response.status_code in (502, 503, 504), response.text
        if response.status_code == 200:
            self.answered[job_id] = self.answered.get(job_id, 0) + 1
            SEEN["answered"] += 1

    async def _finish(self, job_id: uuid.UUID, status: str) -> None:
        done = jobs.complete_job(self.world.ctx, self.seeded.principal, job_id, status=status)
        if await self._tolerate(done) is not None:
            SEEN["finished"] += 1

    async def _expire(self, job_id: uuid.UUID) -> None:
        async with self.world.pool.connection() as conn:
            await conn.execute(
                "UPDATE api.jobs SET expires_at = now() - interval '1 second' "
                "WHERE id = %s AND status = ANY(%s)",
                (job_id, list(OPEN)),
            )
        await jobs.expire_due_jobs(self.world.pool, datetime.datetime.now(datetime.UTC))

    @rule(job=jobs_made)
    def call(self, job: uuid.UUID) -> None:
        self.run(self._call(job))

    @rule(job=jobs_made, status=st.sampled_from(["completed", "failed"]))
    def finish(self, job: uuid.UUID, status: str) -> None:
        self.run(self._finish(job, status))

    @rule(job=jobs_made)
    def expire(self, job: uuid.UUID) -> None:
        self.run(self._expire(job))

    @rule(
        job=jobs_made,
        first=st.sampled_from(["completed", "failed"]),
        second=st.sampled_from(["completed", "failed"]),
    )
    def finish_twice_at_once(self, job: uuid.UUID, first: str, second: str) -> None:
        self.run(self._finish(job, first), self._finish(job, second))

    @rule(job=jobs_made)
    def finish_while_expiring(self, job: uuid.UUID) -> None:
        self.run(self._finish(job, "completed"), self._expire(job))

    @rule(job=jobs_made)
    def call_while_finishing(self, job: uuid.UUID) -> None:
        self.run(self._call(job), self._finish(job, "completed"))

    # ---------------------------------------------------------------- invariants

    async def _facts(self) -> dict[str, Any]:
        team_id = self.seeded.team_id
        async with self.world.pool.connection() as conn:
            balance = await (
                await conn.execute(
                    "SELECT balance, held, overdraft_limit FROM api.team_balances WHERE team_id = %s",
                    (team_id,),
                )
            ).fetchone()
            double = await (
                await conn.execute(
                    "SELECT job_id FROM api.ledger_entries WHERE team_id = %s AND kind = 'capture' "
                    "GROUP BY job_id HAVING count(*) > 1",
                    (team_id,),
                )
            ).fetchall()
            per_job = await (
                await conn.execute(
                    """
                    SELECT j.id, j.status::text,
                           coalesce(sum(CASE e.kind WHEN 'hold' THEN e.amount
                                                    WHEN 'release' THEN -e.amount
                                                    WHEN 'capture' THEN -e.amount ELSE 0 END), 0)::bigint,
                           count(*) FILTER (WHERE e.kind = 'capture'),
                           (SELECT count(*) FROM api.llm_calls c WHERE c.job_id = j.id)
                    FROM api.jobs j LEFT JOIN api.ledger_entries e ON e.job_id = j.id
                    WHERE j.team_id = %s
                    GROUP BY j.id, j.status
                    """,
                    (team_id,),
                )
            ).fetchall()
        check = await credits.verify_team(self.world.pool, team_id)
        return {"balance": balance, "double": double, "per_job": per_job, "check": check}

    @invariant()
    def ledger_holds(self) -> None:
        if self.team is None:  # invariants run once before the initialize step too
            return
        facts = self.run(self._facts())
        check = facts["check"]
        assert check.ok, f"balance/held differ from the ledger: {check}"
        balance, held, overdraft = facts["balance"]
        assert overdraft == self.overdraft
        assert balance - held >= -overdraft, f"available {balance - held} below -{overdraft}"
        assert not facts["double"], f"jobs captured twice: {facts['double']}"
        for job_id, status, still_held, captures, calls in facts["per_job"]:
            if status not in OPEN:
                assert still_held == 0, f"{status} job {job_id} still holds {still_held}"
            if captures:
                assert calls >= self.answered.get(job_id, 0), f"job {job_id}: answered calls not recorded"


def ledger_world(database_url: str, redis_url: str, redis_prefix: str) -> Any:
    @asynccontextmanager
    async def build() -> AsyncIterator[JobWorld]:
        async with job_world(database_url, redis_url, redis_prefix) as world:
            yield world

    return build


def test_ledger_invariants_hold_under_any_sequence_and_concurrency(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    with BackgroundWorld(ledger_world(database_url, redis_url, redis_prefix)) as bg:
        LedgerMachine.bg = bg
        run_state_machine_as_test(
            LedgerMachine,
            settings=settings(
                max_examples=int(os.environ.get("TOLLGATE_FUZZ_EXAMPLES", "4")) * 3,
                stateful_step_count=16,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    assert SEEN["answered"] > 0, SEEN
    assert SEEN["finished"] > 0, SEEN
