//! HTTP: the staff UI, public pages and (with later issues) the JSON API, Open311
//! and webhooks, in one axum router. Handlers translate between HTTP and the store
//! or services; they hold no SQL and no business rule.

mod admin_pages;
pub mod api;
pub mod auth;
pub mod chart;
mod dashboard;
pub mod i18n;
pub mod intake;
pub mod openapi;
mod pages;
mod public;
pub mod recent;
mod ui;
mod webhooks;

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use townhall_store::Db;

use crate::config::{Config, WebhooksConfig};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Webhook secrets.
    pub webhooks: WebhooksConfig,
    /// Webhook deliveries waiting to be stored together.
    pub intake: std::sync::Arc<intake::Intake>,
    /// Failed sign-ins, for rate limiting.
    pub limiter: std::sync::Arc<auth::LoginLimiter>,
    /// The overview's post counts, at most [`POST_STATS_MAX_AGE`] old.
    pub post_stats: std::sync::Arc<recent::Recent<townhall_store::PostStats>>,
    /// Whether the session cookie is marked `Secure` (HTTPS only; browsers also keep
    /// it on `http://localhost`).
    pub secure_cookies: bool,
    /// Whether account credentials may name this machine (platforms faked on
    /// 127.0.0.1 in tests); never in `serve`.
    pub loopback_endpoints: bool,
    /// Where citizens' links to their cases' public pages point
    /// (`server.public_url`, without a trailing slash); `None` sends no link.
    pub public_url: Option<String>,
}

impl AppState {
    /// The state of a server on `db` with these webhook secrets and secure cookies.
    pub fn new(db: Db, webhooks: WebhooksConfig) -> AppState {
        AppState {
            db,
            webhooks,
            intake: std::sync::Arc::default(),
            limiter: auth::limiter(),
            post_stats: std::sync::Arc::new(recent::Recent::new(POST_STATS_MAX_AGE, POST_STATS_PATIENCE)),
            secure_cookies: true,
            loopback_endpoints: false,
            public_url: None,
        }
    }

    /// The post counts, at most [`POST_STATS_MAX_AGE`] old; `None` while the first
    /// count runs.
    pub async fn post_stats(&self) -> Option<std::sync::Arc<townhall_store::PostStats>> {
        let db = self.db.clone();
        self.post_stats.get(|| async move { db.post_stats().await }).await
    }
}

/// How old the overview's post counts may be: counting every post is a scan of the
/// whole table.
pub const POST_STATS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(30);

/// How long a page waits for the first count of the posts before it says they are
/// being counted (a small database is counted well within it).
pub const POST_STATS_PATIENCE: std::time::Duration = std::time::Duration::from_millis(50);

/// No inline script or style, nothing from other origins, never framed; scripts may
/// fetch only from this server (the inbox's live list).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The whole application as a router, for `serve` and for tests.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let header = |name, value: &'static str| SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value));
    Router::new()
        .route("/", get(ui::overview))
        .route("/static/townhall.css", get(ui::stylesheet))
        .route("/static/townhall.js", get(ui::script))
        .route("/signin", get(pages::signin_form).post(pages::signin))
        .route("/signout", axum::routing::post(pages::signout))
        .route("/inbox", get(pages::inbox_page))
        .route("/dashboard", get(dashboard::dashboard))
        .route("/cases/{id}", get(pages::case_page))
        .route("/cases/{id}/reply", axum::routing::post(pages::reply_form))
        .route("/cases/{id}/note", axum::routing::post(pages::note_form))
        .route("/cases/{id}/act", axum::routing::post(pages::act_form))
        .route("/cases/{id}/refer", axum::routing::post(pages::refer_form))
        .route("/public", get(public::index))
        .route("/public/{slug}", get(public::institution))
        .route("/public/cases/{token}", get(public::case))
        .route("/healthz", get(healthz))
        .route("/webhooks/x", get(webhooks::x_crc).post(webhooks::x_event))
        .route("/webhooks/meta", get(webhooks::meta_verify).post(webhooks::meta_event))
        .merge(admin_pages::routes())
        .nest("/api/v1", api::router())
        .fallback(ui::not_found)
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(max_body_bytes))
        .layer(header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
}

/// Binds, prints the address a person should open, and serves until Ctrl-C or SIGTERM.
pub async fn serve(db: Db, config: &Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.server.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.bind))?;
    let address: SocketAddr = listener.local_addr()?;
    println!("Townhall is listening on http://{address}/");
    tracing::info!(%address, backend = ?db.backend(), "serving");
    let state = AppState {
        secure_cookies: config.server.secure_cookies,
        public_url: config.server.checked_public_url()?,
        ..AppState::new(db, config.webhooks.clone())
    };
    // The first count of the posts starts now, not with the first visitor.
    tokio::spawn({
        let state = state.clone();
        async move { state.post_stats().await }
    });
    let app = router(state, config.server.max_body_bytes).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.context("server failed")?;
    tracing::info!("stopped");
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Liveness and database reachability, for load balancers and operators.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({ "status": "ok", "database": "ok" }))).into_response(),
        Err(error) => {
            tracing::warn!(code = error.code(), %error, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({ "status": "unavailable", "database": error.code() })))
                .into_response()
        }
    }
}
