//! Facebook and Instagram: Graph API webhook deliveries
//! (`{"object": "page" | "instagram", "entry": [{"id", "time", "changes": [{"field", "value"}]}]}`).
//!
//! One delivery carries many changes; each yields one item, and each item keeps the
//! whole delivery as its raw payload (a change alone is not what was received).
//! Facebook has written the same facts several ways over the years (`from` or
//! `sender_id`/`sender_name`, ids as strings or numbers, `created_time` as seconds or
//! ISO text); all are read. A feed item is keyed by its `comment_id`, else `post_id`,
//! else the photo, video or album id; a rating by its `open_graph_story_id`. A
//! reaction is keyed by its target and who reacted, so changing a reaction's type
//! changes no count and removing it undoes it.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use townhall_core::{
    Engagement, EngagementKind, MediaRef, NewContact, NewPost, Platform, PlatformEvent, PostEntities, PostMetrics,
};

use crate::time::short;
use crate::{Item, ParseError, Parsed, from_json, html, parse_rfc3339};

#[derive(Deserialize)]
struct Delivery {
    object: String,
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    time: Option<Value>,
    #[serde(default)]
    changes: Vec<Change>,
    #[serde(default)]
    messaging: Vec<Value>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: Option<serde_json::Map<String, Value>>,
}

/// Parses one webhook delivery into one item per change.
pub fn parse(raw: &[u8]) -> Parsed {
    let delivery: Delivery = from_json(raw)?;
    let platform = match delivery.object.as_str() {
        "page" => Platform::Facebook,
        "instagram" => Platform::Instagram,
        other => return Err(ParseError::format(format!("webhook object {:?} is not page or instagram", short(other)))),
    };
    let name = if platform == Platform::Instagram { "Instagram" } else { "Facebook" };
    let mut items = Vec::new();
    for entry in &delivery.entry {
        let entry_time = entry.time.as_ref().and_then(time_of);
        for change in &entry.changes {
            let item = match &change.value {
                None => Item::skipped(format!("{name} {} change without a value", short(&change.field))),
                Some(value) => {
                    let v = Fields { map: value, entry_time };
                    match platform {
                        Platform::Instagram => instagram(&change.field, &v, raw)?,
                        _ => facebook(&change.field, &v, raw)?,
                    }
                }
            };
            items.push(item);
        }
        for _ in &entry.messaging {
            items.push(Item::skipped(format!("{name} messaging events are not read by this connector")));
        }
    }
    if items.is_empty() {
        items.push(Item::skipped(format!("{name} delivery without changes")));
    }
    Ok(items)
}

/// A change's value, read leniently.
struct Fields<'a> {
    map: &'a serde_json::Map<String, Value>,
    entry_time: Option<DateTime<Utc>>,
}

impl Fields<'_> {
    /// A field as text, whether written as a string or a number.
    fn text(&self, key: &str) -> Option<String> {
        match self.map.get(key)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn nested(&self, key: &str, field: &str) -> Option<String> {
        match self.map.get(key)?.get(field)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        self.map.get("created_time").and_then(time_of).or(self.entry_time)
    }

    fn author(&self) -> Option<NewContact> {
        let (id, name) = if let Some(id) = self.nested("from", "id") {
            (id, self.nested("from", "name").or_else(|| self.nested("from", "username")))
        } else if let Some(id) = self.text("sender_id") {
            (id, self.text("sender_name"))
        } else if let Some(id) = self.text("reviewer_id") {
            (id, self.text("reviewer_name"))
        } else {
            (self.text("user_id")?, None)
        };
        Some(NewContact { handle: id.clone(), external_id: id, display_name: name })
    }

    fn media(&self) -> Vec<MediaRef> {
        let mut media = Vec::new();
        let mut add = |kind: &str, url: Option<&Value>| {
            if let Some(url) = url.and_then(Value::as_str).filter(|u| html::is_web_link(u)) {
                media.push(MediaRef { kind: kind.into(), url: url.to_owned(), alt: None });
            }
        };
        add("photo", self.map.get("photo"));
        for photo in self.map.get("photos").and_then(Value::as_array).into_iter().flatten() {
            add("photo", Some(photo));
        }
        add("video", self.map.get("video"));
        if self.text("item").as_deref() == Some("video") {
            add("video", self.map.get("link"));
        }
        media
    }
}

fn time_of(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => n.as_i64().and_then(|s| DateTime::from_timestamp(s, 0)),
        Value::String(s) => {
            s.parse::<i64>().ok().and_then(|s| DateTime::from_timestamp(s, 0)).or_else(|| parse_rfc3339(s).ok())
        }
        _ => None,
    }
}

