-- Model groups (the names teams send as `model`), access groups bundling them, grants to teams.
CREATE TABLE api.model_groups (
    id            uuid PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$'),
    router_model  text NOT NULL,
    fallbacks     text[] NOT NULL DEFAULT '{}',
    description   text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api.access_groups (
    id           uuid PRIMARY KEY,
    name         text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    description  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api.access_group_members (
    access_group_id  uuid NOT NULL REFERENCES api.access_groups (id) ON DELETE CASCADE,
    model_group_id   uuid NOT NULL REFERENCES api.model_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (access_group_id, model_group_id)
);
CREATE INDEX access_group_members_model_idx ON api.access_group_members (model_group_id);

CREATE TABLE api.team_access_groups (
    team_id          uuid NOT NULL REFERENCES api.teams (id) ON DELETE CASCADE,
    access_group_id  uuid NOT NULL REFERENCES api.access_groups (id) ON DELETE CASCADE,
    granted_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, access_group_id)
);
CREATE INDEX team_access_groups_group_idx ON api.team_access_groups (access_group_id);
