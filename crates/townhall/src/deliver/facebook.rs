//! Facebook and Instagram, through the Graph API. A Facebook reply is
//! `POST /{comment-or-post-id}/comments` with the form fields `message` and
//! `access_token`; an Instagram reply is `POST /{ig-comment-id}/replies` with the
//! same fields. Both answer `{"id"}`. The token goes in the form body, never in the
//! query, so it cannot land in an access log.
//!
//! Facebook threads comments one level deep: a reply to a reply is posted to the
//! top-level comment it belongs to (the stored webhook change's `parent_id`, when that
//! is not the post), where Facebook shows the whole exchange. Instagram does the same
//! by itself ("replies to a reply will be added to the top-level comment").
//!
//! Neither has an idempotency key: once the request may have reached Meta, a lost
//! answer is `deliver.unknown`, not retryable. Graph errors carry a code that says
//! more than the HTTP status (Meta answers most errors with a 400): 190, 102, 10 and
//! 200–299 refuse the token or its permissions; 4, 17, 32, 613 and 80001–80014 are
//! rate limits; 1, 2 and `is_transient` are Meta's own failures.

use serde::Deserialize;
use serde_json::Value;
use townhall_core::Platform;

use super::{Call, Credentials, Delivered, DeliveryError, Replay, ReplyTarget, endpoint, is_path_id, wait};

/// A Facebook comment's limit.
pub(super) const MAX_CHARS: usize = 8000;

/// An Instagram comment's limit.
pub(super) const INSTAGRAM_MAX_CHARS: usize = 2200;

pub(super) async fn deliver(
    client: &reqwest::Client,
    credentials: &Credentials,
    target: &ReplyTarget<'_>,
    text: &str,
) -> Result<Delivered, DeliveryError> {
    let instagram = target.platform == Platform::Instagram;
    let platform = if instagram { "Instagram" } else { "Facebook" };
    let id = target.external_id;
    if !is_graph_id(id) {
        return Err(DeliveryError::target_unknown(format!("{id:?} is not a {platform} id")));
    }
    let base = endpoint(credentials, platform)?;
    let token = credentials.secret.expose();
    if token.is_empty() {
        return Err(DeliveryError::auth(format!("{platform}: no Page access token is configured")));
    }
    let url = match instagram {
        true => format!("{base}/{id}/replies"),
        false => format!("{base}/{}/comments", thread_of(target.raw, id)),
    };
    let secrets = [token];
    let call = Call { platform, replay: Replay::Unsafe, secrets: &secrets };
    let answer = call.send(client.post(url).form(&[("message", text), ("access_token", token)])).await?;
    if !answer.status.is_success() {
        return Err(graph_error(&call, &answer));
    }
    #[derive(Deserialize)]
    struct Created {
        id: String,
    }
    let created: Created = call.parse(&answer)?;
    Ok(Delivered { external_id: created.id, url: None })
}

