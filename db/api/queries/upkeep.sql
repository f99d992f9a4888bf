-- name: CreditAlertCandidates :many
-- Active teams whose available credits (balance − held + overdraft, what the team sees) are below
-- their threshold (metadata.low_credit_threshold, else the default) and that have no open alert.
SELECT b.team_id, (b.balance - b.held + b.overdraft_limit)::bigint AS available, th.threshold::bigint AS threshold
FROM api.team_balances b
JOIN api.teams t ON t.id = b.team_id
CROSS JOIN LATERAL (
    SELECT CASE WHEN jsonb_typeof(t.metadata -> 'low_credit_threshold') = 'number'
                THEN (t.metadata ->> 'low_credit_threshold')::numeric::bigint
                ELSE @default_threshold::bigint END AS threshold
) th
WHERE t.status = 'active'
  AND b.balance - b.held + b.overdraft_limit < th.threshold
  AND NOT EXISTS (
      SELECT 1 FROM api.credit_alerts a
      WHERE a.team_id = b.team_id AND a.kind = 'credits.low' AND a.cleared_at IS NULL
  )
ORDER BY b.team_id
LIMIT @lim::int;

-- name: CreditAlertRaise :one
INSERT INTO api.credit_alerts (team_id, kind, threshold, available)
VALUES (@team_id::uuid, 'credits.low', @threshold::bigint, @available::bigint)
ON CONFLICT (team_id, kind) WHERE cleared_at IS NULL DO NOTHING
RETURNING *;

-- name: CreditAlertClearRecovered :execrows
-- Open alerts of teams whose available credits are back at or above their threshold (re-arms them).
UPDATE api.credit_alerts a
SET cleared_at = now()
FROM api.team_balances b, api.teams t
WHERE a.cleared_at IS NULL AND a.kind = 'credits.low'
  AND b.team_id = a.team_id AND t.id = a.team_id
  AND b.balance - b.held + b.overdraft_limit >= (
      CASE WHEN jsonb_typeof(t.metadata -> 'low_credit_threshold') = 'number'
           THEN (t.metadata ->> 'low_credit_threshold')::numeric::bigint
           ELSE @default_threshold::bigint END
  );

-- name: CreditAlertListByTeam :many
SELECT * FROM api.credit_alerts WHERE team_id = @team_id::uuid ORDER BY id DESC LIMIT @lim::int;

-- name: LlmCallRetentionPurge :execrows
-- Forget stored prompt/response text past retain_until, one batch (SKIP LOCKED: replicas share work).
UPDATE api.llm_calls c
SET prompt = NULL, response_text = NULL, retain_until = NULL
FROM (
    SELECT id, created_at FROM api.llm_calls
    WHERE retain_until < @now::timestamptz
    ORDER BY retain_until
    LIMIT @batch::int
    FOR UPDATE SKIP LOCKED
) due
WHERE c.id = due.id AND c.created_at = due.created_at;
