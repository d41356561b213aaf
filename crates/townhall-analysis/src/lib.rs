//! Townhall's text analysis: language, sentiment, intent, topics, urgency, spam,
//! abuse and personal data of each post, as a deterministic, versioned
//! `analyze(text, context) -> Enrichment`.
//!
//! It never does I/O: models and lexicons are compiled in (sources and licences in
//! `data/SOURCES.md`) and load once per process. The text is folded (lower case, no
//! Latin accents) once and every term list reads the folded text in one Aho-Corasick
//! pass each. [`VERSION`] is stored with each result; when it changes, stored posts
//! are analysed again by the store's `analyze_post` jobs.

pub mod abuse;
pub mod intent;
pub mod language;
pub mod lexicon;
pub mod pii;
pub mod sentiment;
pub mod spam;
pub mod topics;
pub mod urgency;

use serde::{Deserialize, Serialize};

pub use abuse::{Abuse, AbuseKind};
pub use intent::Intent;
pub use pii::{PiiKind, PiiMatch};
pub use sentiment::Sentiment;
pub use spam::{AccountSignals, Spam, SpamReason};
pub use topics::{Taxonomy, TopicMatch, TopicModel};
pub use urgency::{Emergency, Urgency};

/// The analyzer's version: raise it whenever a model, a lexicon or a rule changes
/// what `analyze` returns, so stored enrichments are recomputed.
pub const VERSION: u32 = 1;

/// What the platform and the caller know around a post's text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The language the platform declared (ISO 639-1 or 639-3), if any.
    pub declared_lang: Option<&'a str>,
    /// The author's account, as the platform described it.
    pub account: AccountSignals,
    /// Other accounts that recently posted nearly the same text (see
    /// [`spam::NearDuplicates`]).
    pub duplicates: u32,
    /// The institution's taxonomy; the default one when `None`.
    pub taxonomy: Option<&'a Taxonomy>,
    /// The institution's topic model learned from staff labels, if any.
    pub topic_model: Option<&'a TopicModel>,
    /// The institution's language detector (its expected languages); all supported
    /// languages when `None`.
    pub detector: Option<&'a language::Detector>,
}

/// Everything Townhall understood of one post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    /// The [`VERSION`] of the analyzer that produced it.
    pub version: u32,
    /// ISO 639-1 code (639-3 where a language has none); `None` when there are no
    /// letters to go on.
    pub lang: Option<String>,
    /// Confidence in `lang`, 0 to 1.
    pub lang_confidence: f32,
    /// Sentiment and emoji count.
    pub sentiment: Sentiment,
    /// What the author wants.
    pub intent: intent::Scored,
    /// Topics, best first.
    pub topics: Vec<TopicMatch>,
    /// Emergency language.
    pub urgency: Urgency,
    /// Spam and bot likelihood.
    pub spam: Spam,
    /// Abuse and the policy clauses at stake.
    pub abuse: Abuse,
    /// Personal data spans (byte offsets into the text).
    pub pii: Vec<PiiMatch>,
}

impl Enrichment {
    /// The text with its personal data replaced by placeholders, for every public output.
    pub fn redact(&self, text: &str) -> String {
        pii::redact(text, &self.pii)
    }
}

/// Analyses one post's text.
pub fn analyze(text: &str, context: &Context<'_>) -> Enrichment {
    let folded = lexicon::fold(text);
    let (lang, lang_confidence) = language_of(text, context);
    let sentiment = sentiment_of(text, lang, lang_confidence);
    let intent = intent::intent(text, &folded, sentiment.score);
    let taxonomy = context.taxonomy.unwrap_or_else(|| Taxonomy::default_taxonomy());
    Enrichment {
        version: VERSION,
        lang: lang.map(language::code),
        lang_confidence,
        intent,
        topics: taxonomy.classify(&folded, context.topic_model),
        urgency: urgency::urgency_folded(&folded),
        spam: spam::spam(text, &folded, &context.account, context.duplicates),
        abuse: abuse::abuse_folded(&folded),
        pii: pii::find_in(text, &folded),
        sentiment,
    }
}

/// Sentiment with the model of the post's language; when the language is uncertain
/// (a short post, close relatives), the model that recognises clearly more of its
/// words, so a short English tweet taken for Catalan is still read in English.
fn sentiment_of(text: &str, lang: Option<lingua::Language>, lang_confidence: f32) -> Sentiment {
    let primary = sentiment::sentiment(text, lang);
    if lang.is_some() && lang_confidence >= 0.9 {
        return primary;
    }
    let mut best = primary;
    for other in sentiment::LANGUAGES.iter().copied().filter(|l| Some(*l) != lang) {
        let candidate = sentiment::sentiment(text, Some(other));
        if candidate.confidence >= 0.2 && candidate.confidence > best.confidence + 0.1 {
            best = candidate;
        }
    }
    best
}

