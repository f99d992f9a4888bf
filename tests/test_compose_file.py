"""compose.yaml, Dockerfile and .dockerignore, checked without a Docker engine.

The file must describe the production shape (five services, health checks, the router unreachable
from outside, start order by health) and may only use settings the code actually reads.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("postgres", "redis", "router", "api", "worker")
_GETTER = re.compile(
    r"""\.get_(?:str|int|float|bool|secret|optional|choice)\(\s*(f?)"([^"]+)"|\.raw\(\s*"([^"]+)\""""
)
_PREFIX_ARG = re.compile(r"""prefix="([A-Z0-9_]+)\"""")


@cache
def settings_names() -> frozenset[str]:
    """Every ``TOLLGATE_*`` variable the code reads through ``Env`` (f-string prefixes expanded)."""
    sources = list((REPO / "services").glob("*/src/**/*.py"))
    texts = [p.read_text(encoding="utf-8") for p in sources if "/db/" not in p.as_posix()]
    prefixes = {m for text in texts for m in _PREFIX_ARG.findall(text)}
    names: set[str] = set()
    for text in texts:
        for is_f, name, raw_name in _GETTER.findall(text):
            if raw_name:
                names.add(raw_name)
            elif is_f and "{prefix}" in name:
                names.update(name.replace("{prefix}", p) for p in prefixes)
            elif not is_f:
                names.add(name)
    return frozenset("TOLLGATE_" + n for n in names)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_every_service_is_defined(compose: dict[str, Any]) -> None:
    assert set(SERVICES) <= set(compose["services"])


def test_health_checks_use_the_right_probe(compose: dict[str, Any]) -> None:
    services = compose["services"]
    probes = {name: " ".join(services[name]["healthcheck"]["test"]) for name in SERVICES if name != "worker"}
    assert "pg_isready" in probes["postgres"]
    assert "redis-cli ping" in probes["redis"]
    assert "/health/ready" in probes["router"]
    assert ":4000/" in probes["router"]
    assert "/health/ready" in probes["api"]
    assert ":8000/" in probes["api"]


def test_postgres_is_16_or_newer(compose: dict[str, Any]) -> None:
    image = compose["services"]["postgres"]["image"]
    major = int(re.match(r"postgres:(\d+)", image).group(1))  # type: ignore[union-attr]
    assert major >= 16


def test_router_is_not_published_and_api_is(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "ports" not in services["router"]
    assert "network_mode" not in services["router"]
    assert any(str(p).endswith(":8000") for p in services["api"]["ports"])
    for name in ("postgres", "redis", "worker"):
        assert "ports" not in services[name], f"{name} must not be published"


def test_data_stores_sit_on_an_internal_network(compose: dict[str, Any]) -> None:
    networks = compose["networks"]
    for name in ("postgres", "redis"):
        for net in compose["services"][name]["networks"]:
            assert networks[net].get("internal") is True, f"{name} is on a routable network {net}"


def test_services_start_in_health_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("router", "api", "worker"):
        depends = services[name]["depends_on"]
        assert {"postgres", "redis"} <= set(depends)
        assert all(dep["condition"] == "service_healthy" for dep in depends.values())
    assert "router" in services["api"]["depends_on"]


def test_one_image_runs_the_three_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    commands = {name: services[name]["command"] for name in ("router", "api", "worker")}
    assert commands["router"][-2:] == ["-m", "tollgate_router"]
    assert commands["api"][-2:] == ["-m", "tollgate_api"]
    assert commands["worker"][-2:] == ["-m", "tollgate_api.worker"]
    assert len({services[name]["image"] for name in commands}) == 1
    for name in commands:
        assert services[name]["build"]["target"] == "runtime"


def test_every_tollgate_variable_in_compose_is_a_real_setting(compose: dict[str, Any]) -> None:
    known = settings_names()
    assert "TOLLGATE_DATABASE_URL" in known
    assert "TOLLGATE_API_PORT" in known
    used = {key for svc in compose["services"].values() for key in _env(svc) if key.startswith("TOLLGATE_")}
    assert used, "compose sets no TOLLGATE_ variables"
    assert used <= known, f"unknown settings: {sorted(used - known)}"


def test_dockerfile_env_names_are_real_settings() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    used = set(re.findall(r"\b(TOLLGATE_[A-Z0-9_]+)=", text))
    assert used <= settings_names(), f"unknown settings: {sorted(used - settings_names())}"


def test_dockerfile_is_multi_stage_from_the_lock_file_and_non_root() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, flags=re.MULTILINE)
    assert stages == ["build", "runtime"]
    assert re.search(r'pip install "uv==\$\{UV_VERSION\}"', text)
    assert re.search(r"^ARG UV_VERSION=\d+\.\d+\.\d+$", text, flags=re.MULTILINE)
    syncs = re.findall(r"uv sync ([^\n]*)", text.replace("\\\n", " "))
    assert syncs
    for sync in syncs:
        assert "--frozen" in sync
        assert "--no-dev" in sync
        assert "--package tollgate-api" in sync
        assert "--package tollgate-router" in sync
    runtime = text.split("AS runtime", 1)[1]
    user = re.search(r"^USER\s+(\S+)", runtime, flags=re.MULTILINE)
    assert user is not None
    assert user.group(1).split(":")[0] not in {"root", "0"}
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, flags=re.MULTILINE):
        assert (REPO / source).exists(), f"COPY {source}: no such path"


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".tollgate", ".env"} <= ignored
    assert not {"services", "db", "uv.lock", "pyproject.toml"} & ignored


def test_operations_doc_lists_every_setting() -> None:
    doc = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = sorted(name for name in settings_names() if f"`{name}`" not in doc)
    assert not missing, f"docs/operations.md does not document: {missing}"
