-- name: SpendLogInsertBatch :execrows
-- One statement per batch (rows as a JSON array); a retried batch is idempotent.
INSERT INTO router.spend_log (
    request_id, key_id, owner_ref, model, deployment_id, prompt_tokens, completion_tokens, cached_tokens,
    cache_write_tokens, cost_micro_usd, latency_ms, status, cache_hit, error_kind, created_at
)
SELECT t.request_id, t.key_id, t.owner_ref, t.model, t.deployment_id, t.prompt_tokens, t.completion_tokens,
       t.cached_tokens, t.cache_write_tokens, t.cost_micro_usd, t.latency_ms, t.status, t.cache_hit,
       t.error_kind, t.created_at
FROM jsonb_to_recordset(@rows::jsonb) AS t(
    request_id text, key_id uuid, owner_ref text, model text, deployment_id uuid, prompt_tokens int4,
    completion_tokens int4, cached_tokens int4, cache_write_tokens int4, cost_micro_usd int8, latency_ms int4,
    status text, cache_hit boolean, error_kind text, created_at timestamptz
)
ON CONFLICT DO NOTHING;

-- name: SpendTotalForKeySince :one
SELECT coalesce(sum(cost_micro_usd), 0)::int8 AS cost_micro_usd
FROM router.spend_log
WHERE key_id = @key_id::uuid AND created_at >= @since::timestamptz;

-- name: SpendByKey :many
SELECT key_id, min(owner_ref)::text AS owner_ref, count(*)::int8 AS requests,
       coalesce(sum(prompt_tokens), 0)::int8 AS prompt_tokens,
       coalesce(sum(completion_tokens), 0)::int8 AS completion_tokens,
       coalesce(sum(cost_micro_usd), 0)::int8 AS cost_micro_usd
FROM router.spend_log
WHERE created_at >= @from_at::timestamptz AND created_at < @to_at::timestamptz
  AND (sqlc.narg(key_id)::uuid IS NULL OR key_id = sqlc.narg(key_id)::uuid)
GROUP BY key_id
ORDER BY cost_micro_usd DESC, key_id;

-- name: SpendByModel :many
SELECT model, count(*)::int8 AS requests,
       coalesce(sum(prompt_tokens), 0)::int8 AS prompt_tokens,
       coalesce(sum(completion_tokens), 0)::int8 AS completion_tokens,
       coalesce(sum(cost_micro_usd), 0)::int8 AS cost_micro_usd
FROM router.spend_log
WHERE created_at >= @from_at::timestamptz AND created_at < @to_at::timestamptz
  AND (sqlc.narg(key_id)::uuid IS NULL OR key_id = sqlc.narg(key_id)::uuid)
GROUP BY model
ORDER BY cost_micro_usd DESC, model;

-- name: SpendByDeployment :many
SELECT deployment_id, count(*)::int8 AS requests,
       coalesce(sum(prompt_tokens), 0)::int8 AS prompt_tokens,
       coalesce(sum(completion_tokens), 0)::int8 AS completion_tokens,
       coalesce(sum(cost_micro_usd), 0)::int8 AS cost_micro_usd
FROM router.spend_log
WHERE created_at >= @from_at::timestamptz AND created_at < @to_at::timestamptz
  AND (sqlc.narg(key_id)::uuid IS NULL OR key_id = sqlc.narg(key_id)::uuid)
GROUP BY deployment_id
ORDER BY cost_micro_usd DESC, deployment_id;

-- name: SpendByDay :many
SELECT (date_trunc('day', created_at AT TIME ZONE 'UTC'))::date AS day, count(*)::int8 AS requests,
       coalesce(sum(prompt_tokens), 0)::int8 AS prompt_tokens,
       coalesce(sum(completion_tokens), 0)::int8 AS completion_tokens,
       coalesce(sum(cost_micro_usd), 0)::int8 AS cost_micro_usd
FROM router.spend_log
WHERE created_at >= @from_at::timestamptz AND created_at < @to_at::timestamptz
  AND (sqlc.narg(key_id)::uuid IS NULL OR key_id = sqlc.narg(key_id)::uuid)
GROUP BY 1
ORDER BY 1;
