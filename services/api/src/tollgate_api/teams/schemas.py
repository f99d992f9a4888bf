"""Teams on the wire (admin API). The router virtual key never appears; the team API key appears
once, in :class:`TeamCreated`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from tollgate_api.credits.service import AdminLedgerEntry, Balance, OperatorKind

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Positive = Annotated[int, msgspec.Meta(gt=0)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
TtlS = Annotated[int, msgspec.Meta(ge=10, le=30 * 86400)]


class TeamIn(msgspec.Struct, forbid_unknown_fields=True):
    organization_id: uuid.UUID
    name: Name
    pricing_plan_id: uuid.UUID
    rpm: Positive | None = None
    tpm: Positive | None = None
    overdraft_limit: NonNegative = 0
    job_ttl_s: TtlS | None = None
    show_tokens: bool = False
    store_prompts: bool = False
    retention_days: NonNegative = 30
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    access_groups: list[uuid.UUID] = msgspec.field(default_factory=list)
    key_name: Name = "default"


class TeamPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    pricing_plan_id: uuid.UUID | UnsetType = UNSET
    rpm: Positive | UnsetType | None = UNSET
    tpm: Positive | UnsetType | None = UNSET
    overdraft_limit: NonNegative | UnsetType = UNSET
    job_ttl_s: TtlS | UnsetType = UNSET
    show_tokens: bool | UnsetType = UNSET
    store_prompts: bool | UnsetType = UNSET
    retention_days: NonNegative | UnsetType = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET


class TeamOut(msgspec.Struct):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    status: str
    pricing_plan_id: uuid.UUID
    rpm: int | None
    tpm: int | None
    overdraft_limit: int
    job_ttl_s: int
    show_tokens: bool
    store_prompts: bool
    retention_days: int
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    credits: Balance | None = None


class TeamCreated(TeamOut, kw_only=True):
    team_id: uuid.UUID
    api_key: str
    key_id: uuid.UUID


class CreditsIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: int
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    idempotency_key: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: OperatorKind = "allocation"
    # A grant: the unused remainder of this allocation/purchase expires then (needs a time zone).
    expires_at: datetime | None = None


class CreditsOut(msgspec.Struct):
    entry: AdminLedgerEntry
    balance: Balance
    created: bool
    expires_at: datetime | None = None
