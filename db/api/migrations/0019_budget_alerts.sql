-- Budget alerts (issue 5): a team's router virtual key may carry a budget (micro-USD per period);
-- the upkeep worker reads spend vs budget from the router and records one row per crossing of 80 %
-- and 100 % of the period's budget. Operators see them (GET /admin/alerts); teams never do.
-- An alert clears when its period rolls over, when spend drops back under its threshold (budget
-- raised, counter corrected) or when the key loses its budget; clearing re-arms it.
CREATE TABLE api.budget_alerts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id           uuid NOT NULL REFERENCES api.teams (id),
    router_key_id     text NOT NULL,
    threshold_pct     smallint NOT NULL CHECK (threshold_pct IN (80, 100)),
    budget_micro_usd  bigint NOT NULL CHECK (budget_micro_usd > 0),
    spend_micro_usd   bigint NOT NULL CHECK (spend_micro_usd >= 0),
    budget_period     text NOT NULL CHECK (budget_period IN ('day', 'week', 'month', 'total')),
    period_start      timestamptz,  -- NULL for a 'total' budget (never rolls over)
    raised_at         timestamptz NOT NULL DEFAULT now(),
    cleared_at        timestamptz
);
CREATE UNIQUE INDEX budget_alerts_open ON api.budget_alerts (team_id, threshold_pct) WHERE cleared_at IS NULL;
CREATE INDEX budget_alerts_raised ON api.budget_alerts (raised_at DESC, id DESC);
CREATE INDEX budget_alerts_team ON api.budget_alerts (team_id, id DESC);
