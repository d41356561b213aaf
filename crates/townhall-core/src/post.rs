//! Posts: any item from any channel, kept with its raw payload, its edits as versions
//! and its deletion as a tombstone. Nothing here is ever destroyed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::account::NewContact;
use crate::{AccountId, ContactId, Platform, PostId};

/// What a platform said about a post's author's account when it delivered the post:
/// the signals of an automated or purchased account (its age, its followers, how
/// much it posts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorStats {
    /// When the account was created.
    pub created_at: Option<DateTime<Utc>>,
    /// Its followers.
    pub followers: Option<u64>,
    /// The accounts it follows.
    pub following: Option<u64>,
    /// Posts it has published.
    pub posts: Option<u64>,
}

/// Public engagement counts of a post as the platform last reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostMetrics {
    /// Likes, favourites or reactions.
    pub likes: i64,
    /// Reposts, boosts, retweets or shares.
    pub reposts: i64,
    /// Replies.
    pub replies: i64,
    /// Quotes.
    pub quotes: i64,
}

/// What a post points at, as the platform marked it up: whom it mentions, which
/// hashtags and links it carries, its attachments and the post it quotes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostEntities {
    /// Handles mentioned, without a leading `@`, as the platform spells them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// Hashtags, without `#`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hashtags: Vec<String>,
    /// Links the post carries, `http` and `https` only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// Attachments, by reference: Townhall never fetches them on import.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<MediaRef>,
    /// External id of the post this one quotes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote_of: Option<String>,
}

impl PostEntities {
    /// True when the post carries none.
    pub fn is_empty(&self) -> bool {
        self == &PostEntities::default()
    }
}

/// An attachment of a post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    /// `image`, `video`, `audio`, `gifv`, `file` or what the platform calls it.
    pub kind: String,
    /// Where the platform serves it.
    pub url: String,
    /// Its description (alt text), if the author wrote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
}

/// A stored post, in its latest version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// Database id.
    pub id: PostId,
    /// The platform it came from.
    pub platform: Platform,
    /// The platform's id for it; unique together with `platform`.
    pub external_id: String,
    /// The institution's account it was collected for (mention, reply, page), if any.
    pub account_id: Option<AccountId>,
    /// Its author.
    pub contact_id: Option<ContactId>,
    /// Plain text of the latest version; untrusted.
    pub text: String,
    /// The language the platform declared, as it declared it.
    pub lang_hint: Option<String>,
    /// When the author published it.
    pub created_at: DateTime<Utc>,
    /// When Townhall first stored it.
    pub received_at: DateTime<Utc>,
    /// When the latest version was made, if it was edited.
    pub edited_at: Option<DateTime<Utc>>,
    /// External id of the post it answers.
    pub reply_to: Option<String>,
    /// External id of the thread's root.
    pub conversation: Option<String>,
    /// Engagement counts.
    pub metrics: PostMetrics,
    /// Mentions, hashtags, links, media and quote of the latest version.
    pub entities: PostEntities,
    /// Version number of the latest version, from 1.
    pub version: i32,
    /// Set when the platform reported it deleted: the tombstone. Text and versions stay.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Set while it is hidden on the platform.
    pub hidden: bool,
    /// The payload exactly as received for the latest version.
    pub raw: Vec<u8>,
}

/// One version of a post: the first, or an edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostVersion {
    /// The post.
    pub post_id: PostId,
    /// From 1.
    pub version: i32,
    /// Its text.
    pub text: String,
    /// When this version was made.
    pub at: DateTime<Utc>,
    /// The payload exactly as received.
    pub raw: Vec<u8>,
}

/// A post as a connector produces it, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPost {
    /// See [`Post::platform`].
    pub platform: Platform,
    /// See [`Post::external_id`].
    pub external_id: String,
    /// See [`Post::account_id`].
    pub account_id: Option<AccountId>,
    /// The author, upserted as a contact.
    pub author: Option<NewContact>,
    /// See [`Post::text`].
    pub text: String,
    /// See [`Post::lang_hint`].
    pub lang_hint: Option<String>,
    /// See [`Post::created_at`].
    pub created_at: DateTime<Utc>,
    /// Set when this payload is an edit.
    pub edited_at: Option<DateTime<Utc>>,
    /// See [`Post::reply_to`].
    pub reply_to: Option<String>,
    /// See [`Post::conversation`].
    pub conversation: Option<String>,
    /// See [`Post::metrics`].
    pub metrics: PostMetrics,
    /// See [`Post::entities`].
    pub entities: PostEntities,
    /// The payload exactly as received.
    pub raw: Vec<u8>,
}

/// Something a platform reported: a post, or a change to one. Connectors produce these,
/// the store applies them idempotently.
// Nearly every event is a post, so boxing it would cost an allocation each for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformEvent {
    /// A post, new or edited, or a copy of one already held.
    Post(NewPost),
    /// The platform deleted a post; it becomes a tombstone.
    Deleted {
        /// Its platform.
        platform: Platform,
        /// Its id there.
        external_id: String,
        /// When it was deleted (or when the deletion was reported).
        at: DateTime<Utc>,
        /// The deletion event as received.
        raw: Vec<u8>,
    },
    /// The page owner hid or unhid a post on the platform.
    Hidden {
        /// Its platform.
        platform: Platform,
        /// Its id there.
        external_id: String,
        /// Hidden now, or shown again.
        hidden: bool,
        /// When.
        at: DateTime<Utc>,
        /// The event as received.
        raw: Vec<u8>,
    },
    /// Someone liked, reposted or reacted to a post, or took it back.
    Engagement(Engagement),
}

