-- Jobs: one unit of work a team pays for, holding credits from create until it finishes.
-- Status machine: pending → in_progress (first call) → completed | failed | expired (terminal).
CREATE TYPE api.job_status AS ENUM ('pending', 'in_progress', 'completed', 'failed', 'expired');

CREATE TABLE api.jobs (
    id uuid PRIMARY KEY,
    team_id uuid NOT NULL REFERENCES api.teams (id),
    user_id text,
    job_type text,
    status api.job_status NOT NULL DEFAULT 'pending',
    metadata jsonb NOT NULL DEFAULT '{}',
    idempotency_key text,
    -- The pricing plan in force at create, so the hold and the final price use the same rules.
    plan jsonb NOT NULL,
    hold_credits bigint NOT NULL CHECK (hold_credits >= 0),
    max_credits bigint CHECK (max_credits IS NULL OR max_credits >= 0),
    credit_applied bigint CHECK (credit_applied IS NULL OR credit_applied >= 0),
    error_message text,
    model_groups_used text[] NOT NULL DEFAULT '{}',
    -- The response of the first complete, returned again to repeats (exactly-once).
    result jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CONSTRAINT jobs_finished_iff_completed_at
        CHECK ((status IN ('pending', 'in_progress')) = (completed_at IS NULL))
);
COMMENT ON TABLE api.jobs IS 'Jobs of the job API; credits held at create, settled once at finish.';

CREATE UNIQUE INDEX jobs_team_idempotency_key ON api.jobs (team_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_team_created ON api.jobs (team_id, created_at DESC, id DESC);
CREATE INDEX jobs_created ON api.jobs (created_at DESC, id DESC);
CREATE INDEX jobs_open_expiry ON api.jobs (expires_at) WHERE status IN ('pending', 'in_progress');
