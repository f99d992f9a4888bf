"""The SQL of the large seed: set-based ``INSERT ... SELECT generate_series`` run inside Postgres.

Every pseudo-random choice is ``seeding.u(k, salt)``, a hash of the job ordinal ``k`` and a salt
derived from ``--seed``: the same parameters give the same rows, in any number of sessions, chunk by
chunk. A job's facts are decided once, in the staging table ``seeding.jobs``; jobs, calls, job costs
and ledger entries are all derived from it, so they agree to the credit and the micro-dollar:

* a job's totals (tokens, cost) are split exactly over its successful calls (failed calls carry
  none), so the sum over ``api.llm_calls`` equals the job's ``api.job_costs`` row;
* job and call ids are time-ordered UUIDs (milliseconds, then the ordinal), so index inserts append.

Generating rows in Python and sending them with ``COPY`` (psycopg ``cursor.copy().write_row``) was
measured against this on the same loaded 2-core machine, 200k call rows into an unindexed table:
~15k rows/s for Python + COPY, ~75k rows/s for ``INSERT ... SELECT`` built by the server (see
docs/performance.md).
"""

from __future__ import annotations

from typing import Final, LiteralString

SETUP: Final[LiteralString] = """
CREATE SCHEMA IF NOT EXISTS seeding;
CREATE TABLE IF NOT EXISTS seeding.run (
    id int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    params jsonb NOT NULL,
    since timestamptz NOT NULL,
    until timestamptz NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE TABLE IF NOT EXISTS seeding.steps (
    name text PRIMARY KEY,
    rows bigint NOT NULL,
    seconds double precision NOT NULL,
    done_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS seeding.dropped (
    ord int PRIMARY KEY,
    statement text NOT NULL
);
CREATE OR REPLACE FUNCTION seeding.u(k bigint, salt bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (hashint8extended(k, salt) & 4294967295)::double precision / 4294967296.0 $$;
"""

# ---------------------------------------------------------------------------------- reference data

MODEL_GROUPS_TABLE: Final[LiteralString] = """
CREATE TABLE seeding.model_groups (
    idx int PRIMARY KEY, id uuid NOT NULL, name text NOT NULL, router_model text NOT NULL,
    deployment text NOT NULL, in_price bigint NOT NULL, cached_price bigint NOT NULL,
    out_price bigint NOT NULL
);
CREATE TABLE seeding.job_types (
    idx int PRIMARY KEY, name text NOT NULL, price bigint NOT NULL
);
CREATE TABLE seeding.plans (
    idx int PRIMARY KEY, id uuid NOT NULL, usd_micro_per_credit bigint NOT NULL, snapshot jsonb NOT NULL
);
"""

ORGANIZATIONS: Final[LiteralString] = """
INSERT INTO api.organizations (id, name, metadata, created_at, updated_at)
SELECT md5('org:' || %(seed)s::bigint || ':' || i)::uuid, format('Seed Org %%s', lpad(i::text, 4, '0')),
       '{"seeded": true}'::jsonb, %(since)s::timestamptz - interval '30 days',
       %(since)s::timestamptz - interval '30 days'
FROM generate_series(0, %(organizations)s::int - 1) AS i
"""

# Team i belongs to organization i % organizations; every third team is on the consumption plan.
TEAMS: Final[LiteralString] = """
CREATE TABLE seeding.teams AS
SELECT i AS idx, md5('team:' || %(seed)s::bigint || ':' || i)::uuid AS id,
       md5('org:' || %(seed)s::bigint || ':' || (i %% %(organizations)s::int))::uuid AS organization_id,
       CASE WHEN i %% 3 = 0 THEN 1 ELSE 0 END AS plan_idx
FROM generate_series(0, %(teams)s::int - 1) AS i;
ALTER TABLE seeding.teams ADD PRIMARY KEY (idx);
INSERT INTO api.teams (id, organization_id, name, pricing_plan_id, virtual_key_encrypted, metadata,
                       created_at, updated_at)
SELECT t.id, t.organization_id, format('team-%%s', lpad(t.idx::text, 5, '0')), p.id,
       'seed-large:no-virtual-key', '{"seeded": true}'::jsonb,
       %(since)s::timestamptz - interval '30 days', %(since)s::timestamptz - interval '30 days'
FROM seeding.teams t JOIN seeding.plans p ON p.idx = t.plan_idx
ORDER BY t.idx;
INSERT INTO api.access_groups (id, name, description)
VALUES (md5('access:' || %(seed)s::bigint)::uuid, 'Seed models', 'Every model group of the large seed');
INSERT INTO api.access_group_members (access_group_id, model_group_id)
SELECT md5('access:' || %(seed)s::bigint)::uuid, id FROM seeding.model_groups;
INSERT INTO api.team_access_groups (team_id, access_group_id)
SELECT id, md5('access:' || %(seed)s::bigint)::uuid FROM seeding.teams;
"""

