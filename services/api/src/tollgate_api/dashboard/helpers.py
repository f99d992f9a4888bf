"""Formatting and paging for the dashboard's templates: integer money, thousands separators, times in
the operator's zone, keyset cursors in query strings. Pure functions, no I/O."""

from __future__ import annotations

import base64
import datetime
import uuid
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MICRO: Final = 1_000_000
UTC: Final = ZoneInfo("UTC")


def money(micro_usd: int | None) -> str:
    """``$1,234.57`` from micro-USD, half away from zero; sub-cent amounts keep six decimals."""
    if micro_usd is None:
        return "—"
    sign = "-" if micro_usd < 0 else ""
    value = abs(micro_usd)
    if 0 < value < 10_000:
        return f"{sign}${value // _MICRO}.{value % _MICRO:06d}"
    cents = (value + 5_000) // 10_000
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"


def num(value: int | None) -> str:
    """``12,345`` (credits, tokens, counts)."""
    return "—" if value is None else f"{value:,}"


def pct_bps(numerator: int, denominator: int) -> str:
    """``12.34%`` from two integers, without floats."""
    if denominator == 0:
        return "—"
    bps = (abs(numerator) * 10_000 * 2 + denominator) // (2 * denominator)
    sign = "-" if numerator < 0 else ""
    return f"{sign}{bps // 100}.{bps % 100:02d}%"


def zone(name: str | None) -> ZoneInfo:
    """The operator's zone (an IANA name the browser reported), UTC when unknown or invalid."""
    if not name or len(name) > 64:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def when(value: datetime.datetime | None, tz: ZoneInfo = UTC) -> str:
    if value is None:
        return "—"
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def encode_after(name: str, row_id: uuid.UUID) -> str:
    raw = f"{row_id}|{name}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_after(cursor: str | None) -> tuple[str, uuid.UUID] | None:
    """The (name, id) keyset position of ``encode_after``; None for a missing or malformed cursor."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        row_id, _, name = raw.partition("|")
        return name, uuid.UUID(row_id)
    except ValueError:
        return None


def parse_uuid(value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
