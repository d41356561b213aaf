//! A day in the inbox, through the JSON API, on both backends. Posts arrive from a
//! fake Mastodon instance and a fake Bluesky (Jetstream and PDS) on 127.0.0.1; the
//! institution's rules route them; agents reply, and each platform receives exactly
//! one threaded reply per answer; a case is referred to the regional government,
//! whose agent resolves it; the citizen is told the outcome, asked how satisfied they
//! are, and rates it by replying; a deadline is missed and reported; and the audit
//! log holds every step.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use townhall::config::{Secret, WebhooksConfig};
use townhall::http::{AppState, router};
use townhall::listen::{self, Shutdown};
use townhall_core::{Actor, InstitutionId, Level, NewInstitution, Platform, Role, TeamId};
use townhall_store::{Db, DbOptions, NewAccount, NewUser};

use crate::support::request;

// ---- a fake Mastodon instance ------------------------------------------------------

/// A status a citizen posted, as the instance shows it.
fn citizen_status(id: &str, acct: &str, text: &str, mention: &str, in_reply_to: Option<&str>) -> Value {
    let account = json!({ "id": format!("a-{acct}"), "acct": acct, "url": format!("https://127.0.0.1/@{acct}") });
    json!({
        "id": id, "uri": format!("https://127.0.0.1/users/{acct}/statuses/{id}"),
        "url": format!("https://127.0.0.1/@{acct}/{id}"), "created_at": chrono::Utc::now().to_rfc3339(),
        "content": format!("<p>{text}</p>"), "language": "es", "visibility": "public",
        "in_reply_to_id": in_reply_to, "account": account,
        "mentions": [{ "acct": mention }], "tags": [], "media_attachments": []
    })
}

/// A status the instance created for a reply, and how it was asked for.
#[derive(Debug, Clone)]
struct Posted {
    id: String,
    token: String,
    idempotency_key: String,
    in_reply_to_id: String,
    status: String,
}

#[derive(Default)]
struct Instance {
    notifications: Vec<Value>,
    statuses: Vec<Value>,
    posted: Vec<Posted>,
}

type SharedInstance = Arc<Mutex<Instance>>;

impl Instance {
    fn mention(&mut self, status: Value) {
        let id = format!("{}", self.notifications.len() + 1);
        self.notifications.push(json!({ "id": id, "type": "mention", "created_at": status["created_at"], "account": status["account"], "status": status }));
        self.statuses.push(status);
    }
}

async fn notifications(State(state): State<SharedInstance>, Query(q): Query<Vec<(String, String)>>) -> Response {
    let instance = state.lock().unwrap();
    let after: u64 = q.iter().find(|(k, _)| k == "min_id").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut page: Vec<Value> = instance
        .notifications
        .iter()
        .filter(|n| n["id"].as_str().unwrap().parse::<u64>().unwrap() > after)
        .cloned()
        .collect();
    page.reverse();
    axum::Json(page).into_response()
}

async fn status(State(state): State<SharedInstance>, Path(id): Path<String>) -> Response {
    let instance = state.lock().unwrap();
    match instance.statuses.iter().find(|s| s["id"] == id.as_str()) {
        Some(status) => axum::Json(status.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, axum::Json(json!({ "error": "Record not found" }))).into_response(),
    }
}

async fn create_status(
    State(state): State<SharedInstance>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let mut instance = state.lock().unwrap();
    let key = header("idempotency-key");
    // Mastodon answers a repeated Idempotency-Key with the status it already created.
    if let Some(done) = instance.posted.iter().find(|p| p.idempotency_key == key && !key.is_empty()) {
        let id = done.id.clone();
        let existing = instance.statuses.iter().find(|s| s["id"] == id.as_str()).cloned();
        return axum::Json(existing).into_response();
    }
    let id = format!("{}", 9000 + instance.posted.len());
    let token = header("authorization").trim_start_matches("Bearer ").to_owned();
    let account = if token == "region-token" { "region" } else { "muni" };
    let status = json!({
        "id": id, "uri": format!("https://127.0.0.1/users/{account}/statuses/{id}"),
        "url": format!("https://127.0.0.1/@{account}/{id}"), "visibility": field("visibility"),
        "account": { "id": account, "acct": account }, "in_reply_to_id": field("in_reply_to_id"),
    });
    instance.statuses.push(status.clone());
    instance.posted.push(Posted {
        id,
        token,
        idempotency_key: key,
        in_reply_to_id: field("in_reply_to_id"),
        status: field("status"),
    });
    axum::Json(status).into_response()
}

