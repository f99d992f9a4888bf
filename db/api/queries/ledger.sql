-- name: TeamBalanceCreate :exec
INSERT INTO api.team_balances (team_id, overdraft_limit) VALUES (@team_id::uuid, @overdraft_limit::bigint);

-- name: TeamBalanceGet :one
SELECT * FROM api.team_balances WHERE team_id = @team_id::uuid;

-- name: TeamBalanceLock :one
SELECT * FROM api.team_balances WHERE team_id = @team_id::uuid FOR UPDATE;

-- name: TeamBalanceApply :one
UPDATE api.team_balances
SET balance = balance + @balance_delta::bigint, held = held + @held_delta::bigint, updated_at = now()
WHERE team_id = @team_id::uuid
RETURNING *;

-- name: TeamBalanceSetOverdraft :exec
UPDATE api.team_balances SET overdraft_limit = @overdraft_limit::bigint, updated_at = now()
WHERE team_id = @team_id::uuid;

-- name: LedgerEntryAdd :one
INSERT INTO api.ledger_entries (
    team_id, kind, amount, job_id, idempotency_key, actor, reason, balance_after, held_after
) VALUES (
    @team_id::uuid, @kind::api.ledger_kind, @amount::bigint, sqlc.narg(job_id)::uuid,
    @idempotency_key::text, @actor::text, @reason::text, @balance_after::bigint, @held_after::bigint
)
RETURNING *;

-- name: LedgerEntryGetByKey :one
SELECT * FROM api.ledger_entries WHERE team_id = @team_id::uuid AND idempotency_key = @idempotency_key::text;

-- name: LedgerEntryListByTeam :many
SELECT * FROM api.ledger_entries
WHERE team_id = @team_id::uuid
  AND (sqlc.narg(before)::timestamptz IS NULL OR created_at < sqlc.narg(before)::timestamptz)
  AND (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id)::bigint)
ORDER BY id DESC
LIMIT @lim::int;

-- name: LedgerJobOpenHold :one
-- Credits still held for a job: its holds minus what was released or captured.
SELECT coalesce(sum(CASE kind WHEN 'hold' THEN amount WHEN 'release' THEN -amount
                              WHEN 'capture' THEN -amount ELSE 0 END), 0)::bigint AS open_hold,
       count(*) FILTER (WHERE kind = 'hold') AS holds
FROM api.ledger_entries
WHERE team_id = @team_id::uuid AND job_id = @job_id::uuid;

-- name: LedgerCheck :one
-- The balance row against the ledger: balance == sum of balance-moving entries, held == open holds.
SELECT b.balance, b.held,
       coalesce((SELECT sum(CASE WHEN e.kind = 'capture' THEN -e.amount
                                 WHEN e.kind IN ('hold', 'release') THEN 0
                                 ELSE e.amount END)
                 FROM api.ledger_entries e WHERE e.team_id = b.team_id), 0)::bigint AS ledger_balance,
       coalesce((SELECT sum(CASE e.kind WHEN 'hold' THEN e.amount WHEN 'release' THEN -e.amount
                                        WHEN 'capture' THEN -e.amount ELSE 0 END)
                 FROM api.ledger_entries e WHERE e.team_id = b.team_id), 0)::bigint AS ledger_held
FROM api.team_balances b
WHERE b.team_id = @team_id::uuid;
