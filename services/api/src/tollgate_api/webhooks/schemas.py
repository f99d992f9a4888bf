"""Webhook endpoints, deliveries and attempts on the wire (``/api/webhooks`` and the admin twin).

The signing secret appears only in :class:`EndpointCreated` and :class:`SecretRotated`, once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from tollgate_api.webhooks.repository import WebhookDeliveryStatus

Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
EventName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Events = Annotated[list[EventName], msgspec.Meta(min_length=1, max_length=16)]
Description = Annotated[str, msgspec.Meta(max_length=500)]


class EndpointIn(msgspec.Struct, forbid_unknown_fields=True):
    url: Url
    events: Events
    description: Description = ""
    enabled: bool = True


class EndpointPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    url: Url | msgspec.UnsetType = msgspec.UNSET
    events: Events | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class RotateSecretIn(msgspec.Struct, forbid_unknown_fields=True):
    """``grace_s``: how long the previous secret keeps signing too (default: the operator setting)."""

    grace_s: Annotated[int, msgspec.Meta(ge=0, le=7 * 86400)] | None = None


class EndpointOut(msgspec.Struct):
    id: uuid.UUID
    team_id: uuid.UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    secret_hint: str
    previous_secret_expires_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointOut):
    secret: str


class SecretRotated(msgspec.Struct):
    endpoint: EndpointOut
    secret: str
    previous_secret_valid_until: datetime | None


class DeliveryOut(msgspec.Struct):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    endpoint_id: uuid.UUID
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class AttemptOut(msgspec.Struct):
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None


class DeliveryDetail(DeliveryOut):
    attempt_history: list[AttemptOut]


class TestEventSent(msgspec.Struct):
    event_id: uuid.UUID
    delivery_id: uuid.UUID
