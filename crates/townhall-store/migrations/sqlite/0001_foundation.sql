-- Townhall foundation schema, SQLite flavour. Keep in step with ../postgres/0001_foundation.sql:
-- same tables, columns and constraints; only types and the full-text index differ.
-- Times are RFC 3339 text in UTC, which sorts in time order.

CREATE TABLE institutions (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('government', 'public_company')),
    level TEXT NOT NULL CHECK (level IN ('local', 'regional', 'national', 'supranational')),
    country TEXT NOT NULL CHECK (length(country) = 2),
    parent_id INTEGER REFERENCES institutions (id),
    jurisdiction TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE teams (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions (id),
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (institution_id, name)
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions (id),
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'lead', 'agent', 'analyst', 'auditor')),
    team_id INTEGER REFERENCES teams (id),
    password_hash TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL
);

-- Only a SHA-256 of each token is kept; the token itself is shown once.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    token_sha256 BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions (id),
    platform TEXT NOT NULL,
    handle TEXT NOT NULL,
    display_name TEXT NOT NULL,
    external_id TEXT,
    official TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (platform, handle)
);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    external_id TEXT NOT NULL,
    handle TEXT NOT NULL,
    display_name TEXT,
    same_person_as INTEGER REFERENCES contacts (id),
    created_at TEXT NOT NULL,
    UNIQUE (platform, external_id)
);

-- The latest version of every post; earlier versions are in post_versions.
-- raw is the payload byte for byte (a BLOB, so NUL and invalid UTF-8 survive).
CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    external_id TEXT NOT NULL,
    account_id INTEGER REFERENCES accounts (id),
    contact_id INTEGER REFERENCES contacts (id),
    text TEXT NOT NULL,
    lang_hint TEXT,
    created_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    edited_at TEXT,
    reply_to TEXT,
    conversation TEXT,
    likes INTEGER NOT NULL DEFAULT 0,
    reposts INTEGER NOT NULL DEFAULT 0,
    replies INTEGER NOT NULL DEFAULT 0,
    quotes INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL,
    deleted_at TEXT,
    deletion_raw BLOB,
    hidden BOOLEAN NOT NULL DEFAULT FALSE,
    raw BLOB NOT NULL,
    UNIQUE (platform, external_id)
);
CREATE INDEX posts_account_created ON posts (account_id, created_at);
CREATE INDEX posts_created ON posts (created_at);
CREATE INDEX posts_conversation ON posts (platform, conversation);

CREATE TABLE post_versions (
    post_id INTEGER NOT NULL REFERENCES posts (id),
    version INTEGER NOT NULL,
    text TEXT NOT NULL,
    at TEXT NOT NULL,
    raw BLOB NOT NULL,
    PRIMARY KEY (post_id, version)
);

CREATE VIRTUAL TABLE posts_fts USING fts5 (
    text,
    content = 'posts',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN
    INSERT INTO posts_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER posts_fts_update AFTER UPDATE OF text ON posts BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO posts_fts (rowid, text) VALUES (new.id, new.text);
END;

CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions (id),
    contact_id INTEGER REFERENCES contacts (id),
    subject TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('new', 'open', 'pending', 'resolved', 'closed')),
    priority TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    team_id INTEGER REFERENCES teams (id),
    assignee_id INTEGER REFERENCES users (id),
    opened_at TEXT NOT NULL,
    first_response_at TEXT,
    resolved_at TEXT,
    outcome TEXT,
    closed_at TEXT,
    close_reason TEXT,
    version INTEGER NOT NULL
);
CREATE INDEX cases_institution_status ON cases (institution_id, status, opened_at);

-- A post belongs to at most one case.
CREATE TABLE case_posts (
    case_id INTEGER NOT NULL REFERENCES cases (id),
    post_id INTEGER NOT NULL UNIQUE REFERENCES posts (id),
    PRIMARY KEY (case_id, post_id)
);

-- Append-only: the store has no statement that updates or deletes a row here.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    institution_id INTEGER REFERENCES institutions (id),
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    before TEXT,
    after TEXT,
    origin TEXT
);
CREATE INDEX audit_events_object ON audit_events (object_kind, object_id);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN
    SELECT RAISE (ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN
    SELECT RAISE (ABORT, 'audit events are append-only');
END;

CREATE TABLE metric_snapshots (
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    at TEXT NOT NULL,
    followers INTEGER NOT NULL,
    following INTEGER NOT NULL,
    posts INTEGER NOT NULL,
    likes INTEGER,
    PRIMARY KEY (account_id, at)
);

-- The job queue. A job is enqueued in the transaction of the write that causes it,
-- deleted when done, and marked dead after max_attempts failures.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    dedupe_key TEXT UNIQUE,
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at TEXT NOT NULL,
    locked_by TEXT,
    locked_until TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (state, run_at);
