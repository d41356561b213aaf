//! The binary as an operator uses it: configuration, errors, admin, export, serve.

use std::io::Write;
use std::process::Stdio;

use crate::support::{Server, crate_file, get, run, sqlite_url, townhall};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// An operator-facing failure: non-zero exit, exactly one line, no panic.
fn assert_one_line_error(output: &std::process::Output) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "exit status for {err:?}");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("error: ") && !err.contains("panicked"), "{err:?}");
    err
}

#[test]
fn config_defaults_prints_the_documented_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["config", "defaults"]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        std::fs::read_to_string(crate_file("defaults.toml")).unwrap()
    );
}

#[test]
fn a_misspelt_setting_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("townhall.toml"), "[server]\nbnid = \"0.0.0.0:80\"\n").unwrap();
    let err = assert_one_line_error(&run(dir.path(), &["--config", "townhall.toml", "migrate"]));
    assert!(err.contains("unknown field `bnid`") && err.contains("townhall.toml"), "{err}");
    let output = townhall(dir.path()).env("TOWNHALL_SERVER_BNID", "x").args(["migrate"]).output().unwrap();
    assert!(assert_one_line_error(&output).contains("TOWNHALL_SERVER_BNID"));
}

#[test]
fn a_corrupt_database_file_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("townhall.db");
    std::fs::write(&file, b"this is not a database, just some text that is long enough to hold a header".repeat(20))
        .unwrap();
    let url = sqlite_url(dir.path());
    for command in [&["migrate"][..], &["serve", "--bind", "127.0.0.1:0"], &["export", "--what", "posts"]] {
        let output = run(dir.path(), &[&["--database-url", url.as_str()][..], command].concat());
        let err = assert_one_line_error(&output);
        assert!(err.contains("not a database"), "{err}");
    }
}

#[test]
fn an_unreachable_database_is_one_clear_error_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["--database-url", "postgres://townhall:s3cret@127.0.0.1:1/townhall", "migrate"]);
    let err = assert_one_line_error(&output);
    assert!(err.contains("cannot open database postgres://townhall:***@127.0.0.1:1/townhall"), "{err}");
    assert!(!err.contains("s3cret"));
    let err = assert_one_line_error(&run(dir.path(), &["--database-url", "mysql://x/y", "migrate"]));
    assert!(err.contains("unsupported database URL"), "{err}");
}

#[test]
fn migrate_creates_the_default_database_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["migrate"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("migrations applied"));
    assert!(dir.path().join("townhall.db").exists());
    let again = run(dir.path(), &["migrate"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("(0 migrations applied)"));
}

