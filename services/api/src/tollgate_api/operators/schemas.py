"""Operators, logins and automation tokens on the wire (admin API)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

Role = Literal["admin", "operator", "finance"]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
NewPassword = Annotated[str, msgspec.Meta(min_length=12, max_length=1024)]


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    password: Password


class LoginOut(msgspec.Struct):
    token: str
    expires_at: datetime


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    expires_at: datetime | None = None


class TokenIssued(msgspec.Struct):
    id: uuid.UUID
    name: str
    token: str
    token_hint: str
    expires_at: datetime | None
    created_at: datetime


class TokenOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    token_hint: str
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class OperatorIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: NewPassword
    role: Role


class OperatorOut(msgspec.Struct):
    id: uuid.UUID
    email: str
    role: Role
    disabled_at: datetime | None
    created_at: datetime


class MeOut(msgspec.Struct):
    id: uuid.UUID
    email: str
    role: Role
