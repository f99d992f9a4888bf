-- Webhooks: endpoints a team registers, events written in the transaction of the state change
-- (outbox style), one delivery per event × endpoint, and every delivery attempt.
--
-- A delivery is due when status is pending/failed and next_attempt_at <= now(); the worker claims
-- it by setting claimed_until (one attempt in flight at a time), records the attempt and either
-- finishes it (succeeded / dead) or schedules the next attempt with backoff.
CREATE TYPE api.webhook_delivery_status AS ENUM ('pending', 'succeeded', 'failed', 'dead');

CREATE TABLE api.webhook_endpoints (
    id          uuid PRIMARY KEY,
    team_id     uuid NOT NULL REFERENCES api.teams (id),
    url         text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    events      text[] NOT NULL CHECK (cardinality(events) >= 1),
    -- AES-GCM under the api keyring (the secret signs deliveries, so it must be recoverable).
    secret_encrypted text NOT NULL,
    secret_hint text NOT NULL,
    -- During a rotation the previous secret also signs, until previous_secret_expires_at.
    previous_secret_encrypted text,
    previous_secret_expires_at timestamptz,
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    enabled     boolean NOT NULL DEFAULT true,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_team_idx ON api.webhook_endpoints (team_id, created_at);

CREATE TABLE api.webhook_events (
    -- The id receivers see (Tollgate-Event-Id) and dedupe on.
    id          uuid PRIMARY KEY,
    team_id     uuid NOT NULL REFERENCES api.teams (id),
    type        text NOT NULL,
    dedupe_key  text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_events_once UNIQUE (team_id, type, dedupe_key)
);

CREATE TABLE api.webhook_deliveries (
    id              uuid PRIMARY KEY,
    event_id        uuid NOT NULL REFERENCES api.webhook_events (id),
    endpoint_id     uuid NOT NULL REFERENCES api.webhook_endpoints (id) ON DELETE CASCADE,
    team_id         uuid NOT NULL REFERENCES api.teams (id),
    status          api.webhook_delivery_status NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_until   timestamptz,
    last_status_code integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    CONSTRAINT webhook_deliveries_once UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON api.webhook_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_deliveries_endpoint_idx ON api.webhook_deliveries (endpoint_id, created_at DESC);

CREATE TABLE api.webhook_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id  uuid NOT NULL REFERENCES api.webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL,
    status_code  integer,
    duration_ms  integer NOT NULL,
    error        text
);
CREATE INDEX webhook_attempts_delivery_idx ON api.webhook_attempts (delivery_id, id);
