-- Schema version 1: models, runs (the durable queue), results and their chunks.
-- Applied by eirnnd at start when PRAGMA user_version < 1 (docs/STORE.md). Never edit a
-- released migration: add NNN_next.sql instead.
-- Times are milliseconds since the Unix epoch (UTC); NULL = not yet.

CREATE TABLE models (
    seq        INTEGER PRIMARY KEY,         -- creation order; pagination cursors are built from it
    id         TEXT    NOT NULL UNIQUE,     -- 'm_' + 24 hex characters
    name       TEXT    NOT NULL DEFAULT '',
    hash       TEXT    NOT NULL,            -- SHA-256 hex of the model document (from the caller)
    n          INTEGER NOT NULL CHECK (n >= 0),
    created_at INTEGER NOT NULL,
    json       TEXT    NOT NULL             -- the model document as submitted
);
CREATE INDEX models_hash ON models (hash);

CREATE TABLE runs (
    seq              INTEGER PRIMARY KEY,   -- submission order: FIFO within a priority
    id               TEXT    NOT NULL UNIQUE, -- 'r_' + 24 hex characters
    model_id         TEXT    REFERENCES models (id), -- NULL: the request holds the model inline
    status           TEXT    NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'diverged',
                                       'cancelled')),
    priority         INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    progress_done    INTEGER NOT NULL DEFAULT 0,
    progress_total   INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    time_limit       REAL    NOT NULL DEFAULT 0,  -- seconds of wall clock; 0 = none
    request_json     TEXT    NOT NULL,
    idempotency_key  TEXT    UNIQUE,              -- NULLs do not collide
    body_hash        TEXT,                        -- SHA-256 hex of the request body
    error_json       TEXT,
    meta_json        TEXT,
    CHECK (idempotency_key IS NULL OR body_hash IS NOT NULL)
);
-- The queue: claims read the first entry of this small partial index.
CREATE INDEX runs_queue ON runs (priority DESC, seq) WHERE status = 'queued';
-- Listing filters (newest first) and counts by status.
CREATE INDEX runs_status ON runs (status, seq);
CREATE INDEX runs_model ON runs (model_id, seq);

-- One row per result array. A finish may commit a large result's chunks in several batches
-- (complete = 0: staged, invisible to readers); the transaction that sets the run's final status
-- also sets complete = 1, so a result is never visible without its finished run. Staged rows left
-- by a crash are deleted at the next start.
CREATE TABLE results (
    run_id      TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    var         TEXT    NOT NULL,
    complete    INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    dtype       TEXT    NOT NULL,
    shape       TEXT    NOT NULL,           -- JSON array of dimensions, e.g. [1,100,80]
    total_bytes INTEGER NOT NULL CHECK (total_bytes >= 0),
    chunk_size  INTEGER NOT NULL CHECK (chunk_size > 0),
    chunk_count INTEGER NOT NULL CHECK (chunk_count >= 0),
    sha256      TEXT    NOT NULL,           -- of the whole array's bytes
    PRIMARY KEY (run_id, var)
);

-- The array's little-endian row-major bytes, cut into chunks of chunk_size bytes (the last may
-- be shorter) so that no BLOB is huge and a download streams chunk by chunk.
CREATE TABLE result_chunks (
    run_id      TEXT    NOT NULL,
    var         TEXT    NOT NULL,
    chunk_index INTEGER NOT NULL CHECK (chunk_index >= 0),
    data        BLOB    NOT NULL,
    PRIMARY KEY (run_id, var, chunk_index),
    FOREIGN KEY (run_id, var) REFERENCES results (run_id, var) ON DELETE CASCADE
);
