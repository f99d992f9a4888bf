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
class WebhookSettings:
    """Webhook delivery (``TOLLGATE_WEBHOOKS_*``); see docs/webhooks.md for the retry schedule."""

    allow_http: bool = False  # plain http and loopback/private hosts: dev and tests only
    max_endpoints_per_team: int = 10
    connect_timeout_s: float = 5.0
    timeout_s: float = 10.0
    backoff_base_s: float = 30.0
    backoff_max_s: float = 3600.0
    max_age_s: int = 24 * 3600
    rotation_grace_s: int = 24 * 3600

    @classmethod
    def from_env(cls, env: Env) -> WebhookSettings:
        return cls(
            allow_http=env.get_bool("WEBHOOKS_ALLOW_HTTP", False),
            max_endpoints_per_team=env.get_int("WEBHOOKS_MAX_ENDPOINTS", 10, minimum=1),
            connect_timeout_s=env.get_float("WEBHOOKS_CONNECT_TIMEOUT_S", 5.0),
            timeout_s=env.get_float("WEBHOOKS_TIMEOUT_S", 10.0),
            backoff_base_s=env.get_float("WEBHOOKS_BACKOFF_BASE_S", 30.0),
            backoff_max_s=env.get_float("WEBHOOKS_BACKOFF_MAX_S", 3600.0),
            max_age_s=env.get_int("WEBHOOKS_MAX_AGE_S", 24 * 3600, minimum=1),
            rotation_grace_s=env.get_int("WEBHOOKS_ROTATION_GRACE_S", 24 * 3600, minimum=0),
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
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
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
            webhooks=WebhookSettings.from_env(env),
            max_body_bytes=env.get_int("API_MAX_BODY_BYTES", 2 * 1024 * 1024, minimum=1024),
        )
