//! Language identification that holds on short social text, in two passes.
//!
//! Mentions, hashtags, links, e-mail addresses, digits and emoji are stripped first:
//! they say nothing about the language a post is written in. The script then settles
//! most non-Latin languages at once (Greek, Hebrew, Thai, Korean, …) and narrows the
//! others to the languages written in it. The **fast pass** scores the candidates
//! with character-trigram log-probabilities held in one hash table; when its margin
//! is wide it answers. Otherwise — short texts, close relatives such as Spanish and
//! Catalan — the **precise pass** runs lingua's high-accuracy detector (n-grams of one
//! to five characters and its rules) on the few languages the fast pass could not
//! tell apart.
//!
//! Both passes read the n-gram models of the `lingua-*-language-model` crates
//! (Apache-2.0, built from the Leipzig Corpora), compiled in: lingua embeds them, and
//! `build.rs` derives the fast pass's trigram table from them. Nothing is downloaded
//! or read from disk at run time.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::{Arc, Mutex, OnceLock};

use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};

use crate::lexicon::FastHasher;

/// The languages Townhall identifies: the thirty most used on social media and every
/// official language of the seeds' countries (Spanish, English, French, Dutch,
/// German, Arabic, Macedonian, Albanian, Catalan, Basque, Welsh, Irish).
pub const SUPPORTED: &[Language] = &[
    Language::English,
    Language::Spanish,
    Language::Portuguese,
    Language::French,
    Language::German,
    Language::Italian,
    Language::Dutch,
    Language::Arabic,
    Language::Macedonian,
    Language::Albanian,
    Language::Catalan,
    Language::Basque,
    Language::Welsh,
    Language::Irish,
    Language::Turkish,
    Language::Russian,
    Language::Ukrainian,
    Language::Polish,
    Language::Japanese,
    Language::Korean,
    Language::Chinese,
    Language::Thai,
    Language::Indonesian,
    Language::Malay,
    Language::Tagalog,
    Language::Hindi,
    Language::Urdu,
    Language::Persian,
    Language::Bengali,
    Language::Vietnamese,
    Language::Swedish,
    Language::Romanian,
    Language::Greek,
    Language::Hebrew,
    Language::Czech,
    Language::Hungarian,
    Language::Danish,
    Language::Bokmal,
    Language::Finnish,
    Language::Tamil,
    Language::Serbian,
    Language::Bulgarian,
    Language::Croatian,
];

/// The fast pass's trigram table, built from lingua's models by `build.rs`.
static TRIGRAMS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/trigrams.bin"));

/// The writing systems that tell languages apart before any statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Cyrillic,
    Arabic,
    Devanagari,
    Greek,
    Hebrew,
    Thai,
    Hangul,
    Kana,
    Han,
    Bengali,
    Tamil,
}

const SCRIPTS: usize = 12;

impl Script {
    fn of(c: char) -> Option<Script> {
        Some(match c {
            'a'..='z' | 'A'..='Z' | '\u{c0}'..='\u{24f}' | '\u{1e00}'..='\u{1eff}' => Script::Latin,
            '\u{400}'..='\u{52f}' => Script::Cyrillic,
            '\u{600}'..='\u{6ff}' | '\u{750}'..='\u{77f}' | '\u{fb50}'..='\u{fdff}' | '\u{fe70}'..='\u{feff}' => {
                Script::Arabic
            }
            '\u{900}'..='\u{97f}' => Script::Devanagari,
            '\u{370}'..='\u{3ff}' | '\u{1f00}'..='\u{1fff}' => Script::Greek,
            '\u{590}'..='\u{5ff}' => Script::Hebrew,
            '\u{e00}'..='\u{e7f}' => Script::Thai,
            '\u{ac00}'..='\u{d7af}' | '\u{1100}'..='\u{11ff}' | '\u{3130}'..='\u{318f}' => Script::Hangul,
            '\u{3040}'..='\u{30ff}' | '\u{31f0}'..='\u{31ff}' => Script::Kana,
            '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{f900}'..='\u{faff}' => Script::Han,
            '\u{980}'..='\u{9ff}' => Script::Bengali,
            '\u{b80}'..='\u{bff}' => Script::Tamil,
            _ => return None,
        })
    }

