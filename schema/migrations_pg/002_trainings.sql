-- PostgreSQL schema version 2: trainings (issue 15), as SQLite's version 6
-- (schema/migrations/006_trainings.sql). A training is a job of the queue (kind 'training', id
-- 't_...'). Its checkpoint (one per training, replaced by each write: the engine's
-- eir_train_state_save() bytes, tens of MB for N = 512) and its learning curve (one row per
-- iteration) go with the job (ON DELETE CASCADE). The model a training makes records it in
-- models.training_id (provenance, no foreign key: the model outlives a deleted training).
ALTER TABLE models ADD COLUMN training_id text;
CREATE INDEX models_training ON models (training_id) WHERE training_id IS NOT NULL;

CREATE TABLE training_checkpoints (
    run_id     text   PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    iteration  bigint NOT NULL CHECK (iteration >= 0),
    written_at bigint NOT NULL,               -- ms since the epoch, database clock
    state      bytea  NOT NULL
);
-- Doubles do not compress: TOASTed without trying (as result_chunks).
ALTER TABLE training_checkpoints ALTER COLUMN state SET STORAGE EXTERNAL;

-- NULL is "none" (a NaN of store_curve_row).
CREATE TABLE training_curve (
    run_id        text   NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    iteration     bigint NOT NULL CHECK (iteration >= 0),
    loss          double precision,
    task_loss     double precision,
    l2_weights    double precision,
    l2_rates      double precision,
    grad_norm     double precision,
    accuracy      double precision,
    eval_accuracy double precision,
    PRIMARY KEY (run_id, iteration)
);
