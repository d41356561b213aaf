//! Mastodon: REST `Status` and `Notification` entities, and streaming events
//! (`update`, `status.update`, `delete`, `notification`), as documented at
//! docs.joinmastodon.org/entities/ and /methods/streaming/.
//!
//! A status is keyed by its `uri`, its ActivityPub id: the same status seen through two
//! instances has two local `id`s but one `uri`, so keying by `uri` never stores it
//! twice. The stream's `delete` event names only the instance's local id; the
//! listener, which knows which statuses it received, turns it into a deletion (see
//! [`stream_delete_id`]); here it is skipped with that reason.
//!
//! A reblog is stored as the status it boosts (that is the content) plus a repost of
//! it. `in_reply_to_id` is the instance's local id of the parent, kept as given.

use serde::Deserialize;
use serde_json::value::RawValue;
use townhall_core::{
    Engagement, EngagementKind, MediaRef, NewContact, NewPost, Platform, PlatformEvent, PostEntities, PostMetrics,
};

use crate::{Item, ParseError, Parsed, from_json, html, parse_rfc3339};

#[derive(Deserialize)]
struct Status {
    id: String,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    url: Option<String>,
    created_at: String,
    #[serde(default)]
    edited_at: Option<String>,
    #[serde(default)]
    in_reply_to_id: Option<String>,
    #[serde(default)]
    spoiler_text: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    language: Option<String>,
    account: Account,
    #[serde(default)]
    reblog: Option<Box<Status>>,
    #[serde(default)]
    mentions: Vec<Mention>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    media_attachments: Vec<Attachment>,
    #[serde(default)]
    quote: Option<Quote>,
    #[serde(default)]
    replies_count: Option<i64>,
    #[serde(default)]
    reblogs_count: Option<i64>,
    #[serde(default)]
    favourites_count: Option<i64>,
    #[serde(default)]
    quotes_count: Option<i64>,
}

