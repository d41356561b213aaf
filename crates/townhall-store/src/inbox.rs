//! How each institution runs its inbox: routing rules, deadline policies, settings
//! (calendar, satisfaction question, approvals), canned answers, and the credentials
//! its accounts reply with. Every change is audited with what it was before; a
//! credential's secret never reaches an audit event.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use townhall_core::canned::CannedAnswer;
use townhall_core::deadline::DeadlinePolicy;
use townhall_core::routing::Rule;
use townhall_core::settings::InboxSettings;
use townhall_core::{AccountId, Actor, InstitutionId, NewAuditEvent, Platform, Priority};

use crate::audit::insert_audit;
use crate::{BeginWrite, Db, Result, StoreError, on_pool, storable_text};

/// How Townhall posts as one of an institution's accounts.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountCredentials {
    /// The platform's API base URL (the Mastodon instance, the Bluesky PDS, …).
    pub endpoint: String,
    /// The login, where the platform needs one besides the secret (a Bluesky handle).
    pub identifier: Option<String>,
    /// The token or app password.
    pub secret: String,
}

impl std::fmt::Debug for AccountCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountCredentials")
            .field("endpoint", &self.endpoint)
            .field("identifier", &self.identifier)
            .field("secret", &"[redacted]")
            .finish()
    }
}

