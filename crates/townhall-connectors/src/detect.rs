//! Which format a file or a record is in.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::ParseError;

/// An input format `townhall import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Decide per file, then per record.
    Auto,
    /// Mastodon REST `Status` or `Notification`, or a streaming event.
    Mastodon,
    /// Bluesky Jetstream v1 event.
    Jetstream,
    /// X API v2 response (`data` with `includes`).
    XV2,
    /// X API v1.1 tweet object.
    XV1,
    /// The X account archive's `tweets.js`.
    XArchive,
    /// Facebook or Instagram Graph API webhook payload.
    Facebook,
    /// Townhall's generic NDJSON.
    Ndjson,
    /// Townhall's generic CSV.
    Csv,
    /// E-mail messages, one `.eml` or an mbox.
    Email,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: &'static [Format] = &[
        Format::Auto,
        Format::Mastodon,
        Format::Jetstream,
        Format::XV2,
        Format::XV1,
        Format::XArchive,
        Format::Facebook,
        Format::Ndjson,
        Format::Csv,
        Format::Email,
    ];

    /// Its name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Mastodon => "mastodon",
            Format::Jetstream => "jetstream",
            Format::XV2 => "x-v2",
            Format::XV1 => "x-v1",
            Format::XArchive => "x-archive",
            Format::Facebook => "facebook",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Email => "email",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL.iter().copied().find(|f| f.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
            format!("unknown format {:?}; expected one of {}", crate::time::short(s), names.join(", "))
        })
    }
}

/// How a file is laid out, found from its name and first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// JSON: one value a line, pretty documents one after another, or an array.
    Json,
    /// The X archive: `window.YTD.tweets.part0 = [ … ]`.
    XArchive,
    /// CSV with a header row.
    Csv,
    /// One e-mail message or an mbox.
    Email,
}

/// Picks the layout of a file from the format asked for, its name and its first bytes.
pub fn layout(format: Format, file_name: &str, head: &[u8]) -> Result<Layout, ParseError> {
    match format {
        Format::Csv => return Ok(Layout::Csv),
        Format::Email => return Ok(Layout::Email),
        Format::XArchive => return Ok(Layout::XArchive),
        Format::Auto => {}
        _ => return Ok(Layout::Json),
    }
    let name = file_name.to_ascii_lowercase();
    let start = head.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(head).trim_ascii_start();
    if start.starts_with(b"window.YTD.") {
        return Ok(Layout::XArchive);
    }
    if start.starts_with(b"{") || start.starts_with(b"[") {
        return Ok(Layout::Json);
    }
    if name.ends_with(".csv") {
        return Ok(Layout::Csv);
    }
    if name.ends_with(".eml") || name.ends_with(".mbox") || looks_like_mail(start) {
        return Ok(Layout::Email);
    }
    if start.is_empty() {
        return Ok(Layout::Json);
    }
    Err(ParseError::format(format!(
        "{file_name}: cannot tell its format from its name or first bytes; name one with --format"
    )))
}

fn looks_like_mail(start: &[u8]) -> bool {
    const HEADERS: [&[u8]; 8] = [
        b"From ",
        b"Return-Path:",
        b"Received:",
        b"From:",
        b"Message-ID:",
        b"Date:",
        b"MIME-Version:",
        b"Delivered-To:",
    ];
    HEADERS.iter().any(|h| start.len() >= h.len() && start[..h.len()].eq_ignore_ascii_case(h))
}

/// The top-level keys that tell formats apart; values are skipped unread.
#[derive(Deserialize)]
struct Probe {
    // Jetstream
    did: Option<IgnoredAny>,
    time_us: Option<IgnoredAny>,
    kind: Option<IgnoredAny>,
    // Graph API webhooks
    object: Option<String>,
    entry: Option<IgnoredAny>,
    // X
    data: Option<IgnoredAny>,
    includes: Option<IgnoredAny>,
    id_str: Option<IgnoredAny>,
    delete: Option<IgnoredAny>,
    tweet: Option<IgnoredAny>,
    // Mastodon
    account: Option<IgnoredAny>,
    content: Option<IgnoredAny>,
    uri: Option<IgnoredAny>,
    event: Option<IgnoredAny>,
    #[serde(rename = "type")]
    kind_of: Option<IgnoredAny>,
    // Townhall's generic NDJSON
    platform: Option<IgnoredAny>,
    text: Option<IgnoredAny>,
}

/// Tells which format one JSON record is in from its top-level keys.
pub fn sniff_json(raw: &[u8]) -> Result<Format, ParseError> {
    let p: Probe = crate::from_json(raw)?;
    let format = if p.did.is_some() && p.time_us.is_some() && p.kind.is_some() {
        Format::Jetstream
    } else if p.entry.is_some() && matches!(p.object.as_deref(), Some("page" | "instagram" | "user")) {
        Format::Facebook
    } else if p.platform.is_some() && p.text.is_some() {
        Format::Ndjson
    } else if p.tweet.is_some() {
        Format::XArchive
    } else if p.data.is_some() || (p.includes.is_some()) {
        Format::XV2
    } else if p.id_str.is_some() || p.delete.is_some() {
        Format::XV1
    } else if (p.account.is_some() && (p.content.is_some() || p.uri.is_some() || p.kind_of.is_some()))
        // Stream events: `filters_changed` and a few others carry no payload.
        || p.event.is_some()
    {
        Format::Mastodon
    } else {
        return Err(ParseError::format("a JSON record of no format Townhall reads"));
    };
    Ok(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_each_platform_from_its_keys() {
        let cases: [(&str, Format); 9] = [
            (r#"{"did":"did:plc:a","time_us":1,"kind":"commit"}"#, Format::Jetstream),
            (r#"{"object":"page","entry":[]}"#, Format::Facebook),
            (r#"{"data":{"id":"1","text":"hi"}}"#, Format::XV2),
            (r#"{"id_str":"1","text":"hi","user":{}}"#, Format::XV1),
            (r#"{"tweet":{"id_str":"1"}}"#, Format::XArchive),
            (r#"{"id":"1","uri":"u","content":"<p>x</p>","account":{}}"#, Format::Mastodon),
            (r#"{"event":"update","payload":"{}"}"#, Format::Mastodon),
            (r#"{"event":"filters_changed"}"#, Format::Mastodon),
            (r#"{"platform":"web","id":"1","text":"hola"}"#, Format::Ndjson),
        ];
        for (raw, format) in cases {
            assert_eq!(sniff_json(raw.as_bytes()), Ok(format), "{raw}");
        }
        assert_eq!(sniff_json(br#"{"hello":1}"#).unwrap_err().code, "parse.format");
        assert_eq!(sniff_json(b"{\"a\":").unwrap_err().code, "parse.json");
        assert_eq!(sniff_json(b"[1]").unwrap_err().code, "parse.shape");
    }

    #[test]
    fn picks_layout_from_name_and_first_bytes() {
        assert_eq!(layout(Format::Auto, "a.js", b"window.YTD.tweets.part0 = ["), Ok(Layout::XArchive));
        assert_eq!(layout(Format::Auto, "a.txt", b"\xEF\xBB\xBF  [{}]"), Ok(Layout::Json));
        assert_eq!(layout(Format::Auto, "posts.csv", b"platform,id"), Ok(Layout::Csv));
        assert_eq!(layout(Format::Auto, "inbox", b"From MAILER-DAEMON Thu"), Ok(Layout::Email));
        assert_eq!(layout(Format::Auto, "x.bin", b"\x00\x01").unwrap_err().code, "parse.format");
    }
}
