//! X: a reply is `POST /2/tweets` with `{"text", "reply": {"in_reply_to_tweet_id"}}`
//! and an OAuth 2.0 user-context bearer token (scopes `tweet.read tweet.write
//! users.read`); it answers 201 `{"data": {"id", "text"}}` (the X API v2 OpenAPI
//! document, `createPosts`). The tweet answered is our external id.
//!
//! X has no idempotency key: once the request may have reached X, a lost answer is
//! `deliver.unknown` and not retryable, since a retry could post the reply twice.
//! X refuses some replies with a 403 that is about the reply, not the token
//! (duplicate text, a conversation limited to those mentioned, a deleted post): those
//! are `deliver.rejected`, so nobody reconnects an account that works.

use serde::Deserialize;
use serde_json::json;

use super::{
    Call, Credentials, Delivered, DeliveryError, Replay, ReplyTarget, authorized, bearer, endpoint, with_json,
};

/// X's limit, in weighted characters.
pub(super) const MAX_WEIGHT: usize = 280;

/// What X counts a URL as (the length of its t.co link).
const URL_WEIGHT: usize = 23;

const PLATFORM: &str = "X";

pub(super) async fn deliver(
    client: &reqwest::Client,
    credentials: &Credentials,
    target: &ReplyTarget<'_>,
    text: &str,
) -> Result<Delivered, DeliveryError> {
    let id = target.external_id;
    if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DeliveryError::target_unknown(format!("{id:?} is not an X post id")));
    }
    let base = endpoint(credentials, PLATFORM)?;
    let token = credentials.secret.expose();
    let auth = bearer(token, PLATFORM)?;
    let secrets = [token];
    let call = Call { platform: PLATFORM, replay: Replay::Unsafe, secrets: &secrets };
    let body = json!({ "text": text, "reply": { "in_reply_to_tweet_id": id } });
    let answer = call.send(with_json(authorized(client.post(format!("{base}/2/tweets")), &auth), &body)).await?;
    if !answer.status.is_success() {
        let error = call.refusal(&answer);
        return Err(match answer.status.as_u16() {
            403 if refuses_the_reply(&error.message) => DeliveryError::rejected(error.message),
            _ => error,
        });
    }
    #[derive(Deserialize)]
    struct Created {
        data: Data,
    }
    #[derive(Deserialize)]
    struct Data {
        id: String,
    }
    let created: Created = call.parse(&answer)?;
    let url = format!("https://x.com/i/web/status/{}", created.data.id);
    Ok(Delivered { external_id: created.data.id, url: Some(url) })
}

/// X's words for a 403 that refuses this reply rather than the token.
fn refuses_the_reply(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["duplicate content", "reply to this conversation", "deleted or not visible"].iter().any(|m| message.contains(m))
}

/// The length X counts (twitter-text's configuration v3, docs.x.com "Counting
/// characters"): code points in U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F and
/// U+2032–U+2037 weigh 1, all others 2; a URL weighs 23. An emoji sequence weighs 2 on
/// X; here its joiners, variation selectors, skin tones and the emoji after a joiner
/// weigh nothing, which comes to the same for common sequences and never to less.
pub(super) fn weighted_length(text: &str) -> usize {
    let spaces = text.chars().filter(|c| c.is_whitespace()).count();
    spaces + text.split(char::is_whitespace).map(token_weight).sum::<usize>()
}

fn token_weight(token: &str) -> usize {
    const TRAILING: &[char] = &['.', ',', ';', ':', '!', '?', ')', ']', '}', '"', '\''];
    let lower = token.get(..8).unwrap_or(token).to_ascii_lowercase();
    let core = token.trim_end_matches(TRAILING);
    if ["https://", "http://"].iter().any(|s| lower.starts_with(s) && core.len() > s.len()) {
        return URL_WEIGHT + (token.len() - core.len());
    }
    let mut weight = 0;
    let mut joined = false;
    for c in token.chars() {
        let code = u32::from(c);
        let silent = matches!(code, 0x200D | 0xFE00..=0xFE0F | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F | 0x20E3)
            || (joined && code > 0x10FF);
        joined = code == 0x200D;
        if !silent {
            weight +=
                if matches!(code, 0..=0x10FF | 0x2000..=0x200D | 0x2010..=0x201F | 0x2032..=0x2037) { 1 } else { 2 };
        }
    }
    weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_weighs_cjk_emoji_and_urls() {
        assert_eq!(weighted_length("hola"), 4);
        assert_eq!(weighted_length("¿Cuándo?"), 8);
        assert_eq!(weighted_length("水道"), 4);
        assert_eq!(weighted_length("👾"), 2);
        assert_eq!(weighted_length("🙋🏽"), 2);
        assert_eq!(weighted_length("👨‍👩‍👧‍👦"), 2);
        assert_eq!(weighted_length("“quoted” — yes"), 14);
        assert_eq!(weighted_length("ver https://muni.example/a/very/long/path/indeed."), 4 + 23 + 1);
        assert_eq!(weighted_length("नमस्ते"), 6);
    }

    #[test]
    fn content_refusals_are_told_from_token_refusals() {
        assert!(refuses_the_reply(
            "X answered 403 Forbidden: You are not allowed to create a Tweet with duplicate content."
        ));
        assert!(refuses_the_reply("Reply to this conversation is not allowed because you have not been mentioned"));
        assert!(!refuses_the_reply("X answered 403 Forbidden: Forbidden"));
    }
}
