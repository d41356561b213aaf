//! Presences on platforms: an institution's accounts and the citizens' contacts.

use serde::{Deserialize, Serialize};

use crate::{AccountId, ContactId, InstitutionId, named_enum};

named_enum! {
    /// Where a post came from or a reply goes to.
    pub enum Platform as "platform" {
        /// Any Mastodon (ActivityPub) instance.
        Mastodon = "mastodon",
        /// Bluesky (AT Protocol).
        Bluesky = "bluesky",
        /// X, formerly Twitter.
        X = "x",
        /// Facebook pages.
        Facebook = "facebook",
        /// Instagram professional accounts.
        Instagram = "instagram",
        /// Threads.
        Threads = "threads",
        /// YouTube comments.
        Youtube = "youtube",
        /// Townhall's own public web form.
        Web = "web",
        /// E-mail.
        Email = "email",
        /// Text messages.
        Sms = "sms",
        /// Calls logged by staff.
        Phone = "phone",
    }
}

/// One presence of an institution on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Database id.
    pub id: AccountId,
    /// The institution that owns it.
    pub institution_id: InstitutionId,
    /// The platform it is on.
    pub platform: Platform,
    /// The handle as the platform shows it, e.g. `@gobiernodechile` or `gob.cl`.
    pub handle: String,
    /// The display name.
    pub display_name: String,
    /// The platform's own id for it, when known.
    pub external_id: Option<String>,
    /// Set when the account belongs to an official (e.g. a minister), not the body;
    /// it then names the office holder.
    pub official: Option<String>,
}

impl Account {
    /// Whether this is an official's personal account rather than the institution's.
    pub fn is_personal(&self) -> bool {
        self.official.is_some()
    }
}

/// A citizen's identity on one platform. Several contacts may be one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Database id.
    pub id: ContactId,
    /// Its platform.
    pub platform: Platform,
    /// The platform's id for the author (a DID, a numeric id, an address).
    pub external_id: String,
    /// The handle, e.g. `@ana@mastodon.social`.
    pub handle: String,
    /// The display name; untrusted text.
    pub display_name: Option<String>,
    /// Another contact known to be the same person, when linked by staff.
    pub same_person_as: Option<ContactId>,
}

/// A contact as a connector sees it, before it has an id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewContact {
    /// See [`Contact::external_id`].
    pub external_id: String,
    /// See [`Contact::handle`].
    pub handle: String,
    /// See [`Contact::display_name`].
    pub display_name: Option<String>,
}
