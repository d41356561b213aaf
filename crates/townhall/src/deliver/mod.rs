//! Delivering one reply to one platform over HTTP: the last step of the outbox.
//!
//! [`deliver`] posts a text as a threaded reply, on its own platform, to the stored post
//! a [`ReplyTarget`] names, as the account [`Credentials`] name. It returns the
//! platform's id for the reply ([`Delivered`]) or a [`DeliveryError`] with a stable code
//! and whether the worker may try again. [`check_text`] refuses, before any request, a
//! text the platform would refuse for its length. Everything the platform needs to
//! thread the reply is read from the stored post (its id and raw payload); what is
//! missing there is `deliver.target_unknown`, found before any request.
//!
//! **Retries.** Mastodon (the `Idempotency-Key` header, which the instance remembers
//! for an hour) and Bluesky (a record key derived from the idempotency key: a second
//! create under it fails and the record is then read back as delivered) cannot post
//! twice for one key, so a lost answer is `deliver.unavailable`, retryable. X, Facebook
//! and Instagram have no idempotency key: once the request may have reached them, a
//! lost answer (a timeout, a reset connection, a cut-off body) is `deliver.unknown`,
//! not retryable, because the reply may be online and a retry could post it twice;
//! a person checks and decides. A connection that was never made is always retryable.
//!
//! **Tokens** travel only in a header or a form body, never in a URL; only over https
//! (plain http only to a loopback address, for tests); never after a redirect (the
//! [`client`] follows none, and a redirect is `deliver.rejected`); and never into an
//! error message (platform text is scrubbed of them and cut to 200 characters).

mod bluesky;
mod facebook;
pub(crate) mod mastodon;
mod x;

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use serde_json::Value;
use townhall_core::Platform;

use crate::config::Secret;

/// Where and as whom to post.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The platform's base URL: the Mastodon instance (`https://mastodon.social`), the
    /// Bluesky PDS (`https://bsky.social`), `https://api.x.com`, or the Graph API with
    /// its version (`https://graph.facebook.com/v23.0`).
    pub endpoint: String,
    /// Who posts, where the platform needs it: the Bluesky handle or DID (required
    /// there); on Mastodon the institution's own `acct`, so it never mentions itself.
    pub identifier: Option<String>,
    /// The access token (Mastodon, X: OAuth 2.0 user context; Facebook, Instagram: the
    /// Page access token) or the Bluesky app password.
    pub secret: Secret,
}

/// The post being answered, as stored.
#[derive(Clone, Copy)]
pub struct ReplyTarget<'a> {
    /// Its platform.
    pub platform: Platform,
    /// Its id there, as stored (a Mastodon status URI, a Bluesky AT URI, a tweet id, a
    /// Facebook comment or post id, an Instagram comment id).
    pub external_id: &'a str,
    /// Its raw payload, as stored.
    pub raw: &'a [u8],
}

impl std::fmt::Debug for ReplyTarget<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyTarget")
            .field("platform", &self.platform)
            .field("external_id", &self.external_id)
            .field("raw", &format_args!("{} bytes", self.raw.len()))
            .finish()
    }
}

/// A reply the platform accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The platform's id for the reply, the one a citizen's answer to it names as the
    /// post it replies to: Mastodon's local status id, Bluesky's AT URI, X's tweet id,
    /// the Facebook or Instagram comment id.
    pub external_id: String,
    /// Where a person can see it, when the platform says or it can be built.
    pub url: Option<String>,
}

/// Why a reply was not delivered. `code` is stable (see the constants); `message` is
/// short, holds no secret, and may be shown to agents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DeliveryError {
    /// One of the `DeliveryError::*` codes.
    pub code: &'static str,
    /// What happened, with the platform's own words (at most about 200 characters).
    pub message: String,
    /// Whether sending the same reply again, with the same idempotency key, may succeed.
    pub retryable: bool,
    /// How long the platform asked us to wait, when it said.
    pub retry_after: Option<Duration>,
}

