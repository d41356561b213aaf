//! `townhall import`: every format, quarantine, idempotence, exit codes, durability
//! across a kill -9, and the real captures in `../shared/fixtures/real` when present.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use townhall_store::{Db, DbOptions};

use crate::support::{crate_file, run, sqlite_url, townhall};

fn import(dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let url = sqlite_url(dir);
    let mut all = vec!["--database-url", url.as_str(), "import", "--json"];
    all.extend_from_slice(args);
    let output = run(dir, &all);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let summary = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), summary, stderr)
}

fn counts(summary: &Value) -> [u64; 6] {
    ["read", "imported", "updated", "duplicates", "skipped", "rejected"].map(|k| summary[k].as_u64().unwrap())
}

fn export_posts(dir: &Path) -> Vec<Value> {
    let url = sqlite_url(dir);
    let output = run(dir, &["--database-url", &url, "export", "--what", "posts", "--format", "ndjson"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect()
}

#[test]
fn a_mixed_file_imports_once_and_the_second_run_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = crate_file("tests/fixtures/import/mixed.ndjson");
    let (code, first, stderr) = import(dir.path(), &[file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "", "no progress bar when standard error is not a terminal");
    // Six records: five posts from five platforms, one Jetstream identity event skipped with its reason.
    assert_eq!(counts(&first), [6, 5, 0, 0, 1, 0], "{first}");
    assert!(first["skipped_reasons"].as_object().unwrap().keys().any(|r| r.contains("identity")), "{first}");
    assert_eq!(first["quarantine"], Value::Null);
    assert_eq!(first["analysed"], 5, "every new post is analysed before the command returns");

    let (code, second, _) = import(dir.path(), &[file.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(counts(&second), [6, 0, 0, 5, 1, 0], "{second}");
    assert_eq!(second["analysed"], 0, "nothing new, nothing to analyse again");

    // Posts waiting for analysis (here a re-analysis) are left to `serve`, which files them.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(Db::open(&DbOptions::new(sqlite_url(dir.path())))).unwrap();
    assert_eq!(runtime.block_on(db.enqueue_reanalysis(i32::MAX, 100, chrono::Utc::now())).unwrap(), 5);
    let (code, third, _) = import(dir.path(), &[file.to_str().unwrap()]);
    assert_eq!((code, third["analysed"].as_u64()), (0, Some(0)), "{third}");
    assert_eq!(runtime.block_on(db.job_counts()).unwrap().queued, 5);
    runtime.block_on(db.close());

    let posts = export_posts(dir.path());
    assert_eq!(posts.len(), 5);
    let platforms: Vec<&str> = posts.iter().map(|p| p["platform"].as_str().unwrap()).collect();
    for platform in ["web", "bluesky", "x", "mastodon", "facebook"] {
        assert!(platforms.contains(&platform), "{platforms:?}");
    }
    let x = posts.iter().find(|p| p["platform"] == "x").unwrap();
    assert_eq!(x["text"], "@MuniValpo el camión de la basura no pasó & huele fatal");
    let raw_line = std::fs::read_to_string(&file).unwrap().lines().nth(2).unwrap().to_owned();
    assert_eq!(x["raw"], raw_line, "the payload is kept as received");
}

#[test]
fn bad_records_are_quarantined_with_where_and_why_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = crate_file("tests/fixtures/import/hostile.ndjson");
    let quarantine = dir.path().join("rejects.ndjson");
    let (code, summary, stderr) =
        import(dir.path(), &["--quarantine", quarantine.to_str().unwrap(), file.to_str().unwrap()]);
    assert_eq!(code, 0, "rejects do not make the run fail: {stderr}");
    assert_eq!(counts(&summary), [7, 2, 0, 0, 0, 5], "{summary}");
    assert_eq!(summary["quarantine"], quarantine.to_str().unwrap());

    let lines: Vec<Value> =
        std::fs::read_to_string(&quarantine).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 5);
    let at: Vec<u64> = lines.iter().map(|l| l["line"].as_u64().unwrap()).collect();
    assert_eq!(at, [2, 3, 4, 5, 7]);
    assert!(
        lines
            .iter()
            .all(|l| l["file"] == file.to_str().unwrap() && l["reason"].as_str().is_some_and(|r| !r.is_empty()))
    );
    assert_eq!(lines[1]["raw"], "not json at all");
    assert_eq!(lines[3]["code"], "parse.format");
    // Broken UTF-8 cannot be JSON text: it is kept as base64, byte for byte.
    let original = std::fs::read(&file).unwrap();
    let last_line = original.split(|b| *b == b'\n').nth(6).unwrap();
    use base64::Engine;
    let kept = base64::engine::general_purpose::STANDARD.decode(lines[4]["raw_base64"].as_str().unwrap()).unwrap();
    assert_eq!(kept, last_line);
    let offset = lines[4]["offset"].as_u64().unwrap() as usize;
    assert_eq!(&original[offset..offset + last_line.len()], last_line);

    // Hostile text is stored as text, exactly.
    let posts = export_posts(dir.path());
    let hostile = posts.iter().find(|p| p["external_id"] == "ok-1").unwrap();
    assert_eq!(
        hostile["text"],
        "<script>alert('x')</script><img src=x onerror=alert(1)> \u{202e}evil\u{202c} a\u{200d}b e\u{301} \u{fffd} end"
    );
    assert_eq!(posts.iter().find(|p| p["external_id"] == "ok-2").unwrap()["text"], "سلام — здраво — 你好 🏳️‍🌈");
}

#[test]
fn unusable_input_exits_with_status_2_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = crate_file("tests/fixtures/import/mixed.ndjson");
    let (code, _, stderr) = import(dir.path(), &[good.to_str().unwrap(), "/no/such/file.ndjson"]);
    assert_eq!(code, 2);
    assert!(stderr.starts_with("error: /no/such/file.ndjson") && stderr.lines().count() == 1, "{stderr}");
    assert!(export_posts(dir.path()).is_empty(), "nothing imported when an input is unusable");

    let (code, _, stderr) = import(dir.path(), &["--format", "myspace", good.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown format") && stderr.contains("jetstream"), "{stderr}");

    let (code, _, stderr) = import(dir.path(), &[dir.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is a directory"), "{stderr}");

    let binary = dir.path().join("photo.bin");
    std::fs::write(&binary, [0u8, 159, 146, 150]).unwrap();
    let (code, _, stderr) = import(dir.path(), &[binary.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--format"), "{stderr}");
}

/// Writes `n` generic records, one a line.
fn write_corpus(path: &Path, n: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        let line = serde_json::json!({
            "platform": "web", "id": format!("form-{i}"), "created_at": "2026-03-02T09:15:00Z",
            "text": format!("Aviso {i}: la farola de la calle {} está apagada", i % 977),
            "author": { "id": format!("vecino-{}", i % 5000), "handle": format!("vecino{}", i % 5000) },
        });
        writeln!(out, "{line}").unwrap();
    }
    out.flush().unwrap();
}

/// Posts committed so far, read beside the importer (WAL lets a reader see every
/// committed batch).
fn count_posts(runtime: &tokio::runtime::Runtime, db: &Db) -> i64 {
    runtime.block_on(db.post_stats()).map(|s| s.total).unwrap_or(0)
}

#[test]
fn a_kill_9_mid_import_loses_nothing_acknowledged_and_the_rerun_adds_no_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.ndjson");
    let total = 60_000;
    write_corpus(&corpus, total);
    let url = sqlite_url(dir.path());
    let migrated = run(dir.path(), &["--database-url", &url, "migrate"]);
    assert!(migrated.status.success());

    let mut child = townhall(dir.path())
        .args(["--database-url", &url, "import", "--json", corpus.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the importer has committed something, then kill it without warning.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let db = runtime.block_on(Db::connect(&DbOptions::new(url.clone()))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_posts(&runtime, &db) == 0 {
        assert!(Instant::now() < deadline, "the importer committed nothing in 60 s");
        assert!(child.try_wait().unwrap().is_none(), "the importer finished before it could be killed");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::process::Command::new("kill").args(["-9", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();
    let committed = count_posts(&runtime, &db);
    runtime.block_on(db.close());

    // The database opens, every stored post is whole, and the rerun completes the rest.
    let (code, summary, stderr) = import(dir.path(), &[corpus.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let [read, imported, _, duplicates, _, rejected] = counts(&summary);
    assert_eq!((read, rejected), (total as u64, 0));
    assert_eq!(imported + duplicates, total as u64, "{summary}");
    assert!(duplicates >= committed as u64 && committed > 0, "what the killed run committed stays: {summary}");
    let posts = export_posts(dir.path());
    assert_eq!(posts.len(), total, "every post once");
    let mut ids: Vec<&str> = posts.iter().map(|p| p["external_id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), total);
}

/// The real captures: `TOWNHALL_TEST_REAL_FIXTURES` (set by `.ci/run` when they exist), else
/// `../shared/fixtures/real` beside this checkout.
fn real_fixtures() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TOWNHALL_TEST_REAL_FIXTURES") {
        let dir = PathBuf::from(dir);
        assert!(dir.is_dir(), "TOWNHALL_TEST_REAL_FIXTURES={} is not a directory", dir.display());
        return Some(dir);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real");
    dir.is_dir().then_some(dir)
}

#[test]
fn every_real_capture_imports_or_is_skipped_with_a_reason() {
    let Some(real) = real_fixtures() else { return };
    for platform in ["mastodon", "bluesky", "facebook", "x-v1"] {
        let dir = tempfile::tempdir().unwrap();
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(real.join(platform)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let args: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
        let (code, summary, stderr) = import(dir.path(), &args);
        assert_eq!(code, 0, "{platform}: {stderr}");
        let [read, imported, updated, duplicates, skipped, rejected] = counts(&summary);
        assert_eq!(rejected, 0, "{platform}: {summary}");
        assert!(read > 0 && imported > 0, "{platform}: {summary}");
        assert!(
            imported + updated + duplicates + skipped >= read,
            "{platform}: every record yields something: {summary}"
        );
        eprintln!("{platform}: {summary}");
    }
}

#[test]
fn csv_mbox_and_the_x_archive_are_recognised_and_imported() {
    let dir = tempfile::tempdir().unwrap();
    let files = ["forms.csv", "inbox.mbox", "tweets.js"].map(|f| crate_file(&format!("tests/fixtures/import/{f}")));
    let args: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    let (code, summary, stderr) = import(dir.path(), &args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(counts(&summary), [6, 6, 0, 0, 0, 0], "{summary}");
    let posts = export_posts(dir.path());
    let text = |id: &str| posts.iter().find(|p| p["external_id"] == id).map(|p| p["text"].as_str().unwrap().to_owned());
    assert_eq!(text("form-1").unwrap(), "Dos líneas:\r\nla farola de la calle 12 está apagada, \"otra vez\"");
    assert_eq!(
        text("ruido-1@example.org").unwrap(),
        "Reclamo por ruido\n\nHay una fiesta todas las noches en calle Cumming.\nFrom las 23:00 hasta las 5:00."
    );
    let reply = posts.iter().find(|p| p["external_id"] == "ruido-2@example.org").unwrap();
    assert_eq!(reply["reply_to"], "ruido-1@example.org");
    let archived = posts.iter().find(|p| p["external_id"] == "1760000000000000001").unwrap();
    assert_eq!(
        (archived["text"].as_str().unwrap(), archived["likes"].as_i64()),
        ("Corte de agua programado en Cerro Alegre & Cerro Concepción, de 9 a 14 h.", Some(12))
    );
}

#[test]
fn a_csv_without_the_needed_columns_is_refused_before_anything_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "id,message\n1,hola\n").unwrap();
    let good = crate_file("tests/fixtures/import/mixed.ndjson");
    let (code, _, stderr) = import(dir.path(), &[good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("platform") && stderr.contains("created_at"), "{stderr}");
    assert!(export_posts(dir.path()).is_empty());
}

#[test]
fn posts_are_attributed_to_the_institution_account_they_mention() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let admin = |args: &[&str]| {
        let mut all = vec!["--database-url", url.as_str(), "admin"];
        all.extend_from_slice(args);
        let output = run(dir.path(), &all);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    };
    admin(&[
        "institution",
        "create",
        "--slug",
        "valpo",
        "--name",
        "Municipalidad",
        "--kind",
        "government",
        "--level",
        "local",
        "--country",
        "CL",
    ]);
    admin(&[
        "account",
        "create",
        "--institution",
        "valpo",
        "--platform",
        "x",
        "--handle",
        "@munivalpo",
        "--display-name",
        "Muni",
    ]);
    admin(&[
        "account",
        "create",
        "--institution",
        "valpo",
        "--platform",
        "bluesky",
        "--handle",
        "muni.valpo.cl",
        "--display-name",
        "Muni",
        "--external-id",
        "did:plc:muni",
    ]);
    let file = dir.path().join("mentions.ndjson");
    std::fs::write(
        &file,
        [
            r#"{"created_at":"Mon Mar 02 10:00:00 +0000 2026","id_str":"5","text":"@MuniValpo ¿cuándo pasa el camión de la basura?","user":{"id_str":"9","screen_name":"v"},"entities":{"user_mentions":[{"screen_name":"MuniValpo"}]}}"#,
            r#"{"did":"did:plc:ana","time_us":1725911162329308,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"app.bsky.feed.post","rkey":"3a","record":{"text":"@muni.valpo.cl hola","createdAt":"2024-09-09T19:46:02Z","facets":[{"index":{"byteStart":0,"byteEnd":14},"features":[{"$type":"app.bsky.richtext.facet#mention","did":"did:plc:muni"}]}]},"cid":"c"}}"#,
            r#"{"platform":"web","id":"f1","text":"sin mención","created_at":"2026-03-02T09:15:00Z"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let (code, _, stderr) = import(dir.path(), &[file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let posts = export_posts(dir.path());
    let account = |id: &str| posts.iter().find(|p| p["external_id"] == id).unwrap()["account_id"].clone();
    assert!(account("5").is_number() && account("at://did:plc:ana/app.bsky.feed.post/3a").is_number());
    assert_ne!(account("5"), account("at://did:plc:ana/app.bsky.feed.post/3a"), "each its own account");
    assert!(account("f1").is_null());
    // An import is an archive: tagged and searchable, but the question opens no case.
    let audit = run(dir.path(), &["--database-url", &url, "export", "--what", "audit"]);
    assert!(audit.status.success());
    assert!(!String::from_utf8_lossy(&audit.stdout).contains("case.create"), "an import opened a case");
}

#[test]
fn imported_posts_are_searchable_by_their_tags() {
    let dir = tempfile::tempdir().unwrap();
    let file = crate_file("tests/fixtures/import/mixed.ndjson");
    let (code, summary, stderr) = import(dir.path(), &[file.to_str().unwrap()]);
    assert_eq!((code, summary["analysed"].as_u64()), (0, Some(5)), "{stderr}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(Db::open(&DbOptions::new(sqlite_url(dir.path())))).unwrap();
    let listed = |filter: townhall_store::PostFilter| -> Vec<String> {
        runtime.block_on(db.recent_posts(&filter, 50)).unwrap().into_iter().map(|p| p.text).collect()
    };
    let waste = listed(townhall_store::PostFilter { topic: Some("waste".into()), ..Default::default() });
    assert!(waste.contains(&"@MuniValpo el camión de la basura no pasó & huele fatal".to_string()), "{waste:?}");
    let spanish = listed(townhall_store::PostFilter { lang: Some("es".into()), ..Default::default() });
    assert!(spanish.len() >= 2, "{spanish:?}");
    let x =
        runtime.block_on(db.post_by_external_id(townhall_core::Platform::X, "1894000000000000001")).unwrap().unwrap();
    let (tags, detail) = runtime.block_on(db.enrichment(x.id)).unwrap().unwrap();
    assert_eq!((tags.lang.as_deref(), tags.intent.as_str()), (Some("es"), "complaint"));
    assert_eq!(tags.analyzer_version, townhall_analysis::VERSION as i32);
    assert_eq!(detail["version"], townhall_analysis::VERSION);
    runtime.block_on(db.close());
}
