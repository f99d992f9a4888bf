-- name: BudgetAlertListOpen :many
-- Every open budget alert (what the next run compares the router's numbers with).
SELECT * FROM api.budget_alerts WHERE cleared_at IS NULL ORDER BY id;

-- name: BudgetAlertClear :execrows
-- Clear (and re-arm) the given open alerts; already-cleared ones are left alone (a second worker).
UPDATE api.budget_alerts SET cleared_at = now()
WHERE id = ANY(@ids::int8[]) AND cleared_at IS NULL;

-- name: BudgetAlertRaise :one
-- One open alert per (team, threshold): a concurrent run's insert becomes a no-op (no row returned).
INSERT INTO api.budget_alerts
    (team_id, router_key_id, threshold_pct, budget_micro_usd, spend_micro_usd, budget_period, period_start)
VALUES (@team_id::uuid, @router_key_id::text, @threshold_pct::int2, @budget_micro_usd::int8,
        @spend_micro_usd::int8, @budget_period::text, sqlc.narg(period_start)::timestamptz)
ON CONFLICT (team_id, threshold_pct) WHERE cleared_at IS NULL DO NOTHING
RETURNING *;

-- name: BudgetAlertList :many
-- Operators' view, newest first; every filter optional.
SELECT a.id, a.team_id, t.name AS team_name, a.threshold_pct, a.budget_micro_usd, a.spend_micro_usd,
       a.budget_period, a.period_start, a.raised_at, a.cleared_at
FROM api.budget_alerts a
JOIN api.teams t ON t.id = a.team_id
WHERE (sqlc.narg(team_id)::uuid IS NULL OR a.team_id = sqlc.narg(team_id)::uuid)
  AND (NOT @open_only::bool OR a.cleared_at IS NULL)
ORDER BY a.raised_at DESC, a.id DESC
LIMIT @lim::int;

-- name: CreditAlertList :many
-- The low-credit alerts (api.credit_alerts, raised by upkeep) for the same operators' view.
SELECT a.id, a.team_id, t.name AS team_name, a.threshold, a.available, a.raised_at, a.cleared_at
FROM api.credit_alerts a
JOIN api.teams t ON t.id = a.team_id
WHERE (sqlc.narg(team_id)::uuid IS NULL OR a.team_id = sqlc.narg(team_id)::uuid)
  AND (NOT @open_only::bool OR a.cleared_at IS NULL)
ORDER BY a.raised_at DESC, a.id DESC
LIMIT @lim::int;