impl DeliveryError {
    /// The text is longer than the platform allows.
    pub const TOO_LONG: &'static str = "deliver.too_long";
    /// The text is empty or only whitespace.
    pub const EMPTY: &'static str = "deliver.empty";
    /// The stored post lacks what the platform needs to thread a reply to it.
    pub const TARGET_UNKNOWN: &'static str = "deliver.target_unknown";
    /// Townhall cannot reply on this platform.
    pub const UNSUPPORTED: &'static str = "deliver.unsupported";
    /// The platform refused the credentials (401, 403, or no usable credential).
    pub const AUTH: &'static str = "deliver.auth";
    /// The platform refused the reply (another 4xx, a redirect, a bad endpoint).
    pub const REJECTED: &'static str = "deliver.rejected";
    /// Too many requests: retry after `retry_after`.
    pub const RATE_LIMITED: &'static str = "deliver.rate_limited";
    /// The platform failed (5xx) or could not be reached: retry later.
    pub const UNAVAILABLE: &'static str = "deliver.unavailable";
    /// The answer was lost after the request may have reached a platform without
    /// idempotency (X, Facebook, Instagram): the reply may be online; check first.
    pub const UNKNOWN: &'static str = "deliver.unknown";

    fn new(code: &'static str, message: impl Into<String>, retryable: bool) -> DeliveryError {
        DeliveryError { code, message: message.into(), retryable, retry_after: None }
    }

    fn empty() -> DeliveryError {
        DeliveryError::new(Self::EMPTY, "the reply is empty", false)
    }

    fn too_long(message: String) -> DeliveryError {
        DeliveryError::new(Self::TOO_LONG, message, false)
    }

    fn target_unknown(message: impl Into<String>) -> DeliveryError {
        DeliveryError::new(Self::TARGET_UNKNOWN, message, false)
    }

    fn auth(message: impl Into<String>) -> DeliveryError {
        DeliveryError::new(Self::AUTH, message, false)
    }

    fn rejected(message: impl Into<String>) -> DeliveryError {
        DeliveryError::new(Self::REJECTED, message, false)
    }

    fn rate_limited(message: impl Into<String>, wait: Option<Duration>) -> DeliveryError {
        DeliveryError { retry_after: wait, ..DeliveryError::new(Self::RATE_LIMITED, message, true) }
    }

    fn unavailable(message: impl Into<String>) -> DeliveryError {
        DeliveryError::new(Self::UNAVAILABLE, message, true)
    }

    fn unknown(message: impl Into<String>) -> DeliveryError {
        DeliveryError::new(Self::UNKNOWN, message, false)
    }
}

/// Refuses an empty text, or one over the platform's limit as the platform counts:
/// Mastodon 500 characters (a URL counts 23, a remote mention only its `@user`),
/// Bluesky 300 graphemes and 3000 bytes, X 280 weighted characters (CJK and emoji
/// count 2, a URL 23), Facebook 8000, Instagram 2200. Without a grapheme segmenter,
/// characters are counted as Unicode scalar values, never fewer than graphemes, so a
/// text accepted here is never refused for its length; a few texts with combining
/// marks or emoji sequences near the limit are refused that the platform would take.
/// Platforms without a reply route here only have to be non-empty.
pub fn check_text(platform: Platform, text: &str) -> Result<(), DeliveryError> {
    if text.trim().is_empty() {
        return Err(DeliveryError::empty());
    }
    let chars = || text.chars().count();
    let (length, limit, unit) = match platform {
        Platform::Mastodon => (mastodon::length(text), mastodon::MAX_CHARS, "characters as Mastodon counts them"),
        Platform::Bluesky => {
            if text.len() > bluesky::MAX_BYTES {
                return Err(DeliveryError::too_long(format!(
                    "{} bytes of UTF-8; Bluesky allows {}",
                    text.len(),
                    bluesky::MAX_BYTES
                )));
            }
            (chars(), bluesky::MAX_GRAPHEMES, "characters")
        }
        Platform::X => (x::weighted_length(text), x::MAX_WEIGHT, "characters as X counts them"),
        Platform::Facebook => (chars(), facebook::MAX_CHARS, "characters"),
        Platform::Instagram => (chars(), facebook::INSTAGRAM_MAX_CHARS, "characters"),
        _ => return Ok(()),
    };
    if length > limit {
        let platform = name(platform);
        return Err(DeliveryError::too_long(format!("{length} {unit}; {platform} allows {limit}")));
    }
    Ok(())
}