async fn start_instance(instance: SharedInstance) -> SocketAddr {
    let app = axum::Router::new()
        .route("/api/v1/notifications", get(notifications))
        // No streaming: the listener polls, which is what this test needs to add mentions.
        .route("/api/v1/streaming/user/notification", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route("/api/v1/statuses", post(create_status))
        .route("/api/v1/statuses/{id}", get(status))
        .with_state(instance);
    serve(app).await
}

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

// ---- a fake Bluesky: Jetstream and the institution's PDS ------------------------------

const CARLA_POST: &str = "at://did:plc:carla/app.bsky.feed.post/3carla";

fn carla_event() -> String {
    json!({
        "did": "did:plc:carla", "time_us": 1_764_000_000_000_000i64, "kind": "commit",
        "commit": {
            "rev": "r1", "operation": "create", "collection": "app.bsky.feed.post", "rkey": "3carla", "cid": "bafycarla1",
            "record": {
                "$type": "app.bsky.feed.post", "createdAt": chrono::Utc::now().to_rfc3339(), "langs": ["es"],
                "text": "@muni.bsky.social ¿Dónde pago el permiso de circulación?",
                "facets": [{ "index": { "byteStart": 0, "byteEnd": 17 },
                             "features": [{ "$type": "app.bsky.richtext.facet#mention", "did": "did:plc:muni" }] }]
            }
        }
    })
    .to_string()
}

async fn start_jetstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(tcp).await else { return };
                let _ = socket.send(tokio_tungstenite::tungstenite::Message::text(carla_event())).await;
                while let Some(Ok(_)) = socket.next().await {}
            });
        }
    });
    address
}

type Records = Arc<Mutex<Vec<Value>>>;

async fn start_pds(records: Records) -> SocketAddr {
    let app = axum::Router::new()
        .route(
            "/xrpc/com.atproto.server.createSession",
            post(|axum::Json(body): axum::Json<Value>| async move {
                assert_eq!(body["password"], "app-password");
                axum::Json(json!({ "accessJwt": "jwt", "refreshJwt": "r", "did": "did:plc:muni", "handle": "muni.bsky.social" }))
            }),
        )
        .route(
            "/xrpc/com.atproto.repo.createRecord",
            post(|State(records): State<Records>, axum::Json(body): axum::Json<Value>| async move {
                let uri = format!("at://did:plc:muni/app.bsky.feed.post/{}", body["rkey"].as_str().unwrap());
                records.lock().unwrap().push(body);
                axum::Json(json!({ "uri": uri, "cid": "bafyreply" }))
            }),
        )
        .with_state(records);
    serve(app).await
}

// ---- the API, as a client sees it -----------------------------------------------------

struct Api {
    address: SocketAddr,
}

