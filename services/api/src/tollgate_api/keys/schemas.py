"""Team API keys on the wire (admin API). The secret appears only in :class:`KeyIssued`, once."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class KeyIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name = "default"
    expires_at: datetime | None = None


class RotateIn(msgspec.Struct, forbid_unknown_fields=True):
    grace_s: Annotated[int, msgspec.Meta(ge=0, le=30 * 86400)] = 0
    name: Name | None = None


class KeyOut(msgspec.Struct):
    id: uuid.UUID
    team_id: uuid.UUID
    name: str
    key_hint: str
    expires_at: datetime | None
    revoked_at: datetime | None
    rotated_to: uuid.UUID | None
    created_by: str
    created_at: datetime
    last_used_at: datetime | None  # written at most once a minute per key and api process
    active: bool


class KeyIssued(KeyOut):
    api_key: str