# ------------------------------------------------------------------------ bulk load of api.llm_calls

# Indexes and key constraints of api.llm_calls are dropped for the bulk load and rebuilt after it
# (one sort per index instead of 10M index inserts and FK probes): their definitions are saved first,
# in the order they are recreated (primary key, other indexes, foreign keys). Run without parameters.
SAVE_LLM_CALLS_KEYS: Final[LiteralString] = """
INSERT INTO seeding.dropped (ord, statement)
SELECT row_number() OVER (ORDER BY rank, name), statement FROM (
    SELECT CASE contype WHEN 'p' THEN 0 ELSE 2 END AS rank, conname AS name,
           format('ALTER TABLE api.llm_calls ADD CONSTRAINT %I %s', conname, pg_get_constraintdef(oid))
               AS statement
    FROM pg_constraint
    WHERE conrelid = 'api.llm_calls'::regclass AND contype IN ('p', 'f')
    UNION ALL
    -- A partitioned index's definition reads ON ONLY (parent only, left invalid): drop the ONLY.
    SELECT 1, c.relname, replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ')
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = 'api.llm_calls'::regclass
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
) saved
"""

DROP_LLM_CALLS_KEYS: Final[LiteralString] = """
DO $$
DECLARE
    item record;
BEGIN
    FOR item IN SELECT conname FROM pg_constraint
                WHERE conrelid = 'api.llm_calls'::regclass AND contype IN ('p', 'f') LOOP
        EXECUTE format('ALTER TABLE api.llm_calls DROP CONSTRAINT %I', item.conname);
    END LOOP;
    FOR item IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE i.indrelid = 'api.llm_calls'::regclass LOOP
        EXECUTE format('DROP INDEX api.%I', item.relname);
    END LOOP;
END
$$
"""

# ------------------------------------------------------------------------------------------- jobs

