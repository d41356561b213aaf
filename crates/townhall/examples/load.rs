//! Load on a running `townhall serve` for the serve-side workloads of `bench/run`
//! (issue 7): every request over HTTP on 127.0.0.1, the way staff and platforms reach
//! it. Prints one JSON object.
//!
//! ```text
//! load inbox   BASE EMAIL PASSWORD [--agents 50] [--rate 1000] [--seconds 20]
//! load widgets BASE EMAIL PASSWORD [--users 8] [--seconds 10]
//! load surge   BASE X_CONSUMER_SECRET [--phases 1000:10,20000:10,6000:10] [--per-delivery 10]
//! ```
//!
//! * `inbox` (W5): agents list the inbox (filters vary), open a case from the list and,
//!   one request in ten, reply to it, at a fixed total rate spread over the agents.
//!   Latency is counted from when a request was due, not when it was sent, so a
//!   server that falls behind cannot hide it (no coordinated omission).
//! * `widgets` (W4): users request the pages that carry figures and charts (the
//!   dashboard, an institution's public page, the overview) one after another.
//! * `surge` (W2): signed X Account Activity deliveries of new tweets mentioning a
//!   demo account, `rate:seconds` posts per second phase after phase. Reports what was
//!   acknowledged (200: stored) and refused; how fast the acknowledged posts became
//!   visible is read from the database afterwards by `bench/run`. SIGTERM ends it
//!   early with the same report (W3's steady intake while the searches run).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::task::JoinSet;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str, default: &str| -> String {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.into())
    };
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let report = match args.first().map(String::as_str) {
        Some("inbox") => {
            let [base, email, password] = positional(&args)?;
            let token = api_token(&client, base, email, password).await?;
            inbox(
                &client,
                base,
                &token,
                option("--agents", "50").parse()?,
                option("--rate", "1000").parse()?,
                seconds(&option("--seconds", "20"))?,
            )
            .await?
        }
        Some("widgets") => {
            let [base, email, password] = positional(&args)?;
            let cookie = sign_in(&client, base, email, password).await?.0;
            widgets(&client, base, &cookie, option("--users", "8").parse()?, seconds(&option("--seconds", "10"))?)
                .await?
        }
        Some("surge") => {
            let (Some(base), Some(secret)) = (args.get(1), args.get(2)) else {
                bail!("usage: load surge BASE SECRET …")
            };
            let phases = option("--phases", "1000:10,20000:10,6000:10")
                .split(',')
                .map(|phase| {
                    let (rate, secs) = phase.split_once(':').context("a phase is RATE:SECONDS")?;
                    Ok((rate.parse::<u64>()?, secs.parse::<u64>()?))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            surge(&client, base, secret, &phases, option("--per-delivery", "10").parse()?).await?
        }
        _ => bail!("usage: load inbox|widgets|surge … (see the file's header)"),
    };
    println!("{report}");
    Ok(())
}

fn positional(args: &[String]) -> anyhow::Result<[&str; 3]> {
    match args {
        [_, base, email, password, ..] => Ok([base, email, password]),
        _ => bail!("usage: load {} BASE EMAIL PASSWORD …", args.first().map_or("", String::as_str)),
    }
}

fn seconds(text: &str) -> anyhow::Result<Duration> {
    Ok(Duration::from_secs_f64(text.parse()?))
}

/// Signs in; returns the session cookie and its CSRF token.
async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<(String, String)> {
    let response = client
        .post(format!("{base}/api/v1/session"))
        .header("content-type", "application/json")
        .body(json!({ "email": email, "password": password }).to_string())
        .send()
        .await?
        .error_for_status()
        .context("signing in")?;
    let cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ");
    let body: Value = serde_json::from_slice(&response.bytes().await?)?;
    let csrf = body["csrf_token"].as_str().context("no csrf_token in the sign-in answer")?.to_owned();
    Ok((cookie, csrf))
}

/// An API token for the user, so agents call the API as integrations do.
async fn api_token(client: &reqwest::Client, base: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let (cookie, csrf) = sign_in(client, base, email, password).await?;
    let answer = client
        .post(format!("{base}/api/v1/tokens"))
        .header(reqwest::header::COOKIE, cookie)
        .header("x-csrf-token", csrf)
        .header("content-type", "application/json")
        .body(json!({ "name": "bench load" }).to_string())
        .send()
        .await?
        .error_for_status()
        .context("creating an API token")?;
    let body: Value = serde_json::from_slice(&answer.bytes().await?)?;
    Ok(body["token"].as_str().context("no token in the answer")?.to_owned())
}

/// Latencies in milliseconds, by kind of request, and how many failed.
#[derive(Default)]
struct Timings {
    by_kind: std::collections::BTreeMap<&'static str, Vec<f64>>,
    failed: std::collections::BTreeMap<String, u64>,
}

impl Timings {
    fn merge(&mut self, other: Timings) {
        for (kind, mut times) in other.by_kind {
            self.by_kind.entry(kind).or_default().append(&mut times);
        }
        for (why, n) in other.failed {
            *self.failed.entry(why).or_default() += n;
        }
    }

    fn report(&self, seconds: f64) -> Value {
        let summary = |times: &[f64]| {
            let mut sorted = times.to_vec();
            sorted.sort_by(f64::total_cmp);
            let at =
                |q: f64| sorted.get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1))).copied();
            json!({ "n": sorted.len(), "per_second": sorted.len() as f64 / seconds,
                    "p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": sorted.last() })
        };
        let all: Vec<f64> = self.by_kind.values().flatten().copied().collect();
        let kinds: serde_json::Map<String, Value> =
            self.by_kind.iter().map(|(kind, times)| ((*kind).to_owned(), summary(times))).collect();
        json!({ "seconds": seconds, "all": summary(&all), "kinds": kinds, "failed": self.failed })
    }
}

