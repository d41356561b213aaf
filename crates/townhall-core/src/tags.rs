//! What analysis concluded about a post, in the form routing, filters and reports
//! use: one row per post, topics as a list. The analyzer (`townhall-analysis`)
//! produces the full enrichment; these are the fields the rest of Townhall acts on.

use serde::{Deserialize, Serialize};

/// Where a topic on a post came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagSource {
    /// The analyzer (keyword rules and the learned model).
    Analysis,
    /// A staff member set it by hand; analysis never overwrites it.
    Staff,
}

impl std::str::FromStr for TagSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "analysis" => Ok(TagSource::Analysis),
            "staff" => Ok(TagSource::Staff),
            other => Err(format!("unknown tag source `{other}`")),
        }
    }
}

/// A topic on a post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicTag {
    /// The topic key, e.g. `transport`.
    pub topic: String,
    /// From 0 to 1 (1 for a staff label).
    pub confidence: f32,
    /// Who set it.
    pub source: TagSource,
}

/// A post's analysis, as stored and acted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tags {
    /// The analyzer version that produced it; older ones are re-analysed.
    pub analyzer_version: i32,
    /// ISO 639-1 (or 639-3) code, if identified.
    pub lang: Option<String>,
    /// Sentiment in [-1, 1], if the language has a model.
    pub sentiment: Option<f32>,
    /// `question`, `complaint`, `suggestion`, `praise`, `information` or `other`.
    pub intent: String,
    /// Topics, best first.
    pub topics: Vec<TopicTag>,
    /// Urgency, 0 to 1.
    pub urgency: f32,
    /// Spam likelihood, 0 to 1.
    pub spam: f32,
    /// Abuse likelihood, 0 to 1.
    pub abuse: f32,
    /// Whether the text holds personal data (to be redacted in public outputs).
    pub pii: bool,
}