impl Api {
    async fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (address, method, path) = (self.address, method.to_owned(), format!("/api/v1{path}"));
        let auth = format!("Bearer {token}");
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let response = tokio::task::spawn_blocking(move || {
            let mut headers = vec![("Authorization", auth.as_str())];
            if !body.is_empty() {
                headers.push(("Content-Type", "application/json"));
            }
            request(address, &method, &path, &headers, body.as_bytes())
        })
        .await
        .unwrap();
        let value = if response.body.is_empty() { Value::Null } else { serde_json::from_str(&response.body).unwrap() };
        (response.status, value)
    }

    async fn ok(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(token, method, path, body).await;
        assert!((200..300).contains(&status), "{method} {path}: {status} {value}");
        value
    }

    /// Polls `path` until `check` holds, failing after 30 s.
    async fn until(&self, token: &str, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let value = self.ok(token, "GET", path, None).await;
            if check(&value) {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {value}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

// ---- the setting: two institutions, their accounts and staff ---------------------------

struct Staff {
    muni_admin: String,
    ana: String,
    luis: String,
    region_admin: String,
    rita: String,
}

async fn institution(db: &Db, slug: &str, name: &str, level: Level) -> InstitutionId {
    let new = NewInstitution { level, ..crate::support::municipality(slug, name) };
    db.create_institution(&new, &Actor::cli()).await.unwrap().id
}

async fn user(db: &Db, institution: InstitutionId, email: &str, role: Role, team: Option<TeamId>) -> String {
    let new = NewUser {
        institution_id: institution,
        email: email.into(),
        name: email.split('@').next().unwrap().into(),
        role,
        team_id: team,
        password_hash: None,
    };
    let user = db.create_user(&new, &Actor::cli()).await.unwrap();
    let (token, digest) = townhall::admin::new_token();
    db.create_api_token(&user, "test", &digest, &Actor::cli()).await.unwrap();
    token
}

async fn account(db: &Db, institution: InstitutionId, platform: Platform, handle: &str, id: Option<&str>) -> i64 {
    let new = NewAccount {
        institution_id: institution,
        platform,
        handle: handle.into(),
        display_name: handle.into(),
        external_id: id.map(str::to_owned),
        official: None,
    };
    db.create_account(&new, &Actor::cli()).await.unwrap().id.0
}

fn actions(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

async fn a_day_in_the_inbox(database_url: &str) {
    let db = Db::open(&DbOptions::new(database_url)).await.unwrap();
    let muni = institution(&db, "valparaiso", "Municipalidad de Valparaíso", Level::Local).await;
    let region = institution(&db, "region-valparaiso", "Gobierno Regional de Valparaíso", Level::Regional).await;
    let team = |institution, name: &'static str| {
        let db = db.clone();
        async move { db.create_team(institution, name, &Actor::cli()).await.unwrap().id }
    };
    let (water, transport, buses) =
        (team(muni, "Agua").await, team(muni, "Transporte").await, team(region, "Buses").await);
    let staff = Staff {
        muni_admin: user(&db, muni, "admin@muni.cl", Role::Admin, None).await,
        ana: user(&db, muni, "ana@muni.cl", Role::Agent, Some(water)).await,
        luis: user(&db, muni, "luis@muni.cl", Role::Agent, Some(transport)).await,
        region_admin: user(&db, region, "admin@region.cl", Role::Admin, None).await,
        rita: user(&db, region, "rita@region.cl", Role::Agent, Some(buses)).await,
    };
    let muni_mastodon = account(&db, muni, Platform::Mastodon, "@muni@127.0.0.1", None).await;
    let muni_bluesky = account(&db, muni, Platform::Bluesky, "muni.bsky.social", Some("did:plc:muni")).await;
    let region_mastodon = account(&db, region, Platform::Mastodon, "@region@127.0.0.1", None).await;

    // The platforms, with two mentions waiting on Mastodon and one on Bluesky.
    let instance: SharedInstance = Arc::default();
    {
        let mut instance = instance.lock().unwrap();
        instance.mention(citizen_status("101", "vecina", "@muni ¿Cuándo vuelve el agua a Cerro Alegre?", "muni", None));
        instance.mention(citizen_status(
            "102",
            "pedro",
            "@muni La micro 612 no pasa hace una hora, ¿qué pasa?",
            "muni",
            None,
        ));
    }
    let mastodon = start_instance(instance.clone()).await;
    let jetstream = start_jetstream().await;
    let records_seen: Records = Arc::default();
    let pds = start_pds(records_seen.clone()).await;

    // Townhall: the API, the analysis and outbox workers, and both listeners.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = Api { address: listener.local_addr().unwrap() };
    let app =
        router(AppState { loopback_endpoints: true, ..AppState::new(db.clone(), WebhooksConfig::default()) }, 1 << 20);
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The institutions configure their inbox through the API.
    let admin = &staff.muni_admin;
    let rule = |name: &str, position: i32, words: &[&str], team: TeamId, tag: &str| {
        json!({
            "name": name, "position": position,
            "conditions": [{ "field": "keywords", "any_of": words }],
            "actions": [{ "action": "assign_team", "team": team }, { "action": "tag", "tag": tag }]
        })
    };
    api.ok(admin, "POST", "/rules", Some(rule("Agua", 1, &["agua"], water, "agua"))).await;
    api.ok(admin, "POST", "/rules", Some(rule("Micros", 2, &["micro", "bus"], transport, "transporte"))).await;
    let policies = json!([
        { "priority": "normal", "first_response_secs": 3600, "resolution_secs": 86400 },
        // Bluesky's first-response target is one second: it will be missed.
        { "priority": "normal", "platform": "bluesky", "first_response_secs": 1, "resolution_secs": 86400 },
    ]);
    api.ok(admin, "PUT", "/deadline-policies", Some(policies)).await;
    let always = json!({ "mon": "00:00-24:00", "tue": "00:00-24:00", "wed": "00:00-24:00", "thu": "00:00-24:00",
                         "fri": "00:00-24:00", "sat": "00:00-24:00", "sun": "00:00-24:00" });
    let settings =
        json!({ "calendar": { "timezone": "America/Santiago", "hours": always }, "satisfaction_delay_secs": 0 });
    api.ok(admin, "PUT", "/inbox-settings", Some(settings.clone())).await;
    api.ok(&staff.region_admin, "PUT", "/inbox-settings", Some(settings)).await;
    let endpoint = format!("http://{mastodon}");
    let credentials = |secret: &str, identifier: &str, endpoint: &str| json!({ "endpoint": endpoint, "identifier": identifier, "secret": secret });
    let path = |id: i64| format!("/accounts/{id}/credentials");
    api.ok(admin, "PUT", &path(muni_mastodon), Some(credentials("muni-token", "muni", &endpoint))).await;
    api.ok(
        admin,
        "PUT",
        &path(muni_bluesky),
        Some(credentials("app-password", "muni.bsky.social", &format!("http://{pds}"))),
    )
    .await;
    let (status, _) = api.call(admin, "PUT", &path(region_mastodon), Some(credentials("x", "region", &endpoint))).await;
    assert_eq!(status, 404, "an admin sets only their own institution's accounts");
    api.ok(&staff.region_admin, "PUT", &path(region_mastodon), Some(credentials("region-token", "region", &endpoint)))
        .await;

    let (stop, shutdown) = Shutdown::new();
    let mut tasks = vec![
        tokio::spawn(townhall::understand::run(db.clone(), shutdown.clone())),
        tokio::spawn(townhall::outbox::run(db.clone(), townhall::deliver::loopback_client(), shutdown.clone())),
    ];
    let options = listen::mastodon::Options {
        instance: endpoint.clone(),
        token: Secret::new("muni-token"),
        poll_interval: Duration::from_millis(200),
    };
    let (db_m, shutdown_m) = (db.clone(), shutdown.clone());
    tasks.push(tokio::spawn(async move { listen::mastodon::run(db_m, options, shutdown_m).await.unwrap() }));
    let options = listen::bluesky::Options { endpoint: format!("ws://{jetstream}/subscribe"), keywords: Vec::new() };
    let (db_b, shutdown_b) = (db.clone(), shutdown.clone());
    tasks.push(tokio::spawn(async move { listen::bluesky::run(db_b, options, shutdown_b).await.unwrap() }));

    // 1. The three posts become three routed cases.
    let inbox = api.until(admin, "/cases", "three cases", |page| page["items"].as_array().unwrap().len() == 3).await;
    let find = |needle: &str| {
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["subject"].as_str().unwrap().contains(needle))
            .unwrap()
            .clone()
    };
    let (water_case, micro_case, permit_case) = (find("agua"), find("micro"), find("permiso"));
    assert_eq!((water_case["team_id"].as_i64(), water_case["tags"].clone()), (Some(water.0), json!(["agua"])));
    assert_eq!(
        (micro_case["team_id"].as_i64(), micro_case["tags"].clone()),
        (Some(transport.0), json!(["transporte"]))
    );
    assert_eq!(permit_case["team_id"], Value::Null, "no rule matches the permit question");
    let (ana_id, luis_id) = {
        let users = api.ok(admin, "GET", "/users", None).await;
        let id = |email: &str| users.as_array().unwrap().iter().find(|u| u["email"] == email).unwrap()["id"].as_i64();
        (id("ana@muni.cl"), id("luis@muni.cl"))
    };
    assert_eq!(water_case["assignee"].as_i64(), ana_id, "the only agent of the water team gets it");
    assert_eq!(micro_case["assignee"].as_i64(), luis_id);
    assert_eq!(permit_case["platform"], "bluesky");
    let id = |case: &Value| case["id"].as_i64().unwrap();
    let filtered = api.ok(admin, "GET", "/cases?platform=bluesky&intent=question", None).await;
    assert_eq!(filtered["items"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), [id(&permit_case)]);

    // 2. The permit question misses its one-second first-response target.
    let breaches = api
        .until(admin, "/breaches", "a breach", |b| {
            b["items"].as_array().unwrap().iter().any(|i| i["case_id"].as_i64() == Some(id(&permit_case)))
        })
        .await;
    assert_eq!(breaches["counts"]["first_response"], 1);
    let late = api.ok(admin, "GET", "/cases?deadline=breached", None).await;
    assert_eq!(late["items"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), [id(&permit_case)]);

    // 3. Ana answers the water question; a retried request stores one reply.
    let answer = json!({ "body": "Hola, el suministro vuelve hoy a las 18:00.", "idempotency_key": "water-1" });
    let water_path = format!("/cases/{}", id(&water_case));
    let first = api.ok(&staff.ana, "POST", &format!("{water_path}/replies"), Some(answer.clone())).await;
    let again = api.ok(&staff.ana, "POST", &format!("{water_path}/replies"), Some(answer)).await;
    assert_eq!(first["id"], again["id"]);
    // The case and its replies are read one after the other: wait for both.
    let detail = api
        .until(&staff.ana, &water_path, "the answer sent", |d| {
            d["replies"][0]["status"] == "sent" && d["case"]["status"] == "pending"
        })
        .await;
    assert_eq!(detail["case"]["status"], "pending");
    assert!(detail["case"]["first_response_at"].is_string());
    // Luis, answering the same case a moment later, is warned.
    let (status, collision) = api
        .call(&staff.luis, "POST", &format!("{water_path}/replies"), Some(json!({ "body": "Vuelve mañana." })))
        .await;
    assert_eq!((status, collision["error"]["code"].as_str()), (409, Some("reply.collision")), "{collision}");

    // 4. Ana answers on Bluesky.
    let permit_path = format!("/cases/{}", id(&permit_case));
    let body = json!({ "body": "Se paga en línea en el portal municipal o en la Tesorería." });
    api.ok(&staff.ana, "POST", &format!("{permit_path}/replies"), Some(body)).await;
    api.until(&staff.ana, &permit_path, "the Bluesky answer sent", |d| d["replies"][0]["status"] == "sent").await;

    // 5. Luis answers the bus complaint, then refers it to the region, which runs the buses.
    let micro_path = format!("/cases/{}", id(&micro_case));
    let body = json!({ "body": "Lo revisamos con el Gobierno Regional." });
    api.ok(&staff.luis, "POST", &format!("{micro_path}/replies"), Some(body)).await;
    api.until(&staff.luis, &micro_path, "the bus answer sent", |d| d["replies"][0]["status"] == "sent").await;
    let referral = json!({ "to": region.0, "reason": "El transporte público lo fiscaliza el Gobierno Regional" });
    let referred = api.ok(&staff.luis, "POST", &format!("{micro_path}/referrals"), Some(referral)).await;
    assert_eq!((referred["institution_id"].as_i64(), referred["status"].as_str()), (Some(region.0), Some("new")));
    let seen_by_muni = api.ok(&staff.luis, "GET", &micro_path, None).await;
    assert_eq!(seen_by_muni["access"], "referrer");
    let (status, _) =
        api.call(&staff.luis, "POST", &format!("{micro_path}/actions"), Some(json!({ "action": "open" }))).await;
    assert_eq!(status, 403, "the referring institution reads, and acts no more");
    let away = api.ok(admin, "GET", "/cases?referred=true", None).await;
    assert_eq!(away["items"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), [id(&micro_case)]);

    // 6. The region's agent sees the whole history and resolves it.
    let region_inbox = api.ok(&staff.rita, "GET", "/cases", None).await;
    assert_eq!(region_inbox["items"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), [id(&micro_case)]);
    let history = api.ok(&staff.rita, "GET", &micro_path, None).await;
    assert_eq!((history["access"].as_str(), history["posts"].as_array().unwrap().len()), (Some("owner"), 1));
    assert_eq!(history["referrals"][0]["reason"], "El transporte público lo fiscaliza el Gobierno Regional");
    assert_eq!(history["replies"][0]["body"], "Lo revisamos con el Gobierno Regional.");
    let rita = api.ok(&staff.rita, "GET", "/me", None).await["user"]["id"].clone();
    let assign = json!({ "action": "assign", "team": buses.0, "assignee": rita });
    api.ok(&staff.rita, "POST", &format!("{micro_path}/actions"), Some(assign)).await;
    let outcome = "La micro 612 vuelve a pasar cada 10 minutos desde hoy.";
    let resolve = json!({ "action": "resolve", "outcome": outcome });
    let resolved = api.ok(&staff.rita, "POST", &format!("{micro_path}/actions"), Some(resolve)).await;
    assert_eq!(resolved["status"], "resolved");

    // 7. The citizen is told the outcome and asked how satisfied they are; they answer 4.
    let asked = api
        .until(&staff.rita, &micro_path, "outcome and question sent", |d| {
            d["replies"].as_array().unwrap().iter().filter(|r| r["status"] == "sent").count() == 4
        })
        .await;
    let question = asked["replies"].as_array().unwrap().iter().find(|r| r["kind"] == "satisfaction").unwrap().clone();
    let question_id = question["external_id"].as_str().unwrap().to_owned();
    {
        // Someone else answers first: only the citizen whose case it is rates it.
        let mut instance = instance.lock().unwrap();
        instance.mention(citizen_status("103", "troll", "@region 1", "region", Some(&question_id)));
        instance.mention(citizen_status("104", "pedro", "@region 4", "region", Some(&question_id)));
    }
    let rated = api.until(&staff.rita, &micro_path, "the rating", |d| !d["rating"].is_null()).await;
    assert_eq!(rated["rating"]["score"], 4);
    assert_eq!(rated["case"]["status"], "resolved", "a rating does not reopen the case");

    // The region has no Bluesky account: referred a Bluesky case, its agent cannot
    // answer from the municipality's account.
    let referral = json!({ "to": region.0, "reason": "Los permisos de circulación los emite la región" });
    api.ok(&staff.ana, "POST", &format!("{permit_path}/referrals"), Some(referral)).await;
    let (status, refused) =
        api.call(&staff.rita, "POST", &format!("{permit_path}/replies"), Some(json!({ "body": "Hola" }))).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (422, Some("reply.no_account")), "{refused}");

    // What the platforms received: one threaded status per message, never twice.
    let posted = instance.lock().unwrap().posted.clone();
    let to = |parent: &str| posted.iter().filter(|p| p.in_reply_to_id == parent).collect::<Vec<_>>();
    let water_replies = to("101");
    assert_eq!(water_replies.len(), 1, "{posted:?}");
    assert_eq!(water_replies[0].token, "muni-token");
    assert!(water_replies[0].status.starts_with("@vecina "), "{:?}", water_replies[0].status);
    assert!(!water_replies[0].idempotency_key.is_empty());
    let bus = to("102");
    let bodies: Vec<(&str, &str)> = bus.iter().map(|p| (p.token.as_str(), p.status.as_str())).collect();
    assert_eq!(bus.len(), 4, "answer, referral notice, outcome, satisfaction question: {bodies:?}");
    assert!(bodies[0] == ("muni-token", "@pedro Lo revisamos con el Gobierno Regional."), "{bodies:?}");
    assert!(bodies[1].0 == "muni-token" && bodies[1].1.contains("Gobierno Regional de Valparaíso"), "{bodies:?}");
    assert!(bodies[2].0 == "region-token" && bodies[2].1.contains(outcome), "the region tells the outcome: {bodies:?}");
    assert!(bodies[3].0 == "region-token" && bodies[3].1.contains("del 1"), "{bodies:?}");
    let mut keys: Vec<&str> = posted.iter().map(|p| p.idempotency_key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), posted.len(), "every message has its own key");
    let records = api
        .until(admin, &permit_path, "the Bluesky referral notice", |d| {
            d["replies"].as_array().unwrap().iter().all(|r| r["status"] == "sent")
        })
        .await;
    assert_eq!(records["replies"].as_array().unwrap().len(), 2, "the answer and the referral notice");
    let records = records_seen.lock().unwrap().clone();
    assert_eq!(records.len(), 2, "one Bluesky answer and one referral notice: {records:?}");
    assert_eq!(records[0]["record"]["reply"]["parent"], json!({ "uri": CARLA_POST, "cid": "bafycarla1" }));
    assert_eq!(records[0]["record"]["reply"]["root"], json!({ "uri": CARLA_POST, "cid": "bafycarla1" }));

    // 8. The audit log holds every step, each in the log of the institution that took it.
    let muni_log = actions(&api.ok(admin, "GET", "/audit?limit=1000", None).await);
    for action in [
        "rule.create",
        "deadline_policies.set",
        "inbox_settings.set",
        "account.credentials_set",
        "case.create",
        "case.deadline_breached",
        "reply.queue",
        "reply.sent",
        "case.respond",
        "case.refer",
    ] {
        assert!(muni_log.iter().any(|a| a == action), "{action} missing from {muni_log:?}");
    }
    let region_log = actions(&api.ok(&staff.region_admin, "GET", "/audit?limit=1000", None).await);
    for action in
        ["inbox_settings.set", "account.credentials_set", "case.assign", "case.resolve", "reply.sent", "case.rated"]
    {
        assert!(region_log.iter().any(|a| a == action), "{action} missing from {region_log:?}");
    }
    let trail: Vec<&str> = rated["audit"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(trail, ["case.create", "case.respond", "case.refer", "case.assign", "case.resolve", "case.rated"]);
    let everything = format!("{muni_log:?}{}", api.ok(admin, "GET", "/audit?limit=1000", None).await);
    assert!(!everything.contains("muni-token") && !everything.contains("app-password"), "no secret in the audit log");
    let (status, _) = api.call(&staff.ana, "GET", "/audit", None).await;
    assert_eq!(status, 403, "agents do not read the audit log");

    let _ = stop.send(true);
    for task in tasks {
        task.await.unwrap();
    }
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_in_the_inbox_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_day_in_the_inbox(&format!("sqlite://{}", dir.path().join("townhall.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_in_the_inbox_on_postgres() {
    let Some(scratch) = townhall_store::testing::scratch_postgres().await else { return };
    a_day_in_the_inbox(&scratch.url).await;
    scratch.drop_database().await;
}

/// A fake Mastodon that refuses replies until told otherwise.
async fn refusing(
    State(state): State<(SharedInstance, Arc<Mutex<bool>>)>,
    headers: HeaderMap,
    form: axum::Form<std::collections::HashMap<String, String>>,
) -> Response {
    if *state.1.lock().unwrap() {
        return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({ "error": "Validation failed: Text too long" })))
            .into_response();
    }
    create_status(State(state.0), headers, form).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledgements_canned_answers_approvals_notes_and_failed_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&DbOptions::new(format!("sqlite://{}", dir.path().join("t.db").display()))).await.unwrap();
    let muni = institution(&db, "valparaiso", "Municipalidad de Valparaíso", Level::Local).await;
    let water = db.create_team(muni, "Agua", &Actor::cli()).await.unwrap().id;
    let admin = user(&db, muni, "admin@muni.cl", Role::Admin, None).await;
    let lead = user(&db, muni, "lead@muni.cl", Role::Lead, Some(water)).await;
    let ana = user(&db, muni, "ana@muni.cl", Role::Agent, Some(water)).await;
    let account = account(&db, muni, Platform::Mastodon, "@muni@127.0.0.1", None).await;
    let instance: SharedInstance = Arc::default();
    instance.lock().unwrap().mention(citizen_status(
        "201",
        "vecina",
        "@muni ¿Hay corte de agua en Playa Ancha?",
        "muni",
        None,
    ));
    instance.lock().unwrap().mention(citizen_status("202", "vecina", "@muni ¿Y mañana también?", "muni", Some("201")));
    let refuse = Arc::new(Mutex::new(true));
    let app = axum::Router::new()
        .route("/api/v1/notifications", get(notifications).with_state(instance.clone()))
        .route("/api/v1/streaming/user/notification", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route("/api/v1/statuses", post(refusing).with_state((instance.clone(), refuse.clone())))
        .route("/api/v1/statuses/{id}", get(status).with_state(instance.clone()));
    let mastodon = serve(app).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = Api { address: listener.local_addr().unwrap() };
    let app =
        router(AppState { loopback_endpoints: true, ..AppState::new(db.clone(), WebhooksConfig::default()) }, 1 << 20);
    tokio::spawn(async move { axum::serve(listener, app).await });

    // A canned acknowledgement, a rule that sends it, and agents' replies held for approval.
    let canned = json!({ "name": "recibido", "lang": "es", "body": "Hola {{citizen}}, recibimos su mensaje (caso {{case}}) en {{institution}}." });
    let canned = api.ok(&admin, "POST", "/canned-answers", Some(canned)).await;
    let (status, refused) = api
        .call(&admin, "POST", "/canned-answers", Some(json!({ "name": "x", "lang": "es", "body": "Hola {{nadie}}" })))
        .await;
    assert_eq!((status, refused["error"]["code"].as_str()), (422, Some("canned.unknown_variable")));
    let rule = json!({ "name": "Agua", "position": 1, "conditions": [{ "field": "keywords", "any_of": ["agua"] }],
                       "actions": [{ "action": "assign_team", "team": water }, { "action": "acknowledge", "canned_answer": canned["id"] }] });
    api.ok(&admin, "POST", "/rules", Some(rule)).await;
    let (status, refused) =
        api.call(&admin, "POST", "/rules", Some(json!({ "name": "", "position": 1, "actions": [] }))).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (422, Some("rule.invalid_name")));
    api.ok(
        &admin,
        "PUT",
        "/inbox-settings",
        Some(json!({ "approval_roles": ["agent"], "satisfaction_delay_secs": null })),
    )
    .await;
    let credentials = json!({ "endpoint": format!("http://{mastodon}"), "identifier": "muni", "secret": "muni-token" });
    api.ok(&admin, "PUT", &format!("/accounts/{account}/credentials"), Some(credentials)).await;

    let (stop, shutdown) = Shutdown::new();
    let options = listen::mastodon::Options {
        instance: format!("http://{mastodon}"),
        token: Secret::new("muni-token"),
        poll_interval: Duration::from_millis(200),
    };
    let tasks = vec![
        tokio::spawn(townhall::understand::run(db.clone(), shutdown.clone())),
        tokio::spawn(townhall::outbox::run(db.clone(), townhall::deliver::loopback_client(), shutdown.clone())),
        tokio::spawn({
            let (db, shutdown) = (db.clone(), shutdown.clone());
            async move { listen::mastodon::run(db, options, shutdown).await.unwrap() }
        }),
    ];

    // Both posts of the conversation make one case, acknowledged by the rule; the
    // platform refuses the acknowledgement, and the failure is there for an agent.
    let page = api.until(&ana, "/cases", "the case", |p| p["items"].as_array().unwrap().len() == 1).await;
    let case = page["items"][0]["id"].as_i64().unwrap();
    let path = format!("/cases/{case}");
    let failed = api
        .until(&ana, &path, "the refused acknowledgement", |d| {
            d["replies"][0]["status"] == "failed" && d["posts"].as_array().unwrap().len() == 2
        })
        .await;
    let ack = &failed["replies"][0];
    assert_eq!((ack["kind"].as_str(), ack["error_code"].as_str()), (Some("acknowledgement"), Some("deliver.rejected")));
    assert_eq!(ack["body"], format!("Hola vecina, recibimos su mensaje (caso {case}) en Municipalidad de Valparaíso."));
    assert!(ack["error"].as_str().unwrap().contains("Text too long"), "{ack}");
    *refuse.lock().unwrap() = false;
    api.ok(&ana, "POST", &format!("/replies/{}/retry", ack["id"]), None).await;
    api.until(&ana, &path, "the acknowledgement sent", |d| d["replies"][0]["status"] == "sent").await;
    assert_eq!(failed["case"]["status"], "new", "an acknowledgement is not an answer");

    // An agent's canned reply waits for the lead's approval.
    let held = api.ok(&ana, "POST", &format!("{path}/replies"), Some(json!({ "canned_answer": canned["id"] }))).await;
    assert_eq!(held["status"], "awaiting_approval");
    let (status, _) = api.call(&ana, "POST", &format!("/replies/{}/approve", held["id"]), None).await;
    assert_eq!(status, 403, "agents do not approve");
    api.ok(&lead, "POST", &format!("/replies/{}/approve", held["id"]), None).await;
    let sent = api
        .until(&ana, &path, "the approved reply sent", |d| {
            d["replies"][1]["status"] == "sent" && d["case"]["status"] == "pending"
        })
        .await;
    assert!(sent["case"]["first_response_at"].is_string());
    assert_eq!(instance.lock().unwrap().posted.len(), 2, "the refused attempt posted nothing");

    // Notes mention colleagues; closing an answered case needs no reason, reopening works.
    let note = api.ok(&ana, "POST", &format!("{path}/notes"), Some(json!({ "body": "@lead ¿lo vemos mañana?" }))).await;
    let lead_id = api.ok(&lead, "GET", "/me", None).await["user"]["id"].clone();
    assert_eq!(note["mentions"], json!([lead_id]));
    let huge = "x".repeat(2_001);
    let (status, error) =
        api.call(&ana, "POST", &format!("{path}/actions"), Some(json!({ "action": "resolve", "outcome": huge }))).await;
    assert_eq!((status, error["error"]["code"].as_str()), (422, Some("case.too_long")), "{error}");
    let (status, error) =
        api.call(&ana, "POST", &format!("{path}/actions"), Some(json!({ "action": "resolve", "outcome": " " }))).await;
    assert_eq!((status, error["error"]["code"].as_str()), (422, Some("case.outcome_required")));
    api.ok(&ana, "POST", &format!("{path}/actions"), Some(json!({ "action": "close", "reason": null }))).await;
    let reopened = api.ok(&ana, "POST", &format!("{path}/actions"), Some(json!({ "action": "reopen" }))).await;
    assert_eq!(reopened["status"], "open");

    // Split the follow-up question into its own case, then merge it back.
    let posts = api.ok(&ana, "GET", &path, None).await["posts"].clone();
    let second = posts[1]["id"].clone();
    let split = api.ok(&ana, "POST", &format!("{path}/split"), Some(json!({ "post_ids": [second] }))).await;
    let merged = api.ok(&ana, "POST", &format!("{path}/merge"), Some(json!({ "from": split["id"] }))).await;
    assert_eq!(merged["id"].as_i64(), Some(case));
    let closed = api.ok(&ana, "GET", &format!("/cases/{}", split["id"]), None).await;
    assert_eq!(
        (closed["case"]["status"].as_str(), closed["case"]["close_reason"].as_str()),
        (Some("closed"), Some("duplicate"))
    );
    assert_eq!(api.ok(&ana, "GET", &path, None).await["posts"].as_array().unwrap().len(), 2);

    let _ = stop.send(true);
    for task in tasks {
        task.await.unwrap();
    }
}

