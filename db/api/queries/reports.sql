-- name: ReportMarginGroups :many
-- Sums of the rollups over segments (grain, [start, end), time-group label) that tile the range;
-- grouped by a dimension or, for day/week/month, by the segment's label. LATERAL ... OFFSET 0 (never
-- flattened) makes each segment one range scan of the primary key (grain, bucket, ...).
SELECT (CASE @group_by::text
            WHEN 'team' THEN r.team_id::text
            WHEN 'organization' THEN r.organization_id::text
            WHEN 'job_type' THEN r.job_type
            WHEN 'model_group' THEN r.model_group
            ELSE s.label
        END)::text AS group_key,
       sum(r.jobs)::bigint AS jobs,
       sum(r.completed_jobs)::bigint AS completed_jobs,
       sum(r.failed_jobs)::bigint AS failed_jobs,
       sum(r.expired_jobs)::bigint AS expired_jobs,
       sum(r.calls)::bigint AS calls,
       sum(r.failed_calls)::bigint AS failed_calls,
       sum(r.cache_hit_calls)::bigint AS cache_hit_calls,
       sum(r.prompt_tokens)::bigint AS prompt_tokens,
       sum(r.completion_tokens)::bigint AS completion_tokens,
       sum(r.cached_tokens)::bigint AS cached_tokens,
       sum(r.cost_micro_usd)::bigint AS cost_micro_usd,
       sum(r.price_credits)::bigint AS price_credits,
       sum(r.revenue_micro_usd)::bigint AS revenue_micro_usd,
       sum(r.duration_ms)::bigint AS duration_ms
FROM (
    SELECT unnest(@seg_grains::text[])::text AS grain,
           unnest(@seg_starts::timestamptz[])::timestamptz AS start_at,
           unnest(@seg_ends::timestamptz[])::timestamptz AS end_at,
           unnest(@seg_labels::text[])::text AS label
) AS s
CROSS JOIN LATERAL (
    SELECT x.team_id, x.organization_id, x.job_type, x.model_group, x.jobs, x.completed_jobs,
           x.failed_jobs, x.expired_jobs, x.calls, x.failed_calls, x.cache_hit_calls, x.prompt_tokens,
           x.completion_tokens, x.cached_tokens, x.cost_micro_usd, x.price_credits, x.revenue_micro_usd,
           x.duration_ms
    FROM api.rollups x
    WHERE x.grain = s.grain AND x.bucket >= s.start_at AND x.bucket < s.end_at
      AND (sqlc.narg(team_id)::uuid IS NULL OR x.team_id = sqlc.narg(team_id)::uuid)
      AND (sqlc.narg(organization_id)::uuid IS NULL OR x.organization_id = sqlc.narg(organization_id)::uuid)
      AND (sqlc.narg(job_type)::text IS NULL OR x.job_type = sqlc.narg(job_type)::text)
      AND (sqlc.narg(model_group)::text IS NULL OR x.model_group = sqlc.narg(model_group)::text)
    OFFSET 0
) AS r
GROUP BY 1
HAVING sum(r.jobs) <> 0 OR sum(r.calls) <> 0 OR sum(r.price_credits) <> 0 OR sum(r.cost_micro_usd) <> 0;

-- name: ReportMarginGroupsTeam :many
-- The same over the team sums (grouped by team or organization, no job type or model group filter).
SELECT (CASE @group_by::text
            WHEN 'team' THEN r.team_id::text
            WHEN 'organization' THEN r.organization_id::text
            ELSE s.label
        END)::text AS group_key,
       sum(r.jobs)::bigint AS jobs,
       sum(r.completed_jobs)::bigint AS completed_jobs,
       sum(r.failed_jobs)::bigint AS failed_jobs,
       sum(r.expired_jobs)::bigint AS expired_jobs,
       sum(r.calls)::bigint AS calls,
       sum(r.failed_calls)::bigint AS failed_calls,
       sum(r.cache_hit_calls)::bigint AS cache_hit_calls,
       sum(r.prompt_tokens)::bigint AS prompt_tokens,
       sum(r.completion_tokens)::bigint AS completion_tokens,
       sum(r.cached_tokens)::bigint AS cached_tokens,
       sum(r.cost_micro_usd)::bigint AS cost_micro_usd,
       sum(r.price_credits)::bigint AS price_credits,
       sum(r.revenue_micro_usd)::bigint AS revenue_micro_usd,
       sum(r.duration_ms)::bigint AS duration_ms
FROM (
    SELECT unnest(@seg_grains::text[])::text AS grain,
           unnest(@seg_starts::timestamptz[])::timestamptz AS start_at,
           unnest(@seg_ends::timestamptz[])::timestamptz AS end_at,
           unnest(@seg_labels::text[])::text AS label
) AS s
CROSS JOIN LATERAL (
    SELECT x.team_id, x.organization_id, x.jobs, x.completed_jobs,
           x.failed_jobs, x.expired_jobs, x.calls, x.failed_calls, x.cache_hit_calls, x.prompt_tokens,
           x.completion_tokens, x.cached_tokens, x.cost_micro_usd, x.price_credits, x.revenue_micro_usd,
           x.duration_ms
    FROM api.rollups_team x
    WHERE x.grain = s.grain AND x.bucket >= s.start_at AND x.bucket < s.end_at
      AND (sqlc.narg(team_id)::uuid IS NULL OR x.team_id = sqlc.narg(team_id)::uuid)
      AND (sqlc.narg(organization_id)::uuid IS NULL OR x.organization_id = sqlc.narg(organization_id)::uuid)
    OFFSET 0
) AS r
GROUP BY 1
HAVING sum(r.jobs) <> 0 OR sum(r.calls) <> 0 OR sum(r.price_credits) <> 0 OR sum(r.cost_micro_usd) <> 0;