/// Posts `text` as a reply to `target`, as `credentials` say.
///
/// `idempotency_key` must be the same for every attempt at one reply and different
/// for every reply: Mastodon dedupes on it (for an hour) and Bluesky derives the new
/// record's key from it (and the post answered), so an attempt repeated after a lost
/// answer returns the reply already posted. X, Facebook and Instagram cannot use it:
/// see the module documentation for `deliver.unknown`.
pub async fn deliver(
    client: &Client,
    credentials: &Credentials,
    target: &ReplyTarget<'_>,
    text: &str,
    idempotency_key: &str,
) -> Result<Delivered, DeliveryError> {
    if !matches!(
        target.platform,
        Platform::Mastodon | Platform::Bluesky | Platform::X | Platform::Facebook | Platform::Instagram
    ) {
        return Err(DeliveryError::new(
            DeliveryError::UNSUPPORTED,
            format!("Townhall cannot reply on {}", name(target.platform)),
            false,
        ));
    }
    check_text(target.platform, text)?;
    if idempotency_key.is_empty() {
        return Err(DeliveryError::rejected("a reply needs an idempotency key"));
    }
    check_endpoint(&credentials.endpoint, client.loopback)?;
    let client = &client.http;
    match target.platform {
        Platform::Mastodon => mastodon::deliver(client, credentials, target, text, idempotency_key).await,
        Platform::Bluesky => bluesky::deliver(client, credentials, target, text, idempotency_key).await,
        Platform::X => x::deliver(client, credentials, target, text).await,
        _ => facebook::deliver(client, credentials, target, text).await,
    }
}

/// The HTTP client for deliveries: `Townhall/<version>`, 10 s to connect, 30 s per
/// request, no redirects (a token never follows one), and only to public addresses:
/// an endpoint is set by an institution's admin, so it must never reach the server's
/// own network (SECURITY.md rule 4).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    loopback: bool,
}

/// The client `serve` delivers with: public addresses only.
pub fn client() -> Client {
    build(false)
}

/// A client that may also reach this machine's loopback address, for platforms faked
/// on 127.0.0.1 in tests and local trials; never for `serve`.
pub fn loopback_client() -> Client {
    build(true)
}

fn build(loopback: bool) -> Client {
    crate::listen::init_tls();
    let http = reqwest::Client::builder()
        .user_agent(concat!("Townhall/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        // Idle connections are dropped before platforms close them, so a reply is not
        // written into a connection that is already going away.
        .pool_idle_timeout(Duration::from_secs(20))
        // Names are resolved once per connection and only public addresses are used,
        // so a name cannot be pointed at an internal address between check and use.
        .dns_resolver(std::sync::Arc::new(PublicOnly { loopback }))
        .build()
        .expect("the HTTP client builds with the bundled rustls");
    Client { http, loopback }
}

/// Resolves names to their public addresses only (and loopback, when allowed).
struct PublicOnly {
    loopback: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let loopback = self.loopback;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<std::net::SocketAddr> = found.into_iter().filter(|a| public(a.ip(), loopback)).collect();
            if usable.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} has no public address; Townhall does not post into private networks").into();
                return Err(refused);
            }
            let addresses: reqwest::dns::Addrs = Box::new(usable.into_iter());
            Ok(addresses)
        })
    }
}

