"""Metric labels come from bounded sets: callers choose ``model`` and the HTTP method, so a name the
catalog does not know (or a made-up method) must not become a new time series (memory grows with
every distinct label value, for the life of the process)."""

from __future__ import annotations

from tests.fakes import FakeOpenAI

from .conftest import Router


async def test_unknown_models_and_methods_share_one_label(router: Router, fake: FakeOpenAI) -> None:
    provider = await router.provider("openai", base_url=fake.base_url, api_key="sk")
    await router.deployment("m", provider, "gpt-4o-mini")
    key = await router.key()

    ok = await router.chat(key, {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    for i in range(3):
        missing = await router.chat(
            key, {"model": f"made-up-{i}", "messages": [{"role": "user", "content": "x"}]}
        )
        assert missing.status_code == 404
    odd = await router.client.request("BREW", "/v1/models", headers={"authorization": f"Bearer {key}"})

    assert ok.status_code == 200
    assert odd.status_code == 405
    metrics = (await router.client.get("/metrics")).text
    assert "made-up" not in metrics
    assert "BREW" not in metrics
    assert 'tollgate_router_requests_total{endpoint="chat",model="m",status="200"} 1.0' in metrics
    assert 'tollgate_router_requests_total{endpoint="chat",model="unknown",status="404"} 3.0' in metrics
    assert 'method="OTHER",route="/v1/models"' in metrics
