"""The router's settings by concern, read from ``TOLLGATE_*`` variables here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass, field

from tollgate_common.env import Env, Secret
from tollgate_common.settings import DatabaseSettings, LogSettings, RedisSettings, ServerSettings


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    admin_token: Secret = field(default_factory=lambda: Secret(""))
    # "kid:base64key[,kid:base64key]" — the first is used to encrypt; see tollgate_common.crypto.Keyring
    encryption_keys: Secret = field(default_factory=lambda: Secret(""))
    max_body_bytes: int = 4 * 1024 * 1024

    @classmethod
    def from_env(cls, env: Env) -> SecuritySettings:
        return cls(
            admin_token=env.get_secret("ROUTER_ADMIN_TOKEN"),
            encryption_keys=env.get_secret("ROUTER_ENCRYPTION_KEYS"),
            max_body_bytes=env.get_int("ROUTER_MAX_BODY_BYTES", 4 * 1024 * 1024, minimum=1024),
        )


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 120.0
    pool_limit: int = 512
    pool_limit_per_host: int = 256

    @classmethod
    def from_env(cls, env: Env) -> UpstreamSettings:
        return cls(
            connect_timeout_s=env.get_float("ROUTER_UPSTREAM_CONNECT_TIMEOUT_S", 5.0),
            read_timeout_s=env.get_float("ROUTER_UPSTREAM_READ_TIMEOUT_S", 120.0),
            pool_limit=env.get_int("ROUTER_UPSTREAM_POOL_LIMIT", 512, minimum=1),
            pool_limit_per_host=env.get_int("ROUTER_UPSTREAM_POOL_LIMIT_PER_HOST", 256, minimum=1),
        )


@dataclass(frozen=True, slots=True)
class RouterSettings:
    database: DatabaseSettings
    redis: RedisSettings
    server: ServerSettings
    log: LogSettings
    security: SecuritySettings
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)

    @classmethod
    def from_env(cls, env: Env | None = None) -> RouterSettings:
        env = env or Env()
        return cls(
            database=DatabaseSettings.from_env(env),
            redis=RedisSettings.from_env(env),
            server=ServerSettings.from_env(env, prefix="ROUTER", default_port=4000),
            log=LogSettings.from_env(env),
            security=SecuritySettings.from_env(env),
            upstream=UpstreamSettings.from_env(env),
        )
