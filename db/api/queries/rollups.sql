-- name: RollupJobLock :one
-- Serializes folds of one job: taken first, held to commit. NO KEY UPDATE, so a rebuild's
-- foreign-key checks on the job (KEY SHARE) do not wait for it.
SELECT id FROM api.jobs WHERE id = @job_id::uuid FOR NO KEY UPDATE;

-- name: RollupJobGroupUsage :many
-- A finished job's calls summed per model group ("C" order, as the allocation breaks ties).
SELECT model_group,
       count(*)::bigint AS calls,
       count(*) FILTER (WHERE status = 'succeeded')::bigint AS successful_calls,
       count(*) FILTER (WHERE status <> 'succeeded')::bigint AS failed_calls,
       count(*) FILTER (WHERE cache_hit)::bigint AS cache_hit_calls,
       coalesce(sum(prompt_tokens), 0)::bigint AS prompt_tokens,
       coalesce(sum(completion_tokens), 0)::bigint AS completion_tokens,
       coalesce(sum(cached_tokens), 0)::bigint AS cached_tokens,
       coalesce(sum(cost_micro_usd), 0)::bigint AS cost_micro_usd
FROM api.llm_calls
WHERE job_id = @job_id::uuid
GROUP BY model_group
ORDER BY model_group COLLATE "C";

-- name: RollupTeamOrganization :one
SELECT organization_id FROM api.teams WHERE id = @team_id::uuid;

-- name: JobCostPartListByJob :many
SELECT * FROM api.job_cost_parts WHERE job_id = @job_id::uuid ORDER BY model_group COLLATE "C";

-- name: JobCostPartLockByJob :many
-- The fold's first read: its table lock makes a running rebuild finish first (and vice versa).
SELECT * FROM api.job_cost_parts WHERE job_id = @job_id::uuid ORDER BY model_group COLLATE "C" FOR UPDATE;

-- name: RollupLockForRebuild :exec
-- Taken first by a rebuild: waits for folds in flight, holds new ones until it commits.
LOCK TABLE api.job_cost_parts, api.rollups, api.rollups_global, api.rollups_team IN EXCLUSIVE MODE;

-- name: JobCostPartDeleteByJob :execrows
DELETE FROM api.job_cost_parts WHERE job_id = @job_id::uuid;

-- name: JobCostPartInsert :exec
INSERT INTO api.job_cost_parts (
    job_id, model_group, team_id, organization_id, job_type, finished_at, jobs, completed_jobs,
    failed_jobs, expired_jobs, calls, successful_calls, failed_calls, cache_hit_calls, prompt_tokens,
    completion_tokens, cached_tokens, cost_micro_usd, price_credits, revenue_micro_usd, duration_ms
) VALUES (
    @job_id::uuid, @model_group::text, @team_id::uuid, @organization_id::uuid, @job_type::text,
    @finished_at::timestamptz, @jobs::int, @completed_jobs::int, @failed_jobs::int, @expired_jobs::int,
    @calls::bigint, @successful_calls::bigint, @failed_calls::bigint, @cache_hit_calls::bigint,
    @prompt_tokens::bigint, @completion_tokens::bigint, @cached_tokens::bigint, @cost_micro_usd::bigint,
    @price_credits::bigint, @revenue_micro_usd::bigint, @duration_ms::bigint
);

-- name: RollupAdd :exec
-- Adds a signed delta to the four buckets (quarter, hour, day, month) of one key.
INSERT INTO api.rollups AS r (
    grain, bucket, team_id, job_type, model_group, organization_id, jobs, completed_jobs, failed_jobs,
    expired_jobs, calls, successful_calls, failed_calls, cache_hit_calls, prompt_tokens,
    completion_tokens, cached_tokens, cost_micro_usd, price_credits, revenue_micro_usd, duration_ms
)
SELECT g.grain, api.rollup_bucket(g.grain, @finished_at::timestamptz), @team_id::uuid, @job_type::text,
       @model_group::text, @organization_id::uuid, @jobs::bigint, @completed_jobs::bigint,
       @failed_jobs::bigint, @expired_jobs::bigint, @calls::bigint, @successful_calls::bigint,
       @failed_calls::bigint, @cache_hit_calls::bigint, @prompt_tokens::bigint,
       @completion_tokens::bigint, @cached_tokens::bigint, @cost_micro_usd::bigint,
       @price_credits::bigint, @revenue_micro_usd::bigint, @duration_ms::bigint