/// The timings of every simulated user, together.
async fn gather(mut tasks: JoinSet<Timings>) -> anyhow::Result<Timings> {
    let mut timings = Timings::default();
    while let Some(user) = tasks.join_next().await {
        timings.merge(user?);
    }
    Ok(timings)
}

/// One request, timed from `due`; a failure is counted by its status.
async fn timed(
    timings: &mut Timings,
    kind: &'static str,
    due: Instant,
    request: reqwest::RequestBuilder,
) -> Option<Value> {
    let outcome = async {
        let response = request.send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        Ok::<_, reqwest::Error>((status, body))
    }
    .await;
    let elapsed = due.elapsed().as_secs_f64() * 1e3;
    match outcome {
        Ok((status, body)) if status.is_success() => {
            timings.by_kind.entry(kind).or_default().push(elapsed);
            Some(serde_json::from_slice(&body).unwrap_or(Value::Null))
        }
        Ok((status, _)) => {
            *timings.failed.entry(format!("{kind} {status}")).or_default() += 1;
            None
        }
        Err(error) => {
            *timings
                .failed
                .entry(format!("{kind} {}", if error.is_timeout() { "timeout" } else { "error" }))
                .or_default() += 1;
            None
        }
    }
}

/// W5: `agents` agents sharing `rate` requests per second for `length`.
async fn inbox(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    agents: u32,
    rate: f64,
    length: Duration,
) -> anyhow::Result<Value> {
    const FILTERS: [&str; 6] =
        ["status=open", "", "deadline=breached", "intent=complaint", "status=open&q=metro", "status=new"];
    let interval = Duration::from_secs_f64(f64::from(agents) / rate);
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for agent in 0..agents {
        let (client, base, auth) = (client.clone(), base.to_owned(), format!("Bearer {token}"));
        tasks.spawn(async move {
            let mut timings = Timings::default();
            let mut case: Option<i64> = None;
            // Agents start spread over one interval, not all at once.
            let mut due = started + interval.mul_f64(f64::from(agent) / f64::from(agents));
            let mut step = u64::from(agent);
            while due < started + length {
                tokio::time::sleep_until(due.into()).await;
                step += 1;
                match (step % 10, case) {
                    (0, Some(id)) => {
                        let body =
                            json!({ "body": format!("Gracias por avisarnos; lo revisamos (respuesta {step}).") });
                        let request = client
                            .post(format!("{base}/api/v1/cases/{id}/replies"))
                            .header("authorization", &auth)
                            .header("content-type", "application/json")
                            .body(body.to_string());
                        timed(&mut timings, "reply", due, request).await;
                    }
                    (s, Some(id)) if s % 2 == 1 => {
                        timed(
                            &mut timings,
                            "open",
                            due,
                            client.get(format!("{base}/api/v1/cases/{id}")).header("authorization", &auth),
                        )
                        .await;
                    }
                    _ => {
                        let filter = FILTERS[(step as usize / 2) % FILTERS.len()];
                        let url = format!("{base}/api/v1/cases?limit=50&{filter}");
                        if let Some(page) =
                            timed(&mut timings, "list", due, client.get(url).header("authorization", &auth)).await
                        {
                            let ids: Vec<i64> = page["items"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                // Cases an agent can still reply to.
                                .filter(|c| matches!(c["status"].as_str(), Some("new" | "open" | "pending")))
                                .filter_map(|c| c["id"].as_i64())
                                .collect();
                            if !ids.is_empty() {
                                case = Some(ids[(step as usize * 7 + agent as usize) % ids.len()]);
                            }
                        }
                    }
                }
                due += interval;
            }
            timings
        });
    }
    let mut report = gather(tasks).await?.report(length.as_secs_f64());
    report["agents"] = json!(agents);
    report["target_per_second"] = json!(rate);
    Ok(report)
}

/// W4: `users` signed-in users requesting the pages with figures, back to back.
async fn widgets(
    client: &reqwest::Client,
    base: &str,
    cookie: &str,
    users: u32,
    length: Duration,
) -> anyhow::Result<Value> {
    const PAGES: [(&str, &str); 4] = [
        ("dashboard", "/dashboard"),
        ("public institution", "/public/madrid"),
        ("public index", "/public"),
        ("overview", "/"),
    ];
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for user in 0..users {
        let (client, base, cookie) = (client.clone(), base.to_owned(), cookie.to_owned());
        tasks.spawn(async move {
            let mut timings = Timings::default();
            let mut step = user as usize;
            while started.elapsed() < length {
                let (kind, path) = PAGES[step % PAGES.len()];
                timed(
                    &mut timings,
                    kind,
                    Instant::now(),
                    client.get(format!("{base}{path}")).header("cookie", &cookie),
                )
                .await;
                step += 1;
            }
            timings
        });
    }
    let mut report = gather(tasks).await?.report(length.as_secs_f64());
    report["users"] = json!(users);
    Ok(report)
}

/// W2: signed deliveries of `per_delivery` new tweets each, phase after phase.
async fn surge(
    client: &reqwest::Client,
    base: &str,
    secret: &str,
    phases: &[(u64, u64)],
    per_delivery: u64,
) -> anyhow::Result<Value> {
    // Deliveries in flight at most: a server that cannot keep up slows the sender
    // down (as a platform's retries would) instead of piling up connections.
    const IN_FLIGHT: usize = 256;
    let run = std::process::id();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let stopped = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&stopped);
    tokio::spawn(async move {
        terminate.recv().await;
        stop.store(true, Ordering::Relaxed);
    });
    let stopping = || stopped.load(Ordering::Relaxed);
    let mut report = Vec::new();
    let mut sent_posts = 0u64;
    let (mut acknowledged, mut refused) = (0u64, std::collections::BTreeMap::<String, u64>::new());
    let started = Instant::now();
    for &(rate, secs) in phases {
        if stopping() {
            break;
        }
        let deliveries = rate * secs / per_delivery;
        let interval = Duration::from_secs_f64(per_delivery as f64 / rate as f64);
        let phase_started = Instant::now();
        let mut tasks = JoinSet::new();
        let (mut phase_acked, mut latencies) = (0u64, Vec::new());
        for n in 0..deliveries {
            let due = phase_started + interval.mul_f64(n as f64);
            // A phase lasts its seconds: what the sender could not send by then is not sent.
            if phase_started.elapsed().as_secs() >= secs || stopping() {
                break;
            }
            tokio::time::sleep_until(due.into()).await;
            while tasks.len() >= IN_FLIGHT {
                collect(tasks.join_next().await, &mut phase_acked, &mut refused, &mut latencies)?;
            }
            let body = delivery(run, sent_posts, per_delivery);
            sent_posts += per_delivery;
            let signature = format!("sha256={}", base64::engine::general_purpose::STANDARD.encode(sign(secret, &body)));
            let request = client
                .post(format!("{base}/webhooks/x"))
                .header("x-twitter-webhooks-signature", signature)
                .header("content-type", "application/json")
                .body(body);
            tasks.spawn(async move {
                let sent = Instant::now();
                let status = request.send().await.map(|r| r.status());
                (status.map_err(|e| e.to_string()), sent.elapsed().as_secs_f64() * 1e3)
            });
        }
        while let Some(done) = tasks.join_next().await {
            collect(Some(done), &mut phase_acked, &mut refused, &mut latencies)?;
        }
        let took = phase_started.elapsed().as_secs_f64();
        latencies.sort_by(f64::total_cmp);
        let p99 = latencies.get((latencies.len() as f64 * 0.99) as usize).copied();
        report.push(json!({ "target_posts_per_second": rate, "seconds": secs, "took_seconds": took,
            "posts_acknowledged": phase_acked * per_delivery, "posts_per_second": (phase_acked * per_delivery) as f64 / took,
            "ack_p99_ms": p99 }));
        acknowledged += phase_acked;
    }
    Ok(json!({ "run": run, "per_delivery": per_delivery, "posts_sent": sent_posts,
        "posts_acknowledged": acknowledged * per_delivery, "deliveries_refused": refused,
        "seconds": started.elapsed().as_secs_f64(), "phases": report }))
}

