-- name: ReconciliationRunStart :one
INSERT INTO api.reconciliation_runs (trigger, from_day, to_day)
VALUES (@trigger::text, @from_day::date, @to_day::date)
RETURNING *;

-- name: ReconciliationRunFinish :one
UPDATE api.reconciliation_runs
SET status = @status::text, keys_checked = @keys_checked::int, drifted = @drifted::int,
    total_abs_drift_micro_usd = @total_abs_drift_micro_usd::bigint, error = sqlc.narg(error)::text,
    finished_at = now()
WHERE id = @id::bigint
RETURNING *;

-- name: ReconciliationRunGet :one
SELECT * FROM api.reconciliation_runs WHERE id = @id::bigint;

-- name: ReconciliationRunList :many
SELECT * FROM api.reconciliation_runs
WHERE (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id)::bigint)
ORDER BY id DESC
LIMIT @lim::int;

-- name: ReconciliationTeamKeys :many
SELECT id AS team_id, router_key_id::text AS router_key_id FROM api.teams WHERE router_key_id IS NOT NULL;

-- name: ReconciliationApiSpend :many
-- The api's side: llm_calls per team and UTC day in [from_at, to_at).
SELECT team_id, (created_at AT TIME ZONE 'UTC')::date AS day, count(*)::int8 AS calls,
       coalesce(sum(cost_micro_usd), 0)::int8 AS cost_micro_usd
FROM api.llm_calls
WHERE created_at >= @from_at::timestamptz AND created_at < @to_at::timestamptz
GROUP BY 1, 2;

-- name: ReconciliationDriftUpsert :exec
INSERT INTO api.reconciliation_drift (
    team_id, day, router_key_id, run_id, router_requests, router_cost_micro_usd, api_calls,
    api_cost_micro_usd, drift_micro_usd
) VALUES (
    @team_id::uuid, @day::date, @router_key_id::text, @run_id::bigint, @router_requests::bigint,
    @router_cost_micro_usd::bigint, @api_calls::bigint, @api_cost_micro_usd::bigint, @drift_micro_usd::bigint
)
ON CONFLICT (team_id, day) DO UPDATE SET
    router_key_id = excluded.router_key_id, run_id = excluded.run_id,
    router_requests = excluded.router_requests, router_cost_micro_usd = excluded.router_cost_micro_usd,
    api_calls = excluded.api_calls, api_cost_micro_usd = excluded.api_cost_micro_usd,
    drift_micro_usd = excluded.drift_micro_usd, checked_at = now();

-- name: ReconciliationDriftList :many
SELECT * FROM api.reconciliation_drift
WHERE day >= @from_day::date AND day <= @to_day::date
  AND (sqlc.narg(team_id)::uuid IS NULL OR team_id = sqlc.narg(team_id)::uuid)
  AND (NOT @only_drift::boolean OR drift_micro_usd <> 0)
ORDER BY day DESC, abs(drift_micro_usd) DESC, team_id
LIMIT @lim::int;
