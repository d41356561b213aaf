//! Townhall's domain: the public bodies, their accounts, the citizens' posts and the
//! cases made of them, with the rules that govern them.
//!
//! This crate owns types and pure rules only. It never does I/O, is never async and
//! never depends on a database, HTTP or platform library: the store persists these
//! types, the connectors produce them, the binary serves them.

pub mod account;
pub mod audit;
pub mod canned;
pub mod case;
pub mod deadline;
mod id;
pub mod institution;
pub mod metrics;
pub mod post;
pub mod reply;
pub mod routing;
pub mod search;
pub mod settings;
pub mod tags;
pub mod user;

pub use account::NewContact;
pub use account::{Account, Contact, Platform};
pub use audit::{Actor, AuditEvent, NewAuditEvent};
pub use case::{
    Case, CaseAction, CaseEvent, CaseStatus, CloseReason, Note, Priority, Rating, Referral, Rejected, transition,
};
pub use id::{AccountId, AuditEventId, CaseId, ContactId, InstitutionId, JobId, PostId, ReplyId, TeamId, UserId};
pub use institution::{CountryCode, Institution, InstitutionKind, Level, NewInstitution, Team};
pub use metrics::MetricSnapshot;
pub use post::{
    AuthorStats, Engagement, EngagementKind, Ingest, MediaRef, NewPost, PlatformEvent, Post, PostEntities, PostMetrics,
    PostVersion, StoredPostHead,
};
pub use search::{SearchQuery, SearchQueryError};
pub use tags::{TagSource, Tags, TopicTag};
pub use user::{Role, User};

/// An enumerated value that was not one of the accepted names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} (expected one of: {expected})")]
pub struct UnknownName {
    /// What kind of value was parsed, e.g. "platform".
    pub what: &'static str,
    /// The text that was given.
    pub value: String,
    /// The accepted names, comma-separated.
    pub expected: &'static str,
}

/// Declares a fieldless enum with a stable lowercase name per variant, used in the
/// database, the API and the CLI alike, so a rename can never silently change storage.
macro_rules! named_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident as $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name of this value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::UnknownName {
                        what: $what,
                        value: s.chars().take(64).collect(),
                        expected: concat!($($text, " "),+).trim_ascii_end(),
                    }),
                }
            }
        }
    };
}
pub(crate) use named_enum;
