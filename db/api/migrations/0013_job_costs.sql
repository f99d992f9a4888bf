-- Per-job cost, price and margin, written (idempotently) by the aggregate_job actor.
CREATE TABLE api.job_costs (
    job_id uuid PRIMARY KEY REFERENCES api.jobs (id),
    team_id uuid NOT NULL REFERENCES api.teams (id),
    job_type text,
    status api.job_status NOT NULL,
    calls integer NOT NULL,
    successful_calls integer NOT NULL,
    failed_calls integer NOT NULL,
    prompt_tokens bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    cached_tokens bigint NOT NULL,
    cost_micro_usd bigint NOT NULL,
    price_credits bigint NOT NULL,
    price_usd_micro bigint NOT NULL,
    margin_usd_micro bigint NOT NULL,
    avg_latency_ms integer NOT NULL,
    finished_at timestamptz NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX job_costs_team_finished ON api.job_costs (team_id, finished_at);
