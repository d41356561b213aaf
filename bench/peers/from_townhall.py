"""The W3 peers' posts, copied from Townhall's database: the same posts (the demo's and
the large corpus's), with the language Townhall detected, in the peers' schema
(`wire.SCHEMA`) and a plain FTS5 index over their text. The searches then run on
exactly the same data, and the copy takes minutes where analysing ten million records
again took the optimised pipeline half an hour.

    python from_townhall.py TOWNHALL_DB PEER_DB

Prints one JSON line with the posts copied and the seconds taken.
"""

import json
import sqlite3
import sys
import time

from wire import SCHEMA


def main(townhall_db, peer_db):
    started = time.time()
    db = sqlite3.connect(peer_db, isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.executescript(SCHEMA)
    db.execute("ATTACH DATABASE ? AS th", (townhall_db,))
    db.execute("BEGIN")
    db.execute("INSERT INTO posts (id, platform, external_id, author, text, created_at, reply_to, lang, sentiment, likes)"
               " SELECT p.id, p.platform, p.external_id, c.handle, p.text, p.created_at, p.reply_to, e.lang,"
               " e.sentiment, p.likes FROM th.posts p LEFT JOIN th.contacts c ON c.id = p.contact_id"
               " LEFT JOIN th.enrichments e ON e.post_id = p.id ORDER BY p.id")
    db.execute("INSERT INTO post_topics SELECT post_id, topic FROM th.post_topics")
    db.execute("INSERT INTO posts_fts (posts_fts) VALUES ('rebuild')")
    db.execute("COMMIT")
    db.execute("DETACH DATABASE th")
    posts = db.execute("SELECT count(*) FROM posts").fetchone()[0]
    db.close()
    print(json.dumps({"posts": posts, "seconds": round(time.time() - started, 3)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
