//! What the public pages read: an institution's responsiveness as aggregates computed
//! in SQL (never a citizen's post, name or handle, never a staff member), its weekly
//! counts of cases, and a case found by its public link's token.
//!
//! Which cases count: those an institution owns now and opened since the given time,
//! except cases closed as duplicates (merged into another case, which counts). A case
//! referred away counts for its new owner; the referrer's figure says how many it
//! referred, by the time of the referral. Ratings count by when they were given.

use chrono::{DateTime, Utc};
use townhall_core::{Case, CaseId, InstitutionId};

use crate::{BeginWrite, Db, Result, StoreError, on_pool};

/// How an institution answered the cases opened since a time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Responsiveness {
    /// Cases opened.
    pub opened: i64,
    /// Of those, how many got a first response.
    pub answered: i64,
    /// Median seconds from opening to the first response, of the answered cases.
    pub median_first_response_secs: Option<f64>,
    /// Answered cases that had a first-response deadline.
    pub answered_with_deadline: i64,
    /// Of those, how many were answered by the deadline.
    pub answered_in_time: i64,
    /// Cases opened that were resolved.
    pub resolved: i64,
    /// Cases it referred to another institution since then.
    pub referred_away: i64,
    /// Cases another institution referred to it since then.
    pub received: i64,
    /// Citizens' ratings given since then.
    pub ratings: i64,
    /// Their average score, 1 to 5.
    pub average_rating: Option<f64>,
}

/// The cases that count for an institution: `$1` the institution, `$2` since.
macro_rules! counted {
    () => {
        "institution_id = $1 AND opened_at >= $2 AND (close_reason IS NULL OR close_reason <> 'duplicate')"
    };
}

/// The one or two middle durations to a first response, `$3` of them from `$4`,
/// with `$seconds` the backend's expression of the duration in seconds.
macro_rules! middle {
    ($seconds:literal) => {
        concat!(
            "SELECT ",
            $seconds,
            " AS d FROM cases WHERE ",
            counted!(),
            " AND first_response_at IS NOT NULL ORDER BY d LIMIT $3 OFFSET $4"
        )
    };
}

impl Db {
    /// `institution`'s responsiveness for the cases opened since `since`.
    pub async fn responsiveness(&self, institution: InstitutionId, since: DateTime<Utc>) -> Result<Responsiveness> {
        let counts = concat!(
            "SELECT COUNT(*), COUNT(first_response_at), \
             COALESCE(SUM(CASE WHEN first_response_at IS NOT NULL AND first_response_due IS NOT NULL \
             THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN first_response_at IS NOT NULL AND first_response_due IS NOT NULL \
             AND first_response_at <= first_response_due THEN 1 ELSE 0 END), 0), \
             COUNT(resolved_at) FROM cases WHERE ",
            counted!()
        );
        let others = "SELECT \
             (SELECT COUNT(*) FROM case_referrals WHERE from_institution_id = $1 AND at >= $2), \
             (SELECT COUNT(*) FROM case_referrals WHERE to_institution_id = $1 AND at >= $2), \
             (SELECT COUNT(*) FROM ratings WHERE institution_id = $1 AND created_at >= $2), \
             (SELECT AVG(CAST(score AS DOUBLE PRECISION)) FROM ratings WHERE institution_id = $1 AND created_at >= $2)";
        type Counts = (i64, i64, i64, i64, i64);
        type Others = (i64, i64, i64, Option<f64>);
        let ((opened, answered, with_deadline, in_time, resolved), (referred_away, received, ratings, average)): (
            Counts,
            Others,
        ) = on_pool!(self, |pool| {
            let counts = sqlx::query_as(counts).bind(institution.0).bind(since).fetch_one(pool).await?;
            let others = sqlx::query_as(others).bind(institution.0).bind(since).fetch_one(pool).await?;
            Ok::<_, sqlx::Error>((counts, others))
        })?;
        let median = self.median_first_response(institution, since, answered).await?;
        Ok(Responsiveness {
            opened,
            answered,
            median_first_response_secs: median,
            answered_with_deadline: with_deadline,
            answered_in_time: in_time,
            resolved,
            referred_away,
            received,
            ratings,
            average_rating: average,
        })
    }

    /// The median of the `answered` durations to a first response: only the one or two
    /// middle values are fetched, sorted by the database.
    async fn median_first_response(
        &self,
        institution: InstitutionId,
        since: DateTime<Utc>,
        answered: i64,
    ) -> Result<Option<f64>> {
        if answered == 0 {
            return Ok(None);
        }
        let (offset, take) = ((answered - 1) / 2, 2 - answered % 2);
        let values: Vec<f64> = match self {
            Db::Sqlite(pool) => {
                let sql = middle!("(julianday(first_response_at) - julianday(opened_at)) * 86400.0");
                let query = sqlx::query_scalar(sql).bind(institution.0).bind(since).bind(take).bind(offset);
                query.fetch_all(pool).await?
            }
            Db::Postgres(pool) => {
                let sql = middle!("CAST(EXTRACT(EPOCH FROM (first_response_at - opened_at)) AS DOUBLE PRECISION)");
                let query = sqlx::query_scalar(sql).bind(institution.0).bind(since).bind(take).bind(offset);
                query.fetch_all(pool).await?
            }
        };
        Ok((!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64))
    }

    /// The case a public link's token opens, if any. An unknown token costs the same
    /// one indexed lookup as a known one.
    pub async fn case_by_public_token(&self, token: &str) -> Result<Option<Case>> {
        let id: Option<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT case_id FROM case_public_tokens WHERE token = $1")
                .bind(token)
                .fetch_optional(pool)
                .await
        })?;
        match id {
            Some(id) => self.case_by_id(CaseId(id)).await,
            None => Ok(None),
        }
    }

    /// The token of `case`'s public link: the one it has, or `candidate` (a fresh
    /// random token the caller made) stored as its token now. Idempotent and safe
    /// against a concurrent call: both get the one stored.
    pub async fn public_case_token(&self, case: CaseId, candidate: &str) -> Result<String> {
        if candidate.len() < 32 {
            return Err(StoreError::Invalid("a public case token has at least 32 characters".into()));
        }
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO case_public_tokens (case_id, token, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (case_id) DO NOTHING",
            )
            .bind(case.0)
            .bind(candidate)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
            let token: String = sqlx::query_scalar("SELECT token FROM case_public_tokens WHERE case_id = $1")
                .bind(case.0)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(token)
        })
    }
}
