//! Mastodon: a reply is `POST /api/v1/statuses` with `status`, `in_reply_to_id` and
//! `visibility`, and an `Idempotency-Key` header the instance remembers for an hour
//! (docs.joinmastodon.org/methods/statuses/#create).
//!
//! A stored Mastodon post is keyed by its URI, but `in_reply_to_id` must be the id the
//! posting instance gives the status. The stored payload (a status, a notification or
//! a stream event, the status perhaps nested as a reblog or a quote) holds the id the
//! instance that served it used, which is ours when our listener received it but not
//! when it was imported from elsewhere. So the id is checked before anything is
//! posted: `GET /api/v1/statuses/:id` must answer the same URI, else the URI is
//! resolved with `GET /api/v2/search?resolve=true`; a reply never lands under a
//! stranger's status that happens to share an id. The token needs `read` (statuses,
//! search) and `write:statuses`.
//!
//! The reply keeps the visibility of the status answered (a direct message stays
//! direct) and starts with `@acct` of its author, as Mastodon's own clients do: without
//! the mention a reply is not shown to the citizen. The `acct` is the one our instance
//! gives, so it names the right person on it.

use serde::Deserialize;
use serde_json::Value;

use super::{Call, Credentials, Delivered, DeliveryError, Replay, ReplyTarget, authorized, bearer, endpoint};

/// The default limit of a Mastodon instance (an instance may allow more).
pub(super) const MAX_CHARS: usize = 500;

/// What Mastodon counts a URL as, whatever its length.
const URL_LENGTH: usize = 23;

const PLATFORM: &str = "Mastodon";

/// A status as our instance shows it.
#[derive(Debug, Deserialize)]
struct Status {
    id: String,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    visibility: Option<String>,
    #[serde(default)]
    account: Option<Account>,
}

#[derive(Debug, Deserialize)]
struct Account {
    #[serde(default)]
    acct: Option<String>,
}

impl Status {
    /// Whether it is the stored post: keyed, as the connector keys it, by its URI, else
    /// its URL.
    fn is(&self, external_id: &str) -> bool {
        self.uri.as_deref() == Some(external_id) || self.url.as_deref() == Some(external_id)
    }
}

pub(super) async fn deliver(
    client: &reqwest::Client,
    credentials: &Credentials,
    target: &ReplyTarget<'_>,
    text: &str,
    idempotency_key: &str,
) -> Result<Delivered, DeliveryError> {
    let external_id = target.external_id;
    let local = stored_id(target.raw, external_id).filter(|id| super::is_path_id(id)).ok_or_else(|| {
        DeliveryError::target_unknown(format!("the stored Mastodon payload has no id for {external_id}"))
    })?;
    let base = endpoint(credentials, PLATFORM)?;
    let token = credentials.secret.expose();
    let auth = bearer(token, PLATFORM)?;
    let secrets = [token];
    // Reads are harmless, and the idempotency key makes a repeated post return the
    // status already created: every request here is safe to repeat.
    let call = Call { platform: PLATFORM, replay: Replay::Safe, secrets: &secrets };

    let status = match fetch(&call, client, &base, &auth, &local).await? {
        Some(status) if status.is(external_id) => status,
        _ => search(&call, client, &base, &auth, external_id).await?.ok_or_else(|| {
            DeliveryError::target_unknown(format!("the instance does not know the status {external_id}"))
        })?,
    };
    let acct = status.account.as_ref().and_then(|a| a.acct.as_deref());
    let text = addressed(text, acct, credentials.identifier.as_deref());
    let length = length(&text);
    if length > MAX_CHARS {
        return Err(DeliveryError::too_long(format!(
            "{length} characters as Mastodon counts them with the mention of the author; Mastodon allows {MAX_CHARS}"
        )));
    }
    let key = reqwest::header::HeaderValue::from_str(idempotency_key)
        .map_err(|_| DeliveryError::rejected("the idempotency key cannot be sent in a header"))?;
    let form = [("status", text.as_str()), ("in_reply_to_id", status.id.as_str()), ("visibility", visibility(&status))];
    let request =
        authorized(client.post(format!("{base}/api/v1/statuses")), &auth).header("Idempotency-Key", key).form(&form);
    let answer = call.send(request).await?;
    if !answer.status.is_success() {
        return Err(call.refusal(&answer));
    }
    let created: Status = call.parse(&answer)?;
    Ok(Delivered { external_id: created.id, url: created.url })
}

/// `GET /api/v1/statuses/:id`: the status, or `None` when the instance has none.
async fn fetch(
    call: &Call<'_>,
    client: &reqwest::Client,
    base: &str,
    auth: &reqwest::header::HeaderValue,
    id: &str,
) -> Result<Option<Status>, DeliveryError> {
    let answer = call.send(authorized(client.get(format!("{base}/api/v1/statuses/{id}")), auth)).await?;
    match answer.status.as_u16() {
        200..=299 => Ok(serde_json::from_slice(&answer.body).ok()),
        404 | 410 => Ok(None),
        _ => Err(call.refusal(&answer)),
    }
}

