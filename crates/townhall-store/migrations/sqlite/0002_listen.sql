-- Listen: what posts point at, platform events on posts, engagement by identity,
-- listener cursors.

-- Mentions, hashtags, links, media and quote of the latest version, as JSON.
ALTER TABLE posts ADD COLUMN entities TEXT NOT NULL DEFAULT '{}';

-- Hides and unhides the platform reported, with the event as received.
CREATE TABLE post_events (
    id INTEGER PRIMARY KEY,
    post_id INTEGER NOT NULL REFERENCES posts (id),
    kind TEXT NOT NULL CHECK (kind IN ('hidden', 'shown')),
    at TEXT NOT NULL,
    raw BLOB NOT NULL
);
CREATE INDEX post_events_post ON post_events (post_id, id);

-- One row per like or repost, keyed by the platform's identity for it, so a replay
-- counts once and a withdrawal undoes exactly what it withdraws.
CREATE TABLE engagements (
    platform TEXT NOT NULL,
    key TEXT NOT NULL,
    post_id INTEGER NOT NULL REFERENCES posts (id),
    kind TEXT NOT NULL CHECK (kind IN ('like', 'repost')),
    active BOOLEAN NOT NULL,
    PRIMARY KEY (platform, key)
);

-- Where each live listener stopped, so it resumes without gaps or duplicates.
CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Records received from a platform (webhook, listener) that could not be read: kept
-- exactly as received, with why, so nothing acknowledged is lost.
CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    raw BLOB NOT NULL,
    received_at TEXT NOT NULL
);