/// Graph ids are digits, joined by `_` for a post (`PAGE_POST`) or a comment
/// (`POST_COMMENT`).
fn is_graph_id(id: &str) -> bool {
    is_path_id(id) && id.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// Where a reply to `id` goes: the top-level comment when `id` is a reply to one.
fn thread_of(raw: &[u8], id: &str) -> String {
    let Ok(delivery) = serde_json::from_slice::<Value>(raw) else { return id.to_owned() };
    let text = |v: Option<&Value>| match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let changes = delivery.get("entry").and_then(Value::as_array).into_iter().flatten().flat_map(|entry| {
        entry.get("changes").and_then(Value::as_array).into_iter().flatten().filter_map(|c| c.get("value"))
    });
    for value in changes {
        let is_it = text(value.get("item")).as_deref() == Some("comment")
            && text(value.get("comment_id")).as_deref() == Some(id);
        if !is_it {
            continue;
        }
        let (parent, post) = (text(value.get("parent_id")), text(value.get("post_id")));
        return match parent {
            Some(parent) if Some(&parent) != post.as_ref() && is_graph_id(&parent) => parent,
            _ => id.to_owned(),
        };
    }
    id.to_owned()
}

/// The error a Graph API failure means, by its code first, then by its HTTP status.
fn graph_error(call: &Call<'_>, answer: &super::Answer) -> DeliveryError {
    #[derive(Deserialize)]
    struct Body {
        error: Option<GraphError>,
    }
    #[derive(Deserialize)]
    struct GraphError {
        #[serde(default)]
        code: Option<i64>,
        #[serde(default)]
        is_transient: Option<bool>,
    }
    let error = serde_json::from_slice::<Body>(&answer.body).ok().and_then(|b| b.error);
    let message = call.message(answer);
    match error {
        Some(GraphError { code: Some(190 | 102 | 10 | 200..=299), .. }) => DeliveryError::auth(message),
        Some(GraphError { code: Some(4 | 17 | 32 | 613 | 80001..=80014), .. }) => {
            let now = chrono::Utc::now();
            DeliveryError::rate_limited(message, wait(&answer.headers, now).or_else(|| usage_wait(&answer.headers)))
        }
        Some(GraphError { code: Some(1 | 2), .. } | GraphError { is_transient: Some(true), .. }) => {
            DeliveryError::unavailable(message)
        }
        _ => call.refusal(answer),
    }
}

/// Meta's `X-Business-Use-Case-Usage` header: the longest
/// `estimated_time_to_regain_access`, in minutes.
fn usage_wait(headers: &reqwest::header::HeaderMap) -> Option<std::time::Duration> {
    let usage: Value = serde_json::from_slice(headers.get("x-business-use-case-usage")?.as_bytes()).ok()?;
    let minutes = usage
        .as_object()?
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|u| u.get("estimated_time_to_regain_access")?.as_u64())
        .max()?;
    Some(std::time::Duration::from_secs(minutes.saturating_mul(60)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(value: Value) -> Vec<u8> {
        serde_json::json!({"object":"page","entry":[{"id":"1","time":1,"changes":[
            {"field":"feed","value":{"item":"reaction","verb":"add","comment_id":"9_9"}},
            {"field":"feed","value":value}]}]})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn replies_to_replies_go_to_the_top_level_comment() {
        let top = change(serde_json::json!({"item":"comment","verb":"add","comment_id":"901_903",
            "post_id":"1234_901","parent_id":"1234_901"}));
        assert_eq!(thread_of(&top, "901_903"), "901_903");
        let reply = change(serde_json::json!({"item":"comment","verb":"add","comment_id":"901_950",
            "post_id":"1234_901","parent_id":"901_903"}));
        assert_eq!(thread_of(&reply, "901_950"), "901_903");
        assert_eq!(thread_of(&reply, "1234_901"), "1234_901", "a post is answered with a comment on it");
        let hostile = change(serde_json::json!({"item":"comment","comment_id":"5_6","parent_id":"../me/feed"}));
        assert_eq!(thread_of(&hostile, "5_6"), "5_6");
        assert_eq!(thread_of(b"not json", "5_6"), "5_6");
    }

    #[test]
    fn graph_ids_are_digits_and_underscores() {
        assert!(is_graph_id("1234567890321_901097836652708"));
        assert!(is_graph_id("17870913679156914"));
        assert!(!is_graph_id("abc"));
        assert!(!is_graph_id("1/comments"));
        assert!(!is_graph_id(""));
    }

    #[test]
    fn business_usage_says_how_long_to_wait() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "x-business-use-case-usage",
            r#"{"112":[{"type":"pages","call_count":100,"estimated_time_to_regain_access":7}]}"#.parse().unwrap(),
        );
        assert_eq!(usage_wait(&headers), Some(std::time::Duration::from_secs(420)));
        assert_eq!(usage_wait(&reqwest::header::HeaderMap::new()), None);
    }
}
