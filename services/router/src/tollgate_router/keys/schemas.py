"""Wire shapes of /admin/keys (snake_case JSON). The secret key appears only in :class:`KeyCreated`."""

from __future__ import annotations

import datetime
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

if TYPE_CHECKING:  # rows are only converted here; the generated code stays the repository's
    from tollgate_router.db import models

BudgetPeriod = Literal["day", "week", "month", "total"]
OwnerRef = Annotated[str, Meta(min_length=1, max_length=200)]
Positive = Annotated[int, Meta(gt=0)]
Money = Annotated[int, Meta(ge=0)]
ModelList = Annotated[list[Annotated[str, Meta(min_length=1, max_length=200)]], Meta(max_length=500)]


class KeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    owner_ref: OwnerRef
    allowed_models: ModelList | None = None  # None = every model
    rpm: Positive | None = None
    tpm: Positive | None = None
    budget_micro_usd: Money | None = None
    budget_period: BudgetPeriod = "month"
    expires_at: datetime.datetime | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    log_prompts: bool = False


class KeyPatch(msgspec.Struct, forbid_unknown_fields=True):
    owner_ref: OwnerRef | UnsetType = UNSET
    allowed_models: ModelList | UnsetType | None = UNSET
    rpm: Positive | UnsetType | None = UNSET
    tpm: Positive | UnsetType | None = UNSET
    budget_micro_usd: Money | UnsetType | None = UNSET
    budget_period: BudgetPeriod | UnsetType = UNSET
    expires_at: datetime.datetime | UnsetType | None = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET
    log_prompts: bool | UnsetType = UNSET


class KeyOut(msgspec.Struct):
    id: uuid.UUID
    key_prefix: str
    owner_ref: str
    allowed_models: list[str] | None
    rpm: int | None
    tpm: int | None
    budget_micro_usd: int | None
    budget_period: str
    expires_at: datetime.datetime | None
    blocked: bool
    metadata: dict[str, Any]
    log_prompts: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime


class KeyInfo(KeyOut):
    """``GET /admin/keys/{id}``: the key plus its spend in the current budget period."""

    period_start: datetime.datetime | None
    period_spend_micro_usd: int


class KeyBudget(msgspec.Struct, frozen=True):
    """``GET /admin/keys/budgets``: one key with a budget and its spend in the current period
    (``period_start`` is None for a ``total`` budget, which never rolls over)."""

    key_id: uuid.UUID
    owner_ref: str
    budget_micro_usd: int
    budget_period: str
    period_start: datetime.datetime | None
    period_spend_micro_usd: int


class KeyCreated(KeyOut):
    """Returned once, by create and regenerate: the only time the secret ``key`` is shown."""

    key: str


def key_out(row: models.VirtualKey) -> KeyOut:
    return KeyOut(**_fields(row))


def _fields(row: models.VirtualKey) -> dict[str, Any]:
    return {
        "id": row.id,
        "key_prefix": row.key_prefix,
        "owner_ref": row.owner_ref,
        "allowed_models": row.allowed_models,
        "rpm": row.rpm,
        "tpm": row.tpm,
        "budget_micro_usd": row.budget_micro_usd,
        "budget_period": row.budget_period,
        "expires_at": row.expires_at,
        "blocked": row.blocked,
        "metadata": dict(row.metadata or {}),
        "log_prompts": row.log_prompts,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def key_created(row: models.VirtualKey, key: str) -> KeyCreated:
    return KeyCreated(**_fields(row), key=key)


def key_info(row: models.VirtualKey, *, period_start: datetime.datetime | None, spend: int) -> KeyInfo:
    return KeyInfo(**_fields(row), period_start=period_start, period_spend_micro_usd=spend)
