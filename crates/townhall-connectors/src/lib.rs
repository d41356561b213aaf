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

/// Reads a JSON record into wire type `T`, telling bad JSON apart from a wrong shape.
pub fn from_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ParseError> {
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
