-- Schema version 2: a model's build state (issue 10, item 2). A model whose document has a
-- `generate` recipe is stored 'pending' and built by a worker, which makes it 'ready' (with the
-- built model's hash) or 'failed' (with the error). Models of version 1 were built at creation.
ALTER TABLE models ADD COLUMN state TEXT NOT NULL DEFAULT 'ready'
    CHECK (state IN ('pending', 'ready', 'failed'));
ALTER TABLE models ADD COLUMN error TEXT;    -- a problem object (JSON) when failed, else NULL
ALTER TABLE models ADD COLUMN build_s REAL;  -- seconds the worker's build took, NULL when not
CREATE INDEX models_pending ON models (seq) WHERE state = 'pending';