#[derive(Deserialize)]
struct Account {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    acct: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct Mention {
    #[serde(default)]
    acct: Option<String>,
}

#[derive(Deserialize)]
struct Tag {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Attachment {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    remote_url: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// Mastodon 4.4+ quotes: `{"state": "accepted", "quoted_status": Status | null}`.
#[derive(Deserialize)]
struct Quote {
    #[serde(default)]
    quoted_status: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    account: Option<Account>,
    #[serde(default)]
    status: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct StreamEvent {
    event: String,
    #[serde(default)]
    payload: Option<serde_json::Value>,
}

/// The keys that tell a status, a notification and a stream event apart.
#[derive(Deserialize)]
struct Probe {
    event: Option<serde::de::IgnoredAny>,
    content: Option<serde::de::IgnoredAny>,
    uri: Option<serde::de::IgnoredAny>,
    #[serde(rename = "type")]
    kind: Option<serde::de::IgnoredAny>,
}

/// Parses a `Status`, a `Notification` or a streaming event.
pub fn parse(raw: &[u8]) -> Parsed {
    let probe: Probe = from_json(raw)?;
    if probe.event.is_some() {
        parse_stream_event(raw)
    } else if probe.kind.is_some() && probe.content.is_none() && probe.uri.is_none() {
        parse_notification(raw, raw)
    } else {
        parse_status(raw, raw)
    }
}

/// The local id a stream `delete` event names, for the listener to resolve.
pub fn stream_delete_id(raw: &[u8]) -> Option<String> {
    let event: StreamEvent = serde_json::from_slice(raw).ok()?;
    match (event.event.as_str(), event.payload) {
        ("delete", Some(serde_json::Value::String(id))) => Some(id),
        ("delete", Some(serde_json::Value::Number(id))) => Some(id.to_string()),
        _ => None,
    }
}

fn parse_stream_event(raw: &[u8]) -> Parsed {
    let event: StreamEvent = from_json(raw)?;
    // The payload is JSON written as a string; the delete payload is a bare id.
    let payload = match &event.payload {
        Some(serde_json::Value::String(text)) => text.as_bytes().to_vec(),
        Some(other @ serde_json::Value::Object(_)) => other.to_string().into_bytes(),
        Some(serde_json::Value::Number(id)) => id.to_string().into_bytes(),
        _ => Vec::new(),
    };
    match event.event.as_str() {
        "update" | "status.update" => parse_status(&payload, raw),
        "notification" => parse_notification(&payload, raw),
        "delete" => Ok(vec![Item::skipped(
            "Mastodon stream delete names only the instance's local status id; the listener resolves it",
        )]),
        other => {
            Ok(vec![Item::skipped(format!("Mastodon stream event {:?} carries no post", crate::time::short(other)))])
        }
    }
}

fn parse_notification(json: &[u8], raw: &[u8]) -> Parsed {
    let n: Notification = from_json(json)?;
    let status = n.status.as_ref().map(|s| s.get().as_bytes());
    match (n.kind.as_str(), status) {
        ("mention" | "status" | "update" | "quote", Some(status)) => parse_status(status, raw),
        (kind @ ("favourite" | "reblog"), Some(status)) => {
            let target: Status = from_json(status)?;
            let who = n.account.as_ref().map(contact_id).unwrap_or_default();
            Ok(vec![Item::Event(PlatformEvent::Engagement(Engagement {
                platform: Platform::Mastodon,
                key: format!("{kind}:{who}:{}", status_key(&target)?),
                target: Some(status_key(&target)?),
                kind: if kind == "favourite" { EngagementKind::Like } else { EngagementKind::Repost },
                active: true,
            }))])
        }
        (kind, _) => Ok(vec![Item::skipped(format!(
            "Mastodon notification of type {:?} carries no post",
            crate::time::short(kind)
        ))]),
    }
}

fn parse_status(json: &[u8], raw: &[u8]) -> Parsed {
    let status: Status = from_json(json)?;
    if let Some(boosted) = &status.reblog {
        let mut items = vec![Item::Event(PlatformEvent::Post(to_post(boosted, raw)?))];
        items.push(Item::Event(PlatformEvent::Engagement(Engagement {
            platform: Platform::Mastodon,
            key: status_key(&status)?,
            target: Some(status_key(boosted)?),
            kind: EngagementKind::Repost,
            active: true,
        })));
        return Ok(items);
    }
    let mut items = vec![Item::Event(PlatformEvent::Post(to_post(&status, raw)?))];
    // A quoted status arrives whole: it is a post of its own.
    let quoted = status.quote.as_ref().and_then(|q| q.quoted_status.as_ref());
    if let Some(Ok(quoted)) = quoted.map(|q| from_json::<Status>(q.get().as_bytes())) {
        items.push(Item::Event(PlatformEvent::Post(to_post(&quoted, raw)?)));
    }
    Ok(items)
}

/// A status's lasting identity: its `uri`, else its `url`, else its local id.
fn status_key(status: &Status) -> Result<String, ParseError> {
    let key = status.uri.as_deref().or(status.url.as_deref()).unwrap_or(&status.id);
    if key.is_empty() { Err(ParseError::value("status has no id")) } else { Ok(key.to_owned()) }
}

fn contact_id(account: &Account) -> String {
    account
        .uri
        .clone()
        .or_else(|| account.url.clone())
        .or_else(|| account.acct.clone())
        .or_else(|| account.id.clone())
        .unwrap_or_default()
}

fn to_post(status: &Status, raw: &[u8]) -> Result<NewPost, ParseError> {
    let html = html::to_text(status.content.as_deref().unwrap_or_default());
    let text = match status.spoiler_text.as_deref().map(str::trim) {
        Some(warning) if !warning.is_empty() => format!("{warning}\n\n{}", html.text),
        _ => html.text,
    };
    let author_id = contact_id(&status.account);
    let author = (!author_id.is_empty()).then(|| NewContact {
        handle: status.account.acct.clone().unwrap_or_else(|| author_id.clone()),
        external_id: author_id,
        display_name: status.account.display_name.clone().filter(|n| !n.is_empty()),
    });
    let quote_of = status
        .quote
        .as_ref()
        .and_then(|q| q.quoted_status.as_ref())
        .and_then(|q| from_json::<Status>(q.get().as_bytes()).ok())
        .and_then(|q| status_key(&q).ok());
    Ok(NewPost {
        platform: Platform::Mastodon,
        external_id: status_key(status)?,
        account_id: None,
        author,
        text,
        lang_hint: status.language.clone(),
        created_at: parse_rfc3339(&status.created_at)?,
        edited_at: status.edited_at.as_deref().map(parse_rfc3339).transpose()?,
        reply_to: status.in_reply_to_id.clone(),
        conversation: None,
        metrics: PostMetrics {
            likes: status.favourites_count.unwrap_or(0),
            reposts: status.reblogs_count.unwrap_or(0),
            replies: status.replies_count.unwrap_or(0),
            quotes: status.quotes_count.unwrap_or(0),
        },
        entities: PostEntities {
            mentions: status.mentions.iter().filter_map(|m| m.acct.clone()).collect(),
            hashtags: status.tags.iter().filter_map(|t| t.name.clone()).collect(),
            links: html.links,
            media: status
                .media_attachments
                .iter()
                .filter_map(|m| {
                    let url = m.url.clone().or_else(|| m.remote_url.clone()).filter(|u| html::is_web_link(u))?;
                    Some(MediaRef {
                        kind: m.kind.clone().unwrap_or_else(|| "unknown".into()),
                        url,
                        alt: m.description.clone().filter(|d| !d.is_empty()),
                    })
                })
                .collect(),
            quote_of,
        },
        raw: raw.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const STATUS: &str = r#"{"id":"110","uri":"https://social.example/users/ana/statuses/110","url":"https://social.example/@ana/110",
      "created_at":"2026-03-02T11:00:00.000Z","edited_at":null,"in_reply_to_id":"109","spoiler_text":"agua",
      "content":"<p><span class=\"h-card\"><a href=\"https://gob.example/@muni\" class=\"u-url mention\">@<span>muni</span></a></span> El agua sale marr&#243;n<br>desde ayer <a href=\"https://social.example/tags/Gent\" class=\"mention hashtag\">#<span>Gent</span></a> <a href=\"https://foto.example/a.jpg\">foto</a></p>",
      "language":"nl","account":{"id":"1","acct":"ana","username":"ana","display_name":"Ana 🌊","url":"https://social.example/@ana","uri":"https://social.example/users/ana"},
      "mentions":[{"id":"7","acct":"muni@gob.example","username":"muni","url":"https://gob.example/@muni"}],
      "tags":[{"name":"Gent","url":"https://social.example/tags/Gent"}],
      "media_attachments":[{"id":"5","type":"image","url":"https://files.example/5.jpg","description":"Grifo"}],
      "replies_count":1,"reblogs_count":2,"favourites_count":3,"reblog":null,"poll":null,"card":null,"emojis":[]}"#;

    fn posts(items: &[Item]) -> Vec<&NewPost> {
        items.iter().filter_map(|i| if let Item::Event(PlatformEvent::Post(p)) = i { Some(p) } else { None }).collect()
    }

    #[test]
    fn a_status_maps_text_author_entities_and_counts() {
        let items = parse(STATUS.as_bytes()).unwrap();
        let p = posts(&items)[0];
        assert_eq!(p.external_id, "https://social.example/users/ana/statuses/110");
        assert_eq!(p.text, "agua\n\n@muni El agua sale marrón\ndesde ayer #Gent foto");
        let author = p.author.as_ref().unwrap();
        assert_eq!((author.external_id.as_str(), author.handle.as_str()), ("https://social.example/users/ana", "ana"));
        assert_eq!((p.lang_hint.as_deref(), p.reply_to.as_deref()), (Some("nl"), Some("109")));
        assert_eq!(p.entities.mentions, ["muni@gob.example"]);
        assert_eq!(p.entities.hashtags, ["Gent"]);
        assert_eq!(p.entities.links, ["https://foto.example/a.jpg"]);
        assert_eq!(p.entities.media[0].alt.as_deref(), Some("Grifo"));
        assert_eq!((p.metrics.likes, p.metrics.reposts, p.metrics.replies), (3, 2, 1));
        assert_eq!(p.raw, STATUS.as_bytes());
    }

    #[test]
    fn a_reblog_is_the_boosted_status_and_a_repost() {
        let raw = format!(
            r#"{{"id":"200","uri":"https://other.example/users/bo/statuses/200/activity","created_at":"2026-03-02T12:00:00Z","content":"","account":{{"acct":"bo@other.example"}},"reblog":{STATUS}}}"#
        );
        let items = parse(raw.as_bytes()).unwrap();
        assert_eq!(posts(&items)[0].external_id, "https://social.example/users/ana/statuses/110");
        let Item::Event(PlatformEvent::Engagement(e)) = &items[1] else { panic!("{:?}", items[1]) };
        assert_eq!(
            (e.kind, e.target.as_deref()),
            (EngagementKind::Repost, Some("https://social.example/users/ana/statuses/110"))
        );
    }

    #[test]
    fn notifications_and_stream_events() {
        let mention = format!(
            r#"{{"id":"9","type":"mention","created_at":"2026-03-02T11:00:01Z","account":{{"acct":"ana"}},"status":{STATUS}}}"#
        );
        assert_eq!(posts(&parse(mention.as_bytes()).unwrap()).len(), 1);
        let fav = format!(
            r#"{{"id":"10","type":"favourite","account":{{"acct":"bo","url":"https://x.example/@bo"}},"status":{STATUS}}}"#
        );
        let Item::Event(PlatformEvent::Engagement(e)) = &parse(fav.as_bytes()).unwrap()[0] else { panic!() };
        assert_eq!((e.kind, e.active), (EngagementKind::Like, true));
        let follow = br#"{"id":"11","type":"follow","account":{"acct":"bo"}}"#;
        assert!(matches!(&parse(follow).unwrap()[0], Item::Skipped(r) if r.contains("follow")));

        let update = serde_json::json!({ "event": "status.update", "payload": STATUS }).to_string();
        let items = parse(update.as_bytes()).unwrap();
        assert_eq!(posts(&items)[0].raw, update.as_bytes(), "the event is kept as received");
        let delete = br#"{"event":"delete","payload":"110"}"#;
        assert!(matches!(&parse(delete).unwrap()[0], Item::Skipped(_)));
        assert_eq!(stream_delete_id(delete).as_deref(), Some("110"));
        assert!(matches!(&parse(br#"{"event":"filters_changed"}"#).unwrap()[0], Item::Skipped(_)));
    }

    #[test]
    fn broken_statuses_are_errors() {
        assert_eq!(parse(br#"{"id":"1","uri":"u","content":"x"}"#).unwrap_err().code, "parse.shape");
        let bad_date = br#"{"id":"1","uri":"u","content":"x","created_at":"soon","account":{}}"#;
        assert_eq!(parse(bad_date).unwrap_err().code, "parse.value");
        assert_eq!(parse(b"{\"id\":\"1\",\"content\":\"\xff\"}").unwrap_err().code, "parse.json");
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_without_panicking(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&raw);
        }

        #[test]
        fn any_text_survives(text in "[^<&]*") {
            let raw = serde_json::json!({"id":"1","uri":"u","created_at":"2026-03-02T11:00:00Z","content":text,"account":{"acct":"a"}});
            let items = parse(raw.to_string().as_bytes()).unwrap();
            prop_assert_eq!(&posts(&items)[0].text, text.trim());
        }
    }
}
