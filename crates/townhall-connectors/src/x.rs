//! X (Twitter): API v2 responses (`data` with `includes`), v1.1 tweet objects (the
//! streaming and Account Activity format) and the account archive's `tweets.js`.
//!
//! A post is keyed by its id (a decimal string); a v2 edit, which X gives a new id, by
//! the first id of its edit history, so it becomes a version of the original. Post
//! text is HTML-escaped by X (`&amp;`, `&lt;`, `&gt;`) in v1.1 and v2 alike: it is
//! decoded once. A long v1.1 tweet carries its whole
//! text only in `extended_tweet.full_text`, a long v2 post in `note_tweet.text`. A
//! retweet is stored as the tweet it retweets plus a repost of it; a quoted tweet that
//! arrives whole is stored as a post of its own.

use serde::Deserialize;
use townhall_core::{
    Engagement, EngagementKind, MediaRef, NewContact, NewPost, Platform, PlatformEvent, PostEntities, PostMetrics,
};

use crate::{Item, ParseError, Parsed, from_json, html, parse_rfc3339, parse_twitter_time};

/// An id or count as X writes it: a string, or a number in older payloads and archives.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum Lenient {
    Text(String),
    Number(serde_json::Number),
}

impl Lenient {
    fn text(&self) -> String {
        match self {
            Lenient::Text(s) => s.clone(),
            Lenient::Number(n) => n.to_string(),
        }
    }

    fn count(&self) -> i64 {
        match self {
            Lenient::Text(s) => s.trim().parse().unwrap_or(0),
            Lenient::Number(n) => n.as_i64().unwrap_or(0),
        }
    }
}

fn count(value: &Option<Lenient>) -> i64 {
    value.as_ref().map_or(0, Lenient::count)
}

// ---- v1.1 -------------------------------------------------------------------------

#[derive(Deserialize)]
struct TweetV1 {
    #[serde(default)]
    id_str: Option<String>,
    #[serde(default)]
    id: Option<Lenient>,
    created_at: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    full_text: Option<String>,
    #[serde(default)]
    extended_tweet: Option<Extended>,
    #[serde(default)]
    user: Option<UserV1>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    in_reply_to_status_id_str: Option<String>,
    #[serde(default)]
    quoted_status_id_str: Option<String>,
    #[serde(default)]
    quoted_status: Option<Box<TweetV1>>,
    #[serde(default)]
    retweeted_status: Option<Box<TweetV1>>,
    #[serde(default)]
    entities: Option<EntitiesV1>,
    #[serde(default)]
    extended_entities: Option<EntitiesV1>,
    #[serde(default)]
    favorite_count: Option<Lenient>,
    #[serde(default)]
    retweet_count: Option<Lenient>,
    #[serde(default)]
    reply_count: Option<Lenient>,
    #[serde(default)]
    quote_count: Option<Lenient>,
}

#[derive(Deserialize)]
struct Extended {
    #[serde(default)]
    full_text: Option<String>,
    #[serde(default)]
    entities: Option<EntitiesV1>,
    #[serde(default)]
    extended_entities: Option<EntitiesV1>,
}

#[derive(Deserialize)]
struct UserV1 {
    #[serde(default)]
    id_str: Option<String>,
    #[serde(default)]
    id: Option<Lenient>,
    #[serde(default)]
    screen_name: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize, Default)]
struct EntitiesV1 {
    #[serde(default)]
    user_mentions: Vec<MentionV1>,
    #[serde(default)]
    hashtags: Vec<HashtagV1>,
    #[serde(default)]
    urls: Vec<UrlV1>,
    #[serde(default)]
    media: Vec<MediaV1>,
}

#[derive(Deserialize)]
struct MentionV1 {
    #[serde(default)]
    screen_name: Option<String>,
}