/// The detected language, weighed against the one the platform declared: a declared
/// language is the author's setting, not the post's, so it wins only where the text
/// is too short or too ambiguous to say.
fn language_of(text: &str, context: &Context<'_>) -> (Option<lingua::Language>, f32) {
    let detected = match context.detector {
        Some(detector) => detector.detect(text),
        None => language::detect(text),
    };
    let declared = context.declared_lang.and_then(language::from_code);
    match (detected, declared) {
        (Some(found), Some(declared)) if found.language == declared => (Some(declared), found.confidence.max(0.95)),
        (Some(found), Some(declared)) if found.confidence < 0.8 => (Some(declared), 0.6),
        (Some(found), _) => (Some(found.language), found.confidence),
        (None, Some(declared)) if language::language_words(text).is_empty() => (Some(declared), 0.5),
        (None, _) => (None, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_complaint_in_spanish_end_to_end() {
        let text =
            "@MuniSantiago ¡Llevamos tres semanas sin recolección de basura en Calle Esmeralda 1234! Una vergüenza 😡";
        let e = analyze(text, &Context::default());
        assert_eq!(e.version, VERSION);
        assert_eq!(e.lang.as_deref(), Some("es"));
        assert!(e.sentiment.score.is_some_and(|s| s < 0.0), "{:?}", e.sentiment);
        assert_eq!(e.sentiment.emoji, 1);
        assert_eq!(e.intent.label, Intent::Complaint);
        assert_eq!(e.topics.first().map(|t| t.topic.as_str()), Some("waste"));
        assert_eq!(e.pii.iter().map(|m| m.kind).collect::<Vec<_>>(), [PiiKind::Address]);
        assert!(e.redact(text).contains("[address]"));
        assert_eq!((e.urgency.score, e.abuse.score, e.spam.score), (0.0, 0.0, 0.0));
    }

    #[test]
    fn an_emergency_in_english() {
        let e = analyze("Help us! People trapped after the earthquake on 5 Elm Street", &Context::default());
        assert_eq!(e.lang.as_deref(), Some("en"));
        assert!(e.urgency.score >= 0.8);
        assert_eq!(e.urgency.signals, [Emergency::Trapped, Emergency::Earthquake]);
    }

    #[test]
    fn the_declared_language_decides_only_where_the_text_cannot() {
        let context = Context { declared_lang: Some("nl"), ..Context::default() };
        assert_eq!(analyze("ok 👍", &context).lang.as_deref(), Some("nl"));
        let long = "Wanneer wordt het afval weer opgehaald in onze straat? Het ligt er al een week.";
        assert_eq!(analyze(long, &context).lang.as_deref(), Some("nl"));
        let english = "When will the garbage be collected in our street? It has been a week.";
        assert_eq!(analyze(english, &context).lang.as_deref(), Some("en"));
        assert_eq!(analyze("👍👍", &Context::default()).lang, None);
    }

    #[test]
    fn serializes_with_stable_names() {
        let e = analyze("Thank you for fixing the street light so fast!", &Context::default());
        let json = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(json["lang"], "en");
        assert_eq!(json["intent"]["label"], "praise");
        let back: Enrichment = serde_json::from_value(json).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(back, e);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
        #[test]
        fn analyze_never_panics_and_stays_in_range(text in any::<String>(), declared in proptest::option::of("[a-z]{2,3}")) {
            let context = Context { declared_lang: declared.as_deref(), duplicates: 3, ..Context::default() };
            let e = analyze(&text, &context);
            prop_assert!((0.0..=1.0).contains(&e.lang_confidence));
            if let Some(s) = e.sentiment.score {
                prop_assert!((-1.0..=1.0).contains(&s));
            }
            prop_assert!((0.0..=1.0).contains(&e.spam.score));
            prop_assert!((0.0..=1.0).contains(&e.abuse.score));
            prop_assert!((0.0..=1.0).contains(&e.intent.confidence));
            for m in &e.pii {
                prop_assert!(m.start < m.end && m.end <= text.len());
                prop_assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
            }
        }

        #[test]
        fn hostile_social_text_never_panics(text in "([#@]?[a-zA-ZñÑáé😀<>&;:()!?¿ ]{0,12}|https?://[a-z./]{0,20}|[0-9+ .-]{0,20}){0,40}") {
            let e = analyze(&text, &Context::default());
            prop_assert!(e.pii.windows(2).all(|w| w[0].end <= w[1].start));
        }
    }
}
