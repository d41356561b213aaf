//! The append-only record of who changed what.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AuditEventId, InstitutionId, UserId};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A signed-in user or one of their API tokens.
    User(UserId),
    /// Townhall itself or an operator at the console: `cli`, `demo`, `rule:12`, `job:analyze`.
    System(String),
}

impl Actor {
    /// The user acting, when a person acts.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Actor::User(id) => Some(*id),
            Actor::System(_) => None,
        }
    }

    /// The operator at the command line.
    pub fn cli() -> Actor {
        Actor::System("cli".into())
    }

    /// The stored form: `user:12` or `system:cli`.
    pub fn to_stored(&self) -> String {
        match self {
            Actor::User(id) => format!("user:{id}"),
            Actor::System(name) => format!("system:{name}"),
        }
    }

    /// Reads the stored form back; anything unrecognised stays visible as a system actor.
    pub fn from_stored(text: &str) -> Actor {
        match text.split_once(':') {
            Some(("user", id)) => {
                id.parse().map(|id| Actor::User(UserId(id))).unwrap_or_else(|_| Actor::System(text.into()))
            }
            Some(("system", name)) => Actor::System(name.into()),
            _ => Actor::System(text.into()),
        }
    }
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Its id; ids grow with time.
    pub id: AuditEventId,
    /// When.
    pub at: DateTime<Utc>,
    /// The institution whose data changed, if any.
    pub institution_id: Option<InstitutionId>,
    /// Who.
    pub actor: Actor,
    /// What, as `object.verb`: `case.assign`, `user.create`, `token.revoke`.
    pub action: String,
    /// The kind of object changed: `case`, `user`, `token`, `institution`.
    pub object_kind: String,
    /// Its id.
    pub object_id: String,
    /// State before, when there was one.
    pub before: Option<serde_json::Value>,
    /// State after, or the details of the change.
    pub after: Option<serde_json::Value>,
    /// Where the change came from: an IP address, `cli`.
    pub origin: Option<String>,
}

/// An audit event to append, written in the same transaction as the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAuditEvent {
    /// See [`AuditEvent::institution_id`].
    pub institution_id: Option<InstitutionId>,
    /// See [`AuditEvent::actor`].
    pub actor: Actor,
    /// See [`AuditEvent::action`].
    pub action: String,
    /// See [`AuditEvent::object_kind`].
    pub object_kind: String,
    /// See [`AuditEvent::object_id`].
    pub object_id: String,
    /// See [`AuditEvent::before`].
    pub before: Option<serde_json::Value>,
    /// See [`AuditEvent::after`].
    pub after: Option<serde_json::Value>,
    /// See [`AuditEvent::origin`].
    pub origin: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_round_trip_through_storage() {
        for actor in [Actor::User(UserId(12)), Actor::cli(), Actor::System("rule:3".into())] {
            assert_eq!(Actor::from_stored(&actor.to_stored()), actor);
        }
        assert_eq!(Actor::from_stored("user:x"), Actor::System("user:x".into()));
    }
}
