//! Townhall's platform connectors: for each platform, wire types that mirror its
//! documented format exactly, and one mapping from them into `townhall-core`'s
//! [`PlatformEvent`]s, shared by file import, webhooks and live listening.
//!
//! Every record is hostile input. A parser returns items or a [`ParseError`] with a
//! stable code; it never panics, whatever the bytes (property-tested). It never touches
//! the database: the caller stores what comes out.
//!
//! - [`frame`] cuts a byte stream into records (NDJSON, JSON documents and arrays,
//!   the X archive's `tweets.js`, CSV rows, mbox messages) in bounded memory.
//! - [`detect`] tells which platform's format one record is in.
//! - One module per platform turns a record into items.

use std::fmt;

use serde::de::DeserializeOwned;
use townhall_core::PlatformEvent;

pub mod account_activity;
pub mod author;
pub mod bluesky;
pub mod detect;
pub mod email;
pub mod facebook;
pub mod frame;
pub mod generic;
pub mod html;
pub mod mastodon;
mod time;
pub mod x;

pub use author::author_stats;
pub use detect::Format;
pub use time::{parse_rfc3339, parse_twitter_time};

/// What one record yielded.
// Nearly every item is an event, so boxing it would cost an allocation each for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// Something to store.
    Event(PlatformEvent),
    /// A well-formed record that carries nothing Townhall stores, and why.
    Skipped(String),
}

impl Item {
    /// A skipped record with its reason.
    pub fn skipped(reason: impl Into<String>) -> Item {
        Item::Skipped(reason.into())
    }
}

/// Why a record could not be read. The code is stable; the message is for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// `parse.json` (not JSON or not UTF-8), `parse.shape` (JSON of the wrong shape),
    /// `parse.value` (a field with an impossible value), `parse.too_large`,
    /// `parse.too_deep` (nested beyond [`MAX_DEPTH`]),
    /// `parse.format` (not any format Townhall reads, or not the one asked for).
    pub code: &'static str,
    /// What was wrong, quoting at most a short piece of the input.
    pub message: String,
}

impl ParseError {
    /// A field with an impossible value.
    pub fn value(message: impl Into<String>) -> ParseError {
        ParseError { code: "parse.value", message: message.into() }
    }

    /// JSON of the wrong shape.
    pub fn shape(message: impl Into<String>) -> ParseError {
        ParseError { code: "parse.shape", message: message.into() }
    }

    /// Not the format expected.
    pub fn format(message: impl Into<String>) -> ParseError {
        ParseError { code: "parse.format", message: message.into() }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ParseError {}

/// What a parser returns for one record.
pub type Parsed = Result<Vec<Item>, ParseError>;

/// The deepest nesting of objects and arrays a record may have. Real payloads stay
/// under 12; wire types nest (a retweet holds a tweet), and reading a record nested
/// hundreds deep would overflow the stack and abort the process, so deeper records
/// are refused before they are read.
pub const MAX_DEPTH: usize = 48;

/// Refuses JSON nested deeper than [`MAX_DEPTH`], in one pass over the bytes.
fn check_depth(raw: &[u8]) -> Result<(), ParseError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in raw {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ParseError {
                        code: "parse.too_deep",
                        message: format!("nested more than {MAX_DEPTH} levels deep"),
                    });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Reads a JSON record into wire type `T`, telling bad JSON apart from a wrong shape.
pub fn from_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ParseError> {
    check_depth(raw)?;
    serde_json::from_slice(raw).map_err(|e| {
        let code = match e.classify() {
            serde_json::error::Category::Data => "parse.shape",
            _ => "parse.json",
        };
        ParseError { code, message: e.to_string() }
    })
}

/// Parses one JSON record in `format`; with [`Format::Auto`] the record's own shape
/// decides, so one file may mix platforms.
pub fn parse_json_record(format: Format, raw: &[u8]) -> Parsed {
    let format = match format {
        Format::Auto => detect::sniff_json(raw)?,
        other => other,
    };
    match format {
        Format::Mastodon => mastodon::parse(raw),
        Format::Jetstream => bluesky::parse(raw),
        Format::XV2 => x::parse_v2(raw),
        Format::XV1 => x::parse_v1(raw),
        Format::XArchive => x::parse_archive(raw),
        Format::Facebook => facebook::parse(raw),
        Format::Ndjson => generic::parse_json(raw),
        Format::Auto | Format::Csv | Format::Email => {
            Err(ParseError::format(format!("a {format} record is not read as JSON")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A retweet of a retweet of … `depth` deep.
    fn nested_retweets(depth: usize) -> String {
        let mut tweet = String::from(r#"{"created_at":"Mon Mar 02 10:00:00 +0000 2026","id_str":"1","text":"x"}"#);
        for _ in 0..depth {
            tweet = format!(
                r#"{{"created_at":"Mon Mar 02 10:00:00 +0000 2026","id_str":"1","text":"x","retweeted_status":{tweet}}}"#
            );
        }
        tweet
    }

    #[test]
    fn records_nested_too_deep_are_refused_before_they_can_overflow_the_stack() {
        // Up to the limit, read on a thread with a small stack, as the importer's are.
        let ok = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(|| x::parse_v1(nested_retweets(MAX_DEPTH - 1).as_bytes()).map(|items| items.len()))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(ok, Ok(MAX_DEPTH));
        let deep = nested_retweets(10_000);
        for format in Format::ALL.iter().copied().filter(|f| !matches!(f, Format::Csv | Format::Email)) {
            assert_eq!(parse_json_record(format, deep.as_bytes()).unwrap_err().code, "parse.too_deep", "{format}");
        }
        let brackets = "[".repeat(100_000);
        assert_eq!(from_json::<serde_json::Value>(brackets.as_bytes()).unwrap_err().code, "parse.too_deep");
        // Brackets inside strings are text, not nesting.
        let in_text = serde_json::json!({ "a": "[".repeat(100) });
        assert_eq!(from_json::<serde_json::Value>(in_text.to_string().as_bytes()).ok(), Some(in_text));
    }
}
