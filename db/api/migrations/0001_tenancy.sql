-- Tenancy: organizations, pricing plans, teams.
CREATE SCHEMA IF NOT EXISTS api;

CREATE TYPE api.organization_status AS ENUM ('active', 'disabled');
CREATE TYPE api.team_status AS ENUM ('active', 'paused', 'suspended');
CREATE TYPE api.plan_kind AS ENUM ('per_job', 'consumption_usd', 'consumption_tokens');
CREATE TYPE api.failed_job_policy AS ENUM ('none', 'provider_cost', 'full');

CREATE TABLE api.organizations (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    status      api.organization_status NOT NULL DEFAULT 'active',
    metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api.pricing_plans (
    id                    uuid PRIMARY KEY,
    name                  text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    kind                  api.plan_kind NOT NULL,
    credits_per_job       bigint NOT NULL DEFAULT 0 CHECK (credits_per_job >= 0),
    per_job_type          jsonb NOT NULL DEFAULT '{}'::jsonb,
    credits_per_usd       bigint NOT NULL DEFAULT 0 CHECK (credits_per_usd >= 0),
    markup_bps            integer NOT NULL DEFAULT 0 CHECK (markup_bps >= 0),
    tokens_per_credit     bigint NOT NULL DEFAULT 0 CHECK (tokens_per_credit >= 0),
    min_credits_per_job   bigint NOT NULL DEFAULT 0 CHECK (min_credits_per_job >= 0),
    usd_micro_per_credit  bigint NOT NULL CHECK (usd_micro_per_credit > 0),
    failed_job_policy     api.failed_job_policy NOT NULL DEFAULT 'none',
    default_hold_credits  bigint NOT NULL DEFAULT 0 CHECK (default_hold_credits >= 0),
    max_hold_credits      bigint NOT NULL DEFAULT 0 CHECK (max_hold_credits >= 0),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api.teams (
    id                    uuid PRIMARY KEY,
    organization_id       uuid NOT NULL REFERENCES api.organizations (id),
    name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status                api.team_status NOT NULL DEFAULT 'active',
    pricing_plan_id       uuid NOT NULL REFERENCES api.pricing_plans (id),
    rpm                   integer CHECK (rpm > 0),
    tpm                   integer CHECK (tpm > 0),
    overdraft_limit       bigint NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0),
    job_ttl_s             integer NOT NULL DEFAULT 3600 CHECK (job_ttl_s >= 10),
    show_tokens           boolean NOT NULL DEFAULT false,
    store_prompts         boolean NOT NULL DEFAULT false,
    retention_days        integer NOT NULL DEFAULT 30 CHECK (retention_days >= 0),
    -- The team's router virtual key, AES-GCM under settings.auth.encryption_keys (never shown).
    virtual_key_encrypted text NOT NULL,
    router_key_id         text,
    metadata              jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, name)
);
CREATE INDEX teams_organization_idx ON api.teams (organization_id);