/// The analysis of a Spanish question that needs an answer.
fn question() -> townhall_core::Tags {
    townhall_core::Tags {
        analyzer_version: 1,
        lang: Some("es".into()),
        sentiment: None,
        intent: "question".into(),
        topics: Vec::new(),
        urgency: 0.0,
        spam: 0.0,
        abuse: 0.0,
        pii: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_stored_long_ago_are_history_and_open_no_case() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&DbOptions::new(format!("sqlite://{}", dir.path().join("t.db").display()))).await.unwrap();
    let muni = institution(&db, "valparaiso", "Municipalidad de Valparaíso", Level::Local).await;
    let account = account(&db, muni, Platform::Mastodon, "@muni@social.example", None).await;
    let new = townhall_core::NewPost {
        platform: Platform::Mastodon,
        external_id: "https://social.example/statuses/1".into(),
        account_id: Some(townhall_core::AccountId(account)),
        author: None,
        text: "¿Cuándo vuelve el agua?".into(),
        lang_hint: Some("es".into()),
        created_at: chrono::Utc::now(),
        edited_at: None,
        reply_to: None,
        conversation: None,
        metrics: Default::default(),
        entities: Default::default(),
        raw: br#"{"id":"1"}"#.to_vec(),
    };
    let id = db.ingest_post(&new).await.unwrap().post_id();
    let tags = question();
    let mut post = db.post(id).await.unwrap().unwrap();
    // Re-analysed after an upgrade, a post from last week is not news.
    post.received_at -= chrono::Duration::days(10);
    let old = townhall::inbox::Arrived { post: post.clone(), tags: tags.clone() };
    assert_eq!(townhall::inbox::file_posts(&db, &[old]).await.unwrap(), townhall::inbox::Filed::default());
    assert!(db.cases(muni, None, 10).await.unwrap().is_empty());
    post.received_at = chrono::Utc::now();
    let fresh = townhall::inbox::Arrived { post, tags };
    assert_eq!(townhall::inbox::file_posts(&db, &[fresh]).await.unwrap().opened, 1);
}