FROM unnest('{q,h,d,m}'::text[]) AS g (grain)
ON CONFLICT (grain, bucket, team_id, job_type, model_group) DO UPDATE SET
    jobs = r.jobs + excluded.jobs,
    completed_jobs = r.completed_jobs + excluded.completed_jobs,
    failed_jobs = r.failed_jobs + excluded.failed_jobs,
    expired_jobs = r.expired_jobs + excluded.expired_jobs,
    calls = r.calls + excluded.calls,
    successful_calls = r.successful_calls + excluded.successful_calls,
    failed_calls = r.failed_calls + excluded.failed_calls,
    cache_hit_calls = r.cache_hit_calls + excluded.cache_hit_calls,
    prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = r.completion_tokens + excluded.completion_tokens,
    cached_tokens = r.cached_tokens + excluded.cached_tokens,
    cost_micro_usd = r.cost_micro_usd + excluded.cost_micro_usd,
    price_credits = r.price_credits + excluded.price_credits,
    revenue_micro_usd = r.revenue_micro_usd + excluded.revenue_micro_usd,
    duration_ms = r.duration_ms + excluded.duration_ms;

-- name: RollupGlobalAdd :exec
-- The same delta for the team-less sums.
INSERT INTO api.rollups_global AS r (
    grain, bucket, job_type, model_group, jobs, completed_jobs, failed_jobs, expired_jobs, calls,
    successful_calls, failed_calls, cache_hit_calls, prompt_tokens, completion_tokens, cached_tokens,
    cost_micro_usd, price_credits, revenue_micro_usd, duration_ms
)
SELECT g.grain, api.rollup_bucket(g.grain, @finished_at::timestamptz), @job_type::text, @model_group::text,
       @jobs::bigint, @completed_jobs::bigint, @failed_jobs::bigint, @expired_jobs::bigint, @calls::bigint,
       @successful_calls::bigint, @failed_calls::bigint, @cache_hit_calls::bigint, @prompt_tokens::bigint,
       @completion_tokens::bigint, @cached_tokens::bigint, @cost_micro_usd::bigint, @price_credits::bigint,
       @revenue_micro_usd::bigint, @duration_ms::bigint
FROM unnest('{q,h,d,m}'::text[]) AS g (grain)
ON CONFLICT (grain, bucket, job_type, model_group) DO UPDATE SET
    jobs = r.jobs + excluded.jobs,
    completed_jobs = r.completed_jobs + excluded.completed_jobs,
    failed_jobs = r.failed_jobs + excluded.failed_jobs,
    expired_jobs = r.expired_jobs + excluded.expired_jobs,
    calls = r.calls + excluded.calls,
    successful_calls = r.successful_calls + excluded.successful_calls,
    failed_calls = r.failed_calls + excluded.failed_calls,
    cache_hit_calls = r.cache_hit_calls + excluded.cache_hit_calls,
    prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = r.completion_tokens + excluded.completion_tokens,
    cached_tokens = r.cached_tokens + excluded.cached_tokens,
    cost_micro_usd = r.cost_micro_usd + excluded.cost_micro_usd,
    price_credits = r.price_credits + excluded.price_credits,
    revenue_micro_usd = r.revenue_micro_usd + excluded.revenue_micro_usd,
    duration_ms = r.duration_ms + excluded.duration_ms;

-- name: RollupGlobalDeleteRange :execrows
DELETE FROM api.rollups_global WHERE bucket >= @since::timestamptz AND bucket < @until::timestamptz;

