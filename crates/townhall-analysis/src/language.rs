//! Language identification that holds on short social text, in two passes.
//!
//! Mentions, hashtags, links, e-mail addresses, digits and emoji are stripped first:
//! they say nothing about the language a post is written in. The script then settles
//! most non-Latin languages at once (Greek, Hebrew, Thai, Korean, …) and narrows the
//! others to the languages written in it. The **fast pass** scores the candidates
//! with character-trigram log-probabilities held in one hash table; when its margin
//! is wide it answers. Otherwise — short texts, close relatives such as Spanish and
//! Catalan — the **precise pass** runs lingua's high-accuracy detector (n-grams of one
//! to five characters and its rules), restricted to the same languages.
//!
//! Both passes read the n-gram models of the `lingua-*-language-model` crates
//! (Apache-2.0, built from the Leipzig Corpora), compiled into the binary: nothing is
//! downloaded or read from disk at run time.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::{Arc, Mutex, OnceLock};

use fst::{IntoStreamer, Streamer};

use crate::lexicon::FastHasher;
use include_dir::Dir;
use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};

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

/// The compiled-in directories of a supported language: its models and lingua's test
/// data (lingua is built with exactly the supported languages, so the match is
/// exhaustive).
fn directories(language: Language) -> (Dir<'static>, Dir<'static>) {
    macro_rules! dirs {
        ($($lang:ident => $krate:ident :: $models:ident, $testdata:ident;)*) => {
            match language {
                $(Language::$lang => ($krate::$models, $krate::$testdata),)*
            }
        };
    }
    dirs! {
        English => lingua_english_language_model::ENGLISH_MODELS_DIRECTORY, ENGLISH_TESTDATA_DIRECTORY;
        Spanish => lingua_spanish_language_model::SPANISH_MODELS_DIRECTORY, SPANISH_TESTDATA_DIRECTORY;
        Portuguese => lingua_portuguese_language_model::PORTUGUESE_MODELS_DIRECTORY, PORTUGUESE_TESTDATA_DIRECTORY;
        French => lingua_french_language_model::FRENCH_MODELS_DIRECTORY, FRENCH_TESTDATA_DIRECTORY;
        German => lingua_german_language_model::GERMAN_MODELS_DIRECTORY, GERMAN_TESTDATA_DIRECTORY;
        Italian => lingua_italian_language_model::ITALIAN_MODELS_DIRECTORY, ITALIAN_TESTDATA_DIRECTORY;
        Dutch => lingua_dutch_language_model::DUTCH_MODELS_DIRECTORY, DUTCH_TESTDATA_DIRECTORY;
        Arabic => lingua_arabic_language_model::ARABIC_MODELS_DIRECTORY, ARABIC_TESTDATA_DIRECTORY;
        Macedonian => lingua_macedonian_language_model::MACEDONIAN_MODELS_DIRECTORY, MACEDONIAN_TESTDATA_DIRECTORY;
        Albanian => lingua_albanian_language_model::ALBANIAN_MODELS_DIRECTORY, ALBANIAN_TESTDATA_DIRECTORY;
        Catalan => lingua_catalan_language_model::CATALAN_MODELS_DIRECTORY, CATALAN_TESTDATA_DIRECTORY;
        Basque => lingua_basque_language_model::BASQUE_MODELS_DIRECTORY, BASQUE_TESTDATA_DIRECTORY;
        Welsh => lingua_welsh_language_model::WELSH_MODELS_DIRECTORY, WELSH_TESTDATA_DIRECTORY;
        Irish => lingua_irish_language_model::IRISH_MODELS_DIRECTORY, IRISH_TESTDATA_DIRECTORY;
        Turkish => lingua_turkish_language_model::TURKISH_MODELS_DIRECTORY, TURKISH_TESTDATA_DIRECTORY;
        Russian => lingua_russian_language_model::RUSSIAN_MODELS_DIRECTORY, RUSSIAN_TESTDATA_DIRECTORY;
        Ukrainian => lingua_ukrainian_language_model::UKRAINIAN_MODELS_DIRECTORY, UKRAINIAN_TESTDATA_DIRECTORY;
        Polish => lingua_polish_language_model::POLISH_MODELS_DIRECTORY, POLISH_TESTDATA_DIRECTORY;
        Japanese => lingua_japanese_language_model::JAPANESE_MODELS_DIRECTORY, JAPANESE_TESTDATA_DIRECTORY;
        Korean => lingua_korean_language_model::KOREAN_MODELS_DIRECTORY, KOREAN_TESTDATA_DIRECTORY;
        Chinese => lingua_chinese_language_model::CHINESE_MODELS_DIRECTORY, CHINESE_TESTDATA_DIRECTORY;
        Thai => lingua_thai_language_model::THAI_MODELS_DIRECTORY, THAI_TESTDATA_DIRECTORY;
        Indonesian => lingua_indonesian_language_model::INDONESIAN_MODELS_DIRECTORY, INDONESIAN_TESTDATA_DIRECTORY;
        Malay => lingua_malay_language_model::MALAY_MODELS_DIRECTORY, MALAY_TESTDATA_DIRECTORY;
        Tagalog => lingua_tagalog_language_model::TAGALOG_MODELS_DIRECTORY, TAGALOG_TESTDATA_DIRECTORY;
        Hindi => lingua_hindi_language_model::HINDI_MODELS_DIRECTORY, HINDI_TESTDATA_DIRECTORY;
        Urdu => lingua_urdu_language_model::URDU_MODELS_DIRECTORY, URDU_TESTDATA_DIRECTORY;
        Persian => lingua_persian_language_model::PERSIAN_MODELS_DIRECTORY, PERSIAN_TESTDATA_DIRECTORY;
        Bengali => lingua_bengali_language_model::BENGALI_MODELS_DIRECTORY, BENGALI_TESTDATA_DIRECTORY;
        Vietnamese => lingua_vietnamese_language_model::VIETNAMESE_MODELS_DIRECTORY, VIETNAMESE_TESTDATA_DIRECTORY;
        Swedish => lingua_swedish_language_model::SWEDISH_MODELS_DIRECTORY, SWEDISH_TESTDATA_DIRECTORY;
        Romanian => lingua_romanian_language_model::ROMANIAN_MODELS_DIRECTORY, ROMANIAN_TESTDATA_DIRECTORY;
        Greek => lingua_greek_language_model::GREEK_MODELS_DIRECTORY, GREEK_TESTDATA_DIRECTORY;
        Hebrew => lingua_hebrew_language_model::HEBREW_MODELS_DIRECTORY, HEBREW_TESTDATA_DIRECTORY;
        Czech => lingua_czech_language_model::CZECH_MODELS_DIRECTORY, CZECH_TESTDATA_DIRECTORY;
        Hungarian => lingua_hungarian_language_model::HUNGARIAN_MODELS_DIRECTORY, HUNGARIAN_TESTDATA_DIRECTORY;
        Danish => lingua_danish_language_model::DANISH_MODELS_DIRECTORY, DANISH_TESTDATA_DIRECTORY;
        Bokmal => lingua_bokmal_language_model::BOKMAL_MODELS_DIRECTORY, BOKMAL_TESTDATA_DIRECTORY;
        Finnish => lingua_finnish_language_model::FINNISH_MODELS_DIRECTORY, FINNISH_TESTDATA_DIRECTORY;
        Tamil => lingua_tamil_language_model::TAMIL_MODELS_DIRECTORY, TAMIL_TESTDATA_DIRECTORY;
        Serbian => lingua_serbian_language_model::SERBIAN_MODELS_DIRECTORY, SERBIAN_TESTDATA_DIRECTORY;
        Bulgarian => lingua_bulgarian_language_model::BULGARIAN_MODELS_DIRECTORY, BULGARIAN_TESTDATA_DIRECTORY;
        Croatian => lingua_croatian_language_model::CROATIAN_MODELS_DIRECTORY, CROATIAN_TESTDATA_DIRECTORY;
    }
}