/// One batch of the analysis worker: a thread begun and continued within it is one
/// case, the team's agents share its new cases by load, and each new case is
/// acknowledged once, naming its own number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_files_threads_shares_the_team_and_acknowledges_each_case() {
    use townhall::inbox::{Arrived, Filed, file_posts};
    use townhall_core::canned::CannedAnswer;
    use townhall_core::routing::{Rule, RuleAction};
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&DbOptions::new(format!("sqlite://{}", dir.path().join("t.db").display()))).await.unwrap();
    let muni = institution(&db, "valparaiso", "Municipalidad de Valparaíso", Level::Local).await;
    let water = db.create_team(muni, "Agua", &Actor::cli()).await.unwrap().id;
    user(&db, muni, "ana@muni.cl", Role::Agent, Some(water)).await;
    user(&db, muni, "beto@muni.cl", Role::Agent, Some(water)).await;
    let account = townhall_core::AccountId(account(&db, muni, Platform::X, "muni", Some("99")).await);
    let answer = CannedAnswer { id: 0, name: "recibido".into(), lang: "es".into(), body: "Caso {{case}}.".into() };
    let answer = db.create_canned_answer(muni, &answer, &Actor::cli()).await.unwrap();
    let rule = Rule {
        id: 0,
        name: "Todo al agua".into(),
        position: 1,
        enabled: true,
        conditions: Vec::new(),
        actions: vec![RuleAction::AssignTeam { team: water }, RuleAction::Acknowledge { canned_answer: answer.id }],
        stop: false,
    };
    db.save_rule(muni, &rule, &Actor::cli()).await.unwrap();
    let start = chrono::Utc::now() - chrono::Duration::minutes(10);
    let mut arrived = Vec::new();
    // Three questions; the first is continued by its author, the reply listed first.
    for (n, reply_to) in [(4, Some("1")), (1, None), (2, None), (3, None)] {
        let new = townhall_core::NewPost {
            platform: Platform::X,
            external_id: n.to_string(),
            account_id: Some(account),
            author: Some(townhall_core::NewContact {
                external_id: format!("citizen-{}", n.min(3)),
                handle: format!("vecino{}", n.min(3)),
                display_name: None,
            }),
            text: format!("¿Cuándo vuelve el agua? ({n})"),
            lang_hint: Some("es".into()),
            created_at: start + chrono::Duration::minutes(n),
            edited_at: None,
            reply_to: reply_to.map(str::to_owned),
            conversation: Some(reply_to.unwrap_or(&n.to_string()).to_owned()),
            metrics: Default::default(),
            entities: Default::default(),
            raw: b"{}".to_vec(),
        };
        let id = db.ingest_post(&new).await.unwrap().post_id();
        arrived.push(Arrived { post: db.post(id).await.unwrap().unwrap(), tags: question() });
    }
    assert_eq!(file_posts(&db, &arrived).await.unwrap(), Filed { opened: 3, joined: 1, rated: 0 });
    assert_eq!(file_posts(&db, &arrived).await.unwrap(), Filed::default(), "filed once");

    let mut cases = db.cases(muni, None, 10).await.unwrap();
    cases.sort_by_key(|c| c.id);
    let posts: Vec<usize> = {
        let mut counts = Vec::new();
        for case in &cases {
            counts.push(db.case_posts(case.id, muni).await.unwrap().len());
        }
        counts
    };
    assert_eq!(posts, [2, 1, 1], "the reply joined its question's case");
    let mut assignees: Vec<_> = cases.iter().map(|c| c.assignee.unwrap()).collect();
    assert_ne!(assignees[0], assignees[1], "the second case goes to the agent without one");
    assignees.sort();
    assignees.dedup();
    assert_eq!(assignees.len(), 2);
    for case in &cases {
        let replies = db.replies(case.id).await.unwrap();
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].body, format!("Caso {}.", case.id));
    }
}
