-- Schema version 5: leases of claims (issue 14). A claim records who holds it (`claimant`,
-- "<host>:<pid>:<8 hex>" of the claiming daemon) and until when (`lease_expires_at`, ms since the
-- epoch), renewed by the holder's heartbeat and by its progress; both are '' / 0 when the run is
-- not running. Every write of a running run is fenced by its attempt number (runs.attempts), and
-- any daemon requeues running runs whose lease expired (store_rescue_expired()). Runs running
-- when this migration is applied have lease 0 (expired): requeue_orphans() at daemon start, or a
-- rescue, brings them back.
ALTER TABLE runs ADD COLUMN claimant TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN lease_expires_at INTEGER NOT NULL DEFAULT 0;
-- The rescuer's look: running runs by lease expiry.
CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE status = 'running';