/// `GET /api/v2/search?q=URI&type=statuses&resolve=true`: the status with that URI as
/// the instance knows it (fetched from its home server when it did not).
async fn search(
    call: &Call<'_>,
    client: &reqwest::Client,
    base: &str,
    auth: &reqwest::header::HeaderValue,
    uri: &str,
) -> Result<Option<Status>, DeliveryError> {
    #[derive(Deserialize)]
    struct Results {
        #[serde(default)]
        statuses: Vec<Status>,
    }
    let query = [("q", uri), ("type", "statuses"), ("resolve", "true"), ("limit", "5")];
    let answer = call.send(authorized(client.get(format!("{base}/api/v2/search")), auth).query(&query)).await?;
    match answer.status.as_u16() {
        200..=299 => {
            let results: Results = call.parse(&answer)?;
            Ok(results.statuses.into_iter().find(|s| s.is(uri) && super::is_path_id(&s.id)))
        }
        404 => Ok(None),
        _ => Err(call.refusal(&answer)),
    }
}

/// The visibility of the reply: the one of the status answered (a reply to a direct
/// message stays direct); an unknown one gives the most private, `direct`, which still
/// reaches the mentioned author.
fn visibility(status: &Status) -> &'static str {
    match status.visibility.as_deref() {
        None | Some("public") => "public",
        Some("unlisted") => "unlisted",
        Some("private") => "private",
        Some(_) => "direct",
    }
}

/// The local id of the status keyed `external_id` in a stored payload: the id the
/// instance that served it uses, which its replies name as `in_reply_to_id`.
pub(crate) fn stored_id(raw: &[u8], external_id: &str) -> Option<String> {
    let value: Value = serde_json::from_slice(raw).ok()?;
    find(&value, external_id, 0)
}

/// Looks through a status (and the reblog or quote it carries), a notification's
/// status, or a stream event's payload (JSON written as a string).
fn find(value: &Value, external_id: &str, depth: usize) -> Option<String> {
    if depth > 6 {
        return None;
    }
    if value.get("event").is_some() {
        return match value.get("payload")? {
            Value::String(json) => find(&serde_json::from_str(json).ok()?, external_id, depth + 1),
            payload => find(payload, external_id, depth + 1),
        };
    }
    let text = |v: Option<&Value>| match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let id = text(value.get("id"));
    let key = text(value.get("uri")).or_else(|| text(value.get("url"))).or_else(|| id.clone());
    if value.get("content").is_some() || value.get("uri").is_some() {
        if key.as_deref() == Some(external_id) {
            return id;
        }
        let nested = [value.get("reblog"), value.pointer("/quote/quoted_status")];
        return nested.into_iter().flatten().find_map(|status| find(status, external_id, depth + 1));
    }
    find(value.get("status")?, external_id, depth + 1)
}

/// The text with `@acct ` in front, unless it already mentions the author or the
/// author is the institution itself.
fn addressed(text: &str, acct: Option<&str>, own: Option<&str>) -> String {
    let Some(acct) = acct.filter(|a| !a.is_empty() && !a.chars().any(|c| c.is_whitespace() || c.is_control())) else {
        return text.to_owned();
    };
    // Our own account: `muni` on our instance, perhaps configured as `muni@gob.example`.
    let own = own.map(|own| own.trim().trim_start_matches('@'));
    let is_own = own.is_some_and(|own| {
        own.eq_ignore_ascii_case(acct) || own.split('@').next().is_some_and(|user| user.eq_ignore_ascii_case(acct))
    });
    if is_own || mentions(text, acct) {
        return text.to_owned();
    }
    format!("@{acct} {text}")
}

/// Whether `text` mentions `@acct` as a whole handle (not the start of a longer one,
/// not inside an e-mail address).
fn mentions(text: &str, acct: &str) -> bool {
    let text = text.to_ascii_lowercase();
    let needle = format!("@{}", acct.to_ascii_lowercase());
    let handle = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    text.match_indices(&needle).any(|(at, _)| {
        let before = at.checked_sub(1).and_then(|i| text.as_bytes().get(i).copied());
        let rest = text.as_bytes().get(at + needle.len()..).unwrap_or_default();
        let continues = match rest {
            [b'.' | b'-', next, ..] => handle(*next),
            [next, ..] => handle(*next) || *next == b'@',
            [] => false,
        };
        !before.is_some_and(|b| handle(b) || b == b'@') && !continues
    })
}

/// The length Mastodon counts: a URL counts [`URL_LENGTH`] and a remote mention only
/// its `@user`. Characters are counted as scalar values, never fewer than Mastodon's
/// graphemes.
pub(super) fn length(text: &str) -> usize {
    let spaces = text.chars().filter(|c| c.is_whitespace()).count();
    spaces + text.split(char::is_whitespace).map(token_length).sum::<usize>()
}

