//! An institution's inbox settings: its business calendar, when the satisfaction
//! question follows a resolution, and which replies need a lead's approval.

use serde::{Deserialize, Serialize};

use crate::Role;
use crate::deadline::BusinessCalendar;

/// How an institution runs its inbox. Stored as JSON; every field has a default, so
/// an institution that never configured anything works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InboxSettings {
    /// The hours deadlines count in.
    pub calendar: BusinessCalendar,
    /// Seconds between telling the citizen the outcome and asking how satisfied they
    /// are; `None` asks nothing.
    pub satisfaction_delay_secs: Option<u32>,
    /// Replies on cases with one of these topics wait for a lead's approval.
    pub approval_topics: Vec<String>,
    /// Replies written by these roles wait for a lead's approval.
    pub approval_roles: Vec<Role>,
}

impl Default for InboxSettings {
    fn default() -> Self {
        InboxSettings {
            calendar: BusinessCalendar::always_open(),
            satisfaction_delay_secs: Some(3600),
            approval_topics: Vec::new(),
            approval_roles: Vec::new(),
        }
    }
}

impl InboxSettings {
    /// Whether a reply by `role` on a case with `topics` must be approved first. A
    /// lead's or admin's own reply never waits: they are the approvers.
    pub fn needs_approval(&self, role: Role, topics: &[String]) -> bool {
        if matches!(role, Role::Admin | Role::Lead) {
            return false;
        }
        self.approval_roles.contains(&role) || topics.iter().any(|t| self.approval_topics.contains(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_follows_role_and_topic_and_spares_approvers() {
        let settings: InboxSettings =
            serde_json::from_str(r#"{"approval_topics":["safety"],"approval_roles":["agent"]}"#).unwrap();
        assert_eq!(settings.satisfaction_delay_secs, Some(3600));
        assert!(settings.needs_approval(Role::Agent, &[]));
        assert!(!settings.needs_approval(Role::Lead, &["safety".to_owned()]));
        let topics_only = InboxSettings { approval_roles: Vec::new(), ..settings };
        assert!(topics_only.needs_approval(Role::Agent, &["safety".to_owned()]));
        assert!(!topics_only.needs_approval(Role::Agent, &["water".to_owned()]));
        assert!(serde_json::from_str::<InboxSettings>(r#"{"approvals":[]}"#).is_err());
    }
}
