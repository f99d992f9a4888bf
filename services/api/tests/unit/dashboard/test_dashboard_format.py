"""The dashboard's formatting: integer money, percentages and USD parsing without floats, zones,
keyset cursors."""

from __future__ import annotations

import datetime
import uuid

import pytest

from tollgate_api.dashboard import helpers
from tollgate_api.dashboard.catalog import usd_to_micro
from tollgate_api.errors import BadRequest


@pytest.mark.parametrize(
    ("micro", "text"),
    [
        (None, "—"),
        (0, "$0.00"),
        (360, "$0.000360"),
        (9_999, "$0.009999"),
        (10_000, "$0.01"),
        (4_999, "$0.004999"),
        (1_234_565_000, "$1,234.57"),
        (-110_000, "-$0.11"),
        (123_456_789_000_000, "$123,456,789.00"),
    ],
)
def test_money_formats_micro_usd_with_separators_and_cents(micro: int | None, text: str) -> None:
    assert helpers.money(micro) == text


def test_numbers_and_percentages_are_exact() -> None:
    assert helpers.num(1_234_567) == "1,234,567"
    assert helpers.pct_bps(1, 3) == "33.33%"
    assert helpers.pct_bps(-110_000, 250_000) == "-44.00%"
    assert helpers.pct_bps(5, 0) == "—"


def test_times_render_in_the_operators_zone_and_bad_zones_fall_back_to_utc() -> None:
    at = datetime.datetime(2026, 11, 23, 13, 0, tzinfo=datetime.UTC)
    assert helpers.when(at, helpers.zone("Europe/Paris")) == "2026-11-23 14:00:00 CET"
    assert helpers.zone("Mars/Olympus") is helpers.UTC
    assert helpers.zone("../../etc/passwd") is helpers.UTC
    assert helpers.zone(None) is helpers.UTC


def test_keyset_cursor_round_trips_and_rejects_garbage() -> None:
    row_id = uuid.uuid4()
    assert helpers.decode_after(helpers.encode_after("team|with|bars", row_id)) == ("team|with|bars", row_id)
    assert helpers.decode_after("garbage!") is None
    assert helpers.decode_after(None) is None


def test_usd_amounts_parse_to_micro_usd_exactly() -> None:
    assert usd_to_micro("0.36") == 360_000
    assert usd_to_micro("$1,000.000001") == 1_000_000_001
    for bad in ("abc", "0.0000001", "-1", "NaN"):
        with pytest.raises(BadRequest):
            usd_to_micro(bad)
