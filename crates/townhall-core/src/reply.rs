//! The outbox: replies to citizens, sent on the platform they wrote on. A reply is
//! stored before it is sent, under a unique idempotency key, so a retry or a crash
//! never sends it twice; its status says where it is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AccountId, CaseId, InstitutionId, Platform, PostId, ReplyId, UserId, named_enum};

named_enum! {
    /// Why a message goes to the citizen.
    pub enum ReplyKind as "reply kind" {
        /// An agent's answer.
        Answer = "answer",
        /// An automatic acknowledgement set by a routing rule.
        Acknowledgement = "acknowledgement",
        /// The citizen is told another institution handles the case now.
        Referral = "referral",
        /// The outcome of a resolved case: closing the loop.
        Outcome = "outcome",
        /// The satisfaction question that follows the outcome.
        Satisfaction = "satisfaction",
    }
}

named_enum! {
    /// Where a reply is on its way out.
    pub enum ReplyStatus as "reply status" {
        /// Held until a lead or admin approves it.
        AwaitingApproval = "awaiting_approval",
        /// Waiting for the outbox worker, or for its next attempt.
        Queued = "queued",
        /// A worker is posting it now. Found so after a crash, it may or may not be
        /// online: retried only where the platform deduplicates.
        Sending = "sending",
        /// The platform accepted it.
        Sent = "sent",
        /// It will not be sent; the error says why and the agent decides.
        Failed = "failed",
    }
}

/// A message to a citizen in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// Database id.
    pub id: ReplyId,
    /// The case it belongs to.
    pub case_id: CaseId,
    /// The institution that sends it.
    pub institution_id: InstitutionId,
    /// The agent who wrote it; `None` for one Townhall sent by itself.
    pub user_id: Option<UserId>,
    /// Why it is sent.
    pub kind: ReplyKind,
    /// The citizen's post it answers, in the thread.
    pub post_id: PostId,
    /// Where it goes.
    pub platform: Platform,
    /// The institution's account it is sent from.
    pub account_id: Option<AccountId>,
    /// The text.
    pub body: String,
    /// Where it is.
    pub status: ReplyStatus,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// The platform's id for the sent message.
    pub external_id: Option<String>,
    /// Its address on the platform.
    pub url: Option<String>,
    /// The last failure's stable code.
    pub error_code: Option<String>,
    /// The last failure, in words.
    pub error: Option<String>,
    /// The lead or admin who approved it, when approval was required.
    pub approved_by: Option<UserId>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When the platform accepted it.
    pub sent_at: Option<DateTime<Utc>>,
}

/// Delivery attempts before a retryable failure becomes a failure an agent sees.
pub const MAX_ATTEMPTS: i32 = 8;

/// How long to wait before attempt `attempts + 1`: exponential from 5 seconds, capped
/// at 30 minutes, or what the platform asked for if that is longer.
pub fn retry_delay(attempts: i32, platform_asked: Option<std::time::Duration>) -> std::time::Duration {
    let exponent = u32::try_from(attempts.clamp(0, 16)).unwrap_or(0);
    let backoff = std::time::Duration::from_secs(5u64.saturating_mul(1 << exponent).min(1800));
    platform_asked.map_or(backoff, |asked| asked.max(backoff))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn retries_back_off_and_honour_the_platform() {
        assert_eq!(retry_delay(0, None), Duration::from_secs(5));
        assert_eq!(retry_delay(3, None), Duration::from_secs(40));
        assert_eq!(retry_delay(50, None), Duration::from_secs(1800));
        assert_eq!(retry_delay(0, Some(Duration::from_secs(900))), Duration::from_secs(900));
        assert_eq!(retry_delay(4, Some(Duration::from_secs(1))), Duration::from_secs(80));
    }
}
