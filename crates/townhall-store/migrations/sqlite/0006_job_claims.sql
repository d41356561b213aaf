-- Job claims, SQLite flavour. Keep in step with ../postgres/0006_job_claims.sql.
-- A worker claims the due jobs of its kinds. Indexed by state first, a claim walked
-- every queued job of every kind: during a surge each reply the outbox claimed scanned
-- the whole analysis backlog, inside the write lock, and the inbox fell minutes behind.
-- By kind first, a claim reads only its own kinds' jobs.
DROP INDEX jobs_ready;
CREATE INDEX jobs_ready ON jobs (kind, state, run_at);
