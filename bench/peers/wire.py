"""What both Python peers share: reading the four wire formats of the benchmark
corpus into plain rows, the topic keywords, and the SQLite schema.

A post row is (platform, external_id, author, text, created_at, reply_to); a like
is (platform, key, target). Only what the corpus holds is read: Mastodon statuses,
Jetstream posts and likes, X API v2 responses, Facebook comment webhooks.
"""

import html
import re
from datetime import datetime, timezone

TAG = re.compile(r"<[^>]+>")

# Topic keywords in the corpus' six languages (lower case; matched as whole words).
TOPICS = {
    "transport": ["bus", "micro", "metro", "tren", "tram", "line", "overground", "bike", "stop", "parada",
                  "trein", "fietspad", "métro", "حافلة", "الحافلة", "المترو", "автобусот"],
    "water": ["agua", "water", "eau", "suministro", "supply", "المياه", "водата"],
    "waste": ["basura", "recolección", "bin", "collection", "déchets", "collecte", "afval", "النفايات", "ѓубрето"],
    "lighting": ["luz", "alumbrado", "semáforo", "streetlight", "éclairage", "straatverlichting",
                 "إنارة", "осветлување"],
    "roads": ["bache", "vereda", "pothole", "trottoir", "rue", "straat", "الرصيف", "патот", "тротоарот"],
    "emergency": ["incendio", "terremoto", "fire", "incendie", "brand", "حريق", "пожар", "urgente", "urgent",
                  "atrapadas", "trapped"],
    "health": ["consultorio", "hospital", "santé", "ziekenhuis"],
}

SCHEMA = """
CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    external_id TEXT NOT NULL,
    author TEXT,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    reply_to TEXT,
    lang TEXT,
    sentiment REAL,
    likes INTEGER NOT NULL DEFAULT 0,
    UNIQUE (platform, external_id)
);
CREATE TABLE post_topics (post_id INTEGER NOT NULL, topic TEXT NOT NULL, PRIMARY KEY (post_id, topic));
CREATE TABLE likes (platform TEXT NOT NULL, key TEXT NOT NULL, target TEXT, PRIMARY KEY (platform, key));
CREATE VIRTUAL TABLE posts_fts USING fts5 (text, content = 'posts', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2');
"""


def iso_from_seconds(seconds):
    return datetime.fromtimestamp(int(seconds), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rows(record):
    """Yields ("post", row) and ("like", row) items from one parsed record."""
    if "did" in record and "commit" in record:
        commit = record["commit"]
        uri = "at://%s/%s/%s" % (record["did"], commit["collection"], commit["rkey"])
        body = commit.get("record") or {}
        if commit["collection"] == "app.bsky.feed.post" and commit["operation"] == "create":
            reply = body.get("reply")
            yield "post", ("bluesky", uri, record["did"], body.get("text", ""), body.get("createdAt"),
                           reply["parent"]["uri"] if reply else None)
        elif commit["collection"] == "app.bsky.feed.like":
            yield "like", ("bluesky", uri, (body.get("subject") or {}).get("uri"))
    elif "entry" in record and record.get("object") == "page":
        for entry in record["entry"]:
            for change in entry.get("changes", []):
                value = change.get("value") or {}
                if value.get("item") == "comment" and value.get("verb") == "add":
                    yield "post", ("facebook", value["comment_id"], (value.get("from") or {}).get("id"),
                                   value.get("message", ""), iso_from_seconds(value["created_time"]),
                                   value.get("parent_id"))
    elif "data" in record:
        data = record["data"]
        users = {u["id"]: u.get("username") for u in (record.get("includes") or {}).get("users", [])}
        for tweet in data if isinstance(data, list) else [data]:
            replied = [r["id"] for r in tweet.get("referenced_tweets", []) if r["type"] == "replied_to"]
            yield "post", ("x", tweet["id"], users.get(tweet.get("author_id"), tweet.get("author_id")),
                           html.unescape(tweet.get("text", "")), tweet.get("created_at"),
                           replied[0] if replied else None)
    elif "account" in record and "content" in record:
        text = html.unescape(TAG.sub(" ", record["content"])).strip()
        yield "post", ("mastodon", record["id"], record["account"].get("acct"), text, record["created_at"],
                       record.get("in_reply_to_id"))
