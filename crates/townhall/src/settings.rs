//! Staff administration: teams, users, routing rules, deadline policies, inbox
//! settings and canned answers, with their checks. The JSON API (`http/api.rs`) and
//! the admin pages (`http/admin_pages.rs`) both call these functions, so a check is
//! written once. Each change goes through the store method that audits it, as done by
//! the signed-in user; each function refuses a user whose role may not make it.

use townhall_core::canned::CannedAnswer;
use townhall_core::deadline::{DeadlinePolicy, MAX_POLICY_SECS};
use townhall_core::routing::{Rule, RuleAction};
use townhall_core::settings::InboxSettings;
use townhall_core::{Actor, InstitutionId, Role, Team, TeamId, User, UserId};
use townhall_store::{Db, NewUser, StoreError, UserChange};

/// Why an administrative change was refused. Each has a stable code.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The store failed or refused (not found, conflict, invalid).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The user's role does not allow it.
    #[error("{0}")]
    Forbidden(&'static str),
    /// What was given is not acceptable.
    #[error("{message}")]
    Invalid {
        /// Stable code.
        code: &'static str,
        /// In words.
        message: String,
    },
    /// The password could not be hashed.
    #[error("{0}")]
    Hashing(String),
}

impl SettingsError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SettingsError::Store(error) => error.code(),
            SettingsError::Forbidden(_) => "auth.forbidden",
            SettingsError::Invalid { code, .. } => code,
            SettingsError::Hashing(_) => "request.invalid",
        }
    }

    fn invalid(code: &'static str, message: impl Into<String>) -> SettingsError {
        SettingsError::Invalid { code, message: message.into() }
    }
}

type Result<T, E = SettingsError> = std::result::Result<T, E>;

fn admin_only(staff: &User) -> Result<()> {
    if staff.role == Role::Admin { Ok(()) } else { Err(SettingsError::Forbidden("only admins change this")) }
}

fn actor(staff: &User) -> Actor {
    Actor::User(staff.id)
}

/// Creates a team in the admin's institution.
pub async fn create_team(db: &Db, staff: &User, name: &str) -> Result<Team> {
    admin_only(staff)?;
    Ok(db.create_team(staff.institution_id, name, &actor(staff)).await?)
}

/// A user to create. The password is never shown by `Debug`.
pub struct NewStaff {
    /// Login e-mail.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Team, one of the institution's.
    pub team_id: Option<TeamId>,
    /// A password of at least 12 characters, or `None` for a user who signs in by
    /// token only.
    pub password: Option<String>,
}

impl std::fmt::Debug for NewStaff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewStaff")
            .field("email", &self.email)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("team_id", &self.team_id)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Creates a user in the admin's institution: the team must be the institution's;
/// the password is checked and hashed with argon2id (off the async threads).
pub async fn create_user(db: &Db, staff: &User, new: NewStaff) -> Result<User> {
    admin_only(staff)?;
    if let Some(team) = new.team_id
        && !db.teams(staff.institution_id).await?.iter().any(|t| t.id == team)
    {
        return Err(StoreError::NotFound("team").into());
    }
    let password_hash = match new.password {
        Some(password) => {
            let password = crate::admin::check_password(password)
                .map_err(|e| SettingsError::invalid("user.weak_password", e.to_string()))?;
            let hash = tokio::task::spawn_blocking(move || crate::admin::hash_password(&password)).await;
            Some(
                hash.map_err(|_| SettingsError::Hashing("cannot hash".into()))?
                    .map_err(|e| SettingsError::Hashing(e.to_string()))?,
            )
        }
        None => None,
    };
    let user = NewUser {
        institution_id: staff.institution_id,
        email: new.email,
        name: new.name,
        role: new.role,
        team_id: new.team_id,
        password_hash,
    };
    Ok(db.create_user(&user, &actor(staff)).await?)
}

/// Changes a user of the institution. Admins change anyone; anyone may set their
/// own availability; nobody deactivates themselves.
pub async fn update_user(db: &Db, staff: &User, id: UserId, change: &UserChange) -> Result<User> {
    let only_availability =
        change.role.is_none() && change.team_id.is_none() && change.max_open_cases.is_none() && change.active.is_none();
    let own = staff.id == id;
    if !(staff.role == Role::Admin || (own && only_availability)) {
        return Err(SettingsError::Forbidden("only admins change users; anyone sets their own availability"));
    }
    if own && change.active == Some(false) {
        return Err(SettingsError::invalid("user.self_lockout", "you cannot deactivate yourself"));
    }
    Ok(db.update_user(id, staff.institution_id, change, &actor(staff)).await?)
}

