-- Public pages, SQLite flavour. Keep in step with ../postgres/0005_public.sql.
-- Public pages: the link a citizen follows to see their case, and indexes for the
-- institutions' public responsiveness figures.

-- A case's public link. The token is a capability: 32 random bytes, base64url. It is
-- kept as it is, not as a digest, because every message that carries the link keeps
-- it verbatim in `replies.body` anyway (the outbox must send and resend that text),
-- so a digest here would hide nothing; keeping it lets every later message of the
-- case carry the same link. It grants reading what the case's citizen was told.
CREATE TABLE case_public_tokens (
    case_id INTEGER PRIMARY KEY REFERENCES cases (id),
    token TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE INDEX cases_institution_opened ON cases (institution_id, opened_at);
CREATE INDEX case_referrals_from_at ON case_referrals (from_institution_id, at);
CREATE INDEX case_referrals_to_at ON case_referrals (to_institution_id, at);
CREATE INDEX ratings_institution ON ratings (institution_id, created_at);
