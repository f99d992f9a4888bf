-- name: FallbackUpsert :one
INSERT INTO router.fallbacks (model_name, fallback_models)
VALUES (@model_name::text, @fallback_models::text[])
ON CONFLICT (model_name) DO UPDATE SET fallback_models = EXCLUDED.fallback_models, updated_at = now()
RETURNING *;

-- name: FallbackGet :one
SELECT * FROM router.fallbacks WHERE model_name = @model_name::text;

-- name: FallbackList :many
SELECT * FROM router.fallbacks ORDER BY model_name;

-- name: FallbackDelete :execrows
DELETE FROM router.fallbacks WHERE model_name = @model_name::text;
