-- Answer, SQLite flavour. Keep in step with ../postgres/0004_answer.sql.
-- Answer: the shared inbox. Deadlines and rule tags on cases, referrals, notes, the
-- outbox of replies, routing rules, deadline policies, canned answers, ratings,
-- platform credentials for replying, and staff sign-in sessions.

ALTER TABLE cases ADD COLUMN platform TEXT;
ALTER TABLE cases ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE cases ADD COLUMN first_response_due TEXT;
ALTER TABLE cases ADD COLUMN resolution_due TEXT;
CREATE INDEX cases_assignee ON cases (assignee_id, status);
CREATE INDEX cases_contact ON cases (contact_id, opened_at);

ALTER TABLE users ADD COLUMN available BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE users ADD COLUMN max_open_cases INTEGER;

-- Other ids a platform knows a post by: on Mastodon, the local id of the instance it
-- came from, which replies name as their parent (posts are keyed by URI).
CREATE TABLE post_aliases (
    platform TEXT NOT NULL,
    alias TEXT NOT NULL,
    post_id INTEGER NOT NULL REFERENCES posts (id),
    PRIMARY KEY (platform, alias)
);

-- Every hand-over of a case to another institution, in order: the chain of referrals.
-- The referring institution keeps read access through these rows.
CREATE TABLE case_referrals (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    from_institution_id INTEGER NOT NULL REFERENCES institutions (id),
    to_institution_id INTEGER NOT NULL REFERENCES institutions (id),
    reason TEXT NOT NULL,
    user_id INTEGER REFERENCES users (id),
    at TEXT NOT NULL
);
CREATE INDEX case_referrals_case ON case_referrals (case_id, id);
CREATE INDEX case_referrals_from ON case_referrals (from_institution_id, case_id);

-- Internal notes: never sent to the citizen.
CREATE TABLE case_notes (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    institution_id INTEGER NOT NULL REFERENCES institutions (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    body TEXT NOT NULL,
    mentions TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX case_notes_case ON case_notes (case_id, id);

-- The outbox. A reply is written once, with a unique idempotency key, and sent by the
-- outbox worker; `external_id` is the platform's id of what was sent, which a
-- citizen's answer names as the post it replies to.
CREATE TABLE replies (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    institution_id INTEGER NOT NULL REFERENCES institutions (id),
    user_id INTEGER REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('answer', 'acknowledgement', 'referral', 'outcome', 'satisfaction')),
    post_id INTEGER NOT NULL REFERENCES posts (id),
    platform TEXT NOT NULL,
    account_id INTEGER REFERENCES accounts (id),
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('awaiting_approval', 'queued', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT NOT NULL UNIQUE,
    external_id TEXT,
    url TEXT,
    error_code TEXT,
    error TEXT,
    approved_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX replies_case ON replies (case_id, id);
CREATE INDEX replies_external ON replies (platform, external_id);

CREATE TABLE routing_rules (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions (id),
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    enabled BOOLEAN NOT NULL,
    definition TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX routing_rules_institution ON routing_rules (institution_id, position);

-- `platform` is '*' for a policy that holds on every channel; 0 seconds is no deadline.
CREATE TABLE deadline_policies (
    institution_id INTEGER NOT NULL REFERENCES institutions (id),
    priority TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    platform TEXT NOT NULL,
    first_response_secs INTEGER NOT NULL CHECK (first_response_secs >= 0),
    resolution_secs INTEGER NOT NULL CHECK (resolution_secs >= 0),
    PRIMARY KEY (institution_id, priority, platform)
);

-- One row per institution: its business calendar, when the satisfaction question
-- follows a resolution, and what needs a lead's approval before it is sent. JSON.
CREATE TABLE inbox_settings (
    institution_id INTEGER PRIMARY KEY REFERENCES institutions (id),
    settings TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE canned_answers (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions (id),
    name TEXT NOT NULL,
    lang TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (institution_id, name, lang)
);

-- A citizen's satisfaction with how a case was handled, one per case.
CREATE TABLE ratings (
    case_id INTEGER PRIMARY KEY REFERENCES cases (id),
    institution_id INTEGER NOT NULL REFERENCES institutions (id),
    contact_id INTEGER REFERENCES contacts (id),
    score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    post_id INTEGER REFERENCES posts (id),
    created_at TEXT NOT NULL
);

-- How Townhall posts as an institution's account. The secret is write-only: no API
-- returns it and no audit event records it.
CREATE TABLE account_credentials (
    account_id INTEGER PRIMARY KEY REFERENCES accounts (id),
    endpoint TEXT NOT NULL,
    identifier TEXT,
    secret TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- A deadline breach is flagged once, when first seen, with an audit event.
CREATE TABLE deadline_breaches (
    case_id INTEGER NOT NULL REFERENCES cases (id),
    kind TEXT NOT NULL CHECK (kind IN ('first_response', 'resolution')),
    institution_id INTEGER NOT NULL REFERENCES institutions (id),
    due_at TEXT NOT NULL,
    flagged_at TEXT NOT NULL,
    PRIMARY KEY (case_id, kind)
);
CREATE INDEX deadline_breaches_institution ON deadline_breaches (institution_id, flagged_at);

-- Staff sign-in sessions: only a SHA-256 of the cookie is kept.
CREATE TABLE sessions (
    token_sha256 BLOB PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