-- name: RollupGlobalRebuild :execrows
-- The team-less sums of [since, until) from the (just rebuilt) team rollups.
INSERT INTO api.rollups_global (
    grain, bucket, job_type, model_group, jobs, completed_jobs, failed_jobs, expired_jobs, calls,
    successful_calls, failed_calls, cache_hit_calls, prompt_tokens, completion_tokens, cached_tokens,
    cost_micro_usd, price_credits, revenue_micro_usd, duration_ms
)
SELECT r.grain, r.bucket, r.job_type, r.model_group,
       sum(r.jobs)::bigint,
       sum(r.completed_jobs)::bigint,
       sum(r.failed_jobs)::bigint,
       sum(r.expired_jobs)::bigint,
       sum(r.calls)::bigint,
       sum(r.successful_calls)::bigint,
       sum(r.failed_calls)::bigint,
       sum(r.cache_hit_calls)::bigint,
       sum(r.prompt_tokens)::bigint,
       sum(r.completion_tokens)::bigint,
       sum(r.cached_tokens)::bigint,
       sum(r.cost_micro_usd)::bigint,
       sum(r.price_credits)::bigint,
       sum(r.revenue_micro_usd)::bigint,
       sum(r.duration_ms)::bigint
FROM api.rollups r
WHERE r.bucket >= @since::timestamptz AND r.bucket < @until::timestamptz
GROUP BY 1, 2, 3, 4;

-- name: RollupRebuildSettings :exec
-- A rebuild's transaction sorts and hashes months of parts: give it room, and no JIT (its inflated
-- estimates of the window functions cost seconds of compiling); both reset at commit.
SELECT set_config('work_mem', '256MB', true), set_config('jit', 'off', true);

-- name: RollupTeamAdd :exec
-- The same delta for the team sums (all job types and model groups).
INSERT INTO api.rollups_team AS r (
    grain, bucket, team_id, organization_id, jobs, completed_jobs, failed_jobs, expired_jobs, calls, successful_calls, failed_calls, cache_hit_calls, prompt_tokens, completion_tokens, cached_tokens, cost_micro_usd, price_credits, revenue_micro_usd, duration_ms
)
SELECT g.grain, api.rollup_bucket(g.grain, @finished_at::timestamptz), @team_id::uuid, @organization_id::uuid,
       @jobs::bigint,
       @completed_jobs::bigint,
       @failed_jobs::bigint,
       @expired_jobs::bigint,
       @calls::bigint,
       @successful_calls::bigint,
       @failed_calls::bigint,
       @cache_hit_calls::bigint,
       @prompt_tokens::bigint,
       @completion_tokens::bigint,
       @cached_tokens::bigint,
       @cost_micro_usd::bigint,
       @price_credits::bigint,
       @revenue_micro_usd::bigint,
       @duration_ms::bigint
FROM unnest('{q,h,d,m}'::text[]) AS g (grain)
ON CONFLICT (grain, bucket, team_id) DO UPDATE SET
    jobs = r.jobs + excluded.jobs,
    completed_jobs = r.completed_jobs + excluded.completed_jobs,
    failed_jobs = r.failed_jobs + excluded.failed_jobs,
    expired_jobs = r.expired_jobs + excluded.expired_jobs,
    calls = r.calls + excluded.calls,
    successful_calls = r.successful_calls + excluded.successful_calls,
    failed_calls = r.failed_calls + excluded.failed_calls,
    cache_hit_calls = r.cache_hit_calls + excluded.cache_hit_calls,
    prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = r.completion_tokens + excluded.completion_tokens,
    cached_tokens = r.cached_tokens + excluded.cached_tokens,
    cost_micro_usd = r.cost_micro_usd + excluded.cost_micro_usd,
    price_credits = r.price_credits + excluded.price_credits,
    revenue_micro_usd = r.revenue_micro_usd + excluded.revenue_micro_usd,
    duration_ms = r.duration_ms + excluded.duration_ms;

-- name: RollupTeamDeleteRange :execrows
DELETE FROM api.rollups_team WHERE bucket >= @since::timestamptz AND bucket < @until::timestamptz;

