"""A whole Tollgate job from a SaaS backend, with httpx: create, call, stream, complete, balance.

Run it against `make run`:

    TOLLGATE_API_URL=http://127.0.0.1:8000 TOLLGATE_API_KEY=<demo key> python docs/examples/job_api_example.py

This file is executed by the test suite (tests/e2e/test_dev_stack.py), so what the guide shows works.
"""

from __future__ import annotations

import json
import os

import httpx


def run(base_url: str, api_key: str, model_group: str = "chat-fast") -> dict[str, object]:
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30.0) as client:
        # 1. Create a job. Tollgate places a credit hold for it (402 if the team cannot cover it).
        job = client.post("/api/jobs/create", json={"job_type": "summarize", "user_id": "user-42"})
        job.raise_for_status()
        job_id = job.json()["job_id"]

        # 2. A JSON call, by model-group name: no model, provider, tokens or cost come back.
        call = client.post(
            f"/api/jobs/{job_id}/llm-call",
            json={
                "model": model_group,
                "purpose": "summary",
                "messages": [{"role": "user", "content": "Summarize: a tollgate collects a fee."}],
            },
        )
        call.raise_for_status()
        content = call.json()["response"]["content"]

        # 3. A streamed call: Server-Sent Events, tokens as they arrive, then a "done" event.
        streamed: list[str] = []
        done: dict[str, object] = {}
        with client.stream(
            "POST",
            f"/api/jobs/{job_id}/llm-call-stream",
            json={"model": model_group, "messages": [{"role": "user", "content": "Say hello."}]},
        ) as stream:
            stream.raise_for_status()
            for line in stream.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line.removeprefix("data: "))
                if event["type"] == "delta":
                    streamed.append(event["content"])
                elif event["type"] == "done":
                    done = event
                elif event["type"] == "error":
                    raise RuntimeError(event["error"])

        # 4. Complete the job: the team is charged by its plan, exactly once (a retry returns the same).
        completed = client.post(f"/api/jobs/{job_id}/complete", json={"status": "completed"})
        completed.raise_for_status()
        costs = completed.json()["costs"]

        # 5. The team's credits: balance, held by open jobs, available.
        balance = client.get("/api/credits/balance").json()

    return {
        "job_id": job_id,
        "content": content,
        "streamed": "".join(streamed),
        "stream_call_id": done.get("call_id"),
        "credit_applied": costs["credit_applied"],
        "credits_remaining": costs["credits_remaining"],
        "available": balance["available"],
    }


if __name__ == "__main__":
    result = run(os.environ["TOLLGATE_API_URL"], os.environ["TOLLGATE_API_KEY"])
    print(json.dumps(result, indent=2))  # noqa: T201
