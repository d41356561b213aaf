//! The author's account as the stored payload describes it (Mastodon's `account`,
//! X v1.1's `user`, X v2's `includes.users`), for spam scoring. Payloads without it
//! (Jetstream, webhooks, e-mail, forms) give nothing.

use serde_json::Value;
use townhall_core::AuthorStats;

use crate::from_json;
use crate::time::{parse_rfc3339, parse_twitter_time};

/// The author's account statistics in a stored payload, when it carries them.
pub fn author_stats(raw: &[u8]) -> Option<AuthorStats> {
    let record: Value = from_json(raw).ok()?;
    let count = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64);
    if let Some(account) = record.get("account").filter(|a| a.is_object()) {
        // Mastodon: a status, or a notification naming who mentioned.
        return Some(AuthorStats {
            created_at: account.get("created_at").and_then(Value::as_str).and_then(|t| parse_rfc3339(t).ok()),
            followers: count(account, "followers_count"),
            following: count(account, "following_count"),
            posts: count(account, "statuses_count"),
        });
    }
    if let Some(user) = record.get("user").filter(|u| u.is_object()) {
        return Some(AuthorStats {
            created_at: user.get("created_at").and_then(Value::as_str).and_then(|t| parse_twitter_time(t).ok()),
            followers: count(user, "followers_count"),
            following: count(user, "friends_count"),
            posts: count(user, "statuses_count"),
        });
    }
    let author = record.pointer("/data/author_id").and_then(Value::as_str)?;
    let users = record.pointer("/includes/users").and_then(Value::as_array)?;
    let user = users.iter().find(|u| u.get("id").and_then(Value::as_str) == Some(author))?;
    let metrics = user.get("public_metrics").unwrap_or(&Value::Null);
    Some(AuthorStats {
        created_at: user.get("created_at").and_then(Value::as_str).and_then(|t| parse_rfc3339(t).ok()),
        followers: count(metrics, "followers_count"),
        following: count(metrics, "following_count"),
        posts: count(metrics, "tweet_count"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mastodon_x_v1_and_x_v2_authors() {
        let mastodon = br#"{"id":"1","account":{"followers_count":1,"following_count":900,"statuses_count":2,"created_at":"2026-08-01T00:00:00.000Z"}}"#;
        let stats = author_stats(mastodon).unwrap();
        assert_eq!((stats.followers, stats.following, stats.posts), (Some(1), Some(900), Some(2)));
        assert_eq!(stats.created_at.map(|t| t.to_rfc3339()), Some("2026-08-01T00:00:00+00:00".to_string()));
        let v1 = br#"{"id_str":"5","user":{"followers_count":10,"friends_count":20,"statuses_count":30,"created_at":"Mon Mar 02 10:00:00 +0000 2026"}}"#;
        assert_eq!(author_stats(v1).unwrap().following, Some(20));
        let v2 = br#"{"data":{"id":"9","author_id":"2"},"includes":{"users":[{"id":"1"},{"id":"2","created_at":"2020-01-01T00:00:00Z","public_metrics":{"followers_count":5,"following_count":6,"tweet_count":7}}]}}"#;
        assert_eq!(author_stats(v2).unwrap().posts, Some(7));
    }

    #[test]
    fn payloads_without_an_author_account_give_nothing() {
        assert_eq!(author_stats(br#"{"did":"did:plc:x","kind":"commit"}"#), None);
        assert_eq!(author_stats(b"not json"), None);
        assert_eq!(author_stats(br#"{"account":"a string"}"#), None);
        assert_eq!(author_stats(&b"[".repeat(10_000)), None);
    }

    #[test]
    fn every_real_mastodon_status_and_x_tweet_names_its_author() {
        let dir = std::env::var_os("TOWNHALL_TEST_REAL_FIXTURES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real"));
        for platform in ["mastodon", "x-v1"] {
            let Ok(entries) = std::fs::read_dir(dir.join(platform)) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                let data = std::fs::read(&path).unwrap();
                let records: Vec<&[u8]> = match path.extension().and_then(|e| e.to_str()) {
                    Some("json") => vec![&data[..]],
                    Some("jsonl") => data.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect(),
                    _ => continue,
                };
                for record in records {
                    // Deletion notices and other events carry no author account.
                    let is_post =
                        [&b"\"user\""[..], b"\"account\""].iter().any(|k| record.windows(k.len()).any(|w| w == *k));
                    if is_post {
                        let stats = author_stats(record);
                        assert!(stats.is_some_and(|s| s.followers.is_some()), "{}", path.display());
                    }
                }
            }
        }
    }
}
