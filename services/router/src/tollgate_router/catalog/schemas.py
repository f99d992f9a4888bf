"""Wire shapes of /admin/providers, /admin/deployments and /admin/fallbacks (snake_case JSON).

A provider's API key is write-only: it goes in on create/rotate and only ``api_key_hint`` (its last four
characters) ever comes out.
"""

from __future__ import annotations

import datetime
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

if TYPE_CHECKING:  # rows are only converted here; the generated code stays the repository's
    from tollgate_router.db import models

ProviderKind = Literal["openai", "openai_compatible", "azure_openai", "anthropic", "mock"]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
Price = Annotated[int, Meta(ge=0)]
Positive = Annotated[int, Meta(gt=0)]
NonNegative = Annotated[int, Meta(ge=0)]


class ProviderCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    kind: ProviderKind
    base_url: str | None = None
    api_key: Annotated[str, Meta(max_length=4096)] | None = None
    settings: dict[str, Any] = msgspec.field(default_factory=dict)


class ProviderPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    kind: ProviderKind | UnsetType = UNSET
    base_url: str | UnsetType | None = UNSET
    api_key: Annotated[str, Meta(max_length=4096)] | UnsetType | None = UNSET
    settings: dict[str, Any] | UnsetType = UNSET


class ProviderKeyRotate(msgspec.Struct, forbid_unknown_fields=True):
    api_key: Annotated[str, Meta(min_length=1, max_length=4096)]


class ProviderOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    kind: str
    base_url: str | None
    api_key_hint: str | None
    has_api_key: bool
    settings: dict[str, Any]
    created_at: datetime.datetime
    updated_at: datetime.datetime


class RotationResult(msgspec.Struct):
    rotated: int
    unchanged: int
    primary_key_id: str


def provider_out(row: models.Provider) -> ProviderOut:
    return ProviderOut(
        id=row.id,
        name=row.name,
        kind=row.kind,
        base_url=row.base_url,
        api_key_hint=row.api_key_hint,
        has_api_key=row.api_key_enc is not None,
        settings=dict(row.settings or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class DeploymentCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Prices left out are pre-filled from the bundled list prices (data/model_prices.json), else 0."""

    model_name: Name
    provider_id: uuid.UUID
    upstream_model: Name
    weight: NonNegative = 1
    input_price_micro_usd_per_mtok: Price | None = None
    output_price_micro_usd_per_mtok: Price | None = None
    cached_input_price_micro_usd_per_mtok: Price | None = None
    cache_write_price_micro_usd_per_mtok: Price | None = None
    rpm: Positive | None = None
    tpm: Positive | None = None
    timeout_s: Positive = 60
    max_retries: NonNegative = 2
    region: str | None = None
    cache_ttl_s: NonNegative | None = None
    enabled: bool = True
    settings: dict[str, Any] = msgspec.field(default_factory=dict)


class DeploymentPatch(msgspec.Struct, forbid_unknown_fields=True):
    model_name: Name | UnsetType = UNSET
    provider_id: uuid.UUID | UnsetType = UNSET
    upstream_model: Name | UnsetType = UNSET
    weight: NonNegative | UnsetType = UNSET
    input_price_micro_usd_per_mtok: Price | UnsetType = UNSET
    output_price_micro_usd_per_mtok: Price | UnsetType = UNSET
    cached_input_price_micro_usd_per_mtok: Price | UnsetType = UNSET
    cache_write_price_micro_usd_per_mtok: Price | UnsetType = UNSET
    rpm: Positive | UnsetType | None = UNSET
    tpm: Positive | UnsetType | None = UNSET
    timeout_s: Positive | UnsetType = UNSET
    max_retries: NonNegative | UnsetType = UNSET
    region: str | UnsetType | None = UNSET
    cache_ttl_s: NonNegative | UnsetType | None = UNSET
    enabled: bool | UnsetType = UNSET
    settings: dict[str, Any] | UnsetType = UNSET


class DeploymentOut(msgspec.Struct):
    id: uuid.UUID
    model_name: str
    provider_id: uuid.UUID
    upstream_model: str
    weight: int
    input_price_micro_usd_per_mtok: int
    output_price_micro_usd_per_mtok: int
    cached_input_price_micro_usd_per_mtok: int
    cache_write_price_micro_usd_per_mtok: int
    rpm: int | None
    tpm: int | None
    timeout_s: int
    max_retries: int
    region: str | None
    cache_ttl_s: int | None
    enabled: bool
    settings: dict[str, Any]
    created_at: datetime.datetime
    updated_at: datetime.datetime


def deployment_out(row: models.Deployment) -> DeploymentOut:
    return DeploymentOut(
        id=row.id,
        model_name=row.model_name,
        provider_id=row.provider_id,
        upstream_model=row.upstream_model,
        weight=row.weight,
        input_price_micro_usd_per_mtok=row.input_price_micro_usd_per_mtok,
        output_price_micro_usd_per_mtok=row.output_price_micro_usd_per_mtok,
        cached_input_price_micro_usd_per_mtok=row.cached_input_price_micro_usd_per_mtok,
        cache_write_price_micro_usd_per_mtok=row.cache_write_price_micro_usd_per_mtok,
        rpm=row.rpm,
        tpm=row.tpm,
        timeout_s=row.timeout_s,
        max_retries=row.max_retries,
        region=row.region,
        cache_ttl_s=row.cache_ttl_s,
        enabled=row.enabled,
        settings=dict(row.settings or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class FallbackPut(msgspec.Struct, forbid_unknown_fields=True):
    fallback_models: Annotated[list[Name], Meta(max_length=20)]


class FallbackOut(msgspec.Struct):
    model_name: str
    fallback_models: list[str]
