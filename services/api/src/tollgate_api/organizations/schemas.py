"""Organizations on the wire (admin API)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class OrganizationIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class OrganizationPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    status: Literal["active", "disabled"] | UnsetType = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET


class OrganizationOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    status: str
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
