//! Public counts of an account over time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::AccountId;

/// Follower, following, post and like counts of an account at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricSnapshot {
    /// The account measured.
    pub account_id: AccountId,
    /// When the counts were read.
    pub at: DateTime<Utc>,
    /// Followers.
    pub followers: i64,
    /// Accounts it follows.
    pub following: i64,
    /// Posts published so far.
    pub posts: i64,
    /// Likes (or favourites) received so far, where the platform reports them.
    pub likes: Option<i64>,
}