fn facebook(field: &str, v: &Fields, raw: &[u8]) -> Result<Item, ParseError> {
    let item = v.text("item").unwrap_or_default();
    let verb = v.text("verb").unwrap_or_default();
    if !matches!(field, "feed" | "mention" | "ratings") {
        return Ok(Item::skipped(format!("Facebook {} change carries no post", short(field))));
    }
    let id = match (field, item.as_str()) {
        ("ratings", "rating") => v.text("open_graph_story_id"),
        (_, "comment") => v.text("comment_id"),
        _ => v
            .text("post_id")
            .or_else(|| v.text("photo_id"))
            .or_else(|| v.text("video_id"))
            .or_else(|| v.text("album_id"))
            .or_else(|| v.text("event_id"))
            .or_else(|| v.text("share_id")),
    };
    let at = v.time();
    match item.as_str() {
        "like" | "reaction" => {
            let target = v.text("comment_id").or_else(|| v.text("post_id"));
            let (Some(target), Some(who)) = (target, v.author().map(|a| a.external_id)) else {
                return Ok(Item::skipped("Facebook like of the page itself carries no post"));
            };
            return Ok(Item::Event(PlatformEvent::Engagement(Engagement {
                platform: Platform::Facebook,
                key: format!("{target}:{who}"),
                target: Some(target),
                kind: EngagementKind::Like,
                active: verb != "remove",
            })));
        }
        "" => return Ok(Item::skipped(format!("Facebook {} change without an item", short(field)))),
        _ => {}
    }
    let Some(id) = id else {
        return Ok(Item::skipped(format!("Facebook {} {} {} carries no id", short(field), short(&item), short(&verb))));
    };
    let platform = Platform::Facebook;
    let at_or_now = || at.ok_or_else(|| ParseError::value("change without created_time or entry time"));
    let event = match verb.as_str() {
        "add" | "edited" | "edit" => {
            let text = v.text("message").or_else(|| v.text("review_text"));
            if field == "mention" && text.is_none() {
                return Ok(Item::skipped(
                    "Facebook mention carries only ids; its text must be fetched from the Graph API",
                ));
            }
            let edited = verb != "add";
            if edited && text.is_none() {
                // An edit that does not carry the text (a photo swapped, say) must not
                // become an empty version over the one stored.
                return Ok(Item::skipped(format!("Facebook {} edit carries no text", short(&item))));
            }
            let created_at = at_or_now()?;
            PlatformEvent::Post(NewPost {
                platform,
                external_id: id,
                account_id: None,
                author: v.author(),
                text: text.unwrap_or_default(),
                lang_hint: None,
                created_at,
                edited_at: edited.then_some(created_at),
                reply_to: if item == "comment" { v.text("parent_id") } else { None },
                conversation: v.text("post_id"),
                metrics: PostMetrics::default(),
                entities: PostEntities {
                    links: v.text("link").filter(|l| html::is_web_link(l) && item != "video").into_iter().collect(),
                    media: v.media(),
                    ..PostEntities::default()
                },
                raw: raw.to_vec(),
            })
        }
        "remove" | "delete" => {
            PlatformEvent::Deleted { platform, external_id: id, at: at_or_now()?, raw: raw.to_vec() }
        }
        "hide" | "block" | "unhide" | "unblock" => PlatformEvent::Hidden {
            platform,
            external_id: id,
            hidden: matches!(verb.as_str(), "hide" | "block"),
            at: at.unwrap_or_else(Utc::now),
            raw: raw.to_vec(),
        },
        other => return Ok(Item::skipped(format!("Facebook {} {} is not recorded", short(&item), short(other)))),
    };
    Ok(Item::Event(event))
}