#[derive(Deserialize)]
struct HashtagV1 {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct UrlV1 {
    #[serde(default)]
    expanded_url: Option<String>,
}

#[derive(Deserialize)]
struct MediaV1 {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    media_url_https: Option<String>,
    #[serde(default)]
    ext_alt_text: Option<String>,
}

#[derive(Deserialize)]
struct StreamMessage {
    #[serde(default)]
    delete: Option<DeleteNotice>,
}

#[derive(Deserialize)]
struct DeleteNotice {
    status: DeletedStatus,
    #[serde(default)]
    timestamp_ms: Option<Lenient>,
}

#[derive(Deserialize)]
struct DeletedStatus {
    #[serde(default)]
    id_str: Option<String>,
    #[serde(default)]
    id: Option<Lenient>,
}

/// The keys that tell a tweet from other v1.1 stream messages.
#[derive(Deserialize)]
struct ProbeV1 {
    created_at: Option<serde::de::IgnoredAny>,
    delete: Option<serde::de::IgnoredAny>,
}

/// Parses one v1.1 tweet object, or a stream message (`delete`, `limit`, …).
pub fn parse_v1(raw: &[u8]) -> Parsed {
    let probe: ProbeV1 = from_json(raw)?;
    if probe.delete.is_some() {
        let message: StreamMessage = from_json(raw)?;
        let Some(notice) = message.delete else { return Err(ParseError::shape("empty delete notice")) };
        let id = notice.status.id_str.or_else(|| notice.status.id.map(|i| i.text()));
        let id = id.ok_or_else(|| ParseError::shape("delete notice without a status id"))?;
        let at = notice
            .timestamp_ms
            .and_then(|t| chrono::DateTime::from_timestamp_millis(t.count()))
            .unwrap_or_else(chrono::Utc::now);
        return Ok(vec![Item::Event(PlatformEvent::Deleted {
            platform: Platform::X,
            external_id: id,
            at,
            raw: raw.to_vec(),
        })]);
    }
    if probe.created_at.is_none() {
        let first_key = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(raw)
            .ok()
            .and_then(|m| m.keys().next().cloned())
            .unwrap_or_default();
        return Ok(vec![Item::skipped(format!("X v1.1 {} message carries no post", crate::time::short(&first_key)))]);
    }
    let tweet: TweetV1 = from_json(raw)?;
    tweet_v1_items(&tweet, raw)
}

fn tweet_v1_items(tweet: &TweetV1, raw: &[u8]) -> Parsed {
    if let Some(original) = &tweet.retweeted_status {
        let mut items = tweet_v1_items(original, raw)?;
        items.push(Item::Event(PlatformEvent::Engagement(Engagement {
            platform: Platform::X,
            key: v1_id(tweet)?,
            target: Some(v1_id(original)?),
            kind: EngagementKind::Repost,
            active: true,
        })));
        return Ok(items);
    }
    let mut items = vec![Item::Event(PlatformEvent::Post(v1_post(tweet, raw)?))];
    if let Some(quoted) = &tweet.quoted_status {
        // A quoted tweet is sometimes only partly included; keep it when it reads.
        if let Ok(post) = v1_post(quoted, raw) {
            items.push(Item::Event(PlatformEvent::Post(post)));
        }
    }
    Ok(items)
}

fn v1_id(tweet: &TweetV1) -> Result<String, ParseError> {
    tweet
        .id_str
        .clone()
        .or_else(|| tweet.id.as_ref().map(Lenient::text))
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ParseError::shape("tweet without id_str"))
}

fn v1_post(tweet: &TweetV1, raw: &[u8]) -> Result<NewPost, ParseError> {
    let extended = tweet.extended_tweet.as_ref();
    let text = extended
        .and_then(|e| e.full_text.as_deref())
        .or(tweet.full_text.as_deref())
        .or(tweet.text.as_deref())
        .unwrap_or_default();
    let mut entities = PostEntities::default();
    let sources = [
        extended.and_then(|e| e.entities.as_ref()).or(tweet.entities.as_ref()),
        extended.and_then(|e| e.extended_entities.as_ref()).or(tweet.extended_entities.as_ref()),
    ];
    for source in sources.into_iter().flatten() {
        add_v1_entities(source, &mut entities);
    }
    entities.quote_of = tweet.quoted_status_id_str.clone();
    let created_at = parse_twitter_time(&tweet.created_at).or_else(|_| parse_rfc3339(&tweet.created_at))?;
    let author = tweet.user.as_ref().and_then(|u| {
        let id = u.id_str.clone().or_else(|| u.id.as_ref().map(Lenient::text))?;
        Some(NewContact {
            handle: u.screen_name.clone().unwrap_or_else(|| id.clone()),
            external_id: id,
            display_name: u.name.clone(),
        })
    });
    Ok(NewPost {
        platform: Platform::X,
        external_id: v1_id(tweet)?,
        account_id: None,
        author,
        text: unescape_x(text),
        lang_hint: tweet.lang.clone().filter(|l| l != "und"),
        created_at,
        edited_at: None,
        reply_to: tweet.in_reply_to_status_id_str.clone(),
        conversation: None,
        metrics: PostMetrics {
            likes: count(&tweet.favorite_count),
            reposts: count(&tweet.retweet_count),
            replies: count(&tweet.reply_count),
            quotes: count(&tweet.quote_count),
        },
        entities,
        raw: raw.to_vec(),
    })
}