-- name: RollupTeamRebuild :execrows
-- The team sums of [since, until) from the (just rebuilt) detailed rollups.
INSERT INTO api.rollups_team (grain, bucket, team_id, organization_id, jobs, completed_jobs, failed_jobs, expired_jobs, calls, successful_calls, failed_calls, cache_hit_calls, prompt_tokens, completion_tokens, cached_tokens, cost_micro_usd, price_credits, revenue_micro_usd, duration_ms)
SELECT r.grain, r.bucket, r.team_id, min(r.organization_id::text)::uuid,
       sum(r.jobs)::bigint,
       sum(r.completed_jobs)::bigint,
       sum(r.failed_jobs)::bigint,
       sum(r.expired_jobs)::bigint,
       sum(r.calls)::bigint,
       sum(r.successful_calls)::bigint,
       sum(r.failed_calls)::bigint,
       sum(r.cache_hit_calls)::bigint,
       sum(r.prompt_tokens)::bigint,
       sum(r.completion_tokens)::bigint,
       sum(r.cached_tokens)::bigint,
       sum(r.cost_micro_usd)::bigint,
       sum(r.price_credits)::bigint,
       sum(r.revenue_micro_usd)::bigint,
       sum(r.duration_ms)::bigint
FROM api.rollups r
WHERE r.bucket >= @since::timestamptz AND r.bucket < @until::timestamptz
GROUP BY 1, 2, 3;

-- name: RollupDeleteRange :execrows
-- Buckets starting in [since, until); callers align both to UTC months.
DELETE FROM api.rollups WHERE bucket >= @since::timestamptz AND bucket < @until::timestamptz;

-- name: JobCostPartDeleteRange :execrows
DELETE FROM api.job_cost_parts
WHERE finished_at >= @since::timestamptz AND finished_at < @until::timestamptz;

-- name: JobCostPartRebuild :execrows
INSERT INTO api.job_cost_parts (
    job_id, model_group, team_id, organization_id, job_type, finished_at, jobs, completed_jobs,
    failed_jobs, expired_jobs, calls, successful_calls, failed_calls, cache_hit_calls, prompt_tokens,
    completion_tokens, cached_tokens, cost_micro_usd, price_credits, revenue_micro_usd, duration_ms
)
SELECT p.job_id, p.model_group, p.team_id, p.organization_id, p.job_type, p.finished_at, p.jobs,
       p.completed_jobs, p.failed_jobs, p.expired_jobs, p.calls, p.successful_calls, p.failed_calls,
       p.cache_hit_calls, p.prompt_tokens, p.completion_tokens, p.cached_tokens, p.cost_micro_usd,
       p.price_credits, p.revenue_micro_usd, p.duration_ms
FROM api.job_cost_parts_from_raw(@since::timestamptz, @until::timestamptz) AS p;

-- name: JobCostRebuild :execrows
-- api.job_costs of every job finished in [since, until), from raw rows (as aggregate_job writes it).
INSERT INTO api.job_costs (
    job_id, team_id, job_type, status, calls, successful_calls, failed_calls, prompt_tokens,
    completion_tokens, cached_tokens, cost_micro_usd, price_credits, price_usd_micro, margin_usd_micro,
    avg_latency_ms, finished_at
)
SELECT j.id, j.team_id, j.job_type, j.status,
       count(c.id)::int,
       count(c.id) FILTER (WHERE c.status = 'succeeded')::int,
       count(c.id) FILTER (WHERE c.status <> 'succeeded')::int,
       coalesce(sum(c.prompt_tokens), 0)::bigint,
       coalesce(sum(c.completion_tokens), 0)::bigint,
       coalesce(sum(c.cached_tokens), 0)::bigint,
       coalesce(sum(c.cost_micro_usd), 0)::bigint,
       coalesce(j.credit_applied, 0),
       coalesce(j.credit_applied, 0) * coalesce((j.plan ->> 'usd_micro_per_credit')::bigint, 0),
       coalesce(j.credit_applied, 0) * coalesce((j.plan ->> 'usd_micro_per_credit')::bigint, 0)
           - coalesce(sum(c.cost_micro_usd), 0)::bigint,
       coalesce(avg(c.latency_ms), 0)::int,
       j.completed_at
FROM api.jobs j
LEFT JOIN api.llm_calls c ON c.job_id = j.id
WHERE j.completed_at >= @since::timestamptz AND j.completed_at < @until::timestamptz
  AND j.status IN ('completed', 'failed', 'expired')
