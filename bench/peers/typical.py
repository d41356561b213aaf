"""The typical analyst pipeline (issue 7, W1 peer a): the standard library's json,
langdetect, vaderSentiment, re for topic keywords, sqlite3 with FTS5, one row at a
time (committing every 1,000 records).

    python typical.py CORPUS DATABASE

Prints one JSON line with the counts and the seconds taken.
"""

import json
import re
import sqlite3
import sys
import time

from langdetect import DetectorFactory, LangDetectException, detect
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from wire import SCHEMA, TOPICS, rows


def main(corpus, database):
    started = time.time()
    DetectorFactory.seed = 0  # langdetect is random unless seeded
    vader = SentimentIntensityAnalyzer()
    patterns = {topic: re.compile(r"\b(?:%s)\b" % "|".join(map(re.escape, words)), re.IGNORECASE)
                for topic, words in TOPICS.items()}
    db = sqlite3.connect(database)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.executescript(SCHEMA)
    records = posts = likes = 0
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            records += 1
            for kind, row in rows(json.loads(line)):
                if kind == "like":
                    likes += 1
                    db.execute("INSERT OR IGNORE INTO likes VALUES (?, ?, ?)", row)
                    db.execute("UPDATE posts SET likes = likes + 1 WHERE platform = ? AND external_id = ?",
                               (row[0], row[2]))
                    continue
                text = row[3]
                try:
                    lang = detect(text)
                except LangDetectException:
                    lang = None
                sentiment = vader.polarity_scores(text)["compound"]
                cursor = db.execute(
                    "INSERT OR IGNORE INTO posts (platform, external_id, author, text, created_at, reply_to, lang,"
                    " sentiment) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row + (lang, sentiment))
                if cursor.rowcount == 0:
                    continue
                post_id = cursor.lastrowid
                posts += 1
                db.execute("INSERT INTO posts_fts (rowid, text) VALUES (?, ?)", (post_id, text))
                for topic, pattern in patterns.items():
                    if pattern.search(text):
                        db.execute("INSERT INTO post_topics VALUES (?, ?)", (post_id, topic))
            if records % 1000 == 0:
                db.commit()
    db.commit()
    db.close()
    seconds = time.time() - started
    print(json.dumps({"peer": "typical", "records": records, "posts": posts, "likes": likes,
                      "seconds": round(seconds, 3), "records_per_s": round(records / max(seconds, 1e-9), 1)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
