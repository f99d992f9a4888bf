-- api.llm_calls partitioned by month of created_at (UTC), so tens of millions of calls stay cheap to
-- write, to purge and to vacuum. The table keeps its columns, in the same order, and its behaviour:
--   * the primary key becomes (id, created_at): a partitioned table's unique keys must include the
--     partition key. Ids stay random UUIDs from the api, so id alone is still unique in practice;
--     nothing looks a call up by id alone (calls are read by job, by team and time, by retention).
--   * indexes are declared on the parent; every partition gets them.
--   * a DEFAULT partition catches any row whose month has no partition yet, so an insert never fails;
--     tollgate_api.usage.partitions.ensure_llm_call_partitions (run by `tollgate migrate` and daily by
--     the worker) creates the coming months and moves rows out of DEFAULT into their month.
-- Existing rows are copied into the new table, then the old one is dropped.

ALTER TABLE api.llm_calls RENAME TO llm_calls_unpartitioned;
ALTER TABLE api.llm_calls_unpartitioned RENAME CONSTRAINT llm_calls_pkey TO llm_calls_unpartitioned_pkey;
ALTER INDEX api.llm_calls_job RENAME TO llm_calls_unpartitioned_job;
ALTER INDEX api.llm_calls_team_created RENAME TO llm_calls_unpartitioned_team_created;
ALTER INDEX api.llm_calls_retention RENAME TO llm_calls_unpartitioned_retention;

CREATE TABLE api.llm_calls (
    id uuid NOT NULL,
    job_id uuid NOT NULL CONSTRAINT llm_calls_job_id_fkey REFERENCES api.jobs (id),
    team_id uuid NOT NULL CONSTRAINT llm_calls_team_id_fkey REFERENCES api.teams (id),
    model_group text NOT NULL,
    model_group_id uuid,
    purpose text,
    router_request_id text,
    resolved_model text,
    deployment text,
    prompt_tokens integer NOT NULL DEFAULT 0
        CONSTRAINT llm_calls_prompt_tokens_check CHECK (prompt_tokens >= 0),
    completion_tokens integer NOT NULL DEFAULT 0
        CONSTRAINT llm_calls_completion_tokens_check CHECK (completion_tokens >= 0),
    cached_tokens integer NOT NULL DEFAULT 0
        CONSTRAINT llm_calls_cached_tokens_check CHECK (cached_tokens >= 0),
    cost_micro_usd bigint NOT NULL DEFAULT 0
        CONSTRAINT llm_calls_cost_micro_usd_check CHECK (cost_micro_usd >= 0),
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
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT llm_calls_pkey PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
COMMENT ON TABLE api.llm_calls IS
    'Every LLM call of every job, with the router''s cost and usage; partitioned by month of created_at (UTC).';

CREATE INDEX llm_calls_job ON api.llm_calls (job_id, created_at);
CREATE INDEX llm_calls_team_created ON api.llm_calls (team_id, created_at);
CREATE INDEX llm_calls_retention ON api.llm_calls (retain_until) WHERE retain_until IS NOT NULL;

-- The DEFAULT partition and one partition per month from 3 months back to 3 months ahead (UTC), named
-- llm_calls_yYYYYmMM. Made in a DO block because the months depend on when this runs.
DO $$
DECLARE
    first_month timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    lo timestamptz;
BEGIN
    EXECUTE 'CREATE TABLE api.llm_calls_default PARTITION OF api.llm_calls DEFAULT';
    FOR i IN -3..3 LOOP
        lo := (first_month AT TIME ZONE 'UTC' + make_interval(months => i)) AT TIME ZONE 'UTC';
        EXECUTE format(
            'CREATE TABLE api.%I PARTITION OF api.llm_calls FOR VALUES FROM (%L) TO (%L)',
            'llm_calls_' || to_char(lo AT TIME ZONE 'UTC', '"y"YYYY"m"MM'),
            lo,
            (lo AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC'
        );
    END LOOP;
END
$$;

-- Rows older than the window land in DEFAULT here; ensure_llm_call_partitions moves them out.
INSERT INTO api.llm_calls SELECT * FROM api.llm_calls_unpartitioned;
DROP TABLE api.llm_calls_unpartitioned;