GROUP BY j.id
ON CONFLICT (job_id) DO UPDATE SET
    status = excluded.status,
    calls = excluded.calls,
    successful_calls = excluded.successful_calls,
    failed_calls = excluded.failed_calls,
    prompt_tokens = excluded.prompt_tokens,
    completion_tokens = excluded.completion_tokens,
    cached_tokens = excluded.cached_tokens,
    cost_micro_usd = excluded.cost_micro_usd,
    price_credits = excluded.price_credits,
    price_usd_micro = excluded.price_usd_micro,
    margin_usd_micro = excluded.margin_usd_micro,
    avg_latency_ms = excluded.avg_latency_ms,
    finished_at = excluded.finished_at,
    computed_at = now();

-- name: RollupRebuild :execrows
-- The rollups of [since, until) (UTC month aligned) as sums of the stored parts.
INSERT INTO api.rollups (
    grain, bucket, team_id, job_type, model_group, organization_id, jobs, completed_jobs, failed_jobs,
    expired_jobs, calls, successful_calls, failed_calls, cache_hit_calls, prompt_tokens,
    completion_tokens, cached_tokens, cost_micro_usd, price_credits, revenue_micro_usd, duration_ms
)
SELECT g.grain, api.rollup_bucket(g.grain, p.finished_at), p.team_id, p.job_type, p.model_group,
       min(p.organization_id::text)::uuid,
       sum(p.jobs)::bigint, sum(p.completed_jobs)::bigint, sum(p.failed_jobs)::bigint,
       sum(p.expired_jobs)::bigint, sum(p.calls)::bigint, sum(p.successful_calls)::bigint,
       sum(p.failed_calls)::bigint, sum(p.cache_hit_calls)::bigint, sum(p.prompt_tokens)::bigint,
       sum(p.completion_tokens)::bigint, sum(p.cached_tokens)::bigint, sum(p.cost_micro_usd)::bigint,
       sum(p.price_credits)::bigint, sum(p.revenue_micro_usd)::bigint, sum(p.duration_ms)::bigint
FROM api.job_cost_parts p
CROSS JOIN unnest('{q,h,d,m}'::text[]) AS g (grain)
WHERE p.finished_at >= @since::timestamptz AND p.finished_at < @until::timestamptz
GROUP BY 1, 2, 3, 4, 5;

-- name: RollupDrift :many
-- Stored rollups of [since, until) (UTC month aligned) that differ from a recomputation from raw
-- jobs + llm_calls; a missing row counts as zeros.
WITH expected AS (
    SELECT g.grain, api.rollup_bucket(g.grain, p.finished_at) AS bucket, p.team_id, p.job_type,
           p.model_group,
           jsonb_build_object(
               'jobs', sum(p.jobs), 'completed_jobs', sum(p.completed_jobs),
               'failed_jobs', sum(p.failed_jobs), 'expired_jobs', sum(p.expired_jobs),
               'calls', sum(p.calls), 'successful_calls', sum(p.successful_calls),
               'failed_calls', sum(p.failed_calls), 'cache_hit_calls', sum(p.cache_hit_calls),
               'prompt_tokens', sum(p.prompt_tokens), 'completion_tokens', sum(p.completion_tokens),
               'cached_tokens', sum(p.cached_tokens), 'cost_micro_usd', sum(p.cost_micro_usd),
               'price_credits', sum(p.price_credits), 'revenue_micro_usd', sum(p.revenue_micro_usd),
               'duration_ms', sum(p.duration_ms)
           ) AS measures
    FROM api.job_cost_parts_from_raw(@since::timestamptz, @until::timestamptz) AS p
    CROSS JOIN unnest('{q,h,d,m}'::text[]) AS g (grain)
    GROUP BY 1, 2, 3, 4, 5
),
stored AS (
    SELECT r.grain, r.bucket, r.team_id, r.job_type, r.model_group,
           jsonb_build_object(
               'jobs', r.jobs, 'completed_jobs', r.completed_jobs, 'failed_jobs', r.failed_jobs,
               'expired_jobs', r.expired_jobs, 'calls', r.calls, 'successful_calls', r.successful_calls,
               'failed_calls', r.failed_calls, 'cache_hit_calls', r.cache_hit_calls,
               'prompt_tokens', r.prompt_tokens, 'completion_tokens', r.completion_tokens,
               'cached_tokens', r.cached_tokens, 'cost_micro_usd', r.cost_micro_usd,
               'price_credits', r.price_credits, 'revenue_micro_usd', r.revenue_micro_usd,
               'duration_ms', r.duration_ms
           ) AS measures
    FROM api.rollups r
    WHERE r.bucket >= @since::timestamptz AND r.bucket < @until::timestamptz
)
SELECT coalesce(e.grain, s.grain)::text AS grain,
       coalesce(e.bucket, s.bucket)::timestamptz AS bucket,
       coalesce(e.team_id, s.team_id)::uuid AS team_id,
       coalesce(e.job_type, s.job_type)::text AS job_type,
       coalesce(e.model_group, s.model_group)::text AS model_group,
       coalesce(e.measures, '{}'::jsonb)::jsonb AS expected,
       coalesce(s.measures, '{}'::jsonb)::jsonb AS stored
