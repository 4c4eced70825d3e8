-- Schema version 3: jobs of several kinds in the one queue (issue 11, item 2). A row of `runs` is
-- a job: a run (kind 'run', id 'r_...') or an analysis (kind 'analysis', id 'a_...'), claimed,
-- cancelled, released, requeued and finished alike. `kind` has no CHECK so that later kinds
-- (sweeps, trainings) need no table rebuild; the store refuses kinds it does not know.
-- `subkind` is the kind's own type: an analysis's kind ('spectrum', 'fixed_points', ...), NULL
-- for runs. Rows of versions 1 and 2 are runs.
ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'run';
ALTER TABLE runs ADD COLUMN subkind TEXT;
-- Listing one kind newest first (GET /v1/runs, GET /v1/analyses) and counts by kind.
CREATE INDEX runs_kind ON runs (kind, seq);
CREATE INDEX runs_kind_status ON runs (kind, status, seq);
