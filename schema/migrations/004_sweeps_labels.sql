-- Schema version 4: labels and sweeps (issue 12).
--
-- Labels: models, jobs (runs, analyses) and sweeps carry string labels. Each object keeps its
-- labels twice: `labels_json` (the object as a JSON text, shown in GETs and lists) and one row
-- per label in `labels`, which list filters (?label=key:value) look up. Both are written in the
-- transaction that creates the object; the triggers below delete the rows with their object.
-- Objects of versions 1 to 3 have no labels ('{}', no rows).
CREATE TABLE labels (
    object_id TEXT NOT NULL,                -- 'm_...', 'r_...', 'a_...' or 's_...'
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (object_id, key)
) WITHOUT ROWID;
-- "which objects have key = value": the filters' EXISTS look-ups and label-driven scans
CREATE INDEX labels_key_value ON labels (key, value, object_id);

ALTER TABLE models ADD COLUMN labels_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE models ADD COLUMN sweep_id TEXT;   -- the sweep that created the model, else NULL
ALTER TABLE runs ADD COLUMN labels_json TEXT NOT NULL DEFAULT '{}';

-- Sweeps: many runs made by one request (docs/SWEEPS.md). The sweep row keeps the request;
-- its state (counts, progress) is computed from its runs, which point back with sweep_id and
-- carry their point's index (0 .. points - 1) in sweep_index.
CREATE TABLE sweeps (
    seq             INTEGER PRIMARY KEY,        -- creation order; list cursors are built from it
    id              TEXT    NOT NULL UNIQUE,    -- 's_' + 24 hex characters
    name            TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    request_json    TEXT    NOT NULL,           -- the sweep request as accepted
    labels_json     TEXT    NOT NULL DEFAULT '{}',
    idempotency_key TEXT    UNIQUE,             -- NULLs do not collide
    body_hash       TEXT,                       -- SHA-256 hex of the request body
    CHECK (idempotency_key IS NULL OR body_hash IS NOT NULL)
);
ALTER TABLE runs ADD COLUMN sweep_id TEXT;       -- the sweep of a point's run, else NULL
ALTER TABLE runs ADD COLUMN sweep_index INTEGER; -- its point's index, NULL when no sweep
-- A sweep's runs in point order (its table, its counts); only runs of sweeps are indexed.
CREATE INDEX runs_sweep ON runs (sweep_id, sweep_index) WHERE sweep_id IS NOT NULL;
-- The models a sweep created (deleted with it when no job uses them).
CREATE INDEX models_sweep ON models (sweep_id) WHERE sweep_id IS NOT NULL;

-- An object's label rows go with it, however it is deleted.
CREATE TRIGGER models_labels_delete AFTER DELETE ON models
BEGIN
    DELETE FROM labels WHERE object_id = old.id;
END;
CREATE TRIGGER runs_labels_delete AFTER DELETE ON runs
BEGIN
    DELETE FROM labels WHERE object_id = old.id;
END;
CREATE TRIGGER sweeps_labels_delete AFTER DELETE ON sweeps
BEGIN
    DELETE FROM labels WHERE object_id = old.id;
END;
