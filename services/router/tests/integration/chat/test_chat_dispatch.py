"""The data plane is dispatched before Litestar's stack (ADR 0010) and keeps what that stack gave it:
request ids, per-route metrics, OpenAI-shaped errors for unexpected failures, and the same answers
when Litestar's own routing serves the handlers instead."""

from __future__ import annotations

import pytest

from tests.fakes import FakeOpenAI
from tollgate_router.chat.service import ChatService

from .conftest import Router

MSG = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}


async def seed(router: Router, fake: FakeOpenAI) -> str:
    provider = await router.provider("openai", base_url=fake.base_url, api_key="sk")
    await router.deployment("m", provider, "gpt-4o-mini")
    return await router.key()


async def test_the_data_plane_skips_litestar_routing_but_keeps_request_ids_and_metrics(
    router: Router, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await seed(router, fake)
    routed: list[str] = []
    original = router.app.asgi_router.handle_routing

    def spy(path: str, method: str | None) -> object:
        routed.append(path)
        return original(path=path, method=method)

    monkeypatch.setattr(router.app.asgi_router, "handle_routing", spy)

    response = await router.chat(key, MSG, headers={"x-request-id": "req-dispatch-1"})

    assert response.status_code == 200
    assert routed == []  # Litestar's router never saw the call
    assert response.headers["x-request-id"] == "req-dispatch-1"
    assert response.headers["x-tollgate-request-id"] == "req-dispatch-1"
    metrics = (await router.client.get("/metrics")).text
    assert (
        'tollgate_http_requests_total{method="POST",route="/v1/chat/completions",service="router",'
        'status="200"} 1.0' in metrics
    )
    assert routed == ["/metrics"]  # everything else still goes through Litestar


async def test_an_unexpected_failure_is_an_openai_shaped_500_without_internals(
    router: Router, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await seed(router, fake)

    async def broken(self: ChatService, **_: object) -> None:
        raise RuntimeError("secret internals: provider sk-live-123 at 10.0.0.7")

    monkeypatch.setattr(ChatService, "chat", broken)

    response = await router.chat(key, MSG, headers={"x-request-id": "req-crash-1"})

    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "message": "The gateway failed to handle this request.",
            "type": "api_error",
            "code": "internal_error",
            "param": None,
        }
    }
    assert response.headers["x-tollgate-request-id"] == "req-crash-1"
    assert "sk-live" not in response.text
    assert "10.0.0.7" not in response.text


async def test_litestar_routing_serves_the_same_handlers_when_dispatch_does_not_apply(
    router: Router, fake: FakeOpenAI
) -> None:
    key = await seed(router, fake)
    router.app.fast_paths.clear()  # as for a request under a root_path

    response = await router.chat(key, MSG)
    missing = await router.client.post("/v1/chat/completions", json=MSG)

    assert response.status_code == 200
    assert response.json()["choices"]
    assert response.headers["x-tollgate-cost-micro-usd"]
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "authentication_error"