FROM expected e
FULL JOIN stored s
    ON s.grain = e.grain AND s.bucket = e.bucket AND s.team_id = e.team_id
   AND s.job_type = e.job_type AND s.model_group = e.model_group
WHERE (e.measures IS NULL AND s.measures <> (SELECT jsonb_object_agg(k, 0) FROM jsonb_object_keys(s.measures) AS k))
   OR (s.measures IS NULL AND e.measures <> (SELECT jsonb_object_agg(k, 0) FROM jsonb_object_keys(e.measures) AS k))
   OR e.measures <> s.measures
ORDER BY 1, 2, 3, 4, 5;

-- name: RollupGlobalDrift :many
-- Stored team-less rollups of [since, until) (UTC month aligned) that differ from a recomputation from raw
-- jobs + llm_calls; a missing row counts as zeros.
WITH expected AS (
    SELECT g.grain, api.rollup_bucket(g.grain, p.finished_at) AS bucket, p.job_type,
           p.model_group,
           jsonb_build_object(
               'jobs', sum(p.jobs), 'completed_jobs', sum(p.completed_jobs),
               'failed_jobs', sum(p.failed_jobs), 'expired_jobs', sum(p.expired_jobs),
               'calls', sum(p.calls), 'successful_calls', sum(p.successful_calls),
               'failed_calls', sum(p.failed_calls), 'cache_hit_calls', sum(p.cache_hit_calls),
               'prompt_tokens', sum(p.prompt_tokens), 'completion_tokens', sum(p.completion_tokens),
               'cached_tokens', sum(p.cached_tokens), 'cost_micro_usd', sum(p.cost_micro_usd),
               'price_credits', sum(p.price_credits), 'revenue_micro_usd', sum(p.revenue_micro_usd),
               'duration_ms', sum(p.duration_ms)
           ) AS measures
    FROM api.job_cost_parts_from_raw(@since::timestamptz, @until::timestamptz) AS p
    CROSS JOIN unnest('{q,h,d,m}'::text[]) AS g (grain)
    GROUP BY 1, 2, 3, 4
),
stored AS (
    SELECT r.grain, r.bucket, r.job_type, r.model_group,
           jsonb_build_object(
               'jobs', r.jobs, 'completed_jobs', r.completed_jobs, 'failed_jobs', r.failed_jobs,
               'expired_jobs', r.expired_jobs, 'calls', r.calls, 'successful_calls', r.successful_calls,
               'failed_calls', r.failed_calls, 'cache_hit_calls', r.cache_hit_calls,
               'prompt_tokens', r.prompt_tokens, 'completion_tokens', r.completion_tokens,
               'cached_tokens', r.cached_tokens, 'cost_micro_usd', r.cost_micro_usd,
               'price_credits', r.price_credits, 'revenue_micro_usd', r.revenue_micro_usd,
               'duration_ms', r.duration_ms
           ) AS measures
    FROM api.rollups_global r
    WHERE r.bucket >= @since::timestamptz AND r.bucket < @until::timestamptz
)
SELECT coalesce(e.grain, s.grain)::text AS grain,
       coalesce(e.bucket, s.bucket)::timestamptz AS bucket,
       coalesce(e.job_type, s.job_type)::text AS job_type,
       coalesce(e.model_group, s.model_group)::text AS model_group,
       coalesce(e.measures, '{}'::jsonb)::jsonb AS expected,
       coalesce(s.measures, '{}'::jsonb)::jsonb AS stored