fn add_v1_entities(source: &EntitiesV1, entities: &mut PostEntities) {
    for m in &source.user_mentions {
        push_new(&mut entities.mentions, m.screen_name.clone());
    }
    for h in &source.hashtags {
        push_new(&mut entities.hashtags, h.text.clone());
    }
    for u in &source.urls {
        push_new(&mut entities.links, u.expanded_url.clone().filter(|u| html::is_web_link(u)));
    }
    for m in &source.media {
        let Some(url) = m.media_url_https.clone().filter(|u| html::is_web_link(u)) else { continue };
        if !entities.media.iter().any(|known| known.url == url) {
            let kind = m.kind.clone().unwrap_or_else(|| "photo".into());
            entities.media.push(MediaRef { kind, url, alt: m.ext_alt_text.clone() });
        }
    }
}

fn push_new(list: &mut Vec<String>, value: Option<String>) {
    if let Some(value) = value.filter(|v| !v.is_empty() && !list.contains(v)) {
        list.push(value);
    }
}

/// X escapes `&`, `<` and `>` in post text (v1.1 and v2 alike); nothing else.
fn unescape_x(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

// ---- archive ----------------------------------------------------------------------

#[derive(Deserialize)]
struct ArchiveItem {
    tweet: TweetV1,
}

/// Parses one element of the archive's `tweets.js` array (`{"tweet": {…}}`). The
/// archive's owner wrote every tweet in it, so the author is left to the importer.
pub fn parse_archive(raw: &[u8]) -> Parsed {
    let item: ArchiveItem = from_json(raw)?;
    let mut post = v1_post(&item.tweet, raw)?;
    post.author = None;
    Ok(vec![Item::Event(PlatformEvent::Post(post))])
}

// ---- v2 ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct ResponseV2 {
    #[serde(default)]
    data: Option<OneOrMany>,
    #[serde(default)]
    includes: IncludesV2,
    #[serde(default)]
    errors: Vec<ErrorV2>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Box<TweetV2>),
    Many(Vec<TweetV2>),
}

#[derive(Deserialize, Default)]
struct IncludesV2 {
    #[serde(default)]
    users: Vec<UserV2>,
    #[serde(default)]
    tweets: Vec<TweetV2>,
    #[serde(default)]
    media: Vec<MediaV2>,
}

#[derive(Deserialize)]
struct TweetV2 {
    id: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    note_tweet: Option<NoteTweet>,
    #[serde(default)]
    author_id: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    referenced_tweets: Vec<Reference>,
    #[serde(default)]
    entities: Option<EntitiesV2>,
    #[serde(default)]
    attachments: Option<Attachments>,
    #[serde(default)]
    public_metrics: Option<MetricsV2>,
    #[serde(default)]
    edit_history_tweet_ids: Vec<String>,
}

#[derive(Deserialize)]
struct NoteTweet {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct Reference {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Deserialize, Default)]
struct EntitiesV2 {
    #[serde(default)]
    mentions: Vec<Username>,
    #[serde(default)]
    hashtags: Vec<Tag>,
    #[serde(default)]
    urls: Vec<UrlV2>,
}

#[derive(Deserialize)]
struct Username {
    #[serde(default)]
    username: Option<String>,
}

#[derive(Deserialize)]
struct Tag {
    #[serde(default)]
    tag: Option<String>,
}

#[derive(Deserialize)]
struct UrlV2 {
    #[serde(default)]
    expanded_url: Option<String>,
}

#[derive(Deserialize)]
struct Attachments {
    #[serde(default)]
    media_keys: Vec<String>,
}

#[derive(Deserialize)]
struct MetricsV2 {
    #[serde(default)]
    like_count: Option<Lenient>,
    #[serde(default)]
    retweet_count: Option<Lenient>,
    #[serde(default)]
    reply_count: Option<Lenient>,
    #[serde(default)]
    quote_count: Option<Lenient>,
}