# A job's facts, decided once. Team choice is skewed (u^3: the first 10 of 1,000 teams get ~20% of
# the jobs); status 85% completed, 10% failed, 5% expired; 1..2m-1 calls (mean m); a quarter of the
# jobs use a second model group for every third call.
STAGE_JOBS: Final[LiteralString] = """
CREATE UNLOGGED TABLE seeding.jobs AS
WITH r AS (
    SELECT k,
           seeding.u(k, %(salt)s + 1) AS u_team, seeding.u(k, %(salt)s + 2) AS u_type,
           seeding.u(k, %(salt)s + 3) AS u_status, seeding.u(k, %(salt)s + 4) AS u_calls,
           seeding.u(k, %(salt)s + 5) AS u_mg, seeding.u(k, %(salt)s + 6) AS u_mg2,
           seeding.u(k, %(salt)s + 7) AS u_tok, seeding.u(k, %(salt)s + 8) AS u_out,
           seeding.u(k, %(salt)s + 9) AS u_cache, seeding.u(k, %(salt)s + 10) AS u_dur,
           seeding.u(k, %(salt)s + 11) AS u_lat, seeding.u(k, %(salt)s + 12) AS u_fail
    FROM generate_series(0::bigint, %(jobs)s::bigint - 1) AS k
), a AS (
    SELECT r.*,
           least(floor(%(teams)s::int * power(u_team, 3))::int, %(teams)s::int - 1) AS team_idx,
           least(floor(u_type * u_type * %(job_types)s::int)::int, %(job_types)s::int - 1) AS type_idx,
           CASE WHEN u_status < 0.85 THEN 'completed' WHEN u_status < 0.95 THEN 'failed' ELSE 'expired'
           END::api.job_status AS status,
           1 + floor(u_calls * (2 * %(calls_per_job)s::int - 1))::int AS calls,
           %(since)s::timestamptz + %(span)s::interval * ((k + 0.5) / %(jobs)s::bigint)::float8 AS created_at
    FROM r
), b AS (
    SELECT a.*,
           CASE WHEN status = 'failed' THEN least(calls, 1 + floor(u_fail * calls)::int)
                WHEN status = 'completed' AND calls > 1 AND u_fail < 0.05 THEN 1
                ELSE 0 END AS failed_calls,
           (type_idx + floor(u_mg * 3)::int) %% %(model_groups)s::int AS mg1,
           CASE WHEN u_mg2 < 0.25
                THEN (type_idx + floor(u_mg * 3)::int + 1 + floor(u_mg2 * 20)::int %% 5)
                     %% %(model_groups)s::int
           END AS mg2,
           created_at + make_interval(secs => 1 + u_dur * 5) AS started_at,
           floor(300 + u_lat * 4000)::int AS latency
    FROM a
), c AS (
    SELECT b.*,
           (calls - failed_calls)::bigint * (300 + floor(u_tok * 2700)::bigint) AS prompt,
           (calls - failed_calls)::bigint * (50 + floor(u_out * 750)::bigint) AS completion,
           CASE WHEN status = 'expired' THEN created_at + interval '1 hour'
                ELSE least(started_at + make_interval(secs => calls * (2 + u_dur * 20)),
                           created_at + interval '59 minutes')
           END AS completed_at
    FROM b
), d AS (
    SELECT c.*,
           CASE WHEN u_cache < 0.4 THEN floor(prompt * u_cache)::bigint ELSE 0 END AS cached
    FROM c
), e AS (
    SELECT d.*, t.id AS team_id, t.plan_idx, jt.name AS job_type, jt.price AS type_price,
           ((prompt - cached) * m.in_price + cached * m.cached_price + completion * m.out_price)
               / 1000000 AS cost
    FROM d
    JOIN seeding.teams t ON t.idx = d.team_idx
    JOIN seeding.job_types jt ON jt.idx = d.type_idx
    JOIN seeding.model_groups m ON m.idx = d.mg1
), f AS (
    SELECT e.*,
           CASE WHEN plan_idx = 0 THEN type_price ELSE %(consumption_hold)s::bigint END AS hold,
           CASE WHEN plan_idx = 0 THEN CASE WHEN status = 'completed' THEN type_price ELSE 0 END
                WHEN status = 'completed'
                THEN greatest(%(consumption_min)s::bigint,
                              (cost * %(consumption_factor)s::bigint + %(consumption_divisor)s::bigint - 1)
                                  / %(consumption_divisor)s::bigint)
                ELSE (cost + %(usd_micro_per_credit)s::bigint - 1) / %(usd_micro_per_credit)s::bigint
           END AS charge
    FROM e
)
SELECT k,
       (lpad(to_hex((extract(epoch FROM created_at) * 1000)::bigint), 12, '0')
           || lpad(to_hex(k), 20, '0'))::uuid AS id,
       team_id, plan_idx, job_type, status, calls, failed_calls, mg1, mg2, prompt, completion, cached,
       cost, latency, hold, least(charge, hold) AS captured, created_at,
       CASE WHEN calls > 0 THEN started_at END AS started_at, completed_at,
       'user-' || (k %% 997) AS user_id
FROM f
ORDER BY k;
ALTER TABLE seeding.jobs ADD PRIMARY KEY (k);
"""

JOBS_CHUNK: Final[LiteralString] = """
INSERT INTO api.jobs (id, team_id, user_id, job_type, status, metadata, plan, hold_credits, credit_applied,
                      error_message, model_groups_used, created_at, started_at, completed_at, updated_at,
                      expires_at)
SELECT j.id, j.team_id, j.user_id, j.job_type, j.status, '{"seeded": true}'::jsonb, p.snapshot, j.hold,
       j.captured,
       CASE j.status WHEN 'failed' THEN 'The client reported a failure.'
                     WHEN 'expired' THEN 'The job was not completed before its TTL.' END,
       CASE WHEN m2.name IS NULL THEN ARRAY[m1.name] ELSE ARRAY[m1.name, m2.name] END,
       j.created_at, j.started_at, j.completed_at, j.completed_at, j.created_at + interval '1 hour'
FROM seeding.jobs j
JOIN seeding.plans p ON p.idx = j.plan_idx
JOIN seeding.model_groups m1 ON m1.idx = j.mg1
LEFT JOIN seeding.model_groups m2 ON m2.idx = j.mg2
WHERE j.k >= %(lo)s::bigint AND j.k < %(hi)s::bigint
ORDER BY j.k
"""

