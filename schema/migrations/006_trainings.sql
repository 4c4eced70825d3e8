-- Schema version 6: trainings (issue 15). A training is a job of the queue (kind 'training', id
-- 't_...', subkind its task's name; `runs.kind` has no CHECK, so no table rebuild). Beside its
-- row it keeps a checkpoint (one per training, replaced by each write: the engine's
-- eir_train_state_save() bytes, tens of MB for N = 512) and a learning curve (one row per
-- iteration, rewritten when a resumed training passes the iteration again). Both go with the job
-- (ON DELETE CASCADE). The model a training makes records it in `models.training_id`
-- (provenance, no foreign key: the model outlives a deleted training).
ALTER TABLE models ADD COLUMN training_id TEXT;
CREATE INDEX models_training ON models (training_id) WHERE training_id IS NOT NULL;

CREATE TABLE training_checkpoints (
    run_id     TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    iteration  INTEGER NOT NULL,
    written_at INTEGER NOT NULL,  -- ms since the epoch
    state      BLOB NOT NULL
);

-- NULL is "none" (a NaN of store_curve_row).
CREATE TABLE training_curve (
    run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    iteration     INTEGER NOT NULL,
    loss          REAL,
    task_loss     REAL,
    l2_weights    REAL,
    l2_rates      REAL,
    grad_norm     REAL,
    accuracy      REAL,
    eval_accuracy REAL,
    PRIMARY KEY (run_id, iteration)
) WITHOUT ROWID;
