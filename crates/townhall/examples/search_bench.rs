//! Times Townhall's post search (`Db::search_posts`, the store's full-text search with
//! its filters) on a database `townhall import` filled: each query of a file, one
//! after another from one client, best 50 first. Prints one JSON object: queries per
//! second, p50 and p99 in milliseconds, and the hits found.
//!
//! ```text
//! cargo run --release --example search_bench -- DATABASE_URL QUERIES [--passes N] [--budget SECONDS]
//! ```
//!
//! `QUERIES` has one query a line: `text<TAB>lang<TAB>platform`, the filters empty
//! when unused (what `examples/corpus.rs --queries` writes). The first tenth of the
//! queries warms the caches, untimed (a whole warm pass doubles the run at ten million
//! posts); the timed passes follow. With a budget, the warm-up stops after a fifth of its
//! seconds and the timed queries once they are spent (`of` in the answer says how many
//! queries there were).

use std::time::Instant;

use townhall_core::{Platform, SearchQuery};
use townhall_store::{Db, DbOptions, PostFilter, SEARCH_WINDOW};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(path)) = (args.first(), args.get(1)) else {
        anyhow::bail!("usage: search_bench DATABASE_URL QUERIES [--passes N] [--budget SECONDS]");
    };
    let option = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    let passes: usize = option("--passes").map(|n| n.parse()).transpose()?.unwrap_or(1);
    let budget: Option<f64> = option("--budget").map(|s| s.parse()).transpose()?;
    let mut queries = Vec::new();
    for line in std::fs::read_to_string(path)?.lines() {
        let mut fields = line.split('\t');
        let text = fields.next().unwrap_or_default();
        let lang = fields.next().filter(|l| !l.is_empty()).map(str::to_owned);
        let platform = fields.next().filter(|p| !p.is_empty()).map(str::parse::<Platform>).transpose();
        let platform = platform.map_err(|e| anyhow::anyhow!("{line:?}: {e}"))?;
        let query = SearchQuery::parse(text).map_err(|e| anyhow::anyhow!("{line:?}: {e}"))?;
        queries.push((query, PostFilter { platform, lang, ..PostFilter::default() }));
    }
    let db = Db::connect(&DbOptions { max_connections: 1, ..DbOptions::new(url.clone()) }).await?;
    let warming = Instant::now();
    for (query, filter) in queries.iter().take(queries.len().div_ceil(10)) {
        if budget.is_some_and(|b| warming.elapsed().as_secs_f64() >= b / 5.0) {
            break;
        }
        db.search_posts(query, filter, 50).await?;
    }
    let mut times = Vec::with_capacity(queries.len() * passes);
    let mut hits = 0usize;
    let started = Instant::now();
    'passes: for _ in 0..passes {
        for (query, filter) in &queries {
            if budget.is_some_and(|b| started.elapsed().as_secs_f64() >= b) {
                break 'passes;
            }
            let at = Instant::now();
            hits += db.search_posts(query, filter, 50).await?.len();
            times.push(at.elapsed().as_secs_f64() * 1e3);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times.get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1))).copied();
    let answer = serde_json::json!({
        "queries": times.len(),
        "of": queries.len() * passes,
        "window": SEARCH_WINDOW,
        "seconds": seconds,
        "qps": times.len() as f64 / seconds.max(1e-9),
        "p50_ms": at(0.50),
        "p99_ms": at(0.99),
        "hits": hits,
    });
    println!("{answer}");
    Ok(())
}
