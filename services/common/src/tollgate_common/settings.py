"""Settings concerns shared by both services. Each service composes them in its own ``settings.py``."""

from __future__ import annotations

from dataclasses import dataclass, field

from tollgate_common.env import Env


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str = field(repr=False)
    pool_min: int = 2
    pool_max: int = 20
    pool_timeout_s: float = 5.0
    migrate_on_start: bool = True

    @classmethod
    def from_env(cls, env: Env, *, default_pool_max: int = 20) -> DatabaseSettings:
        return cls(
            url=env.get_str("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/tollgate"),
            pool_min=env.get_int("DATABASE_POOL_MIN", 2, minimum=0),
            pool_max=env.get_int("DATABASE_POOL_MAX", default_pool_max, minimum=1),
            pool_timeout_s=env.get_float("DATABASE_POOL_TIMEOUT_S", 5.0),
            migrate_on_start=env.get_bool("MIGRATE_ON_START", True),
        )


@dataclass(frozen=True, slots=True)
class RedisSettings:
    url: str = field(repr=False)
    prefix: str = "tollgate:"
    max_connections: int = 64

    @classmethod
    def from_env(cls, env: Env) -> RedisSettings:
        return cls(
            url=env.get_str("REDIS_URL", "redis://127.0.0.1:6379/0"),
            prefix=env.get_str("REDIS_PREFIX", "tollgate:"),
            max_connections=env.get_int("REDIS_MAX_CONNECTIONS", 64, minimum=1),
        )


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1

    @classmethod
    def from_env(cls, env: Env, *, prefix: str, default_port: int) -> ServerSettings:
        return cls(
            host=env.get_str(f"{prefix}_HOST", "127.0.0.1"),
            port=env.get_int(f"{prefix}_PORT", default_port, minimum=1, maximum=65535),
            workers=env.get_int(f"{prefix}_WORKERS", 1, minimum=1, maximum=64),
        )


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "INFO"
    json: bool | None = None
    access_log: bool = True

    @classmethod
    def from_env(cls, env: Env) -> LogSettings:
        fmt = env.get_choice("LOG_FORMAT", "auto", ("auto", "json", "console"))
        return cls(
            level=env.get_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            json=None if fmt == "auto" else fmt == "json",
            access_log=env.get_bool("ACCESS_LOG", True),
        )
