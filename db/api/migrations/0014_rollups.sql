-- Rollups of job cost, price and margin for the finance reports (ADR 0007).
--
-- api.job_cost_parts: each finished job's contribution, one row per model group it used (one row
-- with model_group '' when it made no call). The job's price is split across its groups in
-- proportion to their provider cost (by call count when the job cost nothing), integer largest
-- remainder so the parts sum exactly to the job's price. The job itself (jobs, completed/failed/
-- expired counts, duration) is counted once, on its primary part (largest weight, then model group
-- in "C" order). The worker folds the difference between a job's previous and new parts into
-- api.rollups, under the job's row lock, so folding twice or concurrently changes nothing.
--
-- api.rollups: the sums of the parts by (grain, bucket, team, job type, model group), bucket being
-- the UTC start of the quarter hour ('q'), hour ('h'), day ('d') or month ('m') the job finished in.
-- api.rollups_global: the same without team and organization (for unfiltered period, job type
-- and model group reports); api.rollups_team: without job type and model group (for team and
-- organization reports).
-- A report covers its range with the coarsest buckets that fit inside it and inside each of its
-- time groups (local days, weeks, months of the requested time zone): every IANA zone's offset is a
-- whole number of quarter hours, so any zone's day is covered exactly.

-- No foreign keys: a derived table, written only by the fold and the rebuild (a key check per row
-- would lock every job row a rebuild touches).
CREATE TABLE api.job_cost_parts (
    job_id uuid NOT NULL,
    model_group text NOT NULL,
    team_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    job_type text NOT NULL,
    finished_at timestamptz NOT NULL,
    jobs integer NOT NULL,
    completed_jobs integer NOT NULL,
    failed_jobs integer NOT NULL,
    expired_jobs integer NOT NULL,
    calls bigint NOT NULL,
    successful_calls bigint NOT NULL,
    failed_calls bigint NOT NULL,
    cache_hit_calls bigint NOT NULL,
    prompt_tokens bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    cached_tokens bigint NOT NULL,
    cost_micro_usd bigint NOT NULL,
    price_credits bigint NOT NULL,
    revenue_micro_usd bigint NOT NULL,
    duration_ms bigint NOT NULL,
    PRIMARY KEY (job_id, model_group)
);
CREATE INDEX job_cost_parts_finished ON api.job_cost_parts (finished_at);
COMMENT ON TABLE api.job_cost_parts IS 'Each finished job''s contribution to api.rollups, per model group.';

CREATE TABLE api.rollups (
    grain text NOT NULL CHECK (grain IN ('q', 'h', 'd', 'm')),
    bucket timestamptz NOT NULL,
    team_id uuid NOT NULL,
    job_type text NOT NULL,
    model_group text NOT NULL,
    organization_id uuid NOT NULL,
    jobs bigint NOT NULL,
    completed_jobs bigint NOT NULL,
    failed_jobs bigint NOT NULL,
    expired_jobs bigint NOT NULL,
    calls bigint NOT NULL,
    successful_calls bigint NOT NULL,
    failed_calls bigint NOT NULL,
    cache_hit_calls bigint NOT NULL,
    prompt_tokens bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    cached_tokens bigint NOT NULL,
    cost_micro_usd bigint NOT NULL,
    price_credits bigint NOT NULL,
    revenue_micro_usd bigint NOT NULL,
    duration_ms bigint NOT NULL,
    PRIMARY KEY (grain, bucket, team_id, job_type, model_group)
);
COMMENT ON TABLE api.rollups IS 'Job cost, price and margin summed by UTC quarter/hour/day/month, team, job type, model group.';

-- The same sums without the team and organization: what reports by period, job type or model group
-- read when they are not filtered by team or organization (a few rows per bucket instead of one per
-- team).
CREATE TABLE api.rollups_global (
    grain text NOT NULL CHECK (grain IN ('q', 'h', 'd', 'm')),
    bucket timestamptz NOT NULL,
    job_type text NOT NULL,
    model_group text NOT NULL,
    jobs bigint NOT NULL,
    completed_jobs bigint NOT NULL,
    failed_jobs bigint NOT NULL,
    expired_jobs bigint NOT NULL,
    calls bigint NOT NULL,
    successful_calls bigint NOT NULL,
    failed_calls bigint NOT NULL,
    cache_hit_calls bigint NOT NULL,
    prompt_tokens bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    cached_tokens bigint NOT NULL,
    cost_micro_usd bigint NOT NULL,
    price_credits bigint NOT NULL,
    revenue_micro_usd bigint NOT NULL,
    duration_ms bigint NOT NULL,
    PRIMARY KEY (grain, bucket, job_type, model_group)
);
COMMENT ON TABLE api.rollups_global IS 'api.rollups summed over teams.';

-- The same sums by team (and its organization), without job type and model group: what reports by
-- team or organization read when they are not filtered by job type or model group.
CREATE TABLE api.rollups_team (
    grain text NOT NULL CHECK (grain IN ('q', 'h', 'd', 'm')),
    bucket timestamptz NOT NULL,
    team_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    jobs bigint NOT NULL,
    completed_jobs bigint NOT NULL,
    failed_jobs bigint NOT NULL,
    expired_jobs bigint NOT NULL,
    calls bigint NOT NULL,
    successful_calls bigint NOT NULL,
    failed_calls bigint NOT NULL,
    cache_hit_calls bigint NOT NULL,
    prompt_tokens bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    cached_tokens bigint NOT NULL,
    cost_micro_usd bigint NOT NULL,
    price_credits bigint NOT NULL,
    revenue_micro_usd bigint NOT NULL,
    duration_ms bigint NOT NULL,
    PRIMARY KEY (grain, bucket, team_id)
);
COMMENT ON TABLE api.rollups_team IS 'api.rollups summed over job types and model groups.';