/// Whether an address is on the public internet: not private, loopback (unless
/// allowed), link-local, shared (CGNAT), documentation, benchmarking, multicast,
/// reserved or unspecified; IPv4-mapped IPv6 is judged as IPv4.
pub fn public(ip: std::net::IpAddr, loopback: bool) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            if v4.is_loopback() {
                return loopback;
            }
            !(v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public(IpAddr::V4(v4), loopback);
            }
            if v6.is_loopback() {
                return loopback;
            }
            let first = v6.segments()[0];
            !(v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && v6.segments()[1] == 0x0db8))
        }
    }
}

/// Checks an endpoint an admin gives: https (or http to loopback when allowed), no
/// credentials, query or fragment, and no address literal outside the public internet.
pub fn check_endpoint(endpoint: &str, loopback: bool) -> Result<(), DeliveryError> {
    let bad = |why: &str| DeliveryError::rejected(format!("the endpoint {why}"));
    let url = reqwest::Url::parse(endpoint.trim()).map_err(|_| bad("is not a URL"))?;
    let host = url.host_str().ok_or_else(|| bad("has no host"))?;
    let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().ok();
    let local = literal.is_some_and(|ip| ip.is_loopback()) || host.eq_ignore_ascii_case("localhost");
    if local && !loopback {
        return Err(bad("is this machine; Townhall posts only to platforms on the internet"));
    }
    if literal.is_some_and(|ip| !public(ip, loopback)) {
        return Err(bad("is a private or reserved address"));
    }
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        _ => return Err(bad("must be an https address")),
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not carry credentials, a query or a fragment"));
    }
    Ok(())
}

/// The name agents read.
fn name(platform: Platform) -> &'static str {
    match platform {
        Platform::Mastodon => "Mastodon",
        Platform::Bluesky => "Bluesky",
        Platform::X => "X",
        Platform::Facebook => "Facebook",
        Platform::Instagram => "Instagram",
        other => other.as_str(),
    }
}

// ---- HTTP, shared by the platforms ------------------------------------------------

/// The most of an answer that is read: platform answers here are a few kilobytes.
const MAX_ANSWER: usize = 1 << 20;

/// The most of the platform's own words an error message keeps.
const MAX_DETAIL: usize = 200;

/// Whether a request repeated after a lost answer could post the reply twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// It cannot: it posts nothing, or the platform dedupes it.
    Safe,
    /// It could.
    Unsafe,
}

/// One request to one platform: its name for messages, whether it may be repeated,
/// and the secrets no message may contain.
struct Call<'a> {
    platform: &'static str,
    replay: Replay,
    secrets: &'a [&'a str],
}

