//! Institutions, their teams, users, API tokens and platform accounts. Every change
//! here is written together with its audit event.

use chrono::Utc;
use serde_json::json;
use townhall_core::institution::validate_slug;
use townhall_core::user::normalize_email;
use townhall_core::{
    Account, AccountId, Actor, Contact, ContactId, Institution, InstitutionId, NewAuditEvent, NewInstitution, Platform,
    Role, Team, TeamId, User, UserId,
};

use crate::audit::insert_audit;
use crate::rows::{AccountRow, InstitutionRow, TeamRow, UserRow};
use crate::{BeginWrite, Db, Result, StoreError, json_list, on_pool, storable_text};

/// A staff user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Their institution.
    pub institution_id: InstitutionId,
    /// Login e-mail; normalised to lower case.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Team, if any.
    pub team_id: Option<TeamId>,
    /// An argon2 PHC string, or `None` for a user who signs in by token only.
    pub password_hash: Option<String>,
}

/// A change to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    /// New role.
    pub role: Option<Role>,
    /// New team (`Some(None)` removes it).
    #[serde(default, with = "double_option")]
    pub team_id: Option<Option<TeamId>>,
    /// Whether routing may give them cases.
    pub available: Option<bool>,
    /// New cap (`Some(None)` removes it).
    #[serde(default, with = "double_option")]
    pub max_open_cases: Option<Option<i32>>,
    /// Whether they may sign in.
    pub active: Option<bool>,
}

/// Tells a field set to `null` (`Some(None)`) from a field left out (`None`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// A platform account to register for an institution.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Owner.
    pub institution_id: InstitutionId,
    /// Platform.
    pub platform: Platform,
    /// Handle as the platform shows it.
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// The platform's id, when known.
    pub external_id: Option<String>,
    /// The office holder, for an official's personal account.
    pub official: Option<String>,
}

fn audit(
    institution: Option<InstitutionId>,
    actor: &Actor,
    action: &str,
    kind: &str,
    id: i64,
    after: serde_json::Value,
) -> NewAuditEvent {
    NewAuditEvent {
        institution_id: institution,
        actor: actor.clone(),
        action: action.to_owned(),
        object_kind: kind.to_owned(),
        object_id: id.to_string(),
        before: None,
        after: Some(after),
        origin: None,
    }
}

/// `SELECT` of every [`InstitutionRow`] column, followed by the given clause.
macro_rules! select_institutions {
    ($clause:literal) => {
        concat!("SELECT id, slug, name, kind, level, country, parent_id, jurisdiction FROM institutions ", $clause)
    };
}

