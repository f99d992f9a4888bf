-- name: DeploymentInsert :one
INSERT INTO router.deployments (
    id, model_name, provider_id, upstream_model, weight,
    input_price_micro_usd_per_mtok, output_price_micro_usd_per_mtok,
    cached_input_price_micro_usd_per_mtok, cache_write_price_micro_usd_per_mtok,
    rpm, tpm, timeout_s, max_retries, region, cache_ttl_s, enabled, settings
) VALUES (
    @id::uuid, @model_name::text, @provider_id::uuid, @upstream_model::text, @weight::int4,
    @input_price::int8, @output_price::int8, @cached_input_price::int8, @cache_write_price::int8,
    sqlc.narg(rpm)::int4, sqlc.narg(tpm)::int4, @timeout_s::int4, @max_retries::int4,
    sqlc.narg(region)::text, sqlc.narg(cache_ttl_s)::int4, @enabled::boolean, @settings::jsonb
)
RETURNING *;

-- name: DeploymentGet :one
SELECT * FROM router.deployments WHERE id = @id::uuid;

-- name: DeploymentList :many
SELECT * FROM router.deployments
WHERE sqlc.narg(model_name)::text IS NULL OR model_name = sqlc.narg(model_name)::text
ORDER BY model_name, created_at, id;

-- name: DeploymentUpdate :one
-- Replace every editable column (the service merges a PATCH onto the current row first).
UPDATE router.deployments
SET model_name = @model_name::text, provider_id = @provider_id::uuid, upstream_model = @upstream_model::text,
    weight = @weight::int4,
    input_price_micro_usd_per_mtok = @input_price::int8,
    output_price_micro_usd_per_mtok = @output_price::int8,
    cached_input_price_micro_usd_per_mtok = @cached_input_price::int8,
    cache_write_price_micro_usd_per_mtok = @cache_write_price::int8,
    rpm = sqlc.narg(rpm)::int4, tpm = sqlc.narg(tpm)::int4, timeout_s = @timeout_s::int4,
    max_retries = @max_retries::int4, region = sqlc.narg(region)::text,
    cache_ttl_s = sqlc.narg(cache_ttl_s)::int4, enabled = @enabled::boolean, settings = @settings::jsonb,
    updated_at = now()
WHERE id = @id::uuid
RETURNING *;

-- name: DeploymentDelete :execrows
DELETE FROM router.deployments WHERE id = @id::uuid;

-- name: DeploymentListEnabledWithProvider :many
-- The catalog snapshot: every enabled deployment with what is needed to call its provider.
SELECT d.id, d.model_name, d.upstream_model, d.weight,
       d.input_price_micro_usd_per_mtok, d.output_price_micro_usd_per_mtok,
       d.cached_input_price_micro_usd_per_mtok, d.cache_write_price_micro_usd_per_mtok,
       d.rpm, d.tpm, d.timeout_s, d.max_retries, d.cache_ttl_s, d.settings,
       p.id AS provider_id, p.name AS provider_name, p.kind AS provider_kind, p.base_url,
       p.api_key_enc, p.settings AS provider_settings
FROM router.deployments d
JOIN router.providers p ON p.id = d.provider_id
WHERE d.enabled
ORDER BY d.model_name, d.created_at, d.id;
