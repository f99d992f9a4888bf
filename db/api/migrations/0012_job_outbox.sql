-- Transactional outbox: written in the job's finishing transaction, drained by the worker
-- (the enqueue after commit is the fast path; a sweep of unprocessed rows is the safety net).
CREATE TABLE api.job_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id uuid NOT NULL REFERENCES api.jobs (id),
    event text NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    CONSTRAINT job_outbox_one_event_per_job UNIQUE (job_id, event)
);

CREATE INDEX job_outbox_pending ON api.job_outbox (created_at) WHERE processed_at IS NULL;