/// A valid rule whose teams, agents and canned answers are the institution's own,
/// with the id it is to be stored under (0: a new rule).
pub async fn checked_rule(db: &Db, institution: InstitutionId, rule: Rule, id: i64) -> Result<Rule> {
    rule.validate().map_err(|e| SettingsError::invalid(e.code(), e.to_string()))?;
    let unknown = |what: &str| SettingsError::invalid("rule.unknown_target", format!("no such {what} here"));
    for action in &rule.actions {
        match action {
            RuleAction::AssignTeam { team } if !db.teams(institution).await?.iter().any(|t| t.id == *team) => {
                return Err(unknown("team"));
            }
            RuleAction::AssignAgent { user } => {
                let user = db.user(*user).await?;
                if !user.is_some_and(|u| u.institution_id == institution && u.role.can_work_cases()) {
                    return Err(unknown("agent"));
                }
            }
            RuleAction::Acknowledge { canned_answer }
                if !db.canned_answers(institution).await?.iter().any(|a| a.id == *canned_answer) =>
            {
                return Err(unknown("canned answer"));
            }
            _ => {}
        }
    }
    Ok(Rule { id, ..rule })
}

/// Adds a routing rule after [`checked_rule`].
pub async fn create_rule(db: &Db, staff: &User, rule: Rule) -> Result<Rule> {
    admin_only(staff)?;
    let rule = checked_rule(db, staff.institution_id, rule, 0).await?;
    Ok(db.save_rule(staff.institution_id, &rule, &actor(staff)).await?)
}

/// Changes the institution's rule `id` after [`checked_rule`].
pub async fn update_rule(db: &Db, staff: &User, id: i64, rule: Rule) -> Result<Rule> {
    admin_only(staff)?;
    if id <= 0 {
        return Err(StoreError::NotFound("rule").into());
    }
    let rule = checked_rule(db, staff.institution_id, rule, id).await?;
    Ok(db.save_rule(staff.institution_id, &rule, &actor(staff)).await?)
}

/// Deletes one of the institution's rules.
pub async fn delete_rule(db: &Db, staff: &User, id: i64) -> Result<()> {
    admin_only(staff)?;
    Ok(db.delete_rule(staff.institution_id, id, &actor(staff)).await?)
}

/// Replaces the institution's deadline policies: at most 100, one per priority and
/// channel, each duration from 0 to [`MAX_POLICY_SECS`].
pub async fn set_deadline_policies(db: &Db, staff: &User, policies: &[DeadlinePolicy]) -> Result<()> {
    admin_only(staff)?;
    let mut seen = std::collections::HashSet::new();
    if !policies.iter().all(|p| seen.insert((p.priority, p.platform))) || policies.len() > 100 {
        return Err(SettingsError::invalid("deadline.duplicate_policy", "one policy per priority and channel"));
    }
    // The API's JSON already holds durations to this range; a form's numbers may not.
    let in_range = |d: chrono::Duration| (0..=MAX_POLICY_SECS).contains(&d.num_seconds());
    if !policies.iter().all(|p| in_range(p.first_response) && in_range(p.resolution)) {
        let message = format!("durations must be whole seconds from 0 to {MAX_POLICY_SECS}");
        return Err(SettingsError::invalid("deadline.invalid_policy", message));
    }
    Ok(db.set_deadline_policies(staff.institution_id, policies, &actor(staff)).await?)
}

/// Replaces the institution's inbox settings (already valid by construction).
pub async fn set_inbox_settings(db: &Db, staff: &User, settings: &InboxSettings) -> Result<()> {
    admin_only(staff)?;
    Ok(db.set_inbox_settings(staff.institution_id, settings, &actor(staff)).await?)
}

/// Adds a canned answer: a name of 1 to 100 characters, a language code (`es`,
/// `pt-br`) and a text of 1 to 5,000 whose placeholders are known variables.
pub async fn create_canned_answer(db: &Db, staff: &User, name: &str, lang: &str, body: &str) -> Result<CannedAnswer> {
    admin_only(staff)?;
    let sizes = (name.trim().chars().count(), lang.len(), body.trim().chars().count());
    let lang_ok = lang.chars().all(|c| c.is_ascii_lowercase() || c == '-');
    if !(1..=100).contains(&sizes.0) || !(2..=8).contains(&sizes.1) || !lang_ok || !(1..=5000).contains(&sizes.2) {
        return Err(SettingsError::invalid(
            "canned.invalid",
            "a canned answer has a name (1-100 characters), a language code (e.g. es) and a text (1-5,000)",
        ));
    }
    let answer = CannedAnswer { id: 0, name: name.trim().to_owned(), lang: lang.to_owned(), body: body.to_owned() };
    answer.validate().map_err(|e| SettingsError::invalid(e.code(), e.to_string()))?;
    Ok(db.create_canned_answer(staff.institution_id, &answer, &actor(staff)).await?)
}

/// Deletes one of the institution's canned answers.
pub async fn delete_canned_answer(db: &Db, staff: &User, id: i64) -> Result<()> {
    admin_only(staff)?;
    Ok(db.delete_canned_answer(staff.institution_id, id, &actor(staff)).await?)
}
