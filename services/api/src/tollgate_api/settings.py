"""The api's settings by concern, read from ``TOLLGATE_*`` variables here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass, field

from tollgate_common.env import Env, Secret
from tollgate_common.settings import DatabaseSettings, LogSettings, RedisSettings, ServerSettings


@dataclass(frozen=True, slots=True)
class RouterClientSettings:
    """How the api reaches tollgate-router (data plane and admin API)."""

    url: str = "http://127.0.0.1:4000"
    admin_token: Secret = field(default_factory=lambda: Secret(""))
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 180.0

    @classmethod
    def from_env(cls, env: Env) -> RouterClientSettings:
        return cls(
            url=env.get_str("ROUTER_URL", "http://127.0.0.1:4000").rstrip("/"),
            admin_token=env.get_secret("ROUTER_ADMIN_TOKEN"),
            connect_timeout_s=env.get_float("ROUTER_CONNECT_TIMEOUT_S", 3.0),
            read_timeout_s=env.get_float("ROUTER_READ_TIMEOUT_S", 180.0),
        )


@dataclass(frozen=True, slots=True)
class AuthSettings:
    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: Secret = field(default_factory=lambda: Secret(""))
    session_ttl_s: int = 12 * 3600
    # "kid:base64key[,…]" for secrets the api must recover (the team's router virtual key).
    encryption_keys: Secret = field(default_factory=lambda: Secret(""))
    auth_cache_ttl_s: float = 30.0

    @classmethod
    def from_env(cls, env: Env) -> AuthSettings:
        return cls(
            bootstrap_admin_email=env.get_optional("BOOTSTRAP_ADMIN_EMAIL"),
            bootstrap_admin_password=env.get_secret("BOOTSTRAP_ADMIN_PASSWORD"),
            session_ttl_s=env.get_int("SESSION_TTL_S", 12 * 3600, minimum=60),
            encryption_keys=env.get_secret("API_ENCRYPTION_KEYS"),
            auth_cache_ttl_s=env.get_float("AUTH_CACHE_TTL_S", 30.0),
        )


@dataclass(frozen=True, slots=True)
class JobSettings:
    default_ttl_s: int = 3600
    max_calls_per_job: int = 1000

    @classmethod
    def from_env(cls, env: Env) -> JobSettings:
        return cls(
            default_ttl_s=env.get_int("JOB_DEFAULT_TTL_S", 3600, minimum=10),
            max_calls_per_job=env.get_int("JOB_MAX_CALLS", 1000, minimum=1),
        )


@dataclass(frozen=True, slots=True)
class ApiSettings:
    database: DatabaseSettings
    redis: RedisSettings
    server: ServerSettings
    log: LogSettings
    router: RouterClientSettings
    auth: AuthSettings
    jobs: JobSettings = field(default_factory=JobSettings)
    max_body_bytes: int = 2 * 1024 * 1024

    @classmethod
    def from_env(cls, env: Env | None = None) -> ApiSettings:
        env = env or Env()
        return cls(
            database=DatabaseSettings.from_env(env),
            redis=RedisSettings.from_env(env),
            server=ServerSettings.from_env(env, prefix="API", default_port=8000),
            log=LogSettings.from_env(env),
            router=RouterClientSettings.from_env(env),
            auth=AuthSettings.from_env(env),
            jobs=JobSettings.from_env(env),
            max_body_bytes=env.get_int("API_MAX_BODY_BYTES", 2 * 1024 * 1024, minimum=1024),
        )
