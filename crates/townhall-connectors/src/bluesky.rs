//! Bluesky, through Jetstream v1: JSON events of the AT Protocol firehose
//! (github.com/bluesky-social/jetstream). `kind` is `commit`, `identity` or `account`;
//! a commit creates, updates or deletes one record of one collection.
//!
//! A post is keyed by its AT URI, `at://{did}/app.bsky.feed.post/{rkey}`, which replies
//! and quotes use to point at it. Likes and reposts are engagements keyed by their own
//! AT URI, so their deletion (which names only that) undoes them. Jetstream carries no
//! handle, so an author's handle is their DID until a profile says otherwise. Image
//! blobs are referenced at the Bluesky app's image CDN
//! (`https://cdn.bsky.app/img/feed_fullsize/plain/{did}/{cid}`); nothing is fetched.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use townhall_core::{
    Engagement, EngagementKind, MediaRef, NewContact, NewPost, Platform, PlatformEvent, PostEntities, PostMetrics,
};

use crate::{Item, ParseError, Parsed, from_json, html, parse_rfc3339};

#[derive(Deserialize)]
struct Event {
    did: String,
    time_us: i64,
    kind: String,
    #[serde(default)]
    commit: Option<Commit>,
}

#[derive(Deserialize)]
struct Commit {
    operation: String,
    collection: String,
    rkey: String,
    #[serde(default)]
    record: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct PostRecord {
    #[serde(default)]
    text: String,
    #[serde(rename = "createdAt", default)]
    created_at: Option<String>,
    #[serde(default)]
    langs: Vec<String>,
    #[serde(default)]
    reply: Option<Reply>,
    #[serde(default)]
    facets: Vec<Facet>,
    #[serde(default)]
    embed: Option<Embed>,
}

#[derive(Deserialize)]
struct Reply {
    root: StrongRef,
    parent: StrongRef,
}

#[derive(Deserialize)]
struct StrongRef {
    uri: String,
}

#[derive(Deserialize)]
struct Facet {
    #[serde(default)]
    features: Vec<Feature>,
}

#[derive(Deserialize)]
struct Feature {
    #[serde(rename = "$type", default)]
    kind: String,
    #[serde(default)]
    did: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    tag: Option<String>,
}

#[derive(Deserialize)]
struct Embed {
    #[serde(rename = "$type", default)]
    kind: String,
    #[serde(default)]
    images: Vec<Image>,
    #[serde(default)]
    external: Option<External>,
    /// `app.bsky.embed.record`: `{uri, cid}`; `recordWithMedia`: `{record: {uri, cid}}`.
    #[serde(default)]
    record: Option<serde_json::Value>,
    #[serde(default)]
    media: Option<Box<Embed>>,
    #[serde(default)]
    video: Option<Blob>,
    #[serde(default)]
    alt: Option<String>,
}

#[derive(Deserialize)]
struct Image {
    #[serde(default)]
    alt: Option<String>,
    #[serde(default)]
    image: Option<Blob>,
}

#[derive(Deserialize)]
struct Blob {
    #[serde(rename = "ref", default)]
    reference: Option<Link>,
}

#[derive(Deserialize)]
struct Link {
    #[serde(rename = "$link")]
    link: String,
}

#[derive(Deserialize)]
struct External {
    #[serde(default)]
    uri: Option<String>,
}

#[derive(Deserialize)]
struct Subject {
    subject: StrongRef,
}

/// The event's `time_us`, the cursor a Jetstream client resumes from.
pub fn cursor(raw: &[u8]) -> Option<i64> {
    #[derive(Deserialize)]
    struct Time {
        time_us: i64,
    }
    serde_json::from_slice::<Time>(raw).ok().map(|t| t.time_us)
}

/// Parses one Jetstream event.
pub fn parse(raw: &[u8]) -> Parsed {
    let event: Event = from_json(raw)?;
    let at = DateTime::<Utc>::from_timestamp_micros(event.time_us)
        .filter(|_| event.time_us >= 0)
        .ok_or_else(|| ParseError::value(format!("time_us {} is not a time", event.time_us)))?;
    let commit = match (event.kind.as_str(), &event.commit) {
        ("commit", Some(commit)) => commit,
        ("commit", None) => return Err(ParseError::shape("commit event without a commit")),
        (kind, _) => {
            return Ok(vec![Item::skipped(format!("Bluesky {} event carries no post", crate::time::short(kind)))]);
        }
    };
    let uri = format!("at://{}/{}/{}", event.did, commit.collection, commit.rkey);
    let item = match (commit.collection.as_str(), commit.operation.as_str()) {
        ("app.bsky.feed.post", "create" | "update") => {
            let record = commit.record.as_ref().ok_or_else(|| ParseError::shape("post commit without a record"))?;
            let record: PostRecord =
                serde_json::from_value(record.clone()).map_err(|e| ParseError::shape(format!("post record: {e}")))?;
            let edited_at = (commit.operation == "update").then_some(at);
            PlatformEvent::Post(to_post(&event.did, uri, record, at, edited_at, raw)?)
        }
        ("app.bsky.feed.post", "delete") => {
            PlatformEvent::Deleted { platform: Platform::Bluesky, external_id: uri, at, raw: raw.to_vec() }
        }
        (collection @ ("app.bsky.feed.like" | "app.bsky.feed.repost"), operation) => {
            let kind = if collection == "app.bsky.feed.like" { EngagementKind::Like } else { EngagementKind::Repost };
            let target = match operation {
                "delete" => None,
                _ => {
                    let record = commit.record.clone().ok_or_else(|| ParseError::shape("like without a record"))?;
                    let subject: Subject = serde_json::from_value(record)
                        .map_err(|e| ParseError::shape(format!("{collection} record: {e}")))?;
                    Some(subject.subject.uri)
                }
            };
            let active = operation != "delete";
            PlatformEvent::Engagement(Engagement { platform: Platform::Bluesky, key: uri, target, kind, active })
        }
        (collection, operation) => {
            return Ok(vec![Item::skipped(format!(
                "Bluesky {} of {} carries no post",
                crate::time::short(operation),
                crate::time::short(collection)
            ))]);
        }
    };
    Ok(vec![Item::Event(item)])
}

fn to_post(
    did: &str,
    uri: String,
    record: PostRecord,
    at: DateTime<Utc>,
    edited_at: Option<DateTime<Utc>>,
    raw: &[u8],
) -> Result<NewPost, ParseError> {
    // createdAt is what the author's client claims; when it is unreadable the time
    // Jetstream saw the commit is the best we have.
    let created_at = record.created_at.as_deref().and_then(|t| parse_rfc3339(t).ok()).unwrap_or(at);
    let mut entities = PostEntities::default();
    for feature in record.facets.iter().flat_map(|f| &f.features) {
        match feature.kind.as_str() {
            "app.bsky.richtext.facet#mention" => entities.mentions.extend(feature.did.clone()),
            "app.bsky.richtext.facet#link" => {
                entities.links.extend(feature.uri.clone().filter(|u| html::is_web_link(u)));
            }
            "app.bsky.richtext.facet#tag" => entities.hashtags.extend(feature.tag.clone()),
            _ => {}
        }
    }
    if let Some(embed) = &record.embed {
        add_embed(did, embed, &mut entities);
    }
    Ok(NewPost {
        platform: Platform::Bluesky,
        external_id: uri,
        account_id: None,
        author: Some(NewContact { external_id: did.to_owned(), handle: did.to_owned(), display_name: None }),
        text: record.text,
        lang_hint: record.langs.into_iter().next(),
        created_at,
        edited_at,
        conversation: record.reply.as_ref().map(|r| r.root.uri.clone()),
        reply_to: record.reply.map(|r| r.parent.uri),
        metrics: PostMetrics::default(),
        entities,
        raw: raw.to_vec(),
    })
}

fn add_embed(did: &str, embed: &Embed, entities: &mut PostEntities) {
    let blob_url = |blob: &Blob| {
        blob.reference.as_ref().map(|r| format!("https://cdn.bsky.app/img/feed_fullsize/plain/{did}/{}", r.link))
    };
    match embed.kind.as_str() {
        "app.bsky.embed.images" => {
            for image in &embed.images {
                if let Some(url) = image.image.as_ref().and_then(blob_url) {
                    entities.media.push(MediaRef {
                        kind: "image".into(),
                        url,
                        alt: image.alt.clone().filter(|a| !a.is_empty()),
                    });
                }
            }
        }
        "app.bsky.embed.video" => {
            if let Some(url) = embed.video.as_ref().and_then(blob_url) {
                entities.media.push(MediaRef { kind: "video".into(), url, alt: embed.alt.clone() });
            }
        }
        "app.bsky.embed.external" => {
            entities.links.extend(embed.external.as_ref().and_then(|e| e.uri.clone()).filter(|u| html::is_web_link(u)));
        }
        "app.bsky.embed.record" => entities.quote_of = record_uri(embed.record.as_ref()),
        "app.bsky.embed.recordWithMedia" => {
            entities.quote_of = embed.record.as_ref().and_then(|r| record_uri(r.get("record")));
            if let Some(media) = &embed.media {
                add_embed(did, media, entities);
            }
        }
        _ => {}
    }
}

fn record_uri(record: Option<&serde_json::Value>) -> Option<String> {
    record?.get("uri")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn event(operation: &str, collection: &str, record: serde_json::Value) -> Vec<u8> {
        serde_json::json!({"did":"did:plc:ana","time_us":1_725_911_162_329_308_i64,"kind":"commit",
            "commit":{"rev":"r","operation":operation,"collection":collection,"rkey":"3k","record":record,"cid":"c"}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_reply_with_facets_images_and_a_quote() {
        let raw = event(
            "create",
            "app.bsky.feed.post",
            serde_json::json!({
            "$type":"app.bsky.feed.post","createdAt":"2024-09-09T19:46:02.102Z","langs":["es","en"],
            "text":"@muni.bsky.social ¿y el agua? #Valpo https://x.example",
            "reply":{"root":{"uri":"at://did:plc:muni/app.bsky.feed.post/1","cid":"a"},"parent":{"uri":"at://did:plc:muni/app.bsky.feed.post/2","cid":"b"}},
            "facets":[{"index":{"byteStart":0,"byteEnd":17},"features":[{"$type":"app.bsky.richtext.facet#mention","did":"did:plc:muni"}]},
                      {"index":{"byteStart":31,"byteEnd":37},"features":[{"$type":"app.bsky.richtext.facet#tag","tag":"Valpo"}]},
                      {"index":{"byteStart":38,"byteEnd":54},"features":[{"$type":"app.bsky.richtext.facet#link","uri":"https://x.example"}]}],
            "embed":{"$type":"app.bsky.embed.recordWithMedia",
                     "record":{"record":{"uri":"at://did:plc:bo/app.bsky.feed.post/9","cid":"q"}},
                     "media":{"$type":"app.bsky.embed.images","images":[{"alt":"grifo","image":{"$type":"blob","ref":{"$link":"bafkimg"},"mimeType":"image/jpeg","size":1}}]}}}),
        );
        let items = parse(&raw).unwrap();
        let Item::Event(PlatformEvent::Post(p)) = &items[0] else { panic!("{items:?}") };
        assert_eq!(p.external_id, "at://did:plc:ana/app.bsky.feed.post/3k");
        assert_eq!((p.lang_hint.as_deref(), p.edited_at), (Some("es"), None));
        assert_eq!(p.reply_to.as_deref(), Some("at://did:plc:muni/app.bsky.feed.post/2"));
        assert_eq!(p.conversation.as_deref(), Some("at://did:plc:muni/app.bsky.feed.post/1"));
        assert_eq!(p.entities.mentions, ["did:plc:muni"]);
        assert_eq!(p.entities.hashtags, ["Valpo"]);
        assert_eq!(p.entities.links, ["https://x.example"]);
        assert_eq!(p.entities.quote_of.as_deref(), Some("at://did:plc:bo/app.bsky.feed.post/9"));
        assert_eq!(p.entities.media[0].url, "https://cdn.bsky.app/img/feed_fullsize/plain/did:plc:ana/bafkimg");
        assert_eq!(p.raw, raw);
        assert_eq!(cursor(&raw), Some(1_725_911_162_329_308));
    }

    #[test]
    fn updates_deletes_likes_and_other_events() {
        let update = event(
            "update",
            "app.bsky.feed.post",
            serde_json::json!({"text":"edit","createdAt":"2024-09-09T19:46:02Z"}),
        );
        let Item::Event(PlatformEvent::Post(p)) = &parse(&update).unwrap()[0] else { panic!() };
        assert!(p.edited_at.is_some());
        let delete = event("delete", "app.bsky.feed.post", serde_json::Value::Null);
        assert!(
            matches!(&parse(&delete).unwrap()[0], Item::Event(PlatformEvent::Deleted { external_id, .. }) if external_id.ends_with("/3k"))
        );
        let like = event(
            "create",
            "app.bsky.feed.like",
            serde_json::json!({"subject":{"uri":"at://did:plc:muni/app.bsky.feed.post/2","cid":"x"},"createdAt":"2024-09-09T19:46:02Z"}),
        );
        let Item::Event(PlatformEvent::Engagement(e)) = &parse(&like).unwrap()[0] else { panic!() };
        assert_eq!(
            (e.key.as_str(), e.target.as_deref(), e.active),
            ("at://did:plc:ana/app.bsky.feed.like/3k", Some("at://did:plc:muni/app.bsky.feed.post/2"), true)
        );
        let unlike = event("delete", "app.bsky.feed.like", serde_json::Value::Null);
        let Item::Event(PlatformEvent::Engagement(e)) = &parse(&unlike).unwrap()[0] else { panic!() };
        assert_eq!((e.target.as_deref(), e.active), (None, false));
        let follow = event("create", "app.bsky.graph.follow", serde_json::json!({"subject":"did:plc:x"}));
        assert!(matches!(&parse(&follow).unwrap()[0], Item::Skipped(r) if r.contains("app.bsky.graph.follow")));
        let identity = br#"{"did":"did:plc:a","time_us":1,"kind":"identity","identity":{}}"#;
        assert!(matches!(&parse(identity).unwrap()[0], Item::Skipped(r) if r.contains("identity")));
        let far = br#"{"did":"did:plc:a","time_us":-9223372036854775808,"kind":"commit"}"#;
        assert_eq!(parse(far).unwrap_err().code, "parse.value");
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_without_panicking(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&raw);
        }

        #[test]
        fn any_text_survives_exactly(text in any::<String>()) {
            let raw = event("create", "app.bsky.feed.post", serde_json::json!({"text": text, "createdAt": "2024-09-09T19:46:02Z"}));
            let Item::Event(PlatformEvent::Post(p)) = &parse(&raw).unwrap()[0] else { panic!() };
            prop_assert_eq!(&p.text, &text);
        }
    }
}