# Call n of a job (1-based): successful while n <= calls - failed_calls, carrying an exact share of the
# job's totals (floor(total * n / s) - floor(total * (n - 1) / s)); the rest failed, carrying nothing.
CALLS_CHUNK: Final[LiteralString] = """
INSERT INTO api.llm_calls (id, job_id, team_id, model_group, model_group_id, purpose, router_request_id,
                           resolved_model, deployment, prompt_tokens, completion_tokens, cached_tokens,
                           cost_micro_usd, latency_ms, status, error_kind, error, cache_hit, attempts,
                           streamed, finish_reason, created_at)
SELECT (lpad(to_hex((extract(epoch FROM x.at) * 1000)::bigint), 12, '0')
           || lpad(to_hex(j.k * 1024 + c.n), 20, '0'))::uuid,
       j.id, j.team_id, m.name, m.id, j.job_type, 'seed-' || j.k || '-' || c.n, m.router_model, m.deployment,
       CASE WHEN x.ok THEN (j.prompt * c.n / x.s - j.prompt * (c.n - 1) / x.s)::int ELSE 0 END,
       CASE WHEN x.ok THEN (j.completion * c.n / x.s - j.completion * (c.n - 1) / x.s)::int ELSE 0 END,
       CASE WHEN x.ok THEN (j.cached * c.n / x.s - j.cached * (c.n - 1) / x.s)::int ELSE 0 END,
       CASE WHEN x.ok THEN j.cost * c.n / x.s - j.cost * (c.n - 1) / x.s ELSE 0 END,
       j.latency,
       CASE WHEN x.ok THEN 'succeeded' ELSE 'failed' END::api.llm_call_status,
       CASE WHEN NOT x.ok THEN 'upstream_error' END,
       CASE WHEN NOT x.ok THEN 'The model is unavailable right now; retry later.' END,
       false, CASE WHEN x.ok THEN 1 ELSE 3 END, j.k %% 4 = 0, CASE WHEN x.ok THEN 'stop' END,
       x.at
FROM seeding.jobs j
CROSS JOIN LATERAL generate_series(1, j.calls) AS c(n)
CROSS JOIN LATERAL (
    SELECT c.n <= j.calls - j.failed_calls AS ok, (j.calls - j.failed_calls)::bigint AS s,
           j.started_at + (j.completed_at - j.started_at) * ((c.n - 1)::float8 / j.calls) AS at
) AS x
JOIN seeding.model_groups m ON m.idx = CASE WHEN j.mg2 IS NOT NULL AND c.n %% 3 = 0 THEN j.mg2 ELSE j.mg1 END
WHERE j.k >= %(lo)s::bigint AND j.k < %(hi)s::bigint
"""

# ------------------------------------------------------------------------ what the workers would write

JOB_COSTS: Final[LiteralString] = """
INSERT INTO api.job_costs (job_id, team_id, job_type, status, calls, successful_calls, failed_calls,
                           prompt_tokens, completion_tokens, cached_tokens, cost_micro_usd, price_credits,
                           price_usd_micro, margin_usd_micro, avg_latency_ms, finished_at, computed_at)
SELECT j.id, j.team_id, j.job_type, j.status, j.calls, j.calls - j.failed_calls, j.failed_calls, j.prompt,
       j.completion, j.cached, j.cost, j.captured, j.captured * p.usd_micro_per_credit,
       j.captured * p.usd_micro_per_credit - j.cost, j.latency, j.completed_at,
       j.completed_at + interval '1 second'
FROM seeding.jobs j JOIN seeding.plans p ON p.idx = j.plan_idx
ORDER BY j.k
"""