#[derive(Deserialize)]
struct UserV2 {
    id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct MediaV2 {
    media_key: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    preview_image_url: Option<String>,
    #[serde(default)]
    alt_text: Option<String>,
}

#[derive(Deserialize)]
struct ErrorV2 {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

/// Parses one v2 response or filtered-stream message.
pub fn parse_v2(raw: &[u8]) -> Parsed {
    let response: ResponseV2 = from_json(raw)?;
    let tweets: Vec<&TweetV2> = match &response.data {
        None => Vec::new(),
        Some(OneOrMany::One(tweet)) => vec![tweet.as_ref()],
        Some(OneOrMany::Many(tweets)) => tweets.iter().collect(),
    };
    if tweets.is_empty() {
        let titles: Vec<String> =
            response.errors.iter().filter_map(|e| e.title.clone().or_else(|| e.detail.clone())).collect();
        let reason = if titles.is_empty() {
            "X v2 response without posts".to_owned()
        } else {
            format!("X v2 response without posts: {}", crate::time::short(&titles.join("; ")))
        };
        return Ok(vec![Item::skipped(reason)]);
    }
    let mut items = Vec::new();
    for tweet in tweets {
        let retweeted = tweet.referenced_tweets.iter().find(|r| r.kind == "retweeted");
        match retweeted {
            Some(reference) => {
                if let Some(original) = response.includes.tweets.iter().find(|t| t.id == reference.id) {
                    items.push(Item::Event(PlatformEvent::Post(v2_post(original, &response.includes, raw)?)));
                }
                items.push(Item::Event(PlatformEvent::Engagement(Engagement {
                    platform: Platform::X,
                    key: tweet.id.clone(),
                    target: Some(reference.id.clone()),
                    kind: EngagementKind::Repost,
                    active: true,
                })));
            }
            None => {
                items.push(Item::Event(PlatformEvent::Post(v2_post(tweet, &response.includes, raw)?)));
                // Posts it answers or quotes, when included whole, are posts too.
                for reference in &tweet.referenced_tweets {
                    if let Some(other) = response.includes.tweets.iter().find(|t| t.id == reference.id) {
                        items.push(Item::Event(PlatformEvent::Post(v2_post(other, &response.includes, raw)?)));
                    }
                }
            }
        }
    }
    Ok(items)
}

fn v2_post(tweet: &TweetV2, includes: &IncludesV2, raw: &[u8]) -> Result<NewPost, ParseError> {
    if tweet.id.is_empty() {
        return Err(ParseError::value("post id is empty"));
    }
    let created_at = tweet
        .created_at
        .as_deref()
        .ok_or_else(|| ParseError::shape("post without created_at (ask for tweet.fields=created_at)"))
        .and_then(parse_rfc3339)?;
    let author = tweet.author_id.as_ref().map(|id| {
        let user = includes.users.iter().find(|u| &u.id == id);
        NewContact {
            external_id: id.clone(),
            handle: user.and_then(|u| u.username.clone()).unwrap_or_else(|| id.clone()),
            display_name: user.and_then(|u| u.name.clone()),
        }
    });
    let reference = |kind: &str| tweet.referenced_tweets.iter().find(|r| r.kind == kind).map(|r| r.id.clone());
    let source = tweet.entities.as_ref();
    let mut entities = PostEntities { quote_of: reference("quoted"), ..PostEntities::default() };
    for m in source.map(|e| e.mentions.as_slice()).unwrap_or_default() {
        push_new(&mut entities.mentions, m.username.clone());
    }
    for h in source.map(|e| e.hashtags.as_slice()).unwrap_or_default() {
        push_new(&mut entities.hashtags, h.tag.clone());
    }
    for u in source.map(|e| e.urls.as_slice()).unwrap_or_default() {
        push_new(&mut entities.links, u.expanded_url.clone().filter(|u| html::is_web_link(u)));
    }
    for key in tweet.attachments.as_ref().map(|a| a.media_keys.as_slice()).unwrap_or_default() {
        let Some(media) = includes.media.iter().find(|m| &m.media_key == key) else { continue };
        if let Some(url) =
            media.url.clone().or_else(|| media.preview_image_url.clone()).filter(|u| html::is_web_link(u))
        {
            let kind = media.kind.clone().unwrap_or_else(|| "photo".into());
            entities.media.push(MediaRef { kind, url, alt: media.alt_text.clone() });
        }
    }
    let metrics = tweet.public_metrics.as_ref();
    // An edit on X is a new post id; its history's first id is the original, so keying
    // by that makes the edit a new version of the same post.
    let original = tweet.edit_history_tweet_ids.first().filter(|first| **first != tweet.id && !first.is_empty());
    Ok(NewPost {
        platform: Platform::X,
        external_id: original.unwrap_or(&tweet.id).clone(),
        account_id: None,
        author,
        text: unescape_x(tweet.note_tweet.as_ref().and_then(|n| n.text.as_deref()).unwrap_or(&tweet.text)),
        lang_hint: tweet.lang.clone().filter(|l| l != "und"),
        created_at,
        edited_at: original.map(|_| created_at),
        reply_to: reference("replied_to"),
        conversation: tweet.conversation_id.clone(),
        metrics: PostMetrics {
            likes: metrics.map_or(0, |m| count(&m.like_count)),
            reposts: metrics.map_or(0, |m| count(&m.retweet_count)),
            replies: metrics.map_or(0, |m| count(&m.reply_count)),
            quotes: metrics.map_or(0, |m| count(&m.quote_count)),
        },
        entities,
        raw: raw.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn posts(items: &[Item]) -> Vec<&NewPost> {
        items.iter().filter_map(|i| if let Item::Event(PlatformEvent::Post(p)) = i { Some(p) } else { None }).collect()
    }

    #[test]
    fn v1_extended_reply_with_entities() {
        let raw = br#"{"created_at":"Mon Mar 02 10:00:00 +0000 2026","id":1894000000000000001,"id_str":"1894000000000000001",
          "text":"@MuniValpo el cami\u00f3n no pas\u00f3 &amp; huele\u2026 https://t.co/x","truncated":true,
          "extended_tweet":{"full_text":"@MuniValpo el cami\u00f3n no pas\u00f3 &amp; huele fatal &lt;3 #basura https://t.co/a",
            "entities":{"user_mentions":[{"screen_name":"MuniValpo","id_str":"12"}],"hashtags":[{"text":"basura"}],
              "urls":[{"url":"https://t.co/a","expanded_url":"https://example.org/foto"}],
              "media":[{"type":"photo","media_url_https":"https://pbs.twimg.com/media/a.jpg"}]}},
          "user":{"id_str":"99","screen_name":"vecino_valpo","name":"Vecino"},"lang":"es",
          "in_reply_to_status_id_str":"1893","favorite_count":2,"retweet_count":1,"reply_count":0,"quote_count":0}"#;
        let items = parse_v1(raw).unwrap();
        let p = posts(&items)[0];
        assert_eq!(p.text, "@MuniValpo el camión no pasó & huele fatal <3 #basura https://t.co/a");
        assert_eq!((p.external_id.as_str(), p.reply_to.as_deref()), ("1894000000000000001", Some("1893")));
        assert_eq!(p.author.as_ref().map(|a| a.handle.as_str()), Some("vecino_valpo"));
        assert_eq!(
            (p.entities.mentions.as_slice(), p.entities.hashtags.as_slice()),
            (&["MuniValpo".to_owned()][..], &["basura".to_owned()][..])
        );
        assert_eq!(p.entities.links, ["https://example.org/foto"]);
        assert_eq!(p.entities.media.len(), 1);
        assert_eq!((p.metrics.likes, p.metrics.reposts), (2, 1));
    }

    #[test]
    fn v1_retweets_quotes_deletes_and_other_messages() {
        let original = r#"{"created_at":"Mon Mar 02 10:00:00 +0000 2026","id_str":"1","text":"original","user":{"id_str":"5","screen_name":"a"}}"#;
        let retweet = format!(
            r#"{{"created_at":"Mon Mar 02 10:01:00 +0000 2026","id_str":"2","text":"RT @a: original","user":{{"id_str":"6"}},"retweeted_status":{original}}}"#
        );
        let items = parse_v1(retweet.as_bytes()).unwrap();
        assert_eq!(posts(&items)[0].external_id, "1");
        assert!(
            matches!(&items[1], Item::Event(PlatformEvent::Engagement(e)) if e.key == "2" && e.target.as_deref() == Some("1"))
        );
        let quote = format!(
            r#"{{"created_at":"Mon Mar 02 10:02:00 +0000 2026","id_str":"3","text":"mira","quoted_status_id_str":"1","quoted_status":{original}}}"#
        );
        let items = parse_v1(quote.as_bytes()).unwrap();
        assert_eq!(posts(&items).iter().map(|p| p.external_id.as_str()).collect::<Vec<_>>(), ["3", "1"]);
        assert_eq!(posts(&items)[0].entities.quote_of.as_deref(), Some("1"));
        let delete = br#"{"delete":{"status":{"id":1,"id_str":"1","user_id":5},"timestamp_ms":"1700000000000"}}"#;
        assert!(
            matches!(&parse_v1(delete).unwrap()[0], Item::Event(PlatformEvent::Deleted { external_id, .. }) if external_id == "1")
        );
        assert!(matches!(&parse_v1(br#"{"limit":{"track":10}}"#).unwrap()[0], Item::Skipped(r) if r.contains("limit")));
    }

    #[test]
    fn v2_with_includes_note_tweets_retweets_and_errors() {
        let raw = br#"{"data":[{"id":"20","text":"short","note_tweet":{"text":"the whole long text"},"author_id":"7",
            "created_at":"2026-03-02T10:00:00.000Z","lang":"en","conversation_id":"19",
            "referenced_tweets":[{"type":"replied_to","id":"19"}],"entities":{"mentions":[{"username":"gob"}],"urls":[{"expanded_url":"https://g.example"}]},
            "attachments":{"media_keys":["3_1"]},"public_metrics":{"like_count":4,"retweet_count":1,"reply_count":2,"quote_count":0},
            "edit_history_tweet_ids":["20"]},
          {"id":"21","text":"RT","author_id":"8","created_at":"2026-03-02T10:01:00Z","referenced_tweets":[{"type":"retweeted","id":"19"}]}],
          "includes":{"users":[{"id":"7","username":"vecina","name":"Vecina"}],
            "tweets":[{"id":"19","text":"parent","author_id":"9","created_at":"2026-03-02T09:00:00Z"}],
            "media":[{"media_key":"3_1","type":"photo","url":"https://pbs.twimg.com/media/b.jpg","alt_text":"bache"}]}}"#;
        let items = parse_v2(raw).unwrap();
        let all = posts(&items);
        assert_eq!(all.iter().map(|p| p.external_id.as_str()).collect::<Vec<_>>(), ["20", "19", "19"]);
        let p = all[0];
        assert_eq!(
            (p.text.as_str(), p.reply_to.as_deref(), p.conversation.as_deref()),
            ("the whole long text", Some("19"), Some("19"))
        );
        assert_eq!(
            p.author.as_ref().map(|a| (a.handle.as_str(), a.display_name.as_deref())),
            Some(("vecina", Some("Vecina")))
        );
        assert_eq!(
            (p.entities.mentions.len(), p.entities.media[0].alt.as_deref(), p.metrics.likes),
            (1, Some("bache"), 4)
        );
        assert!(items.iter().any(|i| matches!(i, Item::Event(PlatformEvent::Engagement(e)) if e.key == "21")));
        let errors = br#"{"errors":[{"title":"Not Found Error","detail":"Could not find tweet"}]}"#;
        assert!(matches!(&parse_v2(errors).unwrap()[0], Item::Skipped(r) if r.contains("Not Found Error")));
    }

    #[test]
    fn archive_elements_have_string_counts_and_no_author() {
        let raw = br#"{"tweet":{"id_str":"5","id":"5","created_at":"Mon Mar 02 10:00:00 +0000 2026","full_text":"hola &amp; adi\u00f3s","favorite_count":"7","retweet_count":"0","lang":"es","entities":{"hashtags":[],"user_mentions":[],"urls":[]}}}"#;
        let p = posts(&parse_archive(raw).unwrap())[0].clone();
        assert_eq!((p.text.as_str(), p.metrics.likes, p.author), ("hola & adiós", 7, None));
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_without_panicking(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_v1(&raw);
            let _ = parse_v2(&raw);
            let _ = parse_archive(&raw);
        }

        #[test]
        fn any_v2_text_survives_exactly(text in any::<String>()) {
            // X sends the text escaped; what comes out is what the author wrote.
            let sent = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            let raw = serde_json::json!({"data":{"id":"1","text":sent,"created_at":"2026-03-02T10:00:00Z"}});
            let items = parse_v2(raw.to_string().as_bytes()).unwrap();
            prop_assert_eq!(&posts(&items)[0].text, &text);
        }
    }
}
