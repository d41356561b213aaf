//! The timestamp formats platforms use.

use chrono::{DateTime, Utc};

use crate::ParseError;

/// RFC 3339 / ISO 8601 with an offset, as Mastodon, Bluesky, X v2 and Graph API send it
/// (Graph API writes `+0000`, which RFC 3339 lacks, so that is taken too).
pub fn parse_rfc3339(text: &str) -> Result<DateTime<Utc>, ParseError> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z"))
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ParseError::value(format!("not a timestamp: {:?}", short(text))))
}

/// X v1.1's `Wed Oct 10 20:19:24 +0000 2018`.
pub fn parse_twitter_time(text: &str) -> Result<DateTime<Utc>, ParseError> {
    DateTime::parse_from_str(text, "%a %b %d %H:%M:%S %z %Y")
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ParseError::value(format!("not an X v1.1 timestamp: {:?}", short(text))))
}

/// At most 64 characters of an input, for messages.
pub(crate) fn short(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_platform_timestamp() {
        let a = parse_rfc3339("2024-01-02T03:04:05.678Z").unwrap();
        let b = parse_rfc3339("2024-01-02T03:04:05+0000").unwrap();
        let c = parse_twitter_time("Tue Jan 02 03:04:05 +0000 2024").unwrap();
        assert_eq!(b, c);
        assert_eq!(a.timestamp(), b.timestamp());
        assert_eq!(parse_rfc3339("yesterday").unwrap_err().code, "parse.value");
    }
}