    fn of_language(language: Language) -> Script {
        match language {
            Language::Russian
            | Language::Ukrainian
            | Language::Macedonian
            | Language::Bulgarian
            | Language::Serbian => Script::Cyrillic,
            Language::Arabic | Language::Persian | Language::Urdu => Script::Arabic,
            Language::Hindi => Script::Devanagari,
            Language::Greek => Script::Greek,
            Language::Hebrew => Script::Hebrew,
            Language::Thai => Script::Thai,
            Language::Korean => Script::Hangul,
            Language::Japanese => Script::Kana,
            Language::Chinese => Script::Han,
            Language::Bengali => Script::Bengali,
            Language::Tamil => Script::Tamil,
            _ => Script::Latin,
        }
    }
}

/// A language found, with the confidence in it (0 to 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detected {
    /// The language.
    pub language: Language,
    /// How sure the identification is, from 0 to 1.
    pub confidence: f32,
}

impl Detected {
    /// ISO 639-1 code, or ISO 639-3 for a language without one.
    pub fn code(&self) -> String {
        code(self.language)
    }
}

/// ISO 639-1 code of a language, or its ISO 639-3 code where it has none.
pub fn code(language: Language) -> String {
    language.iso_code_639_1().to_string()
}

/// The supported language a code (ISO 639-1 or 639-3, any case) names.
pub fn from_code(code: &str) -> Option<Language> {
    let code = code.trim().to_ascii_lowercase();
    SUPPORTED.iter().copied().find(|l| l.iso_code_639_1().to_string() == code || l.iso_code_639_3().to_string() == code)
}

/// Letters of a text that carry its language, lower-cased, as words separated by one
/// space: without mentions, hashtags, links, e-mail addresses, digits, punctuation
/// and emoji.
pub fn language_words(text: &str) -> String {
    let mut words = String::with_capacity(text.len().min(MAX_LANGUAGE_TEXT));
    for token in text.split_whitespace() {
        // The opening of a long text says its language as well as all of it does.
        if words.len() >= MAX_LANGUAGE_TEXT {
            break;
        }
        let skip = token.starts_with('@')
            || token.starts_with('#')
            || token.contains('@')
            || starts_with_ignore_case(token, "http://")
            || starts_with_ignore_case(token, "https://")
            || starts_with_ignore_case(token, "www.");
        if skip {
            continue;
        }
        for c in token.chars() {
            if c.is_ascii_alphabetic() {
                words.push(c.to_ascii_lowercase());
            } else if c.is_ascii() {
                if !words.is_empty() && !words.ends_with(' ') {
                    words.push(' ');
                }
            } else if matches!(
                Script::of(c),
                Some(Script::Arabic | Script::Hebrew | Script::Thai | Script::Han | Script::Kana | Script::Hangul)
            ) {
                // Scripts without case need no lower-casing.
                words.push(c);
            } else if c.is_alphabetic() {
                words.extend(c.to_lowercase());
            } else if !words.is_empty() && !words.ends_with(' ') {
                words.push(' ');
            }
        }
        if !words.is_empty() && !words.ends_with(' ') {
            words.push(' ');
        }
    }
    words.truncate(words.trim_end().len());
    words
}

/// Bytes of letters read to identify a language.
const MAX_LANGUAGE_TEXT: usize = 4096;