impl PlatformEvent {
    /// The platform the event came from.
    pub fn platform(&self) -> Platform {
        match self {
            PlatformEvent::Post(post) => post.platform,
            PlatformEvent::Deleted { platform, .. } | PlatformEvent::Hidden { platform, .. } => *platform,
            PlatformEvent::Engagement(e) => e.platform,
        }
    }
}

/// One like, repost or reaction. It has an identity of its own, so a replayed one
/// counts once and its withdrawal undoes exactly it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engagement {
    /// The platform.
    pub platform: Platform,
    /// The engagement's own id there (a like record's key, reactor and post, …).
    pub key: String,
    /// External id of the post engaged with; `None` on a withdrawal that names only the key.
    pub target: Option<String>,
    /// What it counts as.
    pub kind: EngagementKind,
    /// True when made, false when withdrawn.
    pub active: bool,
}

crate::named_enum! {
    /// Which counter of [`PostMetrics`] an engagement moves.
    pub enum EngagementKind as "engagement kind" {
        /// Like, favourite or reaction.
        Like = "like",
        /// Repost, boost, share.
        Repost = "repost",
    }
}

/// What the store knows of an already stored post, enough to decide what an incoming
/// copy of it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPostHead {
    /// Its id.
    pub id: PostId,
    /// Its latest version number; 0 for a tombstone whose post never arrived.
    pub version: i32,
    /// Text of the latest version.
    pub text: String,
    /// When the latest version was made, if edited.
    pub edited_at: Option<DateTime<Utc>>,
}

/// What to do with an incoming post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingest {
    /// Never seen: store it as version 1.
    Insert,
    /// Seen: nothing new, store nothing.
    Duplicate(PostId),
    /// An edit: store it as this new version.
    NewVersion(PostId, i32),
    /// Its deletion arrived first: keep the tombstone and fill in version 1.
    FillTombstone(PostId),
}

impl Ingest {
    /// Decides what an incoming post means given what is stored under its id.
    ///
    /// Only a later edit with different text makes a new version, so replaying a
    /// stream, importing a file twice or receiving a webhook retry adds nothing.
    pub fn decide(stored: Option<&StoredPostHead>, incoming: &NewPost) -> Ingest {
        let Some(head) = stored else { return Ingest::Insert };
        if head.version == 0 {
            return Ingest::FillTombstone(head.id);
        }
        let newer = match (incoming.edited_at, head.edited_at) {
            (Some(incoming), Some(stored)) => incoming > stored,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if newer && incoming.text != head.text {
            Ingest::NewVersion(head.id, head.version + 1)
        } else {
            Ingest::Duplicate(head.id)
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn incoming(text: &str, edited_at: Option<DateTime<Utc>>) -> NewPost {
        NewPost {
            platform: Platform::Mastodon,
            external_id: "1".into(),
            account_id: None,
            author: None,
            text: text.into(),
            lang_hint: None,
            created_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            edited_at,
            reply_to: None,
            conversation: None,
            metrics: PostMetrics::default(),
            entities: PostEntities::default(),
            raw: b"{}".to_vec(),
        }
    }

    fn head(version: i32, text: &str, edited_at: Option<DateTime<Utc>>) -> StoredPostHead {
        StoredPostHead { id: PostId(7), version, text: text.into(), edited_at }
    }

    #[test]
    fn first_sight_inserts_and_replay_is_a_duplicate() {
        let post = incoming("hola", None);
        assert_eq!(Ingest::decide(None, &post), Ingest::Insert);
        assert_eq!(Ingest::decide(Some(&head(1, "hola", None)), &post), Ingest::Duplicate(PostId(7)));
    }

    #[test]
    fn only_a_later_changed_edit_makes_a_version() {
        let t1 = Utc.timestamp_opt(1_700_000_100, 0).unwrap();
        let t2 = Utc.timestamp_opt(1_700_000_200, 0).unwrap();
        let stored = head(2, "hola!", Some(t1));
        assert_eq!(Ingest::decide(Some(&stored), &incoming("hola!!", Some(t2))), Ingest::NewVersion(PostId(7), 3));
        // An older edit replayed, or the same text again, changes nothing.
        assert_eq!(Ingest::decide(Some(&stored), &incoming("hola", Some(t1))), Ingest::Duplicate(PostId(7)));
        assert_eq!(Ingest::decide(Some(&stored), &incoming("hola!", Some(t2))), Ingest::Duplicate(PostId(7)));
        // The original replayed after an edit is not an edit.
        assert_eq!(Ingest::decide(Some(&stored), &incoming("hola", None)), Ingest::Duplicate(PostId(7)));
    }

    #[test]
    fn a_post_whose_deletion_came_first_fills_its_tombstone() {
        assert_eq!(Ingest::decide(Some(&head(0, "", None)), &incoming("hola", None)), Ingest::FillTombstone(PostId(7)));
    }
}