/// An answer, read whole.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Call<'_> {
    /// Sends the request and reads the answer, whatever its status.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, DeliveryError> {
        let mut response = match request.send().await {
            Ok(response) => response,
            // Never connected: nothing was sent, so trying again is always safe.
            Err(error) if error.is_connect() => {
                let what = if error.is_timeout() { "timed out connecting" } else { "could not connect" };
                return Err(DeliveryError::unavailable(format!("{}: {what}", self.platform)));
            }
            Err(error) if error.is_builder() => {
                return Err(DeliveryError::rejected(format!("{}: the request could not be built", self.platform)));
            }
            Err(error) => {
                return Err(self.lost(if error.is_timeout() {
                    "no answer in time"
                } else {
                    "the connection was lost"
                }));
            }
        };
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_ANSWER => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Ok(Some(_)) | Err(_) if status.is_success() => return Err(self.lost("the answer was cut off")),
                // A failure's body only explains it; the status says enough.
                Ok(Some(_)) | Err(_) => {
                    body.clear();
                    break;
                }
            }
        }
        Ok(Answer { status, headers, body })
    }

    /// The request may have reached the platform, and its answer is lost.
    fn lost(&self, what: &str) -> DeliveryError {
        match self.replay {
            Replay::Safe => DeliveryError::unavailable(format!("{}: {what}; sending again is safe", self.platform)),
            Replay::Unsafe => DeliveryError::unknown(format!(
                "{}: {what} after the reply was sent; it may be online: check before sending it again",
                self.platform
            )),
        }
    }

    /// Reads a successful answer.
    fn parse<T: serde::de::DeserializeOwned>(&self, answer: &Answer) -> Result<T, DeliveryError> {
        serde_json::from_slice(&answer.body)
            .map_err(|_| self.lost(&format!("answered {} with an unreadable body", answer.status)))
    }

    /// The error a failed answer means, by its status: a redirect (never followed) and
    /// other 4xx are refusals, 401 and 403 refuse the credentials, 429 asks us to wait,
    /// 5xx is the platform's failure.
    fn refusal(&self, answer: &Answer) -> DeliveryError {
        let status = answer.status;
        let message = self.message(answer);
        match status.as_u16() {
            300..=399 => DeliveryError::rejected(format!(
                "{} answered {status}, a redirect, which is not followed: check the endpoint",
                self.platform
            )),
            401 | 403 => DeliveryError::auth(message),
            429 => DeliveryError::rate_limited(message, wait(&answer.headers, chrono::Utc::now())),
            400..=499 => DeliveryError::rejected(message),
            _ => DeliveryError::unavailable(message),
        }
    }

    /// "`Platform` answered `status`: its own words".
    fn message(&self, answer: &Answer) -> String {
        let detail = detail(&answer.body, self.secrets);
        match detail.is_empty() {
            true => format!("{} answered {}", self.platform, answer.status),
            false => format!("{} answered {}: {detail}", self.platform, answer.status),
        }
    }
}

/// The platform's own explanation in an error body, scrubbed of secrets and cut short:
/// Mastodon `{"error"}`, Bluesky `{"error","message"}`, X `{"detail"}` or
/// `{"errors":[{"message"}]}`, Graph API `{"error":{"message"}}`. Anything that is not
/// JSON (an HTML error page) gives nothing.
fn detail(body: &[u8], secrets: &[&str]) -> String {
    let Ok(value) = serde_json::from_slice::<Value>(body) else { return String::new() };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let found = match (value.get("error"), text(value.get("message"))) {
        (Some(Value::String(error)), Some(message)) => Some(format!("{error}: {message}")),
        (Some(Value::String(error)), None) => Some(error.clone()),
        (Some(error @ Value::Object(_)), _) => text(error.get("message")),
        (_, Some(message)) => Some(message),
        _ => None,
    };
    let found = found
        .or_else(|| text(value.get("detail")))
        .or_else(|| text(value.pointer("/errors/0/message")))
        .or_else(|| text(value.get("title")))
        .or_else(|| text(value.get("error_description")))
        .unwrap_or_default();
    short(&scrub(&found, secrets))
}

/// `text` with every secret replaced.
fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        text = text.replace(secret, "[redacted]");
    }
    text
}

/// One line of at most [`MAX_DETAIL`] characters, cut on a character boundary, without
/// control or bidirectional-override characters.
fn short(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let line: String = line
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        .collect();
    match line.char_indices().nth(MAX_DETAIL) {
        Some((end, _)) => format!("{}…", line.get(..end).unwrap_or_default()),
        None => line,
    }
}

