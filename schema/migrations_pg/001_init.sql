-- PostgreSQL schema version 1: the whole schema of the SQLite store (schema/migrations/001-004)
-- plus leases, the claim audit (run_claims) and schema_migrations (docs/STORE.md, "PostgreSQL").
-- Applied by eirnnd at start, in one transaction under an advisory lock, when schema_migrations
-- says the database is older. Never edit a released migration: add NNN_next.sql instead.
-- Times are milliseconds since the Unix epoch (UTC) by the database's clock; NULL = not yet.
-- Ids and JSON documents are text, stored verbatim (ETags depend on their bytes).

CREATE TABLE schema_migrations (
    version    integer PRIMARY KEY,
    applied_at bigint  NOT NULL
);

CREATE TABLE models (
    seq         bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- creation order (cursors)
    id          text    NOT NULL UNIQUE,      -- 'm_' + 24 hex characters
    name        text    NOT NULL DEFAULT '',
    hash        text    NOT NULL,             -- SHA-256 hex of the built model; '' until ready
    n           bigint  NOT NULL CHECK (n >= 0),
    created_at  bigint  NOT NULL,
    json        text    NOT NULL,             -- the model document as submitted
    state       text    NOT NULL DEFAULT 'ready' CHECK (state IN ('pending', 'ready', 'failed')),
    error       text,                         -- a problem object (JSON) when failed, else NULL
    build_s     double precision,             -- seconds the worker's build took, NULL when not
    labels_json text    NOT NULL DEFAULT '{}',
    sweep_id    text                          -- the sweep that created the model, else NULL
);
CREATE INDEX models_hash ON models (hash);
CREATE INDEX models_pending ON models (seq) WHERE state = 'pending';
CREATE INDEX models_sweep ON models (sweep_id) WHERE sweep_id IS NOT NULL;

-- The durable queue. status is store.h's store_run_status: 0 queued, 1 running, 2 succeeded,
-- 3 failed, 4 diverged, 5 cancelled. A row is a job: a run (kind 'run', 'r_...') or an analysis
-- (kind 'analysis', 'a_...').
CREATE TABLE runs (
    seq              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- submission order
    id               text    NOT NULL UNIQUE,
    model_id         text    REFERENCES models (id), -- NULL: the request holds the model inline
    status           smallint NOT NULL DEFAULT 0 CHECK (status BETWEEN 0 AND 5),
    priority         integer NOT NULL DEFAULT 0,
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    created_at       bigint  NOT NULL,
    started_at       bigint,
    finished_at      bigint,
    progress_done    bigint  NOT NULL DEFAULT 0,
    progress_total   bigint  NOT NULL DEFAULT 0,
    cancel_requested smallint NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    time_limit       double precision NOT NULL DEFAULT 0, -- seconds of wall clock; 0 = none
    request_json     text    NOT NULL,
    idempotency_key  text    UNIQUE,          -- NULLs do not collide
    body_hash        text,                    -- SHA-256 hex of the request body
    error_json       text,
    meta_json        text,
    kind             text    NOT NULL DEFAULT 'run',
    subkind          text,
    labels_json      text    NOT NULL DEFAULT '{}',
    sweep_id         text,                    -- the sweep of a point's run, else NULL
    sweep_index      bigint,                  -- its point's index, NULL when no sweep
    claimant         text    NOT NULL DEFAULT '', -- who holds the claim; '' when not running
    lease_expires_at bigint  NOT NULL DEFAULT 0,  -- the claim's lease (database clock); 0 when not running
    CHECK (idempotency_key IS NULL OR body_hash IS NOT NULL)
);
-- The claim: SELECT ... WHERE status = 0 ORDER BY priority DESC, seq FOR UPDATE SKIP LOCKED.
CREATE INDEX runs_queue ON runs (status, priority DESC, seq) WHERE status = 0;
-- The rescue: running runs whose lease expired.
CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE status = 1;
-- Listing filters (newest first) and counts.
CREATE INDEX runs_status ON runs (status, seq);
CREATE INDEX runs_model ON runs (model_id, seq);
CREATE INDEX runs_kind ON runs (kind, seq);
CREATE INDEX runs_kind_status ON runs (kind, status, seq);
-- A sweep's runs in point order; only runs of sweeps are indexed.
CREATE INDEX runs_sweep ON runs (sweep_id, sweep_index) WHERE sweep_id IS NOT NULL;

