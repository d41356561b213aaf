-- Inbox listing, PostgreSQL flavour. Keep in step with ../sqlite/0007_inbox_listing.sql.
-- The inbox listing, newest first, at a million cases: an institution's cases by id,
-- and by status and id, so a page of a rare status, or of a small institution, reads
-- only its own rows.
CREATE INDEX cases_institution_id ON cases (institution_id, id);
CREATE INDEX cases_institution_status_id ON cases (institution_id, status, id);
-- The deadlines still owed, so the few breached or nearly due cases among many are
-- found from these alone.
CREATE INDEX cases_first_response_owed ON cases (institution_id, first_response_due) WHERE first_response_at IS NULL;
CREATE INDEX cases_resolution_owed ON cases (institution_id, resolution_due) WHERE resolved_at IS NULL AND closed_at IS NULL;
