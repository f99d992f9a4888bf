-- Scheduled upkeep (issue 5): credit grants that expire, low-credit alerts, spend reconciliation.

-- A grant: an allocation (or purchase) whose credits expire. The ledger entry is the credit itself;
-- this row only says when it expires and, once the worker expired it, what it took back.
-- At expiry the unused remainder is computed from the ledger (consumption is charged to live grants,
-- earliest expiry first), so the hold/capture hot path never touches this table.
CREATE TABLE api.credit_grants (
    ledger_entry_id  bigint PRIMARY KEY REFERENCES api.ledger_entries (id),
    team_id          uuid NOT NULL REFERENCES api.teams (id),
    amount           bigint NOT NULL CHECK (amount > 0),
    expires_at       timestamptz NOT NULL,
    expired_at       timestamptz,
    expired_amount   bigint CHECK (expired_amount >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT credit_grants_expired_together CHECK ((expired_at IS NULL) = (expired_amount IS NULL))
);
CREATE INDEX credit_grants_due ON api.credit_grants (expires_at) WHERE expired_at IS NULL;
CREATE INDEX credit_grants_team ON api.credit_grants (team_id, ledger_entry_id);

-- Low-credit alerts: one row per crossing below the threshold; cleared when credits come back above
-- it, which re-arms the alert. At most one open alert per team and kind.
CREATE TABLE api.credit_alerts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id     uuid NOT NULL REFERENCES api.teams (id),
    kind        text NOT NULL CHECK (kind IN ('credits.low')),
    threshold   bigint NOT NULL,
    available   bigint NOT NULL,
    raised_at   timestamptz NOT NULL DEFAULT now(),
    cleared_at  timestamptz
);
CREATE UNIQUE INDEX credit_alerts_open ON api.credit_alerts (team_id, kind) WHERE cleared_at IS NULL;
CREATE INDEX credit_alerts_team ON api.credit_alerts (team_id, id DESC);

-- Reconciliation of the router's spend log against api.llm_calls, per virtual key and UTC day.
CREATE TABLE api.reconciliation_runs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger        text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    from_day       date NOT NULL,
    to_day         date NOT NULL,
    status         text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    keys_checked   integer NOT NULL DEFAULT 0,
    drifted        integer NOT NULL DEFAULT 0,
    total_abs_drift_micro_usd bigint NOT NULL DEFAULT 0,
    error          text,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    CONSTRAINT reconciliation_runs_days CHECK (from_day <= to_day)
);
CREATE INDEX reconciliation_runs_started ON api.reconciliation_runs (id DESC);

-- The latest comparison per (team, day): a re-run overwrites it (drift = router − api, micro-USD).
CREATE TABLE api.reconciliation_drift (
    team_id                uuid NOT NULL REFERENCES api.teams (id),
    day                    date NOT NULL,
    router_key_id          text NOT NULL,
    run_id                 bigint NOT NULL REFERENCES api.reconciliation_runs (id),
    router_requests        bigint NOT NULL,
    router_cost_micro_usd  bigint NOT NULL,
    api_calls              bigint NOT NULL,
    api_cost_micro_usd     bigint NOT NULL,
    drift_micro_usd        bigint NOT NULL,
    checked_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, day)
);
CREATE INDEX reconciliation_drift_day ON api.reconciliation_drift (day DESC) WHERE drift_micro_usd <> 0;
CREATE INDEX reconciliation_drift_run ON api.reconciliation_drift (run_id);
