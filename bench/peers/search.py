"""The search peers (issue 7, W3): the same queries Townhall's search runs, against
plain SQLite FTS5 and plain PostgreSQL full-text search (tsvector, ts_rank) over the
posts a peer pipeline stored, best 50 first, one client, one query after another.

    python search.py sqlite PEER_DB QUERIES
    python search.py postgres PEER_DB QUERIES URL   # copies PEER_DB's posts into URL first

QUERIES has one query a line, `text<TAB>lang<TAB>platform`, in Townhall's search
syntax (words, "phrases", -excluded); each is rendered with every token quoted, the
way Townhall renders it. The first pass warms the caches and is not timed. Prints
one JSON line.
"""

import json
import re
import sqlite3
import sys
import time

TOKEN = re.compile(r"[^\W_]+")
CHUNK = re.compile(r'(-?)(?:"([^"]*)"?|(\S+))')


def parse(text):
    """(required, excluded): lists of phrases, each a list of lower-cased tokens."""
    required, excluded = [], []
    for negated, quoted, word in CHUNK.findall(text):
        tokens = TOKEN.findall((quoted or word).lower())
        if tokens:
            (excluded if negated else required).append(tokens)
    return required, excluded


def fts5(required, excluded):
    phrase = lambda tokens: '"%s"' % " ".join(tokens).replace('"', '""')
    text = " AND ".join(map(phrase, required))
    return text + "".join(" NOT " + phrase(p) for p in excluded)


def tsquery(required, excluded):
    phrase = lambda tokens: "(%s)" % " <-> ".join("'%s'" % t.replace("'", "''") for t in tokens)
    return " & ".join([phrase(p) for p in required] + ["!" + phrase(p) for p in excluded])


def load(path):
    queries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            text, lang, platform = (line.rstrip("\n").split("\t") + ["", ""])[:3]
            required, excluded = parse(text)
            if required:
                queries.append((required, excluded, lang or None, platform or None))
    return queries


def timed(run, queries):
    for q in queries:
        run(q)
    times, hits = [], 0
    started = time.perf_counter()
    for q in queries:
        at = time.perf_counter()
        hits += len(run(q))
        times.append((time.perf_counter() - at) * 1e3)
    seconds = time.perf_counter() - started
    times.sort()
    pick = lambda q: times[min(int(len(times) * q), len(times) - 1)]
    return {"queries": len(times), "seconds": seconds, "qps": len(times) / max(seconds, 1e-9),
            "p50_ms": pick(0.5), "p99_ms": pick(0.99), "hits": hits}


def sqlite_search(peer_db, queries):
    db = sqlite3.connect(peer_db)

    def run(q):
        required, excluded, lang, platform = q
        return db.execute(
            "SELECT p.id, p.platform, p.author, p.text, p.created_at FROM posts_fts f JOIN posts p ON p.id = f.rowid"
            " WHERE posts_fts MATCH ? AND (? IS NULL OR p.lang = ?) AND (? IS NULL OR p.platform = ?)"
            " ORDER BY f.rank, p.created_at DESC LIMIT 50",
            (fts5(required, excluded), lang, lang, platform, platform)).fetchall()

    return timed(run, queries)


def postgres_search(peer_db, queries, url):
    import psycopg

    pg = psycopg.connect(url, autocommit=True)
    pg.execute("DROP TABLE IF EXISTS peer_posts")
    pg.execute("CREATE TABLE peer_posts (id BIGINT PRIMARY KEY, platform TEXT NOT NULL, author TEXT, text TEXT NOT NULL,"
               " created_at TIMESTAMPTZ NOT NULL, lang TEXT,"
               " search TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED)")
    started = time.perf_counter()
    source = sqlite3.connect(peer_db)
    with pg.cursor() as cursor:
        with cursor.copy("COPY peer_posts (id, platform, author, text, created_at, lang) FROM STDIN") as copy:
            for row in source.execute("SELECT id, platform, author, text, created_at, lang FROM posts"):
                copy.write_row(row)
    pg.execute("CREATE INDEX peer_posts_search ON peer_posts USING GIN (search)")
    pg.execute("ANALYZE peer_posts")
    loaded = time.perf_counter() - started

    def run(q):
        required, excluded, lang, platform = q
        return pg.execute(
            "SELECT id, platform, author, text, created_at FROM peer_posts, to_tsquery('simple', %s) q"
            " WHERE search @@ q AND (%s::text IS NULL OR lang = %s) AND (%s::text IS NULL OR platform = %s)"
            " ORDER BY ts_rank(search, q) DESC, created_at DESC LIMIT 50",
            (tsquery(required, excluded), lang, lang, platform, platform)).fetchall()

    result = timed(run, queries)
    result["load_seconds"] = loaded
    return result


def main(mode, peer_db, queries_path, url=None):
    queries = load(queries_path)
    result = sqlite_search(peer_db, queries) if mode == "sqlite" else postgres_search(peer_db, queries, url)
    result["peer"] = mode
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:])