-- The per-job margin list pages by finish time.
CREATE INDEX job_costs_finished ON api.job_costs (finished_at DESC, job_id DESC);

-- The UTC bucket of an instant for a grain (independent of the session's TimeZone).
CREATE FUNCTION api.rollup_bucket(grain text, at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE grain
        WHEN 'q' THEN date_bin('15 minutes', at, timestamptz '2000-01-01 00:00:00+00')
        WHEN 'h' THEN date_trunc('hour', at, 'UTC')
        WHEN 'd' THEN date_trunc('day', at, 'UTC')
        WHEN 'm' THEN date_trunc('month', at, 'UTC')
    END
$$;

-- The parts of every job finished in [since, until), computed from raw api.jobs + api.llm_calls.
-- The set-based twin of tollgate_api.reports.allocation (the worker's per-job computation).
CREATE FUNCTION api.job_cost_parts_from_raw(since timestamptz, until timestamptz)
RETURNS SETOF api.job_cost_parts
LANGUAGE sql STABLE AS $$
    WITH finished AS (
        SELECT j.id, j.team_id, t.organization_id, coalesce(j.job_type, '') AS job_type, j.status,
               j.completed_at, coalesce(j.credit_applied, 0)::numeric AS price,
               coalesce((j.plan ->> 'usd_micro_per_credit')::bigint, 0) AS upc,
               floor(extract(epoch FROM j.completed_at - j.created_at) * 1000)::bigint AS duration_ms
        FROM api.jobs j
        JOIN api.teams t ON t.id = j.team_id
        WHERE j.completed_at >= since AND j.completed_at < until
          AND j.status IN ('completed', 'failed', 'expired')
    ),
    by_group AS (
        SELECT c.job_id, c.model_group,
               count(*) AS calls,
               count(*) FILTER (WHERE c.status = 'succeeded') AS successful_calls,
               count(*) FILTER (WHERE c.status <> 'succeeded') AS failed_calls,
               count(*) FILTER (WHERE c.cache_hit) AS cache_hit_calls,
               sum(c.prompt_tokens)::bigint AS prompt_tokens,
               sum(c.completion_tokens)::bigint AS completion_tokens,
               sum(c.cached_tokens)::bigint AS cached_tokens,
               sum(c.cost_micro_usd)::bigint AS cost_micro_usd
        FROM api.llm_calls c
        JOIN finished f ON f.id = c.job_id
        GROUP BY c.job_id, c.model_group
    ),
    parts AS (
        SELECT f.*, coalesce(g.model_group, '') AS model_group,
               coalesce(g.calls, 0) AS calls, coalesce(g.successful_calls, 0) AS successful_calls,
               coalesce(g.failed_calls, 0) AS failed_calls,
               coalesce(g.cache_hit_calls, 0) AS cache_hit_calls,
               coalesce(g.prompt_tokens, 0) AS prompt_tokens,
               coalesce(g.completion_tokens, 0) AS completion_tokens,
               coalesce(g.cached_tokens, 0) AS cached_tokens,
               coalesce(g.cost_micro_usd, 0) AS cost_micro_usd
        FROM finished f
        LEFT JOIN by_group g ON g.job_id = f.id
    ),
    weighted AS (
        SELECT p.*,
               CASE WHEN sum(p.cost_micro_usd) OVER w > 0 THEN p.cost_micro_usd
                    WHEN sum(p.calls) OVER w > 0 THEN p.calls
                    ELSE 1 END::numeric AS weight
        FROM parts p
        WINDOW w AS (PARTITION BY p.id)
    ),
    shared AS (
        SELECT x.*, sum(x.weight) OVER (PARTITION BY x.id) AS total_weight
        FROM weighted x
    ),
    floored AS (
        SELECT s.*, div(s.price * s.weight, s.total_weight) AS share,
               mod(s.price * s.weight, s.total_weight) AS remainder
        FROM shared s
    ),
    ranked AS (
        SELECT fl.*,
               fl.price - sum(fl.share) OVER (PARTITION BY fl.id) AS leftover,
               row_number() OVER (PARTITION BY fl.id ORDER BY fl.remainder DESC, fl.model_group COLLATE "C")
                   AS remainder_rank,
               row_number() OVER (PARTITION BY fl.id ORDER BY fl.weight DESC, fl.model_group COLLATE "C")
                   AS weight_rank
        FROM floored fl
    )
    SELECT r.id, r.model_group, r.team_id, r.organization_id, r.job_type, r.completed_at,
           (r.weight_rank = 1)::int,
           (r.weight_rank = 1 AND r.status = 'completed')::int,
           (r.weight_rank = 1 AND r.status = 'failed')::int,
           (r.weight_rank = 1 AND r.status = 'expired')::int,
           r.calls, r.successful_calls, r.failed_calls, r.cache_hit_calls, r.prompt_tokens,
           r.completion_tokens, r.cached_tokens, r.cost_micro_usd,
           (r.share + (r.remainder_rank <= r.leftover)::int)::bigint,
           ((r.share + (r.remainder_rank <= r.leftover)::int) * r.upc)::bigint,
           CASE WHEN r.weight_rank = 1 THEN r.duration_ms ELSE 0 END
    FROM ranked r
$$;
