-- One row per LLM call made in a job, written before the team gets its answer.
-- Internal facts (resolved model, deployment, tokens, cost) never leave through /api.
CREATE TYPE api.llm_call_status AS ENUM ('succeeded', 'failed', 'cancelled');

CREATE TABLE api.llm_calls (
    id uuid PRIMARY KEY,
    job_id uuid NOT NULL REFERENCES api.jobs (id),
    team_id uuid NOT NULL REFERENCES api.teams (id),
    model_group text NOT NULL,
    model_group_id uuid,
    purpose text,
    router_request_id text,
    resolved_model text,
    deployment text,
    prompt_tokens integer NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens integer NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    cached_tokens integer NOT NULL DEFAULT 0 CHECK (cached_tokens >= 0),
    cost_micro_usd bigint NOT NULL DEFAULT 0 CHECK (cost_micro_usd >= 0),
    latency_ms integer NOT NULL DEFAULT 0,
    status api.llm_call_status NOT NULL,
    error_kind text,
    -- The client-safe error message (what the team was told), never the router's.
    error text,
    cache_hit boolean NOT NULL DEFAULT false,
    attempts integer NOT NULL DEFAULT 0,
    streamed boolean NOT NULL DEFAULT false,
    finish_reason text,
    -- Stored only when the team's retention setting allows it, until retain_until.
    prompt jsonb,
    response_text text,
    retain_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE api.llm_calls IS 'Every LLM call of every job, with the router''s cost and usage.';

CREATE INDEX llm_calls_job ON api.llm_calls (job_id, created_at);
CREATE INDEX llm_calls_team_created ON api.llm_calls (team_id, created_at);
CREATE INDEX llm_calls_retention ON api.llm_calls (retain_until) WHERE retain_until IS NOT NULL;
