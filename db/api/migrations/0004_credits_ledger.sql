-- Credits, TigerBeetle-style: an append-only ledger and one balance row per team, changed together.
CREATE TYPE api.ledger_kind AS ENUM (
    'allocation', 'purchase', 'adjustment', 'hold', 'capture', 'release', 'refund', 'expiry'
);

CREATE TABLE api.team_balances (
    team_id          uuid PRIMARY KEY REFERENCES api.teams (id),
    balance          bigint NOT NULL DEFAULT 0,
    held             bigint NOT NULL DEFAULT 0 CHECK (held >= 0),
    overdraft_limit  bigint NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT team_balances_available_check CHECK (balance - held >= -overdraft_limit)
);

-- amount semantics by kind (credits, signed):
--   allocation, purchase, adjustment, refund, expiry: change balance by amount
--   hold: amount > 0, adds to held (balance unchanged)
--   release: amount > 0, removes from held (balance unchanged)
--   capture: amount > 0, removes from held and from balance
CREATE TABLE api.ledger_entries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id          uuid NOT NULL REFERENCES api.teams (id),
    kind             api.ledger_kind NOT NULL,
    amount           bigint NOT NULL,
    job_id           uuid,
    idempotency_key  text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    actor            text NOT NULL,
    reason           text NOT NULL DEFAULT '',
    balance_after    bigint NOT NULL,
    held_after       bigint NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ledger_entries_idempotency_key UNIQUE (team_id, idempotency_key),
    CONSTRAINT ledger_entries_hold_positive CHECK (kind NOT IN ('hold', 'release', 'capture') OR amount >= 0),
    CONSTRAINT ledger_entries_hold_has_job CHECK (kind NOT IN ('hold', 'release', 'capture') OR job_id IS NOT NULL)
);
CREATE INDEX ledger_entries_team_idx ON api.ledger_entries (team_id, id DESC);
CREATE INDEX ledger_entries_job_idx ON api.ledger_entries (job_id) WHERE job_id IS NOT NULL;

CREATE FUNCTION api.ledger_entries_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'api.ledger_entries is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON api.ledger_entries
    FOR EACH ROW EXECUTE FUNCTION api.ledger_entries_append_only();

CREATE TRIGGER ledger_entries_no_truncate
    BEFORE TRUNCATE ON api.ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION api.ledger_entries_append_only();
