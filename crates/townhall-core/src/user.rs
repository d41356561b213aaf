//! Staff users and what their role lets them do.

use serde::{Deserialize, Serialize};

use crate::{InstitutionId, TeamId, UserId, named_enum};

named_enum! {
    /// What a staff user may do inside their institution.
    pub enum Role as "role" {
        /// Configures the institution: users, teams, rules, tokens.
        Admin = "admin",
        /// Communications lead: approves, reassigns, reads reports.
        Lead = "lead",
        /// Social media officer working the inbox.
        Agent = "agent",
        /// Reads and exports, changes nothing.
        Analyst = "analyst",
        /// Reads the audit trail and moderation log.
        Auditor = "auditor",
    }
}

impl Role {
    /// Whether the role may change cases (assign, reply, transition).
    pub fn can_work_cases(self) -> bool {
        matches!(self, Role::Admin | Role::Lead | Role::Agent)
    }

    /// Whether the role may manage users, teams and tokens.
    pub fn can_administer(self) -> bool {
        self == Role::Admin
    }
}

/// A member of an institution's staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Database id.
    pub id: UserId,
    /// The institution whose data they see.
    pub institution_id: InstitutionId,
    /// Login name, lower-cased.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// Their team, if any.
    pub team_id: Option<TeamId>,
    /// Whether they may sign in.
    pub active: bool,
    /// Whether routing may give them new cases (off when away).
    pub available: bool,
    /// Most open cases routing gives them; `None` for no cap.
    pub max_open_cases: Option<i32>,
}

/// Why an e-mail address was refused as a login name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid e-mail address {0:?}")]
pub struct InvalidEmail(pub String);

/// Lower-cases and checks a login e-mail: one `@`, something on both sides, no spaces.
pub fn normalize_email(email: &str) -> Result<String, InvalidEmail> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@'));
    if valid { Ok(email) } else { Err(InvalidEmail(email.chars().take(80).collect())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(normalize_email(" Ana@Muni.CL "), Ok("ana@muni.cl".to_owned()));
        for bad in ["ana", "@muni.cl", "ana@muni", "a b@muni.cl", "a@b@muni.cl"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_working_roles_change_cases() {
        assert!(Role::Agent.can_work_cases());
        assert!(!Role::Analyst.can_work_cases());
        assert!(!Role::Auditor.can_work_cases());
        assert!(Role::Admin.can_administer() && !Role::Lead.can_administer());
    }
}
