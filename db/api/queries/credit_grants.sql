-- name: CreditGrantCreate :exec
INSERT INTO api.credit_grants (ledger_entry_id, team_id, amount, expires_at)
VALUES (@ledger_entry_id::bigint, @team_id::uuid, @amount::bigint, @expires_at::timestamptz)
ON CONFLICT (ledger_entry_id) DO NOTHING;

-- name: CreditGrantGet :one
SELECT * FROM api.credit_grants WHERE ledger_entry_id = @ledger_entry_id::bigint;

-- name: CreditGrantTeamsDue :many
-- Teams with at least one grant past its expiry that the worker has not expired yet.
SELECT DISTINCT team_id FROM api.credit_grants
WHERE expired_at IS NULL AND expires_at <= @now::timestamptz
LIMIT @lim::int;

-- name: CreditGrantListByTeam :many
SELECT * FROM api.credit_grants WHERE team_id = @team_id::uuid ORDER BY ledger_entry_id;

-- name: CreditGrantMarkExpired :execrows
UPDATE api.credit_grants
SET expired_at = @expired_at::timestamptz, expired_amount = @expired_amount::bigint
WHERE ledger_entry_id = @ledger_entry_id::bigint AND expired_at IS NULL;

-- name: CreditGrantLedgerSince :many
-- The team's balance-moving entries from its first grant on (holds and releases move no balance),
-- oldest first: what the expiry replay charges to grants.
SELECT id, kind, amount, idempotency_key, created_at
FROM api.ledger_entries
WHERE team_id = @team_id::uuid AND id >= @from_id::bigint
  AND kind NOT IN ('hold', 'release')
ORDER BY id;
