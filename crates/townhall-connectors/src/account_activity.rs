//! X's Account Activity API: what X posts to a registered webhook for a subscribed
//! account. One delivery carries arrays of events; tweets in it are v1.1 tweet
//! objects, read by [`crate::x::parse_v1`] from their exact bytes.

use serde::Deserialize;
use serde_json::value::RawValue;
use townhall_core::{Engagement, EngagementKind, Platform, PlatformEvent};

use crate::{Item, ParseError, Parsed, from_json};

#[derive(Deserialize)]
struct Delivery {
    #[serde(default)]
    tweet_create_events: Vec<Box<RawValue>>,
    #[serde(default)]
    favorite_events: Vec<Favorite>,
    #[serde(default)]
    tweet_delete_events: Vec<Deletion>,
    /// Every other event array (follows, blocks, direct messages, …), by name.
    #[serde(flatten)]
    other: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct Favorite {
    id: String,
    favorited_status: IdOnly,
}

#[derive(Deserialize)]
struct IdOnly {
    id_str: String,
}

#[derive(Deserialize)]
struct Deletion {
    status: DeletedStatus,
    timestamp_ms: serde_json::Value,
}

#[derive(Deserialize)]
struct DeletedStatus {
    id: String,
}

/// Parses one Account Activity delivery into its events.
pub fn parse(raw: &[u8]) -> Parsed {
    let delivery: Delivery = from_json(raw)?;
    let mut items = Vec::new();
    for tweet in delivery.tweet_create_events {
        items.extend(crate::x::parse_v1(tweet.get().as_bytes())?);
    }
    for favorite in delivery.favorite_events {
        items.push(Item::Event(PlatformEvent::Engagement(Engagement {
            platform: Platform::X,
            key: favorite.id,
            target: Some(favorite.favorited_status.id_str),
            kind: EngagementKind::Like,
            active: true,
        })));
    }
    for deletion in delivery.tweet_delete_events {
        let millis = match &deletion.timestamp_ms {
            serde_json::Value::String(s) => s.parse::<i64>().ok(),
            serde_json::Value::Number(n) => n.as_i64(),
            _ => None,
        };
        let at = millis
            .and_then(chrono::DateTime::from_timestamp_millis)
            .ok_or_else(|| ParseError::value("tweet_delete_events: timestamp_ms is not a time"))?;
        items.push(Item::Event(PlatformEvent::Deleted {
            platform: Platform::X,
            external_id: deletion.status.id,
            at,
            raw: raw.to_vec(),
        }));
    }
    for (name, value) in delivery.other {
        if name.ends_with("_events") {
            let n = value.as_array().map_or(1, Vec::len);
            for _ in 0..n {
                items.push(Item::skipped(format!("X account activity {name} carry no post")));
            }
        }
    }
    if items.is_empty() {
        items.push(Item::skipped("X account activity delivery with no events"));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn favorites_deletions_and_other_events_are_mapped() {
        let raw = br#"{"for_user_id":"2244994945",
            "favorite_events":[{"id":"a7ba59eab0bfcba386f7acedac279542","created_at":"Mon Mar 26 16:33:26 +0000 2018",
              "timestamp_ms":1522082006140,"favorited_status":{"id_str":"994633657141813248"},"user":{"id_str":"1"}}],
            "tweet_delete_events":[{"status":{"id":"601430178305220608","user_id":"3198576760"},"timestamp_ms":"1432228155593"}],
            "follow_events":[{"type":"follow"}]}"#;
        let items = parse(raw).unwrap();
        assert_eq!(items.len(), 3);
        let Item::Event(PlatformEvent::Engagement(like)) = &items[0] else { panic!("{:?}", items[0]) };
        assert_eq!(
            (like.target.as_deref(), like.kind, like.active),
            (Some("994633657141813248"), EngagementKind::Like, true)
        );
        let Item::Event(PlatformEvent::Deleted { external_id, at, .. }) = &items[1] else { panic!("{:?}", items[1]) };
        assert_eq!((external_id.as_str(), at.timestamp()), ("601430178305220608", 1_432_228_155));
        assert_eq!(items[2], Item::skipped("X account activity follow_events carry no post"));
        assert_eq!(parse(b"{}").unwrap(), [Item::skipped("X account activity delivery with no events")]);
        assert_eq!(parse(b"[]").unwrap_err().code, "parse.shape");
    }
}
