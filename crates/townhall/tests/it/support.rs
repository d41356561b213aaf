//! Helpers: run the real binary, start the real server, speak plain HTTP/1.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use townhall::config::WebhooksConfig;
use townhall::http::{AppState, router};
use townhall_store::{Db, DbOptions};

/// The compiled `townhall` binary, with a clean environment of our own settings.
pub fn townhall(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_townhall"));
    command.current_dir(dir).env("RUST_LOG", "warn");
    for (name, _) in std::env::vars() {
        if name.starts_with("TOWNHALL_") {
            command.env_remove(name);
        }
    }
    command
}

/// Runs the binary to completion.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    townhall(dir).args(args).output().expect("run townhall")
}

/// A fresh SQLite URL in `dir`.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("townhall.db").display())
}

/// A `townhall serve` process, stopped with SIGTERM when dropped.
pub struct Server {
    child: Child,
    pub address: SocketAddr,
    pub stdout_lines: Vec<String>,
}

impl Server {
    /// Starts `townhall serve` on a free port and waits for the line that prints its
    /// address (the server prints it once it is listening).
    pub fn start(dir: &Path, database_url: &str, extra: &[&str]) -> Server {
        Server::start_with_env(dir, database_url, extra, &[])
    }

    /// [`Server::start`] with these `TOWNHALL_*` settings in its environment.
    pub fn start_with_env(dir: &Path, database_url: &str, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let child = townhall(dir)
            .envs(env.iter().copied())
            .args(["--database-url", database_url, "serve", "--bind", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start townhall serve");
        // Owned by the guard from here on, so a failed start still reaps the process.
        let mut server = Server { child, address: SocketAddr::from(([127, 0, 0, 1], 0)), stdout_lines: Vec::new() };
        let mut reader = BufReader::new(server.child.stdout.take().expect("stdout"));
        loop {
            let mut line = String::new();
            assert!(
                reader.read_line(&mut line).expect("read stdout") > 0,
                "serve exited early: {:?}",
                server.stdout_lines
            );
            let line = line.trim_end().to_owned();
            if let Some(rest) = line.strip_prefix("Townhall is listening on http://") {
                server.address = rest.trim_end_matches('/').parse().expect("printed address");
                server.stdout_lines.push(line);
                return server;
            }
            server.stdout_lines.push(line);
        }
    }

    /// Stops the server with SIGTERM and waits for a clean exit.
    pub fn stop(mut self) {
        terminate(&self.child);
        let status = self.child.wait().expect("wait for serve");
        assert!(status.success(), "serve exited with {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn terminate(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
}

/// A response: status code, headers (lower-cased names) and body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A plain HTTP/1.1 GET; enough for pages and health checks without a client library.
/// A Chilean municipality, the institution most tests need; change a field with
/// struct update syntax where a test needs another.
pub fn municipality(slug: &str, name: &str) -> townhall_core::NewInstitution {
    townhall_core::NewInstitution {
        slug: slug.into(),
        name: name.into(),
        kind: townhall_core::InstitutionKind::Government,
        level: townhall_core::Level::Local,
        country: townhall_core::CountryCode::parse("CL").unwrap(),
        parent: None,
        jurisdiction: None,
    }
}

/// A form body, `application/x-www-form-urlencoded`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |v: &str| {
        v.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
}

/// The value of the first `name="csrf" value="…"` in a page.
pub fn csrf_field(page: &str) -> String {
    let after = page.split("name=\"csrf\" value=\"").nth(1).expect("a csrf field");
    after.split('"').next().unwrap().to_owned()
}

/// The `name=value` of the cookie `name` a response sets.
pub fn cookie(response: &Response, name: &str) -> String {
    response
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", response.headers))
}

pub fn get(address: SocketAddr, path: &str) -> Response {
    request(address, "GET", path, &[], b"")
}

/// A plain HTTP/1.1 request with extra headers and a body.
pub fn request(address: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(address).expect("connect");
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n").unwrap();
    for (name, value) in headers {
        write!(stream, "{name}: {value}\r\n").unwrap();
    }
    write!(stream, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8(raw).expect("UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect::<Vec<_>>();
    let body = if headers.iter().any(|(n, v)| n == "transfer-encoding" && v == "chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Response { status, headers, body }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// The path of a file in the crate, for fixtures.
pub fn crate_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A scratch PostgreSQL database for one test, dropped with the guard; `None` when no
/// server is configured outside CI.
pub fn postgres_database() -> Option<PgGuard> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let scratch = runtime.block_on(townhall_store::testing::scratch_postgres())?;
    Some(PgGuard { runtime, scratch: Some(scratch) })
}

/// Drops its scratch database when dropped.
pub struct PgGuard {
    runtime: tokio::runtime::Runtime,
    scratch: Option<townhall_store::testing::ScratchDatabase>,
}

impl PgGuard {
    pub fn url(&self) -> &str {
        &self.scratch.as_ref().expect("present until drop").url
    }
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        if let Some(scratch) = self.scratch.take() {
            self.runtime.block_on(scratch.drop_database());
        }
    }
}

/// The application on a free port with a fresh SQLite database.
pub struct TestApp {
    pub address: SocketAddr,
    pub db: Db,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn start() -> TestApp {
        TestApp::start_with(WebhooksConfig::default()).await
    }

    /// The application with these webhook secrets.
    pub async fn start_with(webhooks: WebhooksConfig) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("townhall.db").display());
        let db = Db::open(&DbOptions::new(url)).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = router(AppState::new(db.clone(), webhooks), 1024 * 1024);
        tokio::spawn(async move { axum::serve(listener, app).await });
        TestApp { address, db, _dir: dir }
    }

    pub async fn get(&self, path: &str) -> Response {
        let (address, path) = (self.address, path.to_owned());
        tokio::task::spawn_blocking(move || get(address, &path)).await.unwrap()
    }

    /// Any request, off the async runtime.
    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let (address, method, path, body) = (self.address, method.to_owned(), path.to_owned(), body.to_vec());
        let headers: Vec<(String, String)> = headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        tokio::task::spawn_blocking(move || {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            request(address, &method, &path, &headers, &body)
        })
        .await
        .unwrap()
    }
}
