-- name: AuditLogAdd :exec
INSERT INTO api.audit_log (actor, action, target_type, target_id, before, after, ip)
VALUES (@actor::text, @action::text, @target_type::text, sqlc.narg(target_id)::text,
        sqlc.narg(before)::jsonb, sqlc.narg(after)::jsonb, sqlc.narg(ip)::text);

-- name: AuditLogList :many
SELECT * FROM api.audit_log
WHERE (sqlc.narg(target_type)::text IS NULL OR target_type = sqlc.narg(target_type)::text)
  AND (sqlc.narg(target_id)::text IS NULL OR target_id = sqlc.narg(target_id)::text)
  AND (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id)::bigint)
ORDER BY id DESC
LIMIT @lim::int;
