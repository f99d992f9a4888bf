"""Settings of ``tollgate dev`` (the zero-config local stack), read from ``TOLLGATE_*`` variables.

The services' own settings (ports, database, Redis, secrets) keep their names; this module reads the
few of them the supervisor needs, plus the ``TOLLGATE_DEV_*`` knobs of the local stack itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tollgate_common.env import Env
from tollgate_common.settings import ServerSettings

DEV_PG_PORT = 54329
DEV_REDIS_PORT = 63799
DEV_DATABASE = "tollgate"


@dataclass(frozen=True, slots=True)
class DevSettings:
    state_dir: Path
    database_url: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    pg_port: int = DEV_PG_PORT
    redis_port: int = DEV_REDIS_PORT
    api: ServerSettings = field(default_factory=lambda: ServerSettings(port=8000))
    router: ServerSettings = field(default_factory=lambda: ServerSettings(port=4000))
    seed: bool = True
    worker: bool = True
    ready_timeout_s: float = 60.0
    stop_timeout_s: float = 10.0

    @classmethod
    def from_env(cls, env: Env) -> DevSettings:
        return cls(
            state_dir=Path(env.get_str("DEV_DIR", ".tollgate/dev")).resolve(),
            database_url=env.get_optional("DATABASE_URL"),
            redis_url=env.get_optional("REDIS_URL"),
            pg_port=env.get_int("DEV_PG_PORT", DEV_PG_PORT, minimum=1, maximum=65535),
            redis_port=env.get_int("DEV_REDIS_PORT", DEV_REDIS_PORT, minimum=1, maximum=65535),
            api=ServerSettings.from_env(env, prefix="API", default_port=8000),
            router=ServerSettings.from_env(env, prefix="ROUTER", default_port=4000),
            seed=env.get_bool("DEV_SEED", True),
            worker=env.get_bool("DEV_WORKER", True),
            ready_timeout_s=env.get_float("DEV_READY_TIMEOUT_S", 60.0, minimum=1.0),
            stop_timeout_s=env.get_float("DEV_STOP_TIMEOUT_S", 10.0, minimum=0.5),
        )

    @property
    def secrets_file(self) -> Path:
        return self.state_dir / "secrets.env"

    @property
    def demo_file(self) -> Path:
        return self.state_dir / "demo.env"

    @staticmethod
    def url_of(server: ServerSettings) -> str:
        host = "127.0.0.1" if server.host in {"0.0.0.0", "::", ""} else server.host  # noqa: S104
        return f"http://{host}:{server.port}"

    @property
    def api_url(self) -> str:
        return self.url_of(self.api)

    @property
    def router_url(self) -> str:
        return self.url_of(self.router)
