"""What bench/run reads from a demo server's SQLite database around the load workloads.

    python surge.py wait-idle DB          # until the analysis worker has nothing queued
    python surge.py visibility DB SENT    # after `load surge`: loss and time to visible

`visibility` waits until every post of the surge (`surge-RUN-N`, RUN from the JSON
`load surge` printed) that was stored has been analysed, then prints one JSON object:
posts acknowledged, stored, analysed and filed into a case; lost (acknowledged but not
stored: must be 0); the time from each post's storage (`received_at`, when its
delivery was answered 200) to its analysis (`analyzed_at`: searchable, routed by its
tags, and filed into the inbox in the same step), p50/p99/max; and how long the
backlog took to clear after the last delivery (`cleared` false: it had not after
TIMEOUT_S, and the figures cover the posts analysed by then).
"""

import json
import sqlite3
import sys
import time

TIMEOUT_S = 1800


def connect(path):
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def wait_idle(path):
    con = connect(path)
    deadline = time.time() + TIMEOUT_S
    while time.time() < deadline:
        (queued,) = con.execute("SELECT COUNT(*) FROM jobs WHERE kind = 'analyze_post' AND state <> 'dead'").fetchone()
        if queued == 0:
            return
        time.sleep(0.2)
    sys.exit(f"the analysis worker still had work after {TIMEOUT_S} s")


def visibility(path, sent):
    sent = json.loads(sent)
    like = f"surge-{sent['run']}-%"
    acknowledged = sent["posts_acknowledged"]
    con = connect(path)
    counts = ("SELECT COUNT(*), COUNT(e.post_id) FROM posts p LEFT JOIN enrichments e ON e.post_id = p.id "
              "AND e.post_version = p.version WHERE p.platform = 'x' AND p.external_id LIKE ?")
    started = time.time()
    while True:
        stored, analysed = con.execute(counts, (like,)).fetchone()
        if (stored >= acknowledged and analysed >= stored) or time.time() - started > TIMEOUT_S:
            break
        time.sleep(0.1)
    clear_s = time.time() - started
    cleared = stored >= acknowledged and analysed >= stored
    latencies = [row[0] for row in con.execute(
        "SELECT (julianday(e.analyzed_at) - julianday(p.received_at)) * 86400000.0 FROM posts p "
        "JOIN enrichments e ON e.post_id = p.id WHERE p.platform = 'x' AND p.external_id LIKE ? ORDER BY 1",
        (like,))]
    (filed,) = con.execute("SELECT COUNT(*) FROM case_posts c JOIN posts p ON p.id = c.post_id "
                           "WHERE p.platform = 'x' AND p.external_id LIKE ?", (like,)).fetchone()

    def at(q):
        return latencies[min(int(len(latencies) * q), len(latencies) - 1)] if latencies else None

    print(json.dumps({"acknowledged": acknowledged, "stored": stored, "analysed": analysed, "filed": filed,
                      "lost": max(acknowledged - stored, 0), "cleared": cleared, "backlog_clear_s": clear_s,
                      "visible_p50_ms": at(0.5), "visible_p99_ms": at(0.99), "visible_max_ms": at(1.0)}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["wait-idle"] and len(sys.argv) == 3:
        wait_idle(sys.argv[2])
    elif sys.argv[1:2] == ["visibility"] and len(sys.argv) == 4:
        visibility(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