fn event(
    institution: InstitutionId,
    actor: &Actor,
    action: &str,
    kind: &str,
    id: impl ToString,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> NewAuditEvent {
    NewAuditEvent {
        institution_id: Some(institution),
        actor: actor.clone(),
        action: action.to_owned(),
        object_kind: kind.to_owned(),
        object_id: id.to_string(),
        before,
        after,
        origin: None,
    }
}

fn rule_from_row(id: i64, name: String, position: i32, enabled: bool, definition: &str) -> Result<Rule> {
    let mut rule: Rule = serde_json::from_str(definition).map_err(|e| StoreError::corrupt_row("routing rule", e))?;
    rule.id = id;
    rule.name = name;
    rule.position = position;
    rule.enabled = enabled;
    Ok(rule)
}

impl Db {
    /// An institution's routing rules in the order they run.
    pub async fn rules(&self, institution: InstitutionId) -> Result<Vec<Rule>> {
        let rows: Vec<(i64, String, i32, bool, String)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, position, enabled, definition FROM routing_rules WHERE institution_id = $1 \
                 ORDER BY position, id",
            )
            .bind(institution.0)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .map(|(id, name, position, enabled, definition)| rule_from_row(id, name, position, enabled, &definition))
            .collect()
    }

    /// Stores a routing rule: a new one when `rule.id` is 0, else a change of the
    /// institution's rule with that id (`NotFound` if it has none). The caller
    /// validates it first.
    pub async fn save_rule(&self, institution: InstitutionId, rule: &Rule, actor: &Actor) -> Result<Rule> {
        let now = Utc::now();
        let definition = serde_json::to_string(rule).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let before = if rule.id == 0 {
            None
        } else {
            let current = self.rules(institution).await?.into_iter().find(|r| r.id == rule.id);
            Some(current.ok_or(StoreError::NotFound("rule"))?)
        };
        let id: i64 = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let id: i64 = if rule.id == 0 {
                sqlx::query_scalar(
                    "INSERT INTO routing_rules (institution_id, name, position, enabled, definition, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(institution.0)
                .bind(storable_text(&rule.name))
                .bind(rule.position)
                .bind(rule.enabled)
                .bind(&definition)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
            } else {
                sqlx::query_scalar(
                    "UPDATE routing_rules SET name = $1, position = $2, enabled = $3, definition = $4, updated_at = $5 \
                     WHERE id = $6 AND institution_id = $7 RETURNING id",
                )
                .bind(storable_text(&rule.name))
                .bind(rule.position)
                .bind(rule.enabled)
                .bind(&definition)
                .bind(now)
                .bind(rule.id)
                .bind(institution.0)
                .fetch_one(&mut *tx)
                .await?
            };
            let action = if before.is_some() { "rule.update" } else { "rule.create" };
            let audit =
                event(institution, actor, action, "rule", id, before.as_ref().map(|b| json!(b)), Some(json!(rule)));
            insert_audit!(tx, now, &audit).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(id)
        })?;
        Ok(Rule { id, ..rule.clone() })
    }

    /// Deletes one of an institution's routing rules, audited with what it was.
    pub async fn delete_rule(&self, institution: InstitutionId, id: i64, actor: &Actor) -> Result<()> {
        let before =
            self.rules(institution).await?.into_iter().find(|r| r.id == id).ok_or(StoreError::NotFound("rule"))?;
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM routing_rules WHERE id = $1 AND institution_id = $2")
                .bind(id)
                .bind(institution.0)
                .execute(&mut *tx)
                .await?;
            insert_audit!(tx, now, &event(institution, actor, "rule.delete", "rule", id, Some(json!(before)), None))
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// An institution's deadline policies.
    pub async fn deadline_policies(&self, institution: InstitutionId) -> Result<Vec<DeadlinePolicy>> {
        let rows: Vec<(String, String, i64, i64)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT priority, platform, first_response_secs, resolution_secs FROM deadline_policies \
                 WHERE institution_id = $1 ORDER BY priority, platform",
            )
            .bind(institution.0)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .map(|(priority, platform, first, resolution)| {
                Ok(DeadlinePolicy {
                    priority: priority.parse::<Priority>().map_err(|e| StoreError::corrupt_row("priority", e))?,
                    platform: match platform.as_str() {
                        "*" => None,
                        other => Some(other.parse::<Platform>().map_err(|e| StoreError::corrupt_row("platform", e))?),
                    },
                    first_response: Duration::seconds(first),
                    resolution: Duration::seconds(resolution),
                })
            })
            .collect()
    }

    /// Replaces an institution's deadline policies, audited before and after.
    pub async fn set_deadline_policies(
        &self,
        institution: InstitutionId,
        policies: &[DeadlinePolicy],
        actor: &Actor,
    ) -> Result<()> {
        let before = self.deadline_policies(institution).await?;
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM deadline_policies WHERE institution_id = $1")
                .bind(institution.0)
                .execute(&mut *tx)
                .await?;
            for policy in policies {
                sqlx::query(
                    "INSERT INTO deadline_policies (institution_id, priority, platform, first_response_secs, resolution_secs) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(institution.0)
                .bind(policy.priority.as_str())
                .bind(policy.platform.map_or("*", Platform::as_str))
                .bind(policy.first_response.num_seconds())
                .bind(policy.resolution.num_seconds())
                .execute(&mut *tx)
                .await?;
            }
            let audit = event(
                institution,
                actor,
                "deadline_policies.set",
                "institution",
                institution,
                Some(json!(before)),
                Some(json!(policies)),
            );
            insert_audit!(tx, now, &audit).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// An institution's inbox settings; the defaults when it set none.
    pub async fn inbox_settings(&self, institution: InstitutionId) -> Result<InboxSettings> {
        let row: Option<String> = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT settings FROM inbox_settings WHERE institution_id = $1")
                .bind(institution.0)
                .fetch_optional(pool)
                .await
        })?;
        match row {
            None => Ok(InboxSettings::default()),
            Some(json) => serde_json::from_str(&json).map_err(|e| StoreError::corrupt_row("inbox settings", e)),
        }
    }

    /// Replaces an institution's inbox settings, audited before and after.
    pub async fn set_inbox_settings(
        &self,
        institution: InstitutionId,
        settings: &InboxSettings,
        actor: &Actor,
    ) -> Result<()> {
        let before = self.inbox_settings(institution).await?;
        let json = serde_json::to_string(settings).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO inbox_settings (institution_id, settings, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (institution_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
            )
            .bind(institution.0)
            .bind(&json)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let audit = event(
                institution,
                actor,
                "inbox_settings.set",
                "institution",
                institution,
                Some(json!(before)),
                Some(json!(settings)),
            );
            insert_audit!(tx, now, &audit).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// An institution's canned answers, by name and language.
    pub async fn canned_answers(&self, institution: InstitutionId) -> Result<Vec<CannedAnswer>> {
        let rows: Vec<(i64, String, String, String)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, lang, body FROM canned_answers WHERE institution_id = $1 ORDER BY name, lang",
            )
            .bind(institution.0)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().map(|(id, name, lang, body)| CannedAnswer { id, name, lang, body }).collect())
    }

    /// Adds a canned answer (validated by the caller); a name is unique per language.
    pub async fn create_canned_answer(
        &self,
        institution: InstitutionId,
        answer: &CannedAnswer,
        actor: &Actor,
    ) -> Result<CannedAnswer> {
        let now = Utc::now();
        let id: i64 = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO canned_answers (institution_id, name, lang, body, created_at) VALUES ($1, $2, $3, $4, $5) \
                 RETURNING id",
            )
            .bind(institution.0)
            .bind(storable_text(&answer.name))
            .bind(&answer.lang)
            .bind(storable_text(&answer.body))
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let after = json!({ "name": answer.name, "lang": answer.lang, "body": answer.body });
            insert_audit!(
                tx,
                now,
                &event(institution, actor, "canned_answer.create", "canned_answer", id, None, Some(after))
            )
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(id)
        })?;
        Ok(CannedAnswer { id, ..answer.clone() })
    }

    /// Deletes one of an institution's canned answers.
    pub async fn delete_canned_answer(&self, institution: InstitutionId, id: i64, actor: &Actor) -> Result<()> {
        let before = self
            .canned_answers(institution)
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or(StoreError::NotFound("canned answer"))?;
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM canned_answers WHERE id = $1 AND institution_id = $2")
                .bind(id)
                .bind(institution.0)
                .execute(&mut *tx)
                .await?;
            let audit =
                event(institution, actor, "canned_answer.delete", "canned_answer", id, Some(json!(before)), None);
            insert_audit!(tx, now, &audit).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Sets how Townhall replies as one of `institution`'s accounts. The audit event
    /// names the endpoint and login, never the secret.
    pub async fn set_account_credentials(
        &self,
        institution: InstitutionId,
        account: AccountId,
        credentials: &AccountCredentials,
        actor: &Actor,
    ) -> Result<()> {
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let owned: Option<i64> =
                sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1 AND institution_id = $2")
                    .bind(account.0)
                    .bind(institution.0)
                    .fetch_optional(&mut *tx)
                    .await?;
            if owned.is_none() {
                return Err(StoreError::NotFound("account"));
            }
            sqlx::query(
                "INSERT INTO account_credentials (account_id, endpoint, identifier, secret, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO UPDATE SET endpoint = excluded.endpoint, \
                 identifier = excluded.identifier, secret = excluded.secret, updated_at = excluded.updated_at",
            )
            .bind(account.0)
            .bind(&credentials.endpoint)
            .bind(credentials.identifier.as_deref())
            .bind(&credentials.secret)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let after =
                json!({ "endpoint": credentials.endpoint, "identifier": credentials.identifier, "secret": "[set]" });
            insert_audit!(
                tx,
                now,
                &event(institution, actor, "account.credentials_set", "account", account, None, Some(after))
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// How Townhall replies as an account, if someone set it.
    pub async fn account_credentials(&self, account: AccountId) -> Result<Option<AccountCredentials>> {
        let row: Option<(String, Option<String>, String)> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT endpoint, identifier, secret FROM account_credentials WHERE account_id = $1")
                .bind(account.0)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.map(|(endpoint, identifier, secret)| AccountCredentials { endpoint, identifier, secret }))
    }

    /// Starts a staff session: only the SHA-256 of its cookie is stored.
    pub async fn create_session(
        &self,
        user: townhall_core::UserId,
        token_sha256: &[u8; 32],
        csrf_token: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO sessions (token_sha256, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_sha256.as_slice())
            .bind(user.0)
            .bind(csrf_token)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The active user of an unexpired session, with its CSRF token.
    pub async fn session_user(
        &self,
        token_sha256: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<(townhall_core::User, String)>> {
        let row: Option<(i64, String)> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT user_id, csrf_token FROM sessions WHERE token_sha256 = $1 AND expires_at > $2")
                .bind(token_sha256.as_slice())
                .bind(now)
                .fetch_optional(pool)
                .await
        })?;
        let Some((user, csrf)) = row else { return Ok(None) };
        Ok(self.user(townhall_core::UserId(user)).await?.filter(|u| u.active).map(|u| (u, csrf)))
    }

    /// Ends a session (sign-out).
    pub async fn delete_session(&self, token_sha256: &[u8; 32]) -> Result<()> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
                .bind(token_sha256.as_slice())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
