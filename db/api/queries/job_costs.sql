-- name: JobCostUpsert :exec
-- Idempotent: running the aggregation twice leaves the same row (computed_at aside).
INSERT INTO api.job_costs (
    job_id, team_id, job_type, status, calls, successful_calls, failed_calls, prompt_tokens,
    completion_tokens, cached_tokens, cost_micro_usd, price_credits, price_usd_micro, margin_usd_micro,
    avg_latency_ms, finished_at
) VALUES (
    @job_id::uuid, @team_id::uuid, sqlc.narg(job_type)::text, @status::api.job_status, @calls::int,
    @successful_calls::int, @failed_calls::int, @prompt_tokens::bigint, @completion_tokens::bigint,
    @cached_tokens::bigint, @cost_micro_usd::bigint, @price_credits::bigint, @price_usd_micro::bigint,
    @margin_usd_micro::bigint, @avg_latency_ms::int, @finished_at::timestamptz
)
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

-- name: JobCostGet :one
SELECT * FROM api.job_costs WHERE job_id = @job_id::uuid;