/// How long a 429 asks us to wait: `Retry-After` (seconds or a date), else a reset
/// time: X's `x-rate-limit-reset` and Bluesky's `ratelimit-reset` (epoch seconds),
/// Mastodon's `x-ratelimit-reset` (an ISO 8601 time).
fn wait(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(wait) = crate::listen::retry_after(header(RETRY_AFTER.as_str()), now) {
        return Some(wait);
    }
    let reset = ["x-rate-limit-reset", "ratelimit-reset", "x-ratelimit-reset"].into_iter().find_map(header)?;
    let at = match reset.parse::<i64>() {
        // A small number is a count of seconds (the IETF draft's RateLimit-Reset).
        Ok(seconds) if seconds < 1_000_000_000 => return Some(Duration::from_secs(seconds.max(0).unsigned_abs())),
        Ok(epoch) => chrono::DateTime::from_timestamp(epoch, 0)?,
        Err(_) => chrono::DateTime::parse_from_rfc3339(reset).ok()?.with_timezone(&chrono::Utc),
    };
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// The endpoint as a base URL without a trailing slash: https, or http to a loopback
/// address; no credentials, query or fragment in it.
fn endpoint(credentials: &Credentials, platform: &str) -> Result<String, DeliveryError> {
    // Whether this machine may be reached was decided in `deliver` with the client's
    // policy; here the address is only checked for shape and normalised.
    check_endpoint(&credentials.endpoint, true)
        .map_err(|e| DeliveryError::rejected(format!("{platform}: {}", e.message)))?;
    Ok(credentials.endpoint.trim().trim_end_matches('/').to_owned())
}

/// `Authorization: Bearer …`, marked sensitive so it is never logged.
fn bearer(secret: &str, platform: &str) -> Result<HeaderValue, DeliveryError> {
    if secret.is_empty() {
        return Err(DeliveryError::auth(format!("{platform}: no access token is configured")));
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {secret}"))
        .map_err(|_| DeliveryError::auth(format!("{platform}: the access token cannot be sent in a header")))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Whether `id` is a platform id that can stand in a URL path: ASCII letters, digits,
/// `_` and `-` only (so a stored id can never climb out of its path segment).
fn is_path_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 100 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Adds `Authorization` to a request.
fn authorized(request: reqwest::RequestBuilder, auth: &HeaderValue) -> reqwest::RequestBuilder {
    request.header(AUTHORIZATION, auth.clone())
}

/// A JSON body.
fn with_json(request: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_too_long_texts_are_refused_per_platform() {
        assert_eq!(check_text(Platform::Mastodon, " \n\t").unwrap_err().code, DeliveryError::EMPTY);
        assert!(check_text(Platform::Mastodon, &"a".repeat(500)).is_ok());
        let error = check_text(Platform::Mastodon, &"a".repeat(501)).unwrap_err();
        assert_eq!((error.code, error.retryable), (DeliveryError::TOO_LONG, false));
        assert!(check_text(Platform::Bluesky, &"é".repeat(300)).is_ok());
        assert!(check_text(Platform::Bluesky, &"é".repeat(301)).is_err());
        assert!(check_text(Platform::Bluesky, &"💧".repeat(290)).is_ok());
        assert!(check_text(Platform::X, &"a".repeat(280)).is_ok());
        assert!(check_text(Platform::X, &"水".repeat(141)).is_err(), "CJK weighs 2 on X");
        assert!(check_text(Platform::Facebook, &"a".repeat(8000)).is_ok());
        assert!(check_text(Platform::Facebook, &"a".repeat(8001)).is_err());
        assert!(check_text(Platform::Instagram, &"a".repeat(2201)).is_err());
        assert!(check_text(Platform::Email, &"a".repeat(100_000)).is_ok());
        assert_eq!(check_text(Platform::Email, "").unwrap_err().code, DeliveryError::EMPTY);
    }

    #[test]
    fn details_are_the_platforms_words_short_and_without_secrets() {
        let secrets = ["tok-123456"];
        assert_eq!(detail(br#"{"error":"The access token is invalid"}"#, &secrets), "The access token is invalid");
        assert_eq!(
            detail(br#"{"error":"InvalidRequest","message":"Record/text too long"}"#, &secrets),
            "InvalidRequest: Record/text too long"
        );
        assert_eq!(detail(br#"{"error":{"message":"(#100) bad","code":100}}"#, &secrets), "(#100) bad");
        assert_eq!(detail(br#"{"title":"Forbidden","detail":"duplicate content"}"#, &secrets), "duplicate content");
        assert_eq!(detail(br#"{"errors":[{"message":"no"}]}"#, &secrets), "no");
        assert_eq!(detail(br#"{"error":"token tok-123456 revoked"}"#, &secrets), "token [redacted] revoked");
        assert_eq!(detail(b"<html>oops</html>", &secrets), "");
        let long = serde_json::json!({ "error": "é\n".repeat(400) }).to_string();
        let cut = detail(long.as_bytes(), &secrets);
        assert_eq!(cut.chars().count(), MAX_DETAIL + 1);
        assert!(!cut.contains('\n'));
        assert_eq!(detail(br#"{"error":"a\u202eb\u0007c"}"#, &secrets), "abc");
    }

    #[test]
    fn waits_come_from_retry_after_or_reset_headers() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z").unwrap().with_timezone(&chrono::Utc);
        let headers = |name: &'static str, value: &str| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_str(value).unwrap());
            h
        };
        assert_eq!(wait(&headers("retry-after", "7"), now), Some(Duration::from_secs(7)));
        let epoch = (now.timestamp() + 90).to_string();
        assert_eq!(wait(&headers("x-rate-limit-reset", &epoch), now), Some(Duration::from_secs(90)));
        assert_eq!(wait(&headers("ratelimit-reset", &epoch), now), Some(Duration::from_secs(90)));
        assert_eq!(
            wait(&headers("x-ratelimit-reset", "2026-03-02T10:05:00.000Z"), now),
            Some(Duration::from_secs(300))
        );
        assert_eq!(wait(&headers("ratelimit-reset", "30"), now), Some(Duration::from_secs(30)));
        assert_eq!(wait(&HeaderMap::new(), now), None);
    }

    #[test]
    fn endpoints_are_https_or_loopback_http() {
        let with =
            |endpoint: &str| Credentials { endpoint: endpoint.into(), identifier: None, secret: Secret::new("t") };
        assert_eq!(endpoint(&with("https://mastodon.social/"), "M").unwrap(), "https://mastodon.social");
        assert_eq!(
            endpoint(&with("https://graph.facebook.com/v23.0"), "F").unwrap(),
            "https://graph.facebook.com/v23.0"
        );
        assert!(endpoint(&with("http://127.0.0.1:8080"), "M").is_ok());
        assert!(endpoint(&with("http://localhost:8080"), "M").is_ok());
        for bad in ["http://mastodon.social", "ftp://x", "https://u:p@x.example", "https://x.example/?a=1", "nope"] {
            assert_eq!(endpoint(&with(bad), "M").unwrap_err().code, DeliveryError::REJECTED, "{bad}");
        }
    }

    #[test]
    fn only_public_addresses_are_reached() {
        for ip in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "198.18.0.1",
            "240.0.0.1",
        ] {
            assert!(!public(ip.parse().unwrap(), true), "{ip}");
        }
        for ip in ["1.1.1.1", "2606:4700::1111", "151.101.1.1"] {
            assert!(public(ip.parse().unwrap(), false), "{ip}");
        }
        assert!(!public("127.0.0.1".parse().unwrap(), false));
        assert!(public("127.0.0.1".parse().unwrap(), true));
        assert!(check_endpoint("https://mastodon.social", false).is_ok());
        for bad in [
            "http://127.0.0.1:8080",
            "https://localhost",
            "https://10.1.2.3",
            "https://[fd00::1]",
            "https://169.254.169.254/latest",
        ] {
            assert_eq!(check_endpoint(bad, false).unwrap_err().code, DeliveryError::REJECTED, "{bad}");
        }
        assert!(check_endpoint("http://127.0.0.1:8080", true).is_ok());
        assert!(check_endpoint("https://10.1.2.3", true).is_err(), "loopback is the only exception");
    }

    #[test]
    fn path_ids_cannot_climb_out_of_their_segment() {
        assert!(is_path_id("1234567890321_901097836652708"));
        for bad in ["", "1/../me/feed", "1?a=b", "1%2F", "1 2", "1#x"] {
            assert!(!is_path_id(bad), "{bad}");
        }
    }
}
