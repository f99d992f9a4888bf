"""The ``tollgate`` command: port conflicts, dev secrets, migrate, keys, and the printed curl sequence."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tollgate_api.cli import main
from tollgate_api.devstack.banner import curl_sequence
from tollgate_api.devstack.database import with_database
from tollgate_api.devstack.settings import DevSettings
from tollgate_api.devstack.stack import Backing, DevError, check_ports, child_env
from tollgate_api.devstack.state import dev_secrets
from tollgate_common.crypto import Keyring
from tollgate_common.env import Env

REPO = Path(__file__).resolve().parents[5]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_dev_with_a_port_in_use_says_so_in_one_line_and_exits_2(busy_port: int, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_") and not k.startswith("TEST_")}
    env.update(
        {
            "TOLLGATE_API_PORT": str(busy_port),
            "TOLLGATE_DEV_DIR": str(tmp_path / "dev"),
            "TOLLGATE_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/unused",
            "TOLLGATE_REDIS_URL": "redis://127.0.0.1:1/0",
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "tollgate_api.cli", "dev"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"port {busy_port} (api) is already in use" in lines[0]
    assert "TOLLGATE_API_PORT" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "dev").exists() or not (tmp_path / "dev" / "secrets.env").exists()


def test_dev_secrets_are_generated_once_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    first = dev_secrets(Env({}), path)
    second = dev_secrets(Env({}), path)

    assert first == second
    assert first["TOLLGATE_BOOTSTRAP_ADMIN_EMAIL"] == "admin@example.com"
    assert len(first["TOLLGATE_BOOTSTRAP_ADMIN_PASSWORD"]) >= 12
    Keyring.from_setting(first["TOLLGATE_ROUTER_ENCRYPTION_KEYS"])
    Keyring.from_setting(first["TOLLGATE_API_ENCRYPTION_KEYS"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_dev_secrets_from_the_environment_win_and_are_not_written(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    resolved = dev_secrets(
        Env({"TOLLGATE_ROUTER_ADMIN_TOKEN": "from-env", "TOLLGATE_BOOTSTRAP_ADMIN_PASSWORD": "pw-from-env"}),
        path,
    )
    assert resolved["TOLLGATE_ROUTER_ADMIN_TOKEN"] == "from-env"
    assert resolved["TOLLGATE_BOOTSTRAP_ADMIN_PASSWORD"] == "pw-from-env"
    stored = path.read_text()
    assert "from-env" not in stored
    assert "TOLLGATE_API_ENCRYPTION_KEYS=" in stored


def test_keys_new_encryption_key_prints_a_usable_keyring_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "new-encryption-key", "--kid", "k7"]) == 0
    value = capsys.readouterr().out.strip()
    ring = Keyring.from_setting(value)
    assert ring.primary == "k7"
    assert ring.decrypt(ring.encrypt("secret")) == "secret"


def test_migrate_creates_the_database_and_is_idempotent(
    pg_server_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"tollgate_cli_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("TOLLGATE_DATABASE_URL", with_database(pg_server_url, name))
    try:
        assert main(["migrate", "--create-database"]) == 0
        first = capsys.readouterr().out
        assert main(["migrate", "--service", "api"]) == 0
        second = capsys.readouterr().out
        with psycopg.connect(with_database(pg_server_url, name)) as conn:
            schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert f"created database {name}" in first
    assert "router:" in first
    assert "api:" in first
    assert "api: 0 migration(s) applied" in second
    assert {"api", "router"} <= schemas


def test_migrate_against_an_unreachable_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOLLGATE_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nothing")
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("tollgate migrate: cannot reach the database")


def test_quickstart_shows_exactly_the_curl_sequence_tollgate_dev_prints() -> None:
    quickstart = (REPO / "docs" / "quickstart.md").read_text()
    for line in curl_sequence("http://127.0.0.1:8000", "tg_live_...")[1:]:
        assert line in quickstart, f"docs/quickstart.md lacks: {line}"
    assert "KEY=<the demo team key printed by make run>" in quickstart


def test_children_get_the_stack_urls_ports_and_secrets(tmp_path: Path) -> None:
    env = Env(
        {"TOLLGATE_API_PORT": "18001", "TOLLGATE_ROUTER_PORT": "14001", "TOLLGATE_DEV_DIR": str(tmp_path)}
    )
    dev = DevSettings.from_env(env)
    backing = Backing(
        database_url="postgresql://postgres@127.0.0.1:5/tollgate", redis_url="redis://127.0.0.1:6/0"
    )
    secrets = dev_secrets(env, dev.secrets_file)

    child = child_env(
        {"PATH": "/bin", "TOLLGATE_ROUTER_URL": "http://elsewhere"},
        dev,
        backing,
        secrets,
        configured=env,
        tty=False,
    )

    assert child["PATH"] == "/bin"
    assert child["TOLLGATE_DATABASE_URL"] == backing.database_url
    assert child["TOLLGATE_REDIS_URL"] == backing.redis_url
    assert child["TOLLGATE_API_PORT"] == "18001"
    assert child["TOLLGATE_ROUTER_URL"] == "http://127.0.0.1:14001"
    assert child["TOLLGATE_MIGRATE_ON_START"] == "false"
    assert child["TOLLGATE_LOG_FORMAT"] == "json"
    for name, value in secrets.items():
        assert child[name] == value


def test_two_services_on_one_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    env = Env(
        {"TOLLGATE_API_PORT": "18002", "TOLLGATE_ROUTER_PORT": "18002", "TOLLGATE_DEV_DIR": str(tmp_path)}
    )
    with pytest.raises(DevError) as caught:
        check_ports(DevSettings.from_env(env))
    assert caught.value.code == 2
    assert "port 18002" in str(caught.value)