#[test]
fn admin_commands_are_audited_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let admin = |args: &[&str]| {
        let output = run(dir.path(), &[&["--database-url", db.as_str(), "admin"][..], args].concat());
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    admin(&[
        "institution",
        "create",
        "--slug",
        "valpo",
        "--name",
        "=HYPERLINK(\"http://evil\")",
        "--kind",
        "government",
        "--level",
        "local",
        "--country",
        "cl",
    ]);
    admin(&[
        "institution",
        "create",
        "--slug",
        "aseo",
        "--name",
        "Aseo",
        "--kind",
        "public_company",
        "--level",
        "local",
        "--country",
        "CL",
        "--parent",
        "valpo",
    ]);
    admin(&["team", "create", "--institution", "valpo", "--name", "Transporte"]);
    admin(&[
        "account",
        "create",
        "--institution",
        "valpo",
        "--platform",
        "bluesky",
        "--handle",
        "valpo.cl",
        "--display-name",
        "Valpo",
    ]);

    let mut child = townhall(dir.path())
        .args(["--database-url", &db, "admin", "user", "create", "--institution", "valpo", "--email", "Ana@Valpo.cl"])
        .args(["--name", "Ana", "--role", "agent", "--team", "Transporte", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a long enough passphrase\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(admin(&["user", "list", "--institution", "valpo"]).contains("ana@valpo.cl\tagent\tactive"));

    let token = admin(&["token", "create", "--email", "ana@valpo.cl", "--name", "laptop"]);
    assert!(token.trim().starts_with("th_") && token.trim().len() == 67, "{token}");
    assert!(admin(&["institution", "list"]).lines().any(|l| l.contains("aseo\tpublic_company\tlocal\tCL")));

    let bad = run(
        dir.path(),
        &[
            "--database-url",
            &db,
            "admin",
            "institution",
            "create",
            "--slug",
            "x",
            "--name",
            "X",
            "--kind",
            "city",
            "--level",
            "local",
            "--country",
            "CL",
        ],
    );
    assert_eq!(bad.status.code(), Some(2), "clap rejects an unknown kind");
    assert!(stderr(&bad).contains("expected one of: government public_company"));

    admin(&[
        "topic",
        "add",
        "--institution",
        "valpo",
        "--topic",
        "libraries",
        "--term",
        "biblioteca",
        "--term",
        "BiblioRedes",
    ]);
    assert_eq!(admin(&["topic", "list", "--institution", "valpo"]), "libraries\tBiblioRedes\nlibraries\tbiblioteca\n");

    let export = run(dir.path(), &["--database-url", &db, "export", "--what", "audit", "--format", "ndjson"]);
    assert!(export.status.success());
    let lines: Vec<serde_json::Value> =
        String::from_utf8(export.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let actions: Vec<&str> = lines.iter().map(|l| l["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "institution.create",
            "institution.create",
            "team.create",
            "account.create",
            "user.create",
            "token.create",
            "topic.term_added",
            "topic.term_added"
        ]
    );
    assert!(lines.iter().all(|l| l["actor"] == "system:cli"));
    assert!(
        !lines.iter().any(|l| l.to_string().contains("argon2") || l.to_string().contains("th_")),
        "no secret is exported"
    );

    let csv = run(dir.path(), &["--database-url", &db, "export", "--what", "audit", "--format", "csv"]);
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with("\"id\",\"at\",\"institution_id\",\"actor\",\"action\""), "{csv}");
    assert!(!csv.contains(",\"=HYPERLINK"), "formulas are neutralised");

    let weak = townhall(dir.path())
        .args(["--database-url", &db, "admin", "user", "create", "--institution", "valpo", "--email", "b@valpo.cl"])
        .args(["--name", "B", "--role", "agent", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    weak.stdin.as_ref().unwrap().write_all(b"short\n").unwrap();
    let output = weak.wait_with_output().unwrap();
    assert!(assert_one_line_error(&output).contains("at least 12 characters"));
}

#[test]
fn serve_demo_shows_a_living_system_that_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let server = Server::start(dir.path(), &db, &["--demo"]);
    assert!(
        server.stdout_lines.iter().any(|l| l.starts_with("demo data loaded: 12 institutions")),
        "{:?}",
        server.stdout_lines
    );
    let health = get(server.address, "/healthz");
    assert_eq!((health.status, health.body.as_str()), (200, r#"{"database":"ok","status":"ok"}"#));
    let page = get(server.address, "/");
    assert_eq!(page.status, 200);
    for expected in [
        "Municipalidad de Valparaíso",
        "Влада на Република Северна Македонија",
        "بلدية دبي",
        "3000 citizen posts",
        "<svg class=\"spark\"",
    ] {
        assert!(page.body.contains(expected), "overview lacks {expected:?}");
    }
    server.stop();

    let again = Server::start(dir.path(), &db, &["--demo"]);
    assert!(again.stdout_lines.iter().any(|l| l.contains("already holds data")), "{:?}", again.stdout_lines);
    let page_after = get(again.address, "/");
    // The inbox keeps working between the two starts (cases open as posts are
    // analysed), so the page is compared on what the demo loaded: posts and accounts.
    assert!(page_after.body.contains("3000 citizen posts"), "the demo is not loaded twice");
    again.stop();

    let export = run(dir.path(), &["--database-url", &db, "export", "--what", "posts"]);
    assert!(export.status.success());
    let posts: Vec<serde_json::Value> =
        String::from_utf8(export.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(posts.len(), 3000);
    assert!(posts.iter().all(|p| p["raw"].as_str().is_some_and(|raw| raw.contains("\"demo\":true"))));
    assert!(posts.iter().any(|p| p["deleted_at"].is_string()) && posts.iter().any(|p| p["version"] == 2));
}

/// The same binary on PostgreSQL, when a server is configured (always in CI).
#[test]
fn serve_runs_on_postgres() {
    let Some(url) = crate::support::postgres_database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), url.url(), &["--demo"]);
    assert!(server.stdout_lines.iter().any(|l| l.starts_with("demo data loaded")));
    assert_eq!(get(server.address, "/healthz").status, 200);
    assert!(get(server.address, "/").body.contains("3000 citizen posts"));
    server.stop();
}

#[test]
fn analyze_reads_lines_and_writes_one_json_object_each() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = townhall(dir.path())
        .args(["analyze", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = "¡Terremoto! Hay personas atrapadas en Calle Esmeralda 1234\nWhen does the library open?\n<img src=x onerror=alert(1)>\n";
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let lines: Vec<serde_json::Value> = output
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["lang"], "es");
    assert!(lines[0]["urgency"]["score"].as_f64().unwrap() >= 0.6);
    assert_eq!(lines[0]["pii"][0]["kind"], "address");
    assert_eq!(lines[1]["lang"], "en");
    assert_eq!(lines[1]["intent"], "question");
    assert!(lines[2]["sentiment"].is_null() || lines[2]["sentiment"].is_number());
}
