"""``/api/credits/...``: a team's balance and ledger (credits only, never USD or markup).

Served at Tollgate's paths and at SaaS LiteLLM's team-scoped aliases (the team id in the path must be
the key's team, else 404).
"""

from __future__ import annotations

import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from tollgate_api.credits import service as credits
from tollgate_api.jobs.controllers import API_DEPENDENCIES, Jobs, Team, same_team
from tollgate_api.jobs.schemas import CreditCheck


class BalanceView(msgspec.Struct):
    team_id: str
    balance: int
    held: int
    available: int
    credits_remaining: int  # SaaS LiteLLM's name for what can still be spent (= available)


class TransactionsView(msgspec.Struct):
    team_id: str
    transactions: list[credits.LedgerEntryView]


TxLimit = Annotated[int, QueryParameter(ge=1, le=500)]


async def _balance(team: Team, jobs: Jobs) -> BalanceView:
    bal = await credits.balance(jobs.pool, team.team_id)
    return BalanceView(
        team_id=str(team.team_id),
        balance=bal.balance,
        held=bal.held,
        available=bal.available,
        credits_remaining=bal.available,
    )


async def _transactions(
    team: Team, jobs: Jobs, limit: int, before: datetime.datetime | None
) -> TransactionsView:
    rows = await credits.transactions(jobs.pool, team.team_id, limit=limit, before=before)
    return TransactionsView(team_id=str(team.team_id), transactions=rows)


class CreditsController(Controller):
    path = "/api/credits"
    tags = ["credits"]  # noqa: RUF012
    dependencies = API_DEPENDENCIES

    @get("/balance", summary="The team's credits: balance, held by open jobs, available")
    async def balance(self, team: Team, jobs: Jobs) -> BalanceView:
        return await _balance(team, jobs)

    @get("/transactions", summary="The team's ledger, newest first")
    async def transactions(
        self, team: Team, jobs: Jobs, limit: TxLimit = 50, before: FromQuery[datetime.datetime | None] = None
    ) -> TransactionsView:
        return await _transactions(team, jobs, limit, before)

    @get("/teams/{team_id:str}/balance", summary="Balance (SaaS LiteLLM path)")
    async def team_balance(self, team_id: FromPath[str], team: Team, jobs: Jobs) -> BalanceView:
        same_team(team, team_id)
        return await _balance(team, jobs)

    @get("/teams/{team_id:str}/transactions", summary="Ledger (SaaS LiteLLM path)")
    async def team_transactions(
        self,
        team_id: FromPath[str],
        team: Team,
        jobs: Jobs,
        limit: TxLimit = 50,
        before: FromQuery[datetime.datetime | None] = None,
    ) -> TransactionsView:
        same_team(team, team_id)
        return await _transactions(team, jobs, limit, before)

    @post("/teams/{team_id:str}/check", status_code=200, summary="Can the team spend N credits now?")
    async def check(
        self,
        team_id: FromPath[str],
        team: Team,
        jobs: Jobs,
        credits_needed: Annotated[int, QueryParameter(ge=0)] = 1,
    ) -> CreditCheck:
        same_team(team, team_id)
        bal = await credits.balance(jobs.pool, team.team_id)
        return CreditCheck(
            has_credits=bal.available >= credits_needed,
            credits_needed=credits_needed,
            available=bal.available,
        )