fn starts_with_ignore_case(token: &str, prefix: &str) -> bool {
    token.len() >= prefix.len() && token.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Identifies the language of `text` among all supported languages, or `None` when
/// it has no letters to go on (only emoji, links, mentions or digits).
pub fn detect(text: &str) -> Option<Detected> {
    static ALL: OnceLock<Detector> = OnceLock::new();
    ALL.get_or_init(|| Detector::new(SUPPORTED)).detect(text)
}

/// Loads the models of [`detect`] now rather than on the first post.
pub fn warm_up() {
    let _ = detect("warm up");
}

/// A language identifier for a set of languages. An institution that knows which
/// languages its public writes in gets better answers on short texts from a narrower
/// set; [`detect`] uses all supported languages.
pub struct Detector {
    languages: Vec<Language>,
    fast: Trigrams,
    /// lingua detectors, one per shortlist met (a bit set of `SUPPORTED` indices):
    /// its cost grows with the number of languages, so it only weighs the few the
    /// fast pass could not tell apart. The models behind them are shared and loaded once.
    precise: Mutex<HashMap<u64, Arc<LanguageDetector>>>,
}

impl Detector {
    /// A detector for `languages` (those not in [`SUPPORTED`] are ignored).
    pub fn new(languages: &[Language]) -> Detector {
        let languages: Vec<Language> = SUPPORTED.iter().copied().filter(|l| languages.contains(l)).collect();
        Detector { fast: Trigrams::load(&languages), languages, precise: Mutex::new(HashMap::new()) }
    }

    /// Identifies the language of `text`, or `None` when it has no letters to go on
    /// or none in a script of this detector's languages.
    pub fn detect(&self, text: &str) -> Option<Detected> {
        let words = language_words(text);
        let mut counts = [0usize; SCRIPTS];
        for c in words.chars() {
            if let Some(script) = Script::of(c) {
                counts[script as usize] += 1;
            }
        }
        // Japanese mixes kana with Han: any kana makes Han text Japanese.
        if counts[Script::Kana as usize] > 0 {
            counts[Script::Kana as usize] += std::mem::take(&mut counts[Script::Han as usize]);
        }
        let letters: usize = counts.iter().sum();
        let (dominant, count) = counts.iter().enumerate().max_by_key(|(_, n)| **n).map(|(i, n)| (i, *n))?;
        if count == 0 {
            return None;
        }
        let script = ALL_SCRIPTS[dominant];
        let candidates: Vec<Language> =
            self.languages.iter().copied().filter(|l| Script::of_language(*l) == script).collect();
        match candidates.as_slice() {
            [] => None,
            [language] => Some(Detected { language: *language, confidence: count as f32 / letters as f32 }),
            _ => match self.fast.classify(&words, &candidates) {
                Verdict::Sure(found) => Some(found),
                Verdict::Shortlist(shortlist) => self.precise(&shortlist, &words),
            },
        }
    }

    /// lingua's answer among the shortlisted languages.
    fn precise(&self, shortlist: &[Language], words: &str) -> Option<Detected> {
        let mask = shortlist.iter().fold(0u64, |mask, l| mask | 1 << index_of(*l));
        let detector = {
            let mut cache = self.precise.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let detector = cache.entry(mask).or_insert_with(|| {
                Arc::new(LanguageDetectorBuilder::from_languages(shortlist).with_preloaded_language_models().build())
            });
            Arc::clone(detector)
        };
        let values = detector.compute_language_confidence_values(words);
        let (language, confidence) = values.first().copied()?;
        (confidence > 0.0).then_some(Detected { language, confidence: confidence as f32 })
    }
}

fn index_of(language: Language) -> usize {
    SUPPORTED.iter().position(|l| *l == language).unwrap_or_default()
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector").field("languages", &self.languages).field("fast", &self.fast).finish_non_exhaustive()
    }
}

const ALL_SCRIPTS: [Script; SCRIPTS] = [
    Script::Latin,
    Script::Cyrillic,
    Script::Arabic,
    Script::Devanagari,
    Script::Greek,
    Script::Hebrew,
    Script::Thai,
    Script::Hangul,
    Script::Kana,
    Script::Han,
    Script::Bengali,
    Script::Tamil,
];