fn instagram(field: &str, v: &Fields, raw: &[u8]) -> Result<Item, ParseError> {
    match field {
        "comments" | "live_comments" => {
            let id = v.text("id").ok_or_else(|| ParseError::shape("Instagram comment without an id"))?;
            let media = v.nested("media", "id");
            Ok(Item::Event(PlatformEvent::Post(NewPost {
                platform: Platform::Instagram,
                external_id: id,
                account_id: None,
                author: v.nested("from", "id").map(|id| NewContact {
                    handle: v.nested("from", "username").unwrap_or_else(|| id.clone()),
                    external_id: id,
                    display_name: None,
                }),
                text: v.text("text").unwrap_or_default(),
                lang_hint: None,
                created_at: v.time().unwrap_or_else(Utc::now),
                edited_at: None,
                reply_to: v.text("parent_id").or_else(|| media.clone()),
                conversation: media,
                metrics: PostMetrics::default(),
                entities: PostEntities::default(),
                raw: raw.to_vec(),
            })))
        }
        "mentions" => {
            Ok(Item::skipped("Instagram mention carries only ids; its text must be fetched from the Graph API"))
        }
        other => Ok(Item::skipped(format!("Instagram {} change carries no post", short(other)))),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn change(value: Value) -> Vec<u8> {
        serde_json::json!({"object":"page","entry":[{"id":"1","time":1_700_000_100,"changes":[{"field":"feed","value":value}]}]})
            .to_string()
            .into_bytes()
    }

    fn one(raw: &[u8]) -> Item {
        let mut items = parse(raw).unwrap();
        assert_eq!(items.len(), 1);
        items.remove(0)
    }

    #[test]
    fn comments_are_posts_with_replies_and_media() {
        let raw = change(
            serde_json::json!({"item":"comment","verb":"add","comment_id":"1_2_3","post_id":"1_2","parent_id":"1_2",
            "from":{"id":"77","name":"Vecina"},"created_time":1_700_000_000,"message":"¿Cuándo? 💧","photo":"https://fb.example/p.jpg"}),
        );
        let Item::Event(PlatformEvent::Post(p)) = one(&raw) else { panic!() };
        assert_eq!(
            (p.external_id.as_str(), p.text.as_str(), p.reply_to.as_deref()),
            ("1_2_3", "¿Cuándo? 💧", Some("1_2"))
        );
        assert_eq!(
            p.author.as_ref().map(|a| (a.external_id.as_str(), a.display_name.as_deref())),
            Some(("77", Some("Vecina")))
        );
        assert_eq!((p.created_at.timestamp(), p.edited_at), (1_700_000_000, None));
        assert_eq!(p.entities.media[0].url, "https://fb.example/p.jpg");
        assert_eq!(p.raw, raw);
        let edited = change(
            serde_json::json!({"item":"comment","verb":"edited","comment_id":"1_2_3","post_id":"1_2","sender_id":77,"created_time":"1700000500","message":"edit"}),
        );
        let Item::Event(PlatformEvent::Post(p)) = one(&edited) else { panic!() };
        assert_eq!(p.edited_at.map(|t| t.timestamp()), Some(1_700_000_500));
        let photo_swap = change(
            serde_json::json!({"item":"photo","verb":"edited","post_id":"1_2","photo_id":5,"link":"https://fb.example/q.jpg"}),
        );
        assert!(matches!(one(&photo_swap), Item::Skipped(r) if r.contains("no text")));
    }

    #[test]
    fn hides_removals_reactions_and_other_changes() {
        let hide = change(serde_json::json!({"item":"comment","verb":"hide","comment_id":"1_2_3","post_id":"1_2"}));
        assert!(matches!(one(&hide), Item::Event(PlatformEvent::Hidden { hidden: true, .. })));
        let remove =
            change(serde_json::json!({"item":"post","verb":"remove","post_id":"1_2","created_time":1_700_000_000}));
        assert!(
            matches!(one(&remove), Item::Event(PlatformEvent::Deleted { external_id, .. }) if external_id == "1_2")
        );
        let react = change(
            serde_json::json!({"item":"reaction","verb":"add","reaction_type":"like","post_id":"1_2","from":{"id":"9"}}),
        );
        let unreact = change(
            serde_json::json!({"item":"reaction","verb":"remove","reaction_type":"like","post_id":"1_2","from":{"id":"9"}}),
        );
        let (Item::Event(PlatformEvent::Engagement(a)), Item::Event(PlatformEvent::Engagement(b))) =
            (one(&react), one(&unreact))
        else {
            panic!()
        };
        assert_eq!((a.key == b.key, a.active, b.active), (true, true, false));
        let page_like = change(serde_json::json!({"item":"like","verb":"add","user_id":5}));
        assert!(matches!(one(&page_like), Item::Skipped(r) if r.contains("page itself")));
        let parking = br#"{"object":"page","entry":[{"id":"1","time":1,"changes":[{"field":"parking"}]},{"id":"1","time":2,"changes":[{"field":"payment_options","value":{}}]}]}"#;
        assert!(parse(parking).unwrap().iter().all(|i| matches!(i, Item::Skipped(_))));
        assert_eq!(parse(br#"{"object":"user","entry":[]}"#).unwrap_err().code, "parse.format");
    }

    #[test]
    fn ratings_and_instagram_comments() {
        let rating = serde_json::json!({"object":"page","entry":[{"id":"1","time":1_700_000_000,"changes":[{"field":"ratings","value":
            {"item":"rating","verb":"add","open_graph_story_id":904,"reviewer_id":705,"reviewer_name":"T","rating":3,"review_text":"Buen servicio"}}]}]});
        let Item::Event(PlatformEvent::Post(p)) = one(rating.to_string().as_bytes()) else { panic!() };
        assert_eq!((p.external_id.as_str(), p.text.as_str()), ("904", "Buen servicio"));
        let ig = br#"{"object":"instagram","entry":[{"id":"17","time":1700000000,"changes":[{"field":"comments","value":{"id":"180","text":"Hola","from":{"id":"5","username":"vecino"},"media":{"id":"179"}}}]}]}"#;
        let Item::Event(PlatformEvent::Post(p)) = one(ig) else { panic!() };
        assert_eq!(
            (p.platform, p.reply_to.as_deref(), p.author.unwrap().handle.as_str()),
            (Platform::Instagram, Some("179"), "vecino")
        );
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_without_panicking(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&raw);
        }

        #[test]
        fn any_text_survives_exactly(text in any::<String>()) {
            let raw = change(serde_json::json!({"item":"status","verb":"add","post_id":"1_2","created_time":1,"message":text}));
            let Item::Event(PlatformEvent::Post(p)) = one(&raw) else { panic!() };
            let expected = if text.is_empty() { String::new() } else { text.clone() };
            prop_assert_eq!(p.text, expected);
        }
    }
}