FROM expected e
FULL JOIN stored s
    ON s.grain = e.grain AND s.bucket = e.bucket
   AND s.job_type = e.job_type AND s.model_group = e.model_group
WHERE (e.measures IS NULL AND s.measures <> (SELECT jsonb_object_agg(k, 0) FROM jsonb_object_keys(s.measures) AS k))
   OR (s.measures IS NULL AND e.measures <> (SELECT jsonb_object_agg(k, 0) FROM jsonb_object_keys(e.measures) AS k))
   OR e.measures <> s.measures
ORDER BY 1, 2, 3, 4;

-- name: RollupTeamDrift :many
-- Stored team rollups of [since, until) (UTC month aligned) that differ from a recomputation from raw
-- jobs + llm_calls; a missing row counts as zeros.
WITH expected AS (
    SELECT g.grain, api.rollup_bucket(g.grain, p.finished_at) AS bucket, p.team_id,
           jsonb_build_object(
               'jobs', sum(p.jobs), 'completed_jobs', sum(p.completed_jobs),
               'failed_jobs', sum(p.failed_jobs), 'expired_jobs', sum(p.expired_jobs),
               'calls', sum(p.calls), 'successful_calls', sum(p.successful_calls),
               'failed_calls', sum(p.failed_calls), 'cache_hit_calls', sum(p.cache_hit_calls),
               'prompt_tokens', sum(p.prompt_tokens), 'completion_tokens', sum(p.completion_tokens),
               'cached_tokens', sum(p.cached_tokens), 'cost_micro_usd', sum(p.cost_micro_usd),
               'price_credits', sum(p.price_credits), 'revenue_micro_usd', sum(p.revenue_micro_usd),
               'duration_ms', sum(p.duration_ms)
           ) AS measures
    FROM api.job_cost_parts_from_raw(@since::timestamptz, @until::timestamptz) AS p
    CROSS JOIN unnest('{q,h,d,m}'::text[]) AS g (grain)
    GROUP BY 1, 2, 3
),
stored AS (
    SELECT r.grain, r.bucket, r.team_id,
           jsonb_build_object(
               'jobs', r.jobs, 'completed_jobs', r.completed_jobs, 'failed_jobs', r.failed_jobs,
               'expired_jobs', r.expired_jobs, 'calls', r.calls, 'successful_calls', r.successful_calls,
               'failed_calls', r.failed_calls, 'cache_hit_calls', r.cache_hit_calls,
               'prompt_tokens', r.prompt_tokens, 'completion_tokens', r.completion_tokens,
               'cached_tokens', r.cached_tokens, 'cost_micro_usd', r.cost_micro_usd,
               'price_credits', r.price_credits, 'revenue_micro_usd', r.revenue_micro_usd,
               'duration_ms', r.duration_ms
           ) AS measures
    FROM api.rollups_team r
    WHERE r.bucket >= @since::timestamptz AND r.bucket < @until::timestamptz
)
SELECT coalesce(e.grain, s.grain)::text AS grain,
       coalesce(e.bucket, s.bucket)::timestamptz AS bucket,
       coalesce(e.team_id, s.team_id)::uuid AS team_id,
       coalesce(e.measures, '{}'::jsonb)::jsonb AS expected,
       coalesce(s.measures, '{}'::jsonb)::jsonb AS stored
FROM expected e
FULL JOIN stored s
    ON s.grain = e.grain AND s.bucket = e.bucket AND s.team_id = e.team_id
WHERE (e.measures IS NULL AND s.measures <> (SELECT jsonb_object_agg(k, 0) FROM jsonb_object_keys(s.measures) AS k))
   OR (s.measures IS NULL AND e.measures <> (SELECT jsonb_object_agg(k, 0) FROM jsonb_object_keys(e.measures) AS k))
   OR e.measures <> s.measures
ORDER BY 1, 2, 3;