# One allocation per team (its captures plus a margin), then per job: hold at create, capture (always,
# even of 0) and release of the rest at finish, with the keys the job service uses. balance_after and
# held_after are running sums per team in (time, job, step) order, the order ids are given in.
LEDGER: Final[LiteralString] = """
WITH allocations AS (
    SELECT team_id, sum(captured) + 1000000 AS amount FROM seeding.jobs GROUP BY team_id
), events AS (
    SELECT a.team_id, 'allocation'::api.ledger_kind AS kind, a.amount, NULL::uuid AS job_id,
           'seed-large:allocation' AS key, 'operator:seed-large' AS actor, 'initial credits' AS reason,
           a.amount AS d_balance, 0::bigint AS d_held, %(since)s::timestamptz - interval '1 day' AS at,
           -1::bigint AS k, 0 AS step
    FROM allocations a
    UNION ALL
    SELECT team_id, 'hold', hold, id, 'job:' || id || ':hold', 'team-key:seed-large', '', 0, hold,
           created_at, k, 1
    FROM seeding.jobs
    UNION ALL
    SELECT team_id, 'capture', captured, id, 'job:' || id || ':settle',
           CASE status WHEN 'expired' THEN 'system:expiry' ELSE 'team-key:seed-large' END, '', -captured,
           -captured, completed_at, k, 2
    FROM seeding.jobs
    UNION ALL
    SELECT team_id, 'release', hold - captured, id, 'job:' || id || ':settle:release',
           CASE status WHEN 'expired' THEN 'system:expiry' ELSE 'team-key:seed-large' END, '', 0,
           -(hold - captured), completed_at, k, 3
    FROM seeding.jobs WHERE hold > captured
)
INSERT INTO api.ledger_entries (team_id, kind, amount, job_id, idempotency_key, actor, reason, balance_after,
                                held_after, created_at)
SELECT team_id, kind, amount, job_id, key, actor, reason,
       sum(d_balance) OVER w, sum(d_held) OVER w, at
FROM events
WINDOW w AS (PARTITION BY team_id ORDER BY at, k, step ROWS UNBOUNDED PRECEDING)
ORDER BY at, k, step
"""

BALANCES: Final[LiteralString] = """
INSERT INTO api.team_balances (team_id, balance, held, overdraft_limit, updated_at)
SELECT t.id,
       coalesce(sum(CASE e.kind WHEN 'hold' THEN 0 WHEN 'release' THEN 0 WHEN 'capture' THEN -e.amount
                                ELSE e.amount END), 0),
       coalesce(sum(CASE e.kind WHEN 'hold' THEN e.amount WHEN 'release' THEN -e.amount
                                WHEN 'capture' THEN -e.amount ELSE 0 END), 0),
       0, %(until)s::timestamptz
FROM seeding.teams t LEFT JOIN api.ledger_entries e ON e.team_id = t.id
GROUP BY t.id
"""

# ------------------------------------------------------------------------------------------ checks

# Teams whose balance row differs from the sum of their ledger (must be none).
CHECK_BALANCES: Final[LiteralString] = """
SELECT count(*) FROM api.team_balances b
LEFT JOIN (
    SELECT team_id,
           sum(CASE kind WHEN 'hold' THEN 0 WHEN 'release' THEN 0 WHEN 'capture' THEN -amount
                         ELSE amount END) AS balance,
           sum(CASE kind WHEN 'hold' THEN amount WHEN 'release' THEN -amount WHEN 'capture' THEN -amount
                         ELSE 0 END) AS held
    FROM api.ledger_entries GROUP BY team_id
) l ON l.team_id = b.team_id
WHERE b.balance IS DISTINCT FROM coalesce(l.balance, 0) OR b.held IS DISTINCT FROM coalesce(l.held, 0)
"""

# Jobs whose cost row differs from a recomputation from their calls, over a sample (must be none).
CHECK_JOB_COSTS: Final[LiteralString] = """
WITH sample AS MATERIALIZED (
    SELECT id, credit_applied FROM api.jobs TABLESAMPLE BERNOULLI (%(percent)s::float8)
)
SELECT count(*)
FROM sample s
LEFT JOIN api.job_costs jc ON jc.job_id = s.id
CROSS JOIN LATERAL (
    SELECT count(*)::int AS calls,
           count(*) FILTER (WHERE status = 'succeeded')::int AS ok,
           coalesce(sum(prompt_tokens), 0) AS prompt, coalesce(sum(completion_tokens), 0) AS completion,
           coalesce(sum(cached_tokens), 0) AS cached, coalesce(sum(cost_micro_usd), 0) AS cost,
           coalesce(avg(latency_ms), 0)::int AS latency
    FROM api.llm_calls c WHERE c.job_id = s.id
) u
WHERE (u.calls, u.ok, u.prompt, u.completion, u.cached, u.cost, u.latency, s.credit_applied)
      IS DISTINCT FROM (jc.calls, jc.successful_calls, jc.prompt_tokens, jc.completion_tokens,
                        jc.cached_tokens, jc.cost_micro_usd, jc.avg_latency_ms, jc.price_credits)
"""

# Indexes of api.llm_calls or its partitions left invalid (must be none).
CHECK_INDEXES: Final[LiteralString] = """
SELECT count(*) FROM pg_index i
WHERE NOT i.indisvalid
  AND (i.indrelid = 'api.llm_calls'::regclass
       OR i.indrelid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'api.llm_calls'::regclass))
"""