type Sent = Result<(Result<reqwest::StatusCode, String>, f64), tokio::task::JoinError>;

fn collect(
    done: Option<Sent>,
    acked: &mut u64,
    refused: &mut std::collections::BTreeMap<String, u64>,
    latencies: &mut Vec<f64>,
) -> anyhow::Result<()> {
    let Some(done) = done else { return Ok(()) };
    let (status, ms) = done?;
    match status {
        Ok(status) if status.is_success() => {
            *acked += 1;
            latencies.push(ms);
        }
        Ok(status) => *refused.entry(status.to_string()).or_default() += 1,
        Err(error) => *refused.entry(error).or_default() += 1,
    }
    Ok(())
}

/// An Account Activity delivery of `count` new tweets, ids `surge-RUN-N…`, each
/// mentioning a demo account so it is filed into that institution's inbox. The texts
/// are put together from parts so that they differ as citizens' do; the same text
/// from many accounts would rightly be taken for a spam wave.
fn delivery(run: u32, first: u64, count: u64) -> Vec<u8> {
    const MENTIONED: [&str; 4] = ["metrodesantiago", "MADRID", "MuniValpo", "MTTChile"];
    const OPENINGS: [&str; 5] = ["Buenas,", "Hola,", "Por favor:", "Urgente:", "Vecinos de"];
    const PLACES: [&str; 8] = [
        "calle Prat",
        "avenida Brasil",
        "cerro Alegre",
        "plaza Sotomayor",
        "estación Baquedano",
        "barrio Lavapiés",
        "calle Esmeralda",
        "población Los Aromos",
    ];
    const PROBLEMS: [&str; 7] = [
        "¿por qué no pasa el bus desde hace una hora?",
        "hay un árbol caído que bloquea la vereda y nadie viene a retirarlo",
        "¿cuándo vuelve el agua? llevamos todo el día sin suministro",
        "el semáforo de la esquina está apagado y casi hubo un choque",
        "¿dónde se pide el permiso para una feria vecinal el sábado?",
        "la basura no se ha retirado en toda la semana y hay ratones",
        "¿el ascensor de la estación sigue fuera de servicio? mi madre usa silla de ruedas",
    ];
    let now = chrono::Utc::now().format("%a %b %d %H:%M:%S +0000 %Y").to_string();
    let tweets: Vec<Value> = (first..first + count)
        .map(|n| {
            let i = n as usize;
            let account = MENTIONED[i % MENTIONED.len()];
            let text = format!(
                "@{account} {} {} {}: {} (número {}, {} h)",
                OPENINGS[i / 4 % OPENINGS.len()],
                PLACES[i / 3 % PLACES.len()],
                i % 997,
                PROBLEMS[i / 7 % PROBLEMS.len()],
                i % 89,
                i % 24
            );
            json!({
                "created_at": now,
                "id_str": format!("surge-{run}-{n}"),
                "text": text,
                "user": { "id_str": format!("citizen-{}", n % 5000), "screen_name": format!("vecino{}", n % 5000), "name": "Vecino" },
                "entities": { "user_mentions": [{ "screen_name": account, "id_str": "1" }], "hashtags": [], "urls": [] },
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "for_user_id": "1", "tweet_create_events": tweets })).unwrap_or_default()
}

fn sign(secret: &str, body: &[u8]) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return Vec::new() };
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}