fn token_length(token: &str) -> usize {
    const TRAILING: &[char] = &['.', ',', ';', ':', '!', '?', ')', ']', '}', '"', '\''];
    let lower = token.to_ascii_lowercase();
    let core = token.trim_end_matches(TRAILING);
    let trailing = token.chars().count() - core.chars().count();
    let is_url = ["https://", "http://"].iter().any(|s| lower.starts_with(s) && core.len() > s.len());
    if is_url {
        return URL_LENGTH + trailing;
    }
    if let Some(handle) = core.strip_prefix('@')
        && let Some((user, domain)) = handle.split_once('@')
        && !user.is_empty()
        && !domain.is_empty()
    {
        return 1 + user.chars().count() + trailing;
    }
    token.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = r#"{"id":"110","uri":"https://social.example/users/ana/statuses/110","content":"<p>hola</p>",
        "visibility":"direct","account":{"acct":"ana@social.example"}}"#;

    #[test]
    fn the_local_id_is_found_in_statuses_notifications_events_reblogs_and_quotes() {
        let uri = "https://social.example/users/ana/statuses/110";
        assert_eq!(stored_id(STATUS.as_bytes(), uri).as_deref(), Some("110"));
        let notification = format!(r#"{{"id":"9","type":"mention","account":{{"acct":"x"}},"status":{STATUS}}}"#);
        assert_eq!(stored_id(notification.as_bytes(), uri).as_deref(), Some("110"));
        let event = serde_json::json!({ "event": "update", "payload": STATUS }).to_string();
        assert_eq!(stored_id(event.as_bytes(), uri).as_deref(), Some("110"));
        let reblog =
            format!(r#"{{"id":"200","uri":"https://b.example/s/200/activity","content":"","reblog":{STATUS}}}"#);
        assert_eq!(stored_id(reblog.as_bytes(), uri).as_deref(), Some("110"));
        assert_eq!(stored_id(reblog.as_bytes(), "https://b.example/s/200/activity").as_deref(), Some("200"));
        let quote = format!(r#"{{"id":"300","uri":"u300","content":"","quote":{{"quoted_status":{STATUS}}}}}"#);
        assert_eq!(stored_id(quote.as_bytes(), uri).as_deref(), Some("110"));
        assert_eq!(stored_id(STATUS.as_bytes(), "https://other.example/1"), None);
        assert_eq!(stored_id(br#"{"type":"mention"}"#, uri), None);
        assert_eq!(stored_id(b"not json", uri), None);
    }

    #[test]
    fn replies_mention_the_author_once() {
        assert_eq!(addressed("Gracias", Some("ana@social.example"), None), "@ana@social.example Gracias");
        assert_eq!(
            addressed("@Ana@Social.example gracias", Some("ana@social.example"), None),
            "@Ana@Social.example gracias"
        );
        assert_eq!(addressed("gracias @ana.", Some("ana"), None), "gracias @ana.");
        assert_eq!(addressed("gracias @anabel", Some("ana"), None), "@ana gracias @anabel");
        assert_eq!(addressed("gracias @ana@otro.example", Some("ana"), None), "@ana gracias @ana@otro.example");
        assert_eq!(addressed("escribe a x@ana", Some("ana"), None), "@ana escribe a x@ana");
        assert_eq!(addressed("hola", Some("muni"), Some("@muni")), "hola");
        assert_eq!(addressed("hola", Some("muni"), Some("muni@gob.example")), "hola");
        assert_eq!(addressed("hola", Some("muni@otro.example"), Some("muni@gob.example")), "@muni@otro.example hola");
        assert_eq!(addressed("hola", None, None), "hola");
    }

    #[test]
    fn mastodon_counts_urls_as_23_and_remote_mentions_by_user() {
        assert_eq!(length("hola"), 4);
        assert_eq!(length("ver https://example.com/a/very/long/path/that/goes/on/and/on"), 4 + 23);
        assert_eq!(length("(ver http://x.co)."), 5 + 23 + 2);
        assert_eq!(length("@ana@social.example hola"), 4 + 1 + 4);
        assert_eq!(length("@ana hola"), 9);
        assert_eq!(length("https:// x"), 10);
    }

    #[test]
    fn visibility_follows_the_status_answered() {
        let with = |v: Option<&str>| Status {
            id: "1".into(),
            uri: None,
            url: None,
            visibility: v.map(str::to_owned),
            account: None,
        };
        assert_eq!(visibility(&with(None)), "public");
        assert_eq!(visibility(&with(Some("unlisted"))), "unlisted");
        assert_eq!(visibility(&with(Some("private"))), "private");
        assert_eq!(visibility(&with(Some("direct"))), "direct");
        assert_eq!(visibility(&with(Some("limited"))), "direct");
    }
}
