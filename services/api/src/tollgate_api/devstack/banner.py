"""What ``tollgate dev`` prints once the stack is up. docs/quickstart.md shows the same curl sequence
(a test compares them), so keep both in step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DEMO_MODEL_GROUP: Final = "chat-fast"
DEMO_JOB_TYPE: Final = "demo"


@dataclass(frozen=True, slots=True)
class BannerInfo:
    api_url: str
    router_url: str
    admin_email: str
    admin_password: str
    team_key: str | None
    secrets_file: str
    backing: str
    worker: bool = True
    seed_error: str | None = None
    dashboard: bool = False


def curl_sequence(api_url: str, team_key: str) -> list[str]:
    """A whole job, one curl per step, the job id kept in a shell variable (no jq needed)."""
    auth = '-H "Authorization: Bearer $KEY" -H "Content-Type: application/json"'
    return [
        f"KEY={team_key}",
        f"API={api_url}",
        f"JOB=$(curl -sS -X POST $API/api/jobs/create {auth} \\",
        f'  -d \'{{"job_type": "{DEMO_JOB_TYPE}"}}\' | sed -E \'s/.*"job_id": *"([^"]+)".*/\\1/\')',
        'echo "job: $JOB"',
        f"curl -sS -X POST $API/api/jobs/$JOB/llm-call {auth} \\",
        f'  -d \'{{"model": "{DEMO_MODEL_GROUP}", '
        '"messages": [{"role": "user", "content": "Hello, Tollgate!"}]}\'; echo',
        f"curl -sS -X POST $API/api/jobs/$JOB/complete {auth} \\",
        '  -d \'{"status": "completed"}\'; echo',
    ]


def render(info: BannerInfo) -> str:
    lines = [
        "",
        "=" * 78,
        f"Tollgate is running ({info.backing}).",
        "",
        f"  API              {info.api_url}",
        f"  API docs         {info.api_url}/schema",
        f"  Dashboard        {info.api_url}/dashboard" + ("" if info.dashboard else "  (placeholder)"),
        f"  Router           {info.router_url}  (internal; admin token in {info.secrets_file})",
        "",
        f"  Operator login   {info.admin_email} / {info.admin_password}",
    ]
    if info.team_key:
        lines += [f"  Demo team key    {info.team_key}"]
    if not info.worker:
        lines += ["", "  (no worker started: tollgate_api.worker is not available)"]
    if info.seed_error:
        lines += ["", f"  The demo could not be seeded: {info.seed_error}"]
    if info.team_key:
        lines += ["", "Run a whole job (paste into a shell):", ""]
        lines += [f"  {line}" for line in curl_sequence(info.api_url, info.team_key)]
    lines += ["", "Press Ctrl-C to stop everything.", "=" * 78, ""]
    return "\n".join(lines)
