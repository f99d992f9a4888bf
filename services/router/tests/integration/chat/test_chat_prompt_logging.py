"""Prompt text reaches the logs only for keys that opted in, and then redacted."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.fakes import Behavior, FakeOpenAI

from .conftest import Router, StartRouter

SECRET_PROMPT = "Reply to bob@example.com using key sk-live-0123456789abcdefXYZ"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(default=Behavior(content="sure, mail alice@example.org")) as server:
        yield server


async def seed(router: Router, fake: FakeOpenAI) -> None:
    provider = await router.provider("openai", base_url=fake.base_url, api_key="sk")
    await router.deployment("m", provider, "gpt-4o-mini")


def body(stream: bool = False) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": SECRET_PROMPT}], "stream": stream}


def prompt_lines(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [line for line in logs if line["event"] == "prompt_logged"]


async def test_keys_without_opt_in_never_log_prompt_text(start_router: StartRouter, fake: FakeOpenAI) -> None:
    async with start_router(LOG_LEVEL="INFO") as router:
        await seed(router, fake)
        key = await router.key("team-a")
        with capture_logs() as logs:
            assert (await router.chat(key, body())).status_code == 200
            assert (await router.chat(key, body(stream=True))).status_code == 200
            await router.app.state.chat.settle_pending()
    assert prompt_lines(logs) == []
    assert "bob@example.com" not in repr(logs)


@pytest.mark.parametrize("stream", [False, True])
async def test_opted_in_keys_log_redacted_prompt_and_answer(
    start_router: StartRouter, fake: FakeOpenAI, stream: bool
) -> None:
    async with start_router(LOG_LEVEL="INFO") as router:
        await seed(router, fake)
        key = await router.key("team-a", log_prompts=True)
        with capture_logs() as logs:
            assert (await router.chat(key, body(stream=stream))).status_code == 200
            await router.app.state.chat.settle_pending()
    [line] = prompt_lines(logs)
    assert line["messages"] == [{"role": "user", "content": "Reply to [email] using key [secret]"}]
    assert line["answer"] == "sure, mail [email]"
    assert "bob@example.com" not in repr(logs)
    assert "sk-live-0123456789abcdefXYZ" not in repr(logs)
    assert "alice@example.org" not in repr(logs)
