-- Team API keys: stored as SHA-256 of the key, several per team, named, optional expiry.
CREATE TABLE api.team_keys (
    id          uuid PRIMARY KEY,
    team_id     uuid NOT NULL REFERENCES api.teams (id),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    key_hash    text NOT NULL UNIQUE,
    key_hint    text NOT NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz,
    rotated_to  uuid REFERENCES api.team_keys (id),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);
CREATE INDEX team_keys_team_idx ON api.team_keys (team_id);
