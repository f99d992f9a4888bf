"""Browser tests drive Debian's Chromium (``/usr/bin/chromium``) with Playwright from PyPI.

Without Chromium they skip with the reason locally and fail under ``CI=true`` (``.ci/run`` installs
it). One browser per test session; each role gets its own context (its own cookies).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[object]:
    if not CHROMIUM.exists():  # noqa: ASYNC240 - one stat at session start
        reason = f"Chromium not found at {CHROMIUM} (Debian package 'chromium'; .ci/run installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.async_api import async_playwright  # noqa: PLC0415 - only when a browser exists

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