-- The claim audit: one row per claim of a run (attempt = the run's attempts after the claim).
-- The claim inserts it; lease renewals and progress move lease_until; the end of the claim
-- (finish, release, rescue, a fenced write) sets ended_at and outcome ('succeeded', 'failed',
-- 'diverged', 'cancelled', 'released', 'rescued', 'fenced'). Deleted with its run.
CREATE TABLE run_claims (
    run_id      text    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    claimant    text    NOT NULL,
    claimed_at  bigint  NOT NULL,
    lease_until bigint  NOT NULL,
    ended_at    bigint  NOT NULL DEFAULT 0,
    outcome     text    NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, attempt)
);
CREATE INDEX run_claims_open ON run_claims (claimant) WHERE ended_at = 0;

-- One row per result array. complete = 0: staged by a finish in progress, invisible to readers;
-- the transaction that sets the run's final status sets complete = 1.
CREATE TABLE results (
    run_id      text     NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    var         text     NOT NULL,
    complete    smallint NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    dtype       text     NOT NULL,
    shape       text     NOT NULL,            -- JSON array of dimensions, e.g. [1,100,80]
    total_bytes bigint   NOT NULL CHECK (total_bytes >= 0),
    chunk_size  bigint   NOT NULL CHECK (chunk_size > 0),
    chunk_count bigint   NOT NULL CHECK (chunk_count >= 0),
    sha256      text     NOT NULL,            -- of the whole array's bytes
    PRIMARY KEY (run_id, var)
);

-- The array's little-endian row-major bytes in chunks of chunk_size bytes (the last may be
-- shorter). STORAGE EXTERNAL: TOASTed without compression, so substring(data from $off for $len)
-- reads only the TOAST slices it needs (a byte range of a download).
CREATE TABLE result_chunks (
    run_id text    NOT NULL,
    var    text    NOT NULL,
    idx    integer NOT NULL CHECK (idx >= 0),
    data   bytea   NOT NULL,
    PRIMARY KEY (run_id, var, idx),
    FOREIGN KEY (run_id, var) REFERENCES results (run_id, var) ON DELETE CASCADE
);
ALTER TABLE result_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- Labels: one row per label of a model, job or sweep, for list filters (?label=key:value); the
-- object's labels_json keeps them for display. Deleted with their object (triggers below).
CREATE TABLE labels (
    object_id text NOT NULL,                  -- 'm_...', 'r_...', 'a_...' or 's_...'
    key       text NOT NULL,
    value     text NOT NULL,
    PRIMARY KEY (object_id, key)
);
CREATE INDEX labels_key_value ON labels (key, value, object_id);

-- Sweeps: many runs made by one request (docs/SWEEPS.md).
CREATE TABLE sweeps (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- creation order (cursors)
    id              text   NOT NULL UNIQUE,   -- 's_' + 24 hex characters
    name            text   NOT NULL DEFAULT '',
    created_at      bigint NOT NULL,
    request_json    text   NOT NULL,
    labels_json     text   NOT NULL DEFAULT '{}',
    idempotency_key text   UNIQUE,
    body_hash       text,
    CHECK (idempotency_key IS NULL OR body_hash IS NOT NULL)
);

-- An object's label rows go with it, however it is deleted.
CREATE FUNCTION eirnn_labels_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM labels WHERE object_id = OLD.id;
    RETURN OLD;
END;
$$;
CREATE TRIGGER models_labels_delete AFTER DELETE ON models
    FOR EACH ROW EXECUTE FUNCTION eirnn_labels_delete();
CREATE TRIGGER runs_labels_delete AFTER DELETE ON runs
    FOR EACH ROW EXECUTE FUNCTION eirnn_labels_delete();
CREATE TRIGGER sweeps_labels_delete AFTER DELETE ON sweeps
    FOR EACH ROW EXECUTE FUNCTION eirnn_labels_delete();
