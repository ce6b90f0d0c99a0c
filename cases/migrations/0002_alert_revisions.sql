-- Alerts carry their own revision number since they are identified by household and risk
-- month: the highest one applied, so that a replayed or reordered queue never turns a task
-- back to an older content, and a withdrawal or a re-raise applies once.
ALTER TABLE tasks ADD COLUMN alert_revision BIGINT NOT NULL DEFAULT 1;
