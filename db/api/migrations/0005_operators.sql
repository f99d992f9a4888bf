-- Operators (dashboard/admin users), their sessions, automation tokens, and the audit log.
CREATE TYPE api.operator_role AS ENUM ('admin', 'operator', 'finance');

CREATE TABLE api.operators (
    id             uuid PRIMARY KEY,
    email          text NOT NULL,
    password_hash  text NOT NULL,
    role           api.operator_role NOT NULL,
    disabled_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX operators_email_key ON api.operators (lower(email));

-- Sessions (login) and automation tokens share one table: both are opaque bearer tokens stored hashed.
CREATE TYPE api.admin_token_kind AS ENUM ('session', 'automation');

CREATE TABLE api.admin_tokens (
    id           uuid PRIMARY KEY,
    operator_id  uuid NOT NULL REFERENCES api.operators (id),
    kind         api.admin_token_kind NOT NULL,
    name         text NOT NULL DEFAULT '',
    token_hash   text NOT NULL UNIQUE,
    token_hint   text NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_tokens_operator_idx ON api.admin_tokens (operator_id);

CREATE TABLE api.audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor        text NOT NULL,
    action       text NOT NULL,
    target_type  text NOT NULL,
    target_id    text,
    before       jsonb,
    after        jsonb,
    ip           text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_created_idx ON api.audit_log (id DESC);
CREATE INDEX audit_log_target_idx ON api.audit_log (target_type, target_id);
