"""Fake LLM providers for tests and benchmarks: real HTTP servers on 127.0.0.1.

    from tests.fakes import Behavior, FakeAnthropic, FakeOpenAI, ToolCall

    with FakeOpenAI(api_key="sk-test") as fake:
        fake.push(Behavior(status=429))          # the next model call gets a 429
        ...point the code under test at fake.base_url...
        assert fake.requests[-1].json["model"] == "gpt-4o-mini"

See README.md beside this file; `python -m tests.fakes --help` for the fast benchmark upstream.
"""

from tests.fakes._anthropic import FakeAnthropic, anthropic_prompt_text
from tests.fakes._openai import FakeOpenAI, fake_embedding, openai_prompt_text
from tests.fakes._server import FakeServer, RecordedRequest
from tests.fakes.behavior import Behavior, ToolCall, estimate_tokens

__all__ = [
    "Behavior",
    "FakeAnthropic",
    "FakeOpenAI",
    "FakeServer",
    "RecordedRequest",
    "ToolCall",
    "anthropic_prompt_text",
    "estimate_tokens",
    "fake_embedding",
    "openai_prompt_text",
]
