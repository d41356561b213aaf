//! Townhall's text analysis: language, sentiment, intent, topics, urgency, spam,
//! abuse and personal data of each post, as a deterministic, versioned
//! `analyze(text, context) -> Enrichment`.
//!
//! It never does I/O at analysis time: models and lexicons load once, from files the
//! project ships or builds. [`pii`] (personal data and its redaction) and [`urgency`]
//! (emergency language, on the multilingual [`lexicon`] matcher) are in place; the
//! other analyzers arrive with the "Understand" issue. The store already enqueues an
//! `analyze_post` job for every new post text, so every post stored today will be
//! analysed when they do.

pub mod language;
pub mod lexicon;
pub mod pii;
pub mod sentiment;
pub mod urgency;
