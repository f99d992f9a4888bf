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
class RoutingSettings:
    """The data plane's routing knobs (tollgate_router.chat)."""

    strategy: str = "weighted"  # default when a deployment's settings name none
    cooldown_s: float = 30.0  # how long a failing deployment is skipped, on every replica
    cooldown_after_failures: int = 3  # consecutive retryable failures (per process) before a cooldown
    cooldown_poll_s: float = 0.5  # how often a replica reads the shared cooldowns from Redis
    backoff_base_s: float = 0.05  # first retry of the same deployment waits about this long (jittered)
    backoff_max_s: float = 2.0  # cap of one backoff, Retry-After included
    max_fallback_depth: int = 3  # fallback models tried after the requested one
    prompt_log_max_chars: int = 4000  # text kept per call in `prompt_logged` lines (keys with log_prompts)

    @classmethod
    def from_env(cls, env: Env) -> RoutingSettings:
        return cls(
            strategy=env.get_choice(
                "ROUTER_STRATEGY", "weighted", ("weighted", "least_busy", "lowest_latency")
            ),
            cooldown_s=env.get_float("ROUTER_COOLDOWN_S", 30.0),
            cooldown_after_failures=env.get_int("ROUTER_COOLDOWN_AFTER_FAILURES", 3, minimum=1),
            cooldown_poll_s=env.get_float("ROUTER_COOLDOWN_POLL_S", 0.5, minimum=0.01),
            backoff_base_s=env.get_float("ROUTER_BACKOFF_BASE_S", 0.05),
            backoff_max_s=env.get_float("ROUTER_BACKOFF_MAX_S", 2.0),
            max_fallback_depth=env.get_int("ROUTER_MAX_FALLBACK_DEPTH", 3, minimum=0),
            prompt_log_max_chars=env.get_int(
                "ROUTER_PROMPT_LOG_MAX_CHARS", 4000, minimum=0, maximum=1_000_000
            ),
        )


@dataclass(frozen=True, slots=True)
class RouterSettings:
    database: DatabaseSettings
    redis: RedisSettings
    server: ServerSettings
    log: LogSettings
    security: SecuritySettings
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)

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
            routing=RoutingSettings.from_env(env),
        )
