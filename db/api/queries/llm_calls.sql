-- name: LlmCallInsert :exec
INSERT INTO api.llm_calls (
    id, job_id, team_id, model_group, model_group_id, purpose, router_request_id, resolved_model,
    deployment, prompt_tokens, completion_tokens, cached_tokens, cost_micro_usd, latency_ms, status,
    error_kind, error, cache_hit, attempts, streamed, finish_reason, prompt, response_text, retain_until
) VALUES (
    @id::uuid, @job_id::uuid, @team_id::uuid, @model_group::text, sqlc.narg(model_group_id)::uuid,
    sqlc.narg(purpose)::text, sqlc.narg(router_request_id)::text, sqlc.narg(resolved_model)::text,
    sqlc.narg(deployment)::text, @prompt_tokens::int, @completion_tokens::int, @cached_tokens::int,
    @cost_micro_usd::bigint, @latency_ms::int, @status::api.llm_call_status, sqlc.narg(error_kind)::text,
    sqlc.narg(error)::text, @cache_hit::boolean, @attempts::int, @streamed::boolean,
    sqlc.narg(finish_reason)::text, sqlc.narg(prompt)::jsonb, sqlc.narg(response_text)::text,
    sqlc.narg(retain_until)::timestamptz
);

-- name: LlmCallListByJob :many
SELECT * FROM api.llm_calls WHERE job_id = @job_id::uuid ORDER BY created_at, id;

-- name: LlmCallUsageByJob :one
SELECT count(*)::int AS calls,
       count(*) FILTER (WHERE status = 'succeeded')::int AS successful_calls,
       count(*) FILTER (WHERE status <> 'succeeded')::int AS failed_calls,
       coalesce(sum(prompt_tokens), 0)::bigint AS prompt_tokens,
       coalesce(sum(completion_tokens), 0)::bigint AS completion_tokens,
       coalesce(sum(cached_tokens), 0)::bigint AS cached_tokens,
       coalesce(sum(cost_micro_usd), 0)::bigint AS cost_micro_usd,
       coalesce(avg(latency_ms), 0)::int AS avg_latency_ms
FROM api.llm_calls
WHERE job_id = @job_id::uuid;
