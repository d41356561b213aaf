//! Townhall's own import format, for web forms, spreadsheets and other tools' exports:
//! one JSON object a line (NDJSON), or a CSV file whose header names the columns.
//!
//! | field (JSON) | CSV column | required | meaning |
//! |---|---|---|---|
//! | `platform` | `platform` | yes | `web`, `email`, `sms`, `phone`, or any platform name (`mastodon`, `x`, …) |
//! | `id` | `id` | yes | the item's id there (string or number); unique per platform |
//! | `text` | `text` | yes | the text, as written |
//! | `created_at` | `created_at` | yes | RFC 3339, e.g. `2026-03-02T09:15:00Z` |
//! | `author.id` | `author_id` | no | the author's id there (defaults to the handle) |
//! | `author.handle` | `author_handle` | no | the author's handle or address |
//! | `author.name` | `author_name` | no | the author's display name |
//! | `lang` | `lang` | no | language the source declared |
//! | `reply_to` | `reply_to` | no | id of the item it answers |
//! | `conversation` | `conversation` | no | id of the thread's first item |
//! | `edited_at` | `edited_at` | no | set on an edited copy: a later edit is a new version |
//! | `deleted_at` | `deleted_at` | no | set when the item was deleted: it becomes a tombstone |
//! | `likes`, `reposts`, `replies`, `quotes` | same | no | public counts |
//! | `mentions`, `hashtags`, `links` | `mentions`, `hashtags`, `links` | no | lists (CSV: separated by spaces) |
//!
//! CSV headers are matched without regard to case; unknown fields and columns are
//! ignored, so exports with extra columns import as they are.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use townhall_core::{NewContact, NewPost, Platform, PlatformEvent, PostEntities, PostMetrics};

use crate::time::short;
use crate::{Item, ParseError, Parsed, from_json, parse_rfc3339};

#[derive(Deserialize)]
struct Record {
    platform: String,
    id: Id,
    text: String,
    created_at: String,
    #[serde(default)]
    author: Option<Author>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    reply_to: Option<Id>,
    #[serde(default)]
    conversation: Option<Id>,
    #[serde(default)]
    edited_at: Option<String>,
    #[serde(default)]
    deleted_at: Option<String>,
    #[serde(default)]
    likes: Option<i64>,
    #[serde(default)]
    reposts: Option<i64>,
    #[serde(default)]
    replies: Option<i64>,
    #[serde(default)]
    quotes: Option<i64>,
    #[serde(default)]
    mentions: Vec<String>,
    #[serde(default)]
    hashtags: Vec<String>,
    #[serde(default)]
    links: Vec<String>,
}

#[derive(Deserialize)]
struct Author {
    #[serde(default)]
    id: Option<Id>,
    #[serde(default)]
    handle: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// An id written as a string or a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(serde_json::Number),
}

impl Id {
    fn into_string(self) -> String {
        match self {
            Id::Text(s) => s,
            Id::Number(n) => n.to_string(),
        }
    }
}

/// Parses one generic NDJSON record.
pub fn parse_json(raw: &[u8]) -> Parsed {
    let r: Record = from_json(raw)?;
    let author = r.author.and_then(|a| {
        let handle = a.handle.filter(|h| !h.is_empty());
        let id = a.id.map(Id::into_string).filter(|i| !i.is_empty()).or_else(|| handle.clone())?;
        Some(NewContact { handle: handle.unwrap_or_else(|| id.clone()), external_id: id, display_name: a.name })
    });
    let fields = Fields {
        platform: r.platform,
        id: r.id.into_string(),
        text: r.text,
        created_at: r.created_at,
        author,
        lang: r.lang,
        reply_to: r.reply_to.map(Id::into_string),
        conversation: r.conversation.map(Id::into_string),
        edited_at: r.edited_at,
        deleted_at: r.deleted_at,
        metrics: PostMetrics {
            likes: r.likes.unwrap_or(0),
            reposts: r.reposts.unwrap_or(0),
            replies: r.replies.unwrap_or(0),
            quotes: r.quotes.unwrap_or(0),
        },
        entities: PostEntities {
            mentions: r.mentions,
            hashtags: r.hashtags,
            links: http_only(r.links),
            ..PostEntities::default()
        },
    };
    fields.into_items(raw)
}

/// The columns a CSV file must have.
const REQUIRED_COLUMNS: [&str; 4] = ["platform", "id", "text", "created_at"];