impl Db {
    /// Creates an institution. Its slug must be unique and URL-safe.
    pub async fn create_institution(&self, new: &NewInstitution, actor: &Actor) -> Result<Institution> {
        validate_slug(&new.slug).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let now = Utc::now();
        let id: i64 = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO institutions (slug, name, kind, level, country, parent_id, jurisdiction, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(&new.slug)
            .bind(storable_text(&new.name))
            .bind(new.kind.as_str())
            .bind(new.level.as_str())
            .bind(new.country.as_str())
            .bind(new.parent.map(|p| p.0))
            .bind(new.jurisdiction.as_deref().map(storable_text))
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let event = audit(Some(InstitutionId(id)), actor, "institution.create", "institution", id, json!(new));
            insert_audit!(tx, now, &event).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(id)
        })?;
        self.institution(InstitutionId(id)).await?.ok_or(StoreError::NotFound("institution"))
    }

    /// One institution by id.
    pub async fn institution(&self, id: InstitutionId) -> Result<Option<Institution>> {
        let row: Option<InstitutionRow> = on_pool!(self, |pool| {
            sqlx::query_as(select_institutions!("WHERE id = $1")).bind(id.0).fetch_optional(pool).await
        })?;
        row.map(Institution::try_from).transpose()
    }

    /// One institution by slug.
    pub async fn institution_by_slug(&self, slug: &str) -> Result<Option<Institution>> {
        let row: Option<InstitutionRow> = on_pool!(self, |pool| {
            sqlx::query_as(select_institutions!("WHERE slug = $1")).bind(slug).fetch_optional(pool).await
        })?;
        row.map(Institution::try_from).transpose()
    }

    /// All institutions, by name.
    pub async fn institutions(&self) -> Result<Vec<Institution>> {
        let rows: Vec<InstitutionRow> =
            on_pool!(self, |pool| { sqlx::query_as(select_institutions!("ORDER BY name, id")).fetch_all(pool).await })?;
        rows.into_iter().map(Institution::try_from).collect()
    }

    /// Creates a team in an institution; names are unique per institution.
    pub async fn create_team(&self, institution: InstitutionId, name: &str, actor: &Actor) -> Result<Team> {
        let name = storable_text(name.trim());
        if name.is_empty() {
            return Err(StoreError::Invalid("a team needs a name".into()));
        }
        let now = Utc::now();
        let id: i64 = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO teams (institution_id, name, created_at) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(institution.0)
            .bind(&name)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            insert_audit!(
                tx,
                now,
                &audit(Some(institution), actor, "team.create", "team", id, json!({ "name": name }))
            )
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(id)
        })?;
        Ok(Team { id: TeamId(id), institution_id: institution, name })
    }

    /// The teams of an institution, by name.
    pub async fn teams(&self, institution: InstitutionId) -> Result<Vec<Team>> {
        let rows: Vec<TeamRow> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT id, institution_id, name FROM teams WHERE institution_id = $1 ORDER BY name")
                .bind(institution.0)
                .fetch_all(pool)
                .await
        })?;
        Ok(rows.into_iter().map(Team::from).collect())
    }

    /// Creates a staff user. E-mails are unique across the installation. The audit
    /// event records the user but never the password hash.
    pub async fn create_user(&self, new: &NewUser, actor: &Actor) -> Result<User> {
        let email = normalize_email(&new.email).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let now = Utc::now();
        let id: i64 = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO users (institution_id, email, name, role, team_id, password_hash, active, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7) RETURNING id",
            )
            .bind(new.institution_id.0)
            .bind(&email)
            .bind(storable_text(&new.name))
            .bind(new.role.as_str())
            .bind(new.team_id.map(|t| t.0))
            .bind(new.password_hash.as_deref())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let after = json!({ "email": email, "name": new.name, "role": new.role, "team_id": new.team_id, "password_set": new.password_hash.is_some() });
            insert_audit!(tx, now, &audit(Some(new.institution_id), actor, "user.create", "user", id, after)).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(id)
        })?;
        self.user(UserId(id)).await?.ok_or(StoreError::NotFound("user"))
    }

    /// Changes a user of `institution`: role, team, availability, cap, or whether they
    /// may sign in. Audited before and after; `NotFound` for another institution's user.
    pub async fn update_user(
        &self,
        id: UserId,
        institution: InstitutionId,
        change: &UserChange,
        actor: &Actor,
    ) -> Result<User> {
        let before =
            self.user(id).await?.filter(|u| u.institution_id == institution).ok_or(StoreError::NotFound("user"))?;
        let after = User {
            role: change.role.unwrap_or(before.role),
            team_id: change.team_id.unwrap_or(before.team_id),
            available: change.available.unwrap_or(before.available),
            max_open_cases: change.max_open_cases.unwrap_or(before.max_open_cases),
            active: change.active.unwrap_or(before.active),
            ..before.clone()
        };
        if let Some(team) = after.team_id
            && !self.teams(institution).await?.iter().any(|t| t.id == team)
        {
            return Err(StoreError::NotFound("team"));
        }
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "UPDATE users SET role = $1, team_id = $2, available = $3, max_open_cases = $4, active = $5 \
                 WHERE id = $6 AND institution_id = $7",
            )
            .bind(after.role.as_str())
            .bind(after.team_id.map(|t| t.0))
            .bind(after.available)
            .bind(after.max_open_cases)
            .bind(after.active)
            .bind(id.0)
            .bind(institution.0)
            .execute(&mut *tx)
            .await?;
            let mut event = audit(Some(institution), actor, "user.update", "user", id.0, json!(after));
            event.before = Some(json!(before));
            insert_audit!(tx, now, &event).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        Ok(after)
    }

    /// One user by id.
    pub async fn user(&self, id: UserId) -> Result<Option<User>> {
        let row: Option<UserRow> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT id, institution_id, email, name, role, team_id, active, available, max_open_cases FROM users WHERE id = $1")
                .bind(id.0)
                .fetch_optional(pool)
                .await
        })?;
        row.map(User::try_from).transpose()
    }

    /// A user and their password hash by login e-mail, for sign-in.
    pub async fn user_credentials(&self, email: &str) -> Result<Option<(User, Option<String>)>> {
        let Ok(email) = normalize_email(email) else { return Ok(None) };
        let row: Option<(i64, Option<String>)> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
                .bind(&email)
                .fetch_optional(pool)
                .await
        })?;
        let Some((id, hash)) = row else { return Ok(None) };
        Ok(self.user(UserId(id)).await?.map(|user| (user, hash)))
    }

    /// The users of an institution, by name.
    pub async fn users(&self, institution: InstitutionId) -> Result<Vec<User>> {
        let rows: Vec<UserRow> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT id, institution_id, email, name, role, team_id, active, available, max_open_cases FROM users WHERE institution_id = $1 ORDER BY name, id")
                .bind(institution.0)
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(User::try_from).collect()
    }

    /// Registers an API token for a user by its SHA-256; the token itself is never stored.
    pub async fn create_api_token(
        &self,
        user: &User,
        name: &str,
        token_sha256: &[u8; 32],
        actor: &Actor,
    ) -> Result<i64> {
        let now = Utc::now();
        let name = storable_text(name);
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO api_tokens (user_id, name, token_sha256, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(user.id.0)
            .bind(&name)
            .bind(token_sha256.as_slice())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            insert_audit!(
                tx,
                now,
                &audit(
                    Some(user.institution_id),
                    actor,
                    "token.create",
                    "token",
                    id,
                    json!({ "user_id": user.id, "name": name })
                )
            )
            .await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Revokes a token; a revoked token authenticates no one. `scope` limits it to
    /// the tokens of one institution, and of one user in it when given (`NotFound`
    /// otherwise); the operator's console passes `None`.
    pub async fn revoke_api_token(
        &self,
        token_id: i64,
        scope: Option<(InstitutionId, Option<UserId>)>,
        actor: &Actor,
    ) -> Result<()> {
        let now = Utc::now();
        let institution = scope.map(|(i, _)| i.0);
        let user = scope.and_then(|(_, u)| u).map(|u| u.0);
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let owner: Option<i64> = sqlx::query_scalar(
                "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
                 AND (CAST($3 AS BIGINT) IS NULL OR user_id IN (SELECT id FROM users WHERE institution_id = $3)) \
                 AND (CAST($4 AS BIGINT) IS NULL OR user_id = $4) \
                 RETURNING (SELECT institution_id FROM users WHERE users.id = api_tokens.user_id)",
            )
            .bind(now)
            .bind(token_id)
            .bind(institution)
            .bind(user)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(institution) = owner else { return Err(StoreError::NotFound("active token")) };
            insert_audit!(
                tx,
                now,
                &audit(Some(InstitutionId(institution)), actor, "token.revoke", "token", token_id, json!({}))
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// The active user holding an unrevoked token with this SHA-256.
    pub async fn user_by_token(&self, token_sha256: &[u8; 32]) -> Result<Option<User>> {
        let row: Option<UserRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id, u.institution_id, u.email, u.name, u.role, u.team_id, u.active, u.available, u.max_open_cases FROM api_tokens t \
                 JOIN users u ON u.id = t.user_id WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND u.active",
            )
            .bind(token_sha256.as_slice())
            .fetch_optional(pool)
            .await
        })?;
        row.map(User::try_from).transpose()
    }

    /// Registers a platform account of an institution; (platform, handle) is unique.
    pub async fn create_account(&self, new: &NewAccount, actor: &Actor) -> Result<Account> {
        let now = Utc::now();
        let id: i64 = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO accounts (institution_id, platform, handle, display_name, external_id, official, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(new.institution_id.0)
            .bind(new.platform.as_str())
            .bind(storable_text(&new.handle))
            .bind(storable_text(&new.display_name))
            .bind(new.external_id.as_deref().map(storable_text))
            .bind(new.official.as_deref().map(storable_text))
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let after = json!({ "platform": new.platform, "handle": new.handle, "official": new.official });
            insert_audit!(tx, now, &audit(Some(new.institution_id), actor, "account.create", "account", id, after))
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(id)
        })?;
        self.account(AccountId(id)).await?.ok_or(StoreError::NotFound("account"))
    }

    /// One account by id.
    pub async fn account(&self, id: AccountId) -> Result<Option<Account>> {
        let row: Option<AccountRow> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT id, institution_id, platform, handle, display_name, external_id, official FROM accounts WHERE id = $1")
                .bind(id.0)
                .fetch_optional(pool)
                .await
        })?;
        row.map(Account::try_from).transpose()
    }

    /// One citizen contact by id.
    pub async fn contact(&self, id: ContactId) -> Result<Option<Contact>> {
        Ok(self.contacts(&[id]).await?.pop())
    }

    /// Citizen contacts by id, those that exist, in id order.
    pub async fn contacts(&self, ids: &[ContactId]) -> Result<Vec<Contact>> {
        type Row = (i64, String, String, String, Option<String>, Option<i64>);
        let ids = json_list(ids.iter().map(|c| c.0))?;
        let sql = match self {
            Db::Sqlite(_) => {
                "SELECT id, platform, external_id, handle, display_name, same_person_as FROM contacts \
                 WHERE id IN (SELECT value FROM json_each($1)) ORDER BY id"
            }
            Db::Postgres(_) => {
                "SELECT id, platform, external_id, handle, display_name, same_person_as FROM contacts \
                 WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint) ORDER BY id"
            }
        };
        let rows: Vec<Row> = on_pool!(self, |pool| sqlx::query_as(sql).bind(&ids).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|(id, platform, external_id, handle, display_name, same_person_as)| {
                Ok(Contact {
                    id: ContactId(id),
                    platform: platform.parse().map_err(|e| StoreError::corrupt_row("platform", e))?,
                    external_id,
                    handle,
                    display_name,
                    same_person_as: same_person_as.map(ContactId),
                })
            })
            .collect()
    }

    /// Accounts, of one institution or all, by platform and handle.
    pub async fn accounts(&self, institution: Option<InstitutionId>) -> Result<Vec<Account>> {
        let rows: Vec<AccountRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, institution_id, platform, handle, display_name, external_id, official FROM accounts \
                 WHERE CAST($1 AS BIGINT) IS NULL OR institution_id = $1 ORDER BY institution_id, platform, handle",
            )
            .bind(institution.map(|i| i.0))
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(Account::try_from).collect()
    }
}
