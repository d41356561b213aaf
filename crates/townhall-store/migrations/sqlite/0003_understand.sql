-- Understand: each post's analysis, its topics, and the topics staff gave by hand.

-- The analysis of the latest version of a post: the fields routing and filters act
-- on, and the full enrichment as JSON. `post_version` and `analyzer_version` say
-- what it was computed from, so a newer text or a newer analyzer recomputes it.
CREATE TABLE enrichments (
    post_id INTEGER PRIMARY KEY REFERENCES posts (id),
    post_version INTEGER NOT NULL,
    analyzer_version INTEGER NOT NULL,
    lang TEXT,
    sentiment REAL,
    intent TEXT NOT NULL,
    urgency REAL NOT NULL,
    spam REAL NOT NULL,
    abuse REAL NOT NULL,
    pii BOOLEAN NOT NULL,
    detail TEXT NOT NULL,
    analyzed_at TEXT NOT NULL
);
CREATE INDEX enrichments_intent ON enrichments (intent);
CREATE INDEX enrichments_lang ON enrichments (lang);
CREATE INDEX enrichments_analyzer ON enrichments (analyzer_version);

-- Topics of a post: the analyzer's, and those staff set (never overwritten by analysis).
CREATE TABLE post_topics (
    post_id INTEGER NOT NULL REFERENCES posts (id),
    topic TEXT NOT NULL,
    confidence REAL NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('analysis', 'staff')),
    PRIMARY KEY (post_id, topic)
);
CREATE INDEX post_topics_topic ON post_topics (topic, post_id);

-- Every topic a staff member gave a post: the training examples of the institution's
-- topic model.
CREATE TABLE topic_labels (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions (id),
    post_id INTEGER NOT NULL REFERENCES posts (id),
    topic TEXT NOT NULL,
    user_id INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX topic_labels_institution ON topic_labels (institution_id, id);

-- An institution's own topics and terms, added to the default taxonomy of public
-- services ("biblioteca" for a topic "libraries", a local service's name).
CREATE TABLE topic_terms (
    institution_id INTEGER NOT NULL REFERENCES institutions (id),
    topic TEXT NOT NULL,
    term TEXT NOT NULL,
    PRIMARY KEY (institution_id, topic, term)
);
