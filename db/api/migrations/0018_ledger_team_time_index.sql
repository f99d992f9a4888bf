-- transactional: false
-- Monthly statements and ledger pages read one team's entries in a time range; without this index
-- they read all of a busy team's entries (measured on `make seed-large`: the statement's month
-- summary 447 → 50 ms, the balance-before query 371 → 0.04 ms). Built CONCURRENTLY so a live
-- ledger keeps taking writes; IF NOT EXISTS makes a re-run after an interruption harmless (an
-- interrupted concurrent build leaves an INVALID index: drop it and migrate again).
CREATE INDEX CONCURRENTLY IF NOT EXISTS ledger_entries_team_created_idx
    ON api.ledger_entries (team_id, created_at, id);