/// Log-probabilities of character trigrams, for all of a detector's languages at once.
struct Trigrams {
    /// Packed trigram → range of `entries`.
    index: TrigramIndex,
    /// (language index in `SUPPORTED`, ln P(third char | first two)).
    entries: Vec<(u8, f32)>,
}

impl std::fmt::Debug for Trigrams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trigrams").field("trigrams", &self.index.len()).field("entries", &self.entries.len()).finish()
    }
}

/// The log-probability charged for a trigram a language's model lacks.
const UNSEEN: f32 = -12.0;
/// Fewer trigrams than this and the fast pass does not answer.
const MIN_TRIGRAMS: usize = 5;
type TrigramIndex = HashMap<u64, (u32, u32), BuildHasherDefault<FastHasher>>;

/// Reads the `build.rs` table, keeping the languages `wanted` (by `SUPPORTED` index).
fn read_table(bytes: &[u8], wanted: &[bool], index: &mut TrigramIndex, entries: &mut Vec<(u8, f32)>) -> Option<()> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let slice = bytes.get(at..at + n)?;
        at += n;
        Some(slice)
    };
    if take(4)? != b"THT1" {
        return None;
    }
    // The file's languages, mapped to `SUPPORTED` indices by name.
    let count = take(1)?[0] as usize;
    let mut map = Vec::with_capacity(count);
    for _ in 0..count {
        let len = take(1)?[0] as usize;
        let name = std::str::from_utf8(take(len)?).ok()?;
        map.push(SUPPORTED.iter().position(|l| format!("{l:?}") == name));
    }
    let keys = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
    index.reserve(keys);
    for _ in 0..keys {
        let key = u64::from_le_bytes(take(8)?.try_into().ok()?);
        let n = take(1)?[0] as usize;
        let start = entries.len() as u32;
        for _ in 0..n {
            let language = take(1)?[0] as usize;
            let logp = f32::from_le_bytes(take(4)?.try_into().ok()?);
            if let Some(Some(i)) = map.get(language)
                && wanted[*i]
            {
                entries.push((*i as u8, logp));
            }
        }
        if entries.len() as u32 > start {
            index.insert(key, (start, entries.len() as u32));
        }
    }
    Some(())
}

/// The lead (in nats) of the best language over the next that the fast pass needs…
const MIN_MARGIN: f32 = 3.0;
/// …and among many rivals (more close relatives: Spanish, Portuguese, Catalan, …).
const MIN_MARGIN_CROWDED: f32 = 5.0;
/// At most this many languages go to the precise pass…
const SHORTLIST: usize = 3;
/// …and only those within this many nats of the best.
const SHORTLIST_WINDOW: f32 = 24.0;

fn pack(chars: &[char]) -> u64 {
    chars.iter().fold(0u64, |key, c| (key << 21) | u64::from(*c))
}

impl Trigrams {
    /// The table for `languages`, from [`TRIGRAMS`]; languages without a rival in
    /// their script are left out (the script alone decides them).
    fn load(languages: &[Language]) -> Trigrams {
        let wanted: Vec<bool> = SUPPORTED
            .iter()
            .map(|l| {
                let script = Script::of_language(*l);
                languages.contains(l) && languages.iter().filter(|o| Script::of_language(**o) == script).count() > 1
            })
            .collect();
        let mut index = HashMap::default();
        let mut entries = Vec::new();
        // The table is built with the code; a malformed one fails the tests, and here
        // it yields an empty table (every text then goes to the precise pass).
        let _ = read_table(TRIGRAMS, &wanted, &mut index, &mut entries);
        Trigrams { index, entries }
    }

