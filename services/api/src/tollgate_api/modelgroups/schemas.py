"""Model groups, access groups and grants on the wire (admin API)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

GroupName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")]
RouterModel = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class ModelGroupIn(msgspec.Struct, forbid_unknown_fields=True):
    name: GroupName
    router_model: RouterModel
    fallbacks: Annotated[list[RouterModel], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=list)
    description: str = ""


class ModelGroupOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    router_model: str
    fallbacks: list[str]
    description: str
    created_at: datetime
    updated_at: datetime


class AccessGroupIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    model_groups: list[GroupName] = msgspec.field(default_factory=list)
    description: str = ""


class AccessGroupOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    description: str
    model_groups: list[str]
    created_at: datetime
    updated_at: datetime


class GrantIn(msgspec.Struct, forbid_unknown_fields=True):
    access_group_id: uuid.UUID


class GrantOut(msgspec.Struct):
    access_group_id: uuid.UUID
    name: str
    granted_at: datetime