/// Checks a CSV header names the required columns.
pub fn check_csv_header(header: &csv::StringRecord) -> Result<(), ParseError> {
    let missing: Vec<&str> = REQUIRED_COLUMNS.iter().copied().filter(|c| column(header, c).is_none()).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ParseError::shape(format!(
            "the CSV header lacks the column(s) {}; it needs {}",
            missing.join(", "),
            REQUIRED_COLUMNS.join(", ")
        )))
    }
}

fn column(header: &csv::StringRecord, name: &str) -> Option<usize> {
    header.iter().position(|h| h.trim().trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
}

/// Parses one CSV row: `raw_row` is its exact bytes, `header` the file's first row.
pub fn parse_csv_row(header: &csv::StringRecord, raw_row: &[u8]) -> Parsed {
    check_csv_header(header)?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(raw_row);
    let row = match reader.records().next() {
        Some(Ok(row)) => row,
        Some(Err(e)) => return Err(ParseError { code: "parse.shape", message: format!("not a CSV row: {e}") }),
        None => return Err(ParseError::shape("an empty CSV row")),
    };
    let get = |name: &str| -> Option<String> {
        column(header, name).and_then(|i| row.get(i)).map(str::to_owned).filter(|v| !v.is_empty())
    };
    let required = |name: &str| get(name).ok_or_else(|| ParseError::shape(format!("the {name} cell is empty")));
    let count = |name: &str| -> Result<i64, ParseError> {
        match get(name) {
            None => Ok(0),
            Some(v) => {
                v.trim().parse().map_err(|_| ParseError::value(format!("{name} is not a number: {:?}", short(&v))))
            }
        }
    };
    let list = |name: &str| get(name).map(|v| v.split_whitespace().map(str::to_owned).collect()).unwrap_or_default();
    let handle = get("author_handle");
    let author = get("author_id").or_else(|| handle.clone()).map(|id| NewContact {
        handle: handle.clone().unwrap_or_else(|| id.clone()),
        external_id: id,
        display_name: get("author_name"),
    });
    let fields = Fields {
        platform: required("platform")?,
        id: required("id")?,
        text: get("text").unwrap_or_default(),
        created_at: required("created_at")?,
        author,
        lang: get("lang"),
        reply_to: get("reply_to"),
        conversation: get("conversation"),
        edited_at: get("edited_at"),
        deleted_at: get("deleted_at"),
        metrics: PostMetrics {
            likes: count("likes")?,
            reposts: count("reposts")?,
            replies: count("replies")?,
            quotes: count("quotes")?,
        },
        entities: PostEntities {
            mentions: list("mentions"),
            hashtags: list("hashtags"),
            links: http_only(list("links")),
            ..PostEntities::default()
        },
    };
    fields.into_items(raw_row)
}

/// What both layouts carry, before it is checked.
struct Fields {
    platform: String,
    id: String,
    text: String,
    created_at: String,
    author: Option<NewContact>,
    lang: Option<String>,
    reply_to: Option<String>,
    conversation: Option<String>,
    edited_at: Option<String>,
    deleted_at: Option<String>,
    metrics: PostMetrics,
    entities: PostEntities,
}

impl Fields {
    fn into_items(self, raw: &[u8]) -> Parsed {
        let platform: Platform =
            self.platform.trim().parse().map_err(|e: townhall_core::UnknownName| ParseError::value(e.to_string()))?;
        if self.id.trim().is_empty() {
            return Err(ParseError::value("id is empty"));
        }
        let created_at = parse_rfc3339(&self.created_at)?;
        let edited_at = self.edited_at.as_deref().map(parse_rfc3339).transpose()?;
        let deleted_at: Option<DateTime<Utc>> = self.deleted_at.as_deref().map(parse_rfc3339).transpose()?;
        let post = NewPost {
            platform,
            external_id: self.id.clone(),
            account_id: None,
            author: self.author,
            text: self.text,
            lang_hint: self.lang,
            created_at,
            edited_at,
            reply_to: self.reply_to,
            conversation: self.conversation,
            metrics: self.metrics,
            entities: self.entities,
            raw: raw.to_vec(),
        };
        let mut items = vec![Item::Event(PlatformEvent::Post(post))];
        if let Some(at) = deleted_at {
            // The content is kept, and the deletion recorded on it.
            items.push(Item::Event(PlatformEvent::Deleted { platform, external_id: self.id, at, raw: raw.to_vec() }));
        }
        Ok(items)
    }
}

fn http_only(links: Vec<String>) -> Vec<String> {
    links.into_iter().filter(|l| crate::html::is_web_link(l)).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn post(items: &[Item]) -> &NewPost {
        match &items[0] {
            Item::Event(PlatformEvent::Post(post)) => post,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_json_record_maps_every_field() {
        let raw = br#"{"platform":"web","id":17,"text":"Bache en la calle","created_at":"2026-03-02T09:15:00Z",
            "author":{"id":"v-1","handle":"vecina","name":"Marta"},"lang":"es","reply_to":"16","likes":2,
            "links":["https://example.org/a","javascript:alert(1)"],"hashtags":["baches"],"extra":"ignored"}"#;
        let items = parse_json(raw).unwrap();
        let p = post(&items);
        assert_eq!((p.platform, p.external_id.as_str(), p.text.as_str()), (Platform::Web, "17", "Bache en la calle"));
        assert_eq!(p.author.as_ref().map(|a| (a.external_id.as_str(), a.handle.as_str())), Some(("v-1", "vecina")));
        assert_eq!((p.lang_hint.as_deref(), p.reply_to.as_deref(), p.metrics.likes), (Some("es"), Some("16"), 2));
        assert_eq!(p.entities.links, ["https://example.org/a"]);
        assert_eq!(p.raw, raw);
    }

    #[test]
    fn bad_records_say_what_is_wrong() {
        let missing = parse_json(br#"{"platform":"web","id":"1","text":"x"}"#).unwrap_err();
        assert_eq!(missing.code, "parse.shape");
        assert!(missing.message.contains("created_at"), "{missing}");
        let platform = parse_json(br#"{"platform":"myspace","id":"1","text":"x","created_at":"2026-03-02T09:15:00Z"}"#);
        assert!(platform.unwrap_err().message.contains("mastodon"));
        let date = parse_json(br#"{"platform":"web","id":"1","text":"x","created_at":"ayer"}"#).unwrap_err();
        assert_eq!(date.code, "parse.value");
    }

    #[test]
    fn a_deleted_record_keeps_its_content_and_becomes_a_tombstone() {
        let raw = br#"{"platform":"web","id":"9","text":"x","created_at":"2026-03-02T09:15:00Z","deleted_at":"2026-03-03T00:00:00Z"}"#;
        let items = parse_json(raw).unwrap();
        assert!(matches!(items[1], Item::Event(PlatformEvent::Deleted { .. })));
    }

    #[test]
    fn csv_rows_map_by_header_name_in_any_order_and_case() {
        let header = csv::StringRecord::from(vec![
            "\u{feff}Text",
            "ID",
            "platform",
            "created_at",
            "author_handle",
            "likes",
            "notes",
        ]);
        let raw = "\"Dos líneas,\r\ncon \"\"comillas\"\"\",42,web,2026-03-02T09:15:00Z,vecina,3,whatever".as_bytes();
        let items = parse_csv_row(&header, raw).unwrap();
        let p = post(&items);
        assert_eq!(p.text, "Dos líneas,\r\ncon \"comillas\"");
        assert_eq!((p.external_id.as_str(), p.metrics.likes), ("42", 3));
        assert_eq!(p.author.as_ref().map(|a| a.external_id.as_str()), Some("vecina"));
        assert_eq!(p.raw, raw);
        let missing = check_csv_header(&csv::StringRecord::from(vec!["platform", "text"])).unwrap_err();
        assert!(missing.message.contains("id, created_at"), "{missing}");
        let bad_count = parse_csv_row(&header, b"x,1,web,2026-03-02T09:15:00Z,v,many,").unwrap_err();
        assert_eq!(bad_count.code, "parse.value");
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_without_panicking(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_json(&raw);
            let header = csv::StringRecord::from(vec!["platform", "id", "text", "created_at"]);
            let _ = parse_csv_row(&header, &raw);
        }

        #[test]
        fn any_text_survives_exactly(text in any::<String>()) {
            let record = serde_json::json!({"platform":"web","id":"1","text":text,"created_at":"2026-03-02T09:15:00Z"});
            let items = parse_json(record.to_string().as_bytes()).unwrap();
            prop_assert_eq!(&post(&items).text, &text);
            let header = csv::StringRecord::from(vec!["platform", "id", "text", "created_at"]);
            let mut row = Vec::new();
            csv::Writer::from_writer(&mut row).write_record(["web", "1", &text, "2026-03-02T09:15:00Z"]).unwrap();
            let row = row.strip_suffix(b"\n").unwrap_or(&row).to_vec();
            let items = parse_csv_row(&header, &row).unwrap();
            prop_assert_eq!(&post(&items).text, &text);
        }
    }
}