    /// The language whose trigrams explain the words best when it leads clearly;
    /// otherwise the few languages close enough to the best to need a closer look.
    fn classify(&self, words: &str, candidates: &[Language]) -> Verdict {
        let mut scores = [0f32; 64];
        let mut seen = 0usize;
        let mut chars = Vec::with_capacity(32);
        for word in words.split(' ') {
            chars.clear();
            chars.extend(word.chars());
            for window in chars.windows(3) {
                seen += 1;
                let Some(&(start, end)) = self.index.get(&pack(window)) else { continue };
                for &(language, logp) in &self.entries[start as usize..end as usize] {
                    scores[language as usize] += logp - UNSEEN;
                }
            }
        }
        let mut ranked: Vec<(Language, f32)> = candidates.iter().map(|l| (*l, scores[index_of(*l)])).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (best, top) = ranked[0];
        let margin = top - ranked.get(1).map_or(f32::NEG_INFINITY, |r| r.1);
        let needed = if candidates.len() > 10 { MIN_MARGIN_CROWDED } else { MIN_MARGIN };
        if seen >= MIN_TRIGRAMS && margin >= needed {
            // The margin is a log-likelihood ratio: e^-margin is the odds of the runner-up.
            return Verdict::Sure(Detected { language: best, confidence: 1.0 / (1.0 + (-margin).exp()) });
        }
        if seen == 0 {
            return Verdict::Shortlist(candidates.to_vec());
        }
        Verdict::Shortlist(
            ranked
                .iter()
                .take(SHORTLIST)
                .take_while(|(_, score)| top - score < SHORTLIST_WINDOW)
                .map(|(l, _)| *l)
                .collect(),
        )
    }
}

/// What the fast pass concluded.
enum Verdict {
    Sure(Detected),
    Shortlist(Vec<Language>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(text: &str) -> Option<String> {
        detect(text).map(|d| d.code())
    }

    #[test]
    fn identifies_the_seed_languages_in_short_posts() {
        assert_eq!(lang("¿A qué hora pasa el próximo autobús por la plaza?").as_deref(), Some("es"));
        assert_eq!(lang("When will the water supply be restored in our street?").as_deref(), Some("en"));
        assert_eq!(lang("Pourquoi les poubelles ne sont-elles pas ramassées depuis lundi ?").as_deref(), Some("fr"));
        assert_eq!(lang("Wanneer wordt het afval weer opgehaald in onze wijk?").as_deref(), Some("nl"));
        assert_eq!(lang("متى سيتم إصلاح الطريق أمام المدرسة؟").as_deref(), Some("ar"));
        assert_eq!(lang("Кога ќе се поправи патот кон училиштето?").as_deref(), Some("mk"));
        assert_eq!(lang("Kur do të rregullohet rruga për në shkollë?").as_deref(), Some("sq"));
    }

    #[test]
    fn strips_what_says_nothing_about_the_language() {
        let text = "@MuniSantiago #Santiago https://example.org/x?y=1 el semáforo de la esquina no funciona 😡😡";
        assert_eq!(lang(text).as_deref(), Some("es"));
        assert_eq!(language_words("@a #b HTTPS://c.d e@f.g ¡Hola, 12 mundo! 👍"), "hola mundo");
    }

    #[test]
    fn has_no_answer_without_letters() {
        assert_eq!(detect("😀 👍 123 https://example.org @someone #tag"), None);
        assert_eq!(detect(""), None);
    }

    #[test]
    fn scripts_of_one_language_decide_alone() {
        let found = detect("Πότε θα επισκευαστεί ο δρόμος;").map(|d| (d.code(), d.confidence));
        assert_eq!(found, Some(("el".to_string(), 1.0)));
        assert_eq!(lang("市役所はいつ開きますか").as_deref(), Some("ja"));
        assert_eq!(lang("시청은 언제 열어요").as_deref(), Some("ko"));
    }

    #[test]
    fn codes_round_trip() {
        for language in SUPPORTED {
            assert_eq!(from_code(&code(*language)), Some(*language));
        }
        assert_eq!(from_code("SPA"), Some(Language::Spanish));
        assert_eq!(from_code("xx"), None);
    }
}
