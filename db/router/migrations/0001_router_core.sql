-- The router's control-plane schema: providers (encrypted keys), deployments with prices, fallbacks,
-- virtual keys (SHA-256 only) and the spend log.
-- Forward-only: never edit this file once it has landed; add 0002_... instead.

CREATE SCHEMA IF NOT EXISTS router;

CREATE TYPE router.provider_kind AS ENUM ('openai', 'openai_compatible', 'azure_openai', 'anthropic', 'mock');
CREATE TYPE router.budget_period AS ENUM ('day', 'week', 'month', 'total');

CREATE TABLE router.providers (
    id uuid PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    kind router.provider_kind NOT NULL,
    base_url text,
    -- AES-256-GCM under a key-encryption key, "v1:<kid>:<nonce>:<ciphertext>" (tollgate_common.crypto)
    api_key_enc text,
    api_key_hint text,
    settings jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE router.deployments (
    id uuid PRIMARY KEY,
    model_name text NOT NULL CHECK (length(model_name) BETWEEN 1 AND 200),
    provider_id uuid NOT NULL REFERENCES router.providers (id) ON DELETE RESTRICT,
    upstream_model text NOT NULL CHECK (length(upstream_model) BETWEEN 1 AND 200),
    weight integer NOT NULL DEFAULT 1 CHECK (weight >= 0),
    -- micro-USD per million tokens
    input_price_micro_usd_per_mtok bigint NOT NULL DEFAULT 0 CHECK (input_price_micro_usd_per_mtok >= 0),
    output_price_micro_usd_per_mtok bigint NOT NULL DEFAULT 0 CHECK (output_price_micro_usd_per_mtok >= 0),
    cached_input_price_micro_usd_per_mtok bigint NOT NULL DEFAULT 0
        CHECK (cached_input_price_micro_usd_per_mtok >= 0),
    cache_write_price_micro_usd_per_mtok bigint NOT NULL DEFAULT 0
        CHECK (cache_write_price_micro_usd_per_mtok >= 0),
    rpm integer CHECK (rpm > 0),
    tpm integer CHECK (tpm > 0),
    timeout_s integer NOT NULL DEFAULT 60 CHECK (timeout_s > 0),
    max_retries integer NOT NULL DEFAULT 2 CHECK (max_retries >= 0),
    region text,
    cache_ttl_s integer CHECK (cache_ttl_s >= 0),
    enabled boolean NOT NULL DEFAULT true,
    settings jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX deployments_model_name_idx ON router.deployments (model_name);
CREATE INDEX deployments_provider_id_idx ON router.deployments (provider_id);

CREATE TABLE router.fallbacks (
    model_name text PRIMARY KEY,
    fallback_models text[] NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE router.virtual_keys (
    id uuid PRIMARY KEY,
    key_hash text NOT NULL UNIQUE,
    key_prefix text NOT NULL,
    owner_ref text NOT NULL CHECK (length(owner_ref) BETWEEN 1 AND 200),
    allowed_models text[],  -- NULL = every model
    rpm integer CHECK (rpm > 0),
    tpm integer CHECK (tpm > 0),
    budget_micro_usd bigint CHECK (budget_micro_usd >= 0),
    budget_period router.budget_period NOT NULL DEFAULT 'month',
    expires_at timestamptz,
    blocked boolean NOT NULL DEFAULT false,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    log_prompts boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

CREATE INDEX virtual_keys_owner_ref_idx ON router.virtual_keys (owner_ref, created_at) WHERE deleted_at IS NULL;

-- One row per data-plane call, written in batches off the hot path (tollgate_router.spend).
-- The primary key includes created_at so the table can later be range-partitioned by it.
CREATE TABLE router.spend_log (
    request_id text NOT NULL,
    key_id uuid NOT NULL,
    owner_ref text NOT NULL,
    model text NOT NULL,
    deployment_id uuid,
    prompt_tokens integer NOT NULL DEFAULT 0,
    completion_tokens integer NOT NULL DEFAULT 0,
    cached_tokens integer NOT NULL DEFAULT 0,
    cache_write_tokens integer NOT NULL DEFAULT 0,
    cost_micro_usd bigint NOT NULL DEFAULT 0,
    latency_ms integer NOT NULL DEFAULT 0,
    status text NOT NULL,
    cache_hit boolean NOT NULL DEFAULT false,
    error_kind text,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (request_id, created_at)
);

CREATE INDEX spend_log_key_created_idx ON router.spend_log (key_id, created_at);
CREATE INDEX spend_log_created_idx ON router.spend_log (created_at);
