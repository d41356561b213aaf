//! Writes a file of mixed platform records, one a line, for measuring `townhall import`:
//! Mastodon statuses, Jetstream posts, likes and deletions, X v1.1 tweets, Facebook
//! comment webhooks and Townhall's generic records, in the seeds' languages.
//!
//! `cargo run --release --example mixed_corpus -- 1000000 corpus.ndjson [seed]`
//!
//! The same count and seed always write the same bytes.

use std::io::{BufWriter, Write};

use serde_json::json;

const TEXTS: &[(&str, &str)] = &[
    ("es", "¿Cuándo vuelve el agua a Cerro Alegre? Llevamos dos días sin suministro"),
    ("es", "El semáforo de Av. Brasil con Independencia está apagado, es peligroso"),
    ("en", "The 14 bus skipped our stop again this morning, third time this week"),
    ("nl", "Het afval in de Veldstraat is al een week niet opgehaald"),
    ("fr", "Merci pour la réparation rapide de l'éclairage rue Haute 👏"),
    ("mk", "Кога ќе се поправи патот кон Аеродром? Има големи дупки"),
    ("ar", "متى سيتم إصلاح إنارة الشارع في حي الخالدية؟"),
    ("es", "Terremoto fuerte en Valparaíso, hay personas atrapadas en calle Esmeralda 🙏"),
];

/// A small deterministic generator: the corpus must not depend on a crate's version.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let count: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let path = args.get(2).map_or("corpus.ndjson", String::as_str);
    let mut rng = Lcg(args.get(3).and_then(|a| a.parse().ok()).unwrap_or(2010));
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let base_us: u64 = 1_772_445_600_000_000;
    let mut last_bluesky_post = String::new();
    for i in 0..count {
        let (lang, text) = TEXTS[(rng.next() % TEXTS.len() as u64) as usize];
        let author = rng.next() % 50_000;
        let us = base_us + i * 1_000;
        let seconds = us / 1_000_000;
        let record = match i % 10 {
            0..=2 => json!({
                "id": format!("{i}"), "uri": format!("https://social.example/users/u{author}/statuses/{i}"),
                "url": format!("https://social.example/@u{author}/{i}"), "created_at": iso(seconds),
                "content": format!("<p>@<a href=\"https://gob.example/@municipio\" class=\"u-url mention\">municipio</a> {text} #{i}</p>"),
                "language": lang, "spoiler_text": "", "visibility": "public", "in_reply_to_id": null,
                "account": { "id": format!("{author}"), "username": format!("u{author}"), "acct": format!("u{author}"),
                             "display_name": format!("Vecino {author}"), "url": format!("https://social.example/@u{author}") },
                "mentions": [{ "id": "1", "username": "municipio", "acct": "municipio@gob.example", "url": "https://gob.example/@municipio" }],
                "tags": [], "media_attachments": [], "replies_count": 0, "reblogs_count": 0, "favourites_count": rng.next() % 20,
            }),
            3..=5 => {
                last_bluesky_post = format!("at://did:plc:author{author}/app.bsky.feed.post/k{i}");
                json!({
                "did": format!("did:plc:author{author}"), "time_us": us, "kind": "commit",
                "commit": { "rev": format!("rev{i}"), "operation": "create", "collection": "app.bsky.feed.post",
                    "rkey": format!("k{i}"), "cid": format!("bafy{i}"),
                    "record": { "$type": "app.bsky.feed.post", "createdAt": iso(seconds), "langs": [lang], "text": text } },
                })
            }
            6 => json!({
                "created_at": chrono::DateTime::from_timestamp(seconds as i64, 0).unwrap_or_default().format("%a %b %d %H:%M:%S +0000 %Y").to_string(),
                "id_str": format!("19{i:017}"), "text": format!("@gobierno {text}"), "lang": lang,
                "user": { "id_str": format!("{author}"), "screen_name": format!("vecino{author}"), "name": "Vecino" },
                "entities": { "user_mentions": [{ "screen_name": "gobierno", "id_str": "7" }], "hashtags": [], "urls": [] },
                "favorite_count": rng.next() % 10, "retweet_count": 0,
            }),
            7 => json!({
                "object": "page", "entry": [{ "id": "1001", "time": seconds, "changes": [{ "field": "feed", "value": {
                    "from": { "id": format!("{author}"), "name": format!("Vecina {author}") }, "item": "comment",
                    "comment_id": format!("1001_1_{i}"), "post_id": "1001_1", "parent_id": "1001_1", "verb": "add",
                    "created_time": seconds, "message": text } }] }],
            }),
            8 => json!({
                "platform": "web", "id": format!("form-{i}"), "text": text, "created_at": iso(seconds), "lang": lang,
                "author": { "id": format!("vecino-{author}"), "handle": format!("vecino{author}") },
            }),
            // A like of the latest Jetstream post.
            _ => json!({
                "did": format!("did:plc:liker{author}"), "time_us": us, "kind": "commit",
                "commit": { "rev": format!("rev{i}"), "operation": "create", "collection": "app.bsky.feed.like",
                    "rkey": format!("l{i}"), "cid": format!("bafy{i}"),
                    "record": { "$type": "app.bsky.feed.like", "createdAt": iso(seconds),
                        "subject": { "uri": last_bluesky_post, "cid": "x" } } },
            }),
        };
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

fn iso(seconds: u64) -> String {
    chrono::DateTime::from_timestamp(seconds as i64, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
