//! Who is asking: staff sign in with a password (argon2id, rate-limited) and get a
//! session cookie plus a CSRF token, or call the API with a bearer token. The
//! [`Staff`] extractor resolves either to the user, and refuses a state-changing
//! request made with the cookie alone (cross-site) unless it carries the CSRF token.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::{PasswordHash, PasswordVerifier};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use townhall_core::User;

use super::AppState;
use super::api::ApiError;
use crate::admin::token_digest;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "townhall_session";
/// The header that carries the CSRF token of a cookie session.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts.
const SESSION_HOURS: i64 = 12;
/// Failed sign-ins allowed per e-mail, and per client address, in one window.
const MAX_FAILURES_PER_EMAIL: u32 = 5;
const MAX_FAILURES_PER_ADDRESS: u32 = 20;
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The signed-in staff member a request acts for.
#[derive(Debug, Clone)]
pub struct Staff(pub User);

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Staff, ApiError> {
        if let Some(token) = bearer(&parts.headers) {
            let user = state.db.user_by_token(&token_digest(token)).await.map_err(ApiError::from)?;
            return user.filter(|u| u.active).map(Staff).ok_or_else(ApiError::unauthenticated);
        }
        let Some((user, csrf)) = session(state, &parts.headers).await? else { return Err(ApiError::unauthenticated()) };
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let given = parts.headers.get(CSRF_HEADER).map(HeaderValue::as_bytes).unwrap_or_default();
            if !csrf_matches(given, &csrf) {
                return Err(ApiError::new(StatusCode::FORBIDDEN, "auth.csrf", "missing or wrong CSRF token"));
            }
        }
        Ok(Staff(user))
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// The value of cookie `name` in the request, if sent.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Failed sign-ins per key in a sliding window, in this process.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    fn blocked(&self, key: &str, max: u32) -> bool {
        let failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        failures.get(key).is_some_and(|(count, since)| since.elapsed() < FAILURE_WINDOW && *count >= max)
    }

    fn fail(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if failures.len() > 100_000 {
            failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
        }
        let entry = failures.entry(key.to_owned()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= FAILURE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    fn clear(&self, key: &str) {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key);
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    email: String,
    password: String,
}

/// A hash to verify against when the e-mail is unknown, so that an unknown user
/// takes as long to refuse as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| crate::admin::hash_password("decoy password that matches nothing").unwrap_or_default())
}

/// `POST /api/v1/session`: signs in; sets the session cookie and returns the user and
/// the CSRF token state-changing requests must carry.
pub async fn sign_in(State(state): State<AppState>, request: Request) -> Response {
    let address = client_address(request.extensions());
    // JSON only: a cross-site form cannot send it, so nobody is signed in unawares.
    let json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if !json {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "request.invalid",
            "send Content-Type: application/json",
        )
        .into_response();
    }
    let body = match axum::body::to_bytes(request.into_body(), 16 * 1024).await {
        Ok(body) => body,
        Err(_) => {
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large", "sign-in body too large")
                .into_response();
        }
    };
    let Ok(form) = serde_json::from_slice::<SignIn>(&body) else {
        return ApiError::new(StatusCode::BAD_REQUEST, "request.invalid", "expected {\"email\", \"password\"}")
            .into_response();
    };
    let session = match authenticate(&state, &form.email, form.password, &address).await {
        Ok(session) => session,
        Err(error) => return error.into_response(),
    };
    let (user, csrf) = (session.user.clone(), session.csrf.clone());
    let mut response = (StatusCode::OK, axum::Json(json!({ "user": user, "csrf_token": csrf }))).into_response();
    response.headers_mut().insert(header::SET_COOKIE, session.cookie);
    response
}

/// A session just opened: the user, the cookie to set and its CSRF token.
pub struct NewSession {
    /// Who signed in.
    pub user: User,
    /// `Set-Cookie` value of the session cookie.
    pub cookie: HeaderValue,
    /// The token state-changing requests of this session must carry.
    pub csrf: String,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession").field("user", &self.user.id).finish_non_exhaustive()
    }
}

/// Checks an e-mail and password (argon2id, rate-limited per e-mail and client
/// address, as slow for an unknown e-mail as for a wrong password) and opens a session.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: String,
    address: &str,
) -> Result<NewSession, ApiError> {
    let email_key = format!("email:{}", email.trim().to_lowercase());
    let address_key = format!("address:{address}");
    if state.limiter.blocked(&email_key, MAX_FAILURES_PER_EMAIL)
        || state.limiter.blocked(&address_key, MAX_FAILURES_PER_ADDRESS)
    {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "auth.rate_limited",
            "too many failed sign-ins; wait 15 minutes",
        ));
    }
    let found = state.db.user_credentials(email).await?;
    let (user, hash) = match found {
        Some((user, Some(hash))) if user.active => (Some(user), hash),
        _ => (None, decoy_hash().to_owned()),
    };
    let verified = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .is_ok_and(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false);
    let Some(user) = user.filter(|_| verified) else {
        state.limiter.fail(&email_key);
        state.limiter.fail(&address_key);
        tracing::info!(address, "sign-in refused");
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "auth.invalid_credentials", "wrong e-mail or password"));
    };
    state.limiter.clear(&email_key);
    let (token, digest) = crate::admin::new_token();
    let (csrf, _) = crate::admin::new_token();
    let expires = Utc::now() + chrono::Duration::hours(SESSION_HOURS);
    state.db.create_session(user.id, &digest, &csrf, expires).await?;
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        SESSION_HOURS * 3600
    );
    let mut cookie = HeaderValue::from_str(&cookie).map_err(|_| ApiError::unauthenticated())?;
    cookie.set_sensitive(true);
    Ok(NewSession { user, cookie, csrf })
}

/// The client's address, for rate limiting, when the server knows it.
pub fn client_address(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ConnectInfo(a)| a.ip().to_string())
}

/// The session's user and CSRF token from the request's cookie, if it is valid.
pub async fn session(state: &AppState, headers: &HeaderMap) -> Result<Option<(User, String)>, ApiError> {
    let Some(cookie) = cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    Ok(state.db.session_user(&token_digest(cookie), Utc::now()).await?)
}

/// Whether a form's or header's CSRF token is the session's, compared in constant time.
pub fn csrf_matches(given: &[u8], expected: &str) -> bool {
    bool::from(given.ct_eq(expected.as_bytes()))
}

/// `DELETE /api/v1/session`: signs out.
pub async fn sign_out(State(state): State<AppState>, _staff: Staff, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Err(error) = state.db.delete_session(&token_digest(token)).await
    {
        return ApiError::from(error).into_response();
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let expired = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Shared by every request of a router.
pub(crate) fn limiter() -> Arc<LoginLimiter> {
    Arc::new(LoginLimiter::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_per_key_and_cleared_on_success() {
        let limiter = LoginLimiter::default();
        for _ in 0..MAX_FAILURES_PER_EMAIL {
            assert!(!limiter.blocked("email:ana@muni.cl", MAX_FAILURES_PER_EMAIL));
            limiter.fail("email:ana@muni.cl");
        }
        assert!(limiter.blocked("email:ana@muni.cl", MAX_FAILURES_PER_EMAIL));
        assert!(!limiter.blocked("email:luis@muni.cl", MAX_FAILURES_PER_EMAIL));
        limiter.clear("email:ana@muni.cl");
        assert!(!limiter.blocked("email:ana@muni.cl", MAX_FAILURES_PER_EMAIL));
    }

    #[test]
    fn cookies_and_bearer_tokens_are_read_from_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; townhall_session=abc; b=2"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer th_123"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(bearer(&headers), Some("th_123"));
    }
}
