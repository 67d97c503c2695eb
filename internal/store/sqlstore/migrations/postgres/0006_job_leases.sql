-- Leases of build jobs: which worker holds a running job and until when,
-- when a job that failed transiently may run again, and why it failed.
ALTER TABLE jobs ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT '0001-01-01T00:00:00Z';
ALTER TABLE jobs ADD COLUMN error TEXT NOT NULL DEFAULT '';

CREATE INDEX jobs_runnable_idx ON jobs (status, next_attempt_at, created_at);
