"""docs/examples/job_api_example.py (the job API guide's example) runs unchanged against the api
over real HTTP — in-process, so it is checked by the fast suite too, not only by the make-run e2e."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any

from tests.fakes import Behavior
from tests.jobs_support import job_world

EXAMPLE = Path(__file__).resolve().parents[5] / "docs" / "examples" / "job_api_example.py"


def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("job_api_example_inprocess", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_guides_python_example_runs_a_whole_job(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix, serve=True) as world:
        team = await world.seed_team(credits_amount=10)
        world.fake.push(Behavior(content="A tollgate collects a fee."))
        world.fake.push(Behavior(content="Hello!", n_chunks=3))
        assert world.base_url is not None
        result = await asyncio.to_thread(load_example().run, world.base_url, team.api_key)
        assert result["content"] == "A tollgate collects a fee."
        assert result["streamed"] == "Hello!"
        assert result["stream_call_id"]
        assert result["credit_applied"] == 2
        assert result["credits_remaining"] == result["available"] == 8