/// The n-gram probability model of a supported language.
fn ngram_model(language: Language) -> &'static [u8] {
    directories(language).0.get_file("ngrams.fst").map(|file| file.contents()).unwrap_or_default()
}

/// lingua's test data for a language: `kind` is `sentences`, `single-words` or
/// `word-pairs`, one text per line (the evaluation reads it; see docs/QUALITY.md).
pub fn testdata(language: Language, kind: &str) -> &'static str {
    let file = directories(language).1.get_file(format!("{kind}.txt"));
    file.and_then(|file| file.contents_utf8()).unwrap_or_default()
}

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
    let mut words = String::with_capacity(text.len());
    for token in text.split_whitespace() {
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

    /// The languages this detector chooses among.
    pub fn languages(&self) -> &[Language] {
        &self.languages
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
    index: HashMap<u64, (u32, u32), BuildHasherDefault<FastHasher>>,
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
    fn load(languages: &[Language]) -> Trigrams {
        let mut by_key: HashMap<u64, Vec<(u8, f32)>, BuildHasherDefault<FastHasher>> = HashMap::default();
        for (index, language) in SUPPORTED.iter().enumerate() {
            let script = Script::of_language(*language);
            let rivals = languages.iter().filter(|l| Script::of_language(**l) == script).count();
            if !languages.contains(language) || rivals < 2 {
                continue;
            }
            let Ok(map) = fst::Map::new(ngram_model(*language)) else { continue };
            let mut stream = map.into_stream();
            while let Some((key, value)) = stream.next() {
                let Ok(ngram) = std::str::from_utf8(key) else { continue };
                let chars: Vec<char> = ngram.chars().collect();
                if chars.len() == 3 {
                    let index = u8::try_from(index).unwrap_or(u8::MAX);
                    by_key.entry(pack(&chars)).or_default().push((index, f64::from_bits(value) as f32));
                }
            }
        }
        let mut index = HashMap::with_capacity_and_hasher(by_key.len(), BuildHasherDefault::default());
        let mut entries = Vec::with_capacity(by_key.values().map(Vec::len).sum());
        for (key, list) in by_key {
            let start = entries.len() as u32;
            entries.extend(list);
            index.insert(key, (start, entries.len() as u32));
        }
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
