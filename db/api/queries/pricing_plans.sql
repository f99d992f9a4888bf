-- name: PricingPlanCreate :one
INSERT INTO api.pricing_plans (
    id, name, kind, credits_per_job, per_job_type, credits_per_usd, markup_bps, tokens_per_credit,
    min_credits_per_job, usd_micro_per_credit, failed_job_policy, default_hold_credits, max_hold_credits
) VALUES (
    @id::uuid, @name::text, @kind::api.plan_kind, @credits_per_job::bigint, @per_job_type::jsonb,
    @credits_per_usd::bigint, @markup_bps::int, @tokens_per_credit::bigint, @min_credits_per_job::bigint,
    @usd_micro_per_credit::bigint, @failed_job_policy::api.failed_job_policy, @default_hold_credits::bigint,
    @max_hold_credits::bigint
)
RETURNING *;

-- name: PricingPlanGet :one
SELECT * FROM api.pricing_plans WHERE id = @id::uuid;

-- name: PricingPlanList :many
SELECT * FROM api.pricing_plans ORDER BY name;

-- name: PricingPlanUpdate :one
UPDATE api.pricing_plans SET
    name = @name::text,
    kind = @kind::api.plan_kind,
    credits_per_job = @credits_per_job::bigint,
    per_job_type = @per_job_type::jsonb,
    credits_per_usd = @credits_per_usd::bigint,
    markup_bps = @markup_bps::int,
    tokens_per_credit = @tokens_per_credit::bigint,
    min_credits_per_job = @min_credits_per_job::bigint,
    usd_micro_per_credit = @usd_micro_per_credit::bigint,
    failed_job_policy = @failed_job_policy::api.failed_job_policy,
    default_hold_credits = @default_hold_credits::bigint,
    max_hold_credits = @max_hold_credits::bigint,
    updated_at = now()
WHERE id = @id::uuid
RETURNING *;

-- name: PricingPlanDelete :execrows
DELETE FROM api.pricing_plans WHERE id = @id::uuid;