-- name: ReportMarginGroupsGlobal :many
-- The same over the team-less sums (no team or organization grouping or filter).
SELECT (CASE @group_by::text
            WHEN 'job_type' THEN r.job_type
            WHEN 'model_group' THEN r.model_group
            ELSE s.label
        END)::text AS group_key,
       sum(r.jobs)::bigint AS jobs,
       sum(r.completed_jobs)::bigint AS completed_jobs,
       sum(r.failed_jobs)::bigint AS failed_jobs,
       sum(r.expired_jobs)::bigint AS expired_jobs,
       sum(r.calls)::bigint AS calls,
       sum(r.failed_calls)::bigint AS failed_calls,
       sum(r.cache_hit_calls)::bigint AS cache_hit_calls,
       sum(r.prompt_tokens)::bigint AS prompt_tokens,
       sum(r.completion_tokens)::bigint AS completion_tokens,
       sum(r.cached_tokens)::bigint AS cached_tokens,
       sum(r.cost_micro_usd)::bigint AS cost_micro_usd,
       sum(r.price_credits)::bigint AS price_credits,
       sum(r.revenue_micro_usd)::bigint AS revenue_micro_usd,
       sum(r.duration_ms)::bigint AS duration_ms
FROM (
    SELECT unnest(@seg_grains::text[])::text AS grain,
           unnest(@seg_starts::timestamptz[])::timestamptz AS start_at,
           unnest(@seg_ends::timestamptz[])::timestamptz AS end_at,
           unnest(@seg_labels::text[])::text AS label
) AS s
CROSS JOIN LATERAL (
    SELECT x.job_type, x.model_group, x.jobs, x.completed_jobs,
           x.failed_jobs, x.expired_jobs, x.calls, x.failed_calls, x.cache_hit_calls, x.prompt_tokens,
           x.completion_tokens, x.cached_tokens, x.cost_micro_usd, x.price_credits, x.revenue_micro_usd,
           x.duration_ms
    FROM api.rollups_global x
    WHERE x.grain = s.grain AND x.bucket >= s.start_at AND x.bucket < s.end_at
      AND (sqlc.narg(job_type)::text IS NULL OR x.job_type = sqlc.narg(job_type)::text)
      AND (sqlc.narg(model_group)::text IS NULL OR x.model_group = sqlc.narg(model_group)::text)
    OFFSET 0
) AS r
GROUP BY 1
HAVING sum(r.jobs) <> 0 OR sum(r.calls) <> 0 OR sum(r.price_credits) <> 0 OR sum(r.cost_micro_usd) <> 0;

-- name: ReportJobMargins :many
-- Finished jobs newest first, keyset-paged by (finished_at, job_id).
SELECT c.job_id, c.team_id, t.organization_id, c.job_type, c.status::text AS status, j.created_at,
       c.finished_at, c.calls, c.failed_calls, c.prompt_tokens, c.completion_tokens, c.cached_tokens,
       c.cost_micro_usd, c.price_credits, c.price_usd_micro, c.margin_usd_micro
FROM api.job_costs c
JOIN api.teams t ON t.id = c.team_id
JOIN api.jobs j ON j.id = c.job_id
WHERE c.finished_at >= @since::timestamptz AND c.finished_at < @until::timestamptz
  AND (sqlc.narg(team_id)::uuid IS NULL OR c.team_id = sqlc.narg(team_id)::uuid)
  AND (sqlc.narg(organization_id)::uuid IS NULL OR t.organization_id = sqlc.narg(organization_id)::uuid)
  AND (sqlc.narg(job_type)::text IS NULL OR coalesce(c.job_type, '') = sqlc.narg(job_type)::text)
  AND (sqlc.narg(status)::text IS NULL OR c.status::text = sqlc.narg(status)::text)
  AND (sqlc.narg(model_group)::text IS NULL OR EXISTS (
        SELECT 1 FROM api.job_cost_parts p
        WHERE p.job_id = c.job_id AND p.model_group = sqlc.narg(model_group)::text))
  AND (sqlc.narg(after_finished_at)::timestamptz IS NULL
       OR (c.finished_at, c.job_id) < (sqlc.narg(after_finished_at)::timestamptz, sqlc.narg(after_job_id)::uuid))
ORDER BY c.finished_at DESC, c.job_id DESC
LIMIT @lim::int;

-- name: ReportTeam :one
SELECT t.id AS team_id, t.name AS team_name, o.id AS organization_id, o.name AS organization_name
FROM api.teams t
JOIN api.organizations o ON o.id = t.organization_id
WHERE t.id = @team_id::uuid;

-- name: ReportLedgerSummary :many
-- The team's credit movements in [since, until) by kind.
SELECT kind::text AS kind, count(*)::bigint AS entries, coalesce(sum(amount), 0)::bigint AS amount
FROM api.ledger_entries
WHERE team_id = @team_id::uuid AND created_at >= @since::timestamptz AND created_at < @until::timestamptz
GROUP BY kind
ORDER BY kind::text;

-- name: ReportLedgerBalanceBefore :one
-- The team's credit balance just before an instant (0 before its first entry).
SELECT coalesce((
    SELECT balance_after FROM api.ledger_entries
    WHERE team_id = @team_id::uuid AND created_at < @at::timestamptz
    ORDER BY created_at DESC, id DESC
    LIMIT 1
), 0)::bigint AS balance;
