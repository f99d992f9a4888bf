-- Secrets the api must recover, stored AES-GCM under TOLLGATE_API_ENCRYPTION_KEYS
-- (read and re-encrypted under the primary key id by `tollgate keys rotate-api-keys`).

-- name: EncryptedTeamVirtualKeyList :many
SELECT id, virtual_key_encrypted FROM api.teams ORDER BY id;

-- name: EncryptedTeamVirtualKeyReplace :execrows
-- Compare-and-set: a concurrent change of the key wins over the rotation.
UPDATE api.teams SET virtual_key_encrypted = @new_value::text
WHERE id = @id::uuid AND virtual_key_encrypted = @old_value::text;

-- name: EncryptedWebhookSecretList :many
SELECT id, secret_encrypted, previous_secret_encrypted FROM api.webhook_endpoints ORDER BY id;

-- name: EncryptedWebhookSecretReplace :execrows
UPDATE api.webhook_endpoints
SET secret_encrypted = @new_secret::text, previous_secret_encrypted = sqlc.narg(new_previous)::text
WHERE id = @id::uuid AND secret_encrypted = @old_secret::text
  AND previous_secret_encrypted IS NOT DISTINCT FROM sqlc.narg(old_previous)::text;
