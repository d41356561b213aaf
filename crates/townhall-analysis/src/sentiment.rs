//! Sentiment in [-1, 1], for English and Spanish; `None` for any other language
//! rather than a guess.
//!
//! The engine follows VADER (Hutto & Gilbert, ICWSM 2014): word valences from a
//! human-rated lexicon, adjusted for intensifiers, negation up to three words back,
//! capitals used for emphasis, a contrast ("but") that shifts weight to what follows,
//! and exclamation marks, then squashed to [-1, 1]. On top of VADER it decodes the
//! HTML entities X sends, reads hashtags and stretched words (`#fail`, `soooo`),
//! applies the contrast rule by position (VADER's own code halves the wrong words
//! when two valences are equal) and treats emoticons split off by punctuation.
//! English uses VADER's lexicons (MIT); Spanish uses the stemmed lexicon of
//! SentiLeak (GPL-3.0) with the same rules. Sources in `data/SOURCES.md`.

use std::borrow::Cow;
use std::sync::OnceLock;

use lingua::Language;
use rust_stemmers::{Algorithm, Stemmer};
use serde::{Deserialize, Serialize};

use crate::lexicon::FastMap;

/// A post's sentiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    /// From -1 (most negative) to 1 (most positive); `None` when no model covers
    /// the post's language.
    pub score: Option<f32>,
    /// How much of the text the lexicon covered (0 to 1).
    pub confidence: f32,
    /// Emoji in the text.
    pub emoji: u32,
}

impl Sentiment {
    /// `positive`, `negative`, `neutral` or `unknown`, at VADER's usual ±0.05 cut.
    pub fn polarity(&self) -> &'static str {
        match self.score {
            None => "unknown",
            Some(s) if s >= 0.05 => "positive",
            Some(s) if s <= -0.05 => "negative",
            Some(_) => "neutral",
        }
    }
}

/// Languages with a sentiment model.
pub const LANGUAGES: &[Language] = &[Language::English, Language::Spanish];

const B_INCR: f32 = 0.293;
const B_DECR: f32 = -0.293;
const C_INCR: f32 = 0.733;
const N_SCALAR: f32 = -0.74;

/// The sentiment of `text` written in `language` (emoji alone carry sentiment in any
/// language, so an unknown language with emoji is read with the English model).
pub fn sentiment(text: &str, language: Option<Language>) -> Sentiment {
    let models = models();
    let (described, emoji) = describe_emoji(text, &models.emoji, true);
    let (score, confidence) = match language {
        // English reads emoji as their descriptions inline, as VADER does.
        Some(Language::English) => models.english.score(&described, 0.0),
        _ if language == Some(Language::Spanish) || emoji > 0 => {
            // Other models read the text without emoji, and the emoji through the
            // English descriptions, added to the valence sum.
            let (plain, _) = describe_emoji(text, &models.emoji, false);
            let emoji_valence: f32 = if emoji > 0 {
                let descriptions = describe_only(text, &models.emoji);
                let tokens = models.english.tokens(&descriptions);
                (0..tokens.len()).map(|i| models.english.valence_at(&tokens, i, false)).sum()
            } else {
                0.0
            };
            match language {
                Some(Language::Spanish) => models.spanish.score(&plain, emoji_valence),
                _ => (normalize(emoji_valence), 1.0),
            }
        }
        _ => return Sentiment { score: None, confidence: 0.0, emoji },
    };
    Sentiment { score: Some(score), confidence, emoji }
}

struct Models {
    english: Model,
    spanish: Model,
    emoji: FastMap<char, &'static str>,
}

fn models() -> &'static Models {
    static MODELS: OnceLock<Models> = OnceLock::new();
    MODELS.get_or_init(|| Models {
        english: Model::english(),
        spanish: Model::spanish(),
        emoji: include_str!("../data/emoji_lexicon.tsv")
            .lines()
            .filter_map(|line| {
                let (emoji, description) = line.split_once('\t')?;
                let mut chars = emoji.chars();
                let c = chars.next()?;
                chars.next().is_none().then_some((c, description))
            })
            .collect(),
    })
}

/// Replaces each emoji by its words ("😡" → "pouting face"), as VADER does, or drops
/// it when `describe` is false, and counts them.
fn describe_emoji<'t>(text: &'t str, emoji: &FastMap<char, &'static str>, describe: bool) -> (Cow<'t, str>, u32) {
    if text.is_ascii() && !text.contains('&') {
        return (text.into(), 0);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut count = 0;
    let mut previous_space = true;
    for c in decode_entities(text).chars() {
        if let Some(description) = emoji.get(&c) {
            count += 1;
            if describe {
                if !previous_space {
                    out.push(' ');
                }
                out.push_str(description);
            }
            out.push(' ');
            previous_space = true;
        } else {
            out.push(c);
            previous_space = c == ' ';
        }
    }
    (out.into(), count)
}

/// The descriptions of the emoji in `text`, one after another.
fn describe_only(text: &str, emoji: &FastMap<char, &'static str>) -> String {
    text.chars().filter_map(|c| emoji.get(&c)).copied().collect::<Vec<_>>().join(" ")
}

/// The entities X and many exports leave in text (`&amp;`, `&gt;:(`).
fn decode_entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return text.into();
    }
    text.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .into()
}

struct Model {
    valence: FastMap<String, f32>,
    boosters: FastMap<&'static str, f32>,
    negations: &'static [&'static str],
    /// Negations that reach only the next word (Spanish "sin basura" is good, but in
    /// "sin recolección de basura" the lack is the complaint).
    near_negations: &'static [&'static str],
    contrast: &'static [&'static str],
    stemmer: Option<Stemmer>,
    /// VADER's English-only rules ("no" before a rated word, idioms, "least").
    english_rules: bool,
}

const EN_NEGATIONS: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

const EN_BOOSTERS_UP: &[&str] = &[
    "absolutely",
    "amazingly",
    "awfully",
    "completely",
    "considerable",
    "considerably",
    "decidedly",
    "deeply",
    "effing",
    "enormous",
    "enormously",
    "entirely",
    "especially",
    "exceptional",
    "exceptionally",
    "extreme",
    "extremely",
    "fabulously",
    "flipping",
    "flippin",
    "frackin",
    "fracking",
    "fricking",
    "frickin",
    "frigging",
    "friggin",
    "fully",
    "fuckin",
    "fucking",
    "fuggin",
    "fugging",
    "greatly",
    "hella",
    "highly",
    "hugely",
    "incredible",
    "incredibly",
    "intensely",
    "major",
    "majorly",
    "more",
    "most",
    "particularly",
    "purely",
    "quite",
    "really",
    "remarkably",
    "so",
    "substantially",
    "thoroughly",
    "total",
    "totally",
    "tremendous",
    "tremendously",
    "uber",
    "unbelievably",
    "unusually",
    "utter",
    "utterly",
    "very",
];

const EN_BOOSTERS_DOWN: &[&str] = &[
    "almost",
    "barely",
    "hardly",
    "just enough",
    "kind of",
    "kinda",
    "kindof",
    "kind-of",
    "less",
    "little",
    "marginal",
    "marginally",
    "occasional",
    "occasionally",
    "partly",
    "scarce",
    "scarcely",
    "slight",
    "slightly",
    "somewhat",
    "sort of",
    "sorta",
    "sortof",
    "sort-of",
];

/// Multi-word expressions whose valence replaces their words'.
const EN_SPECIAL: &[(&str, f32)] = &[
    ("the shit", 3.0),
    ("the bomb", 3.0),
    ("bad ass", 1.5),
    ("badass", 1.5),
    ("bus stop", 0.0),
    ("yeah right", -2.0),
    ("kiss of death", -1.5),
    ("to die for", 3.0),
    ("beating heart", 3.5),
];

// Spanish negations, intensifiers and contrasts, as Snowball stems without accents
// (SentiLeak's lists, plus `ningun`/`tampoc` and the diminishers).
const ES_NEGATIONS: &[&str] = &["no", "nunc", "jamas", "ni", "ningun", "tampoc", "nad"];
const ES_BOOSTERS_UP: &[&str] =
    &["muy", "much", "bastant", "demasi", "mas", "gran", "super", "total", "realment", "tan"];
const ES_BOOSTERS_DOWN: &[&str] = &["poc", "algo", "apen", "casi", "men"];
const ES_CONTRAST: &[&str] = &["per", "sin embarg", "aunqu"];

impl Model {
    fn english() -> Model {
        let valence = include_str!("../data/vader_lexicon.tsv")
            .lines()
            .filter_map(|line| {
                let (word, value) = line.split_once('\t')?;
                Some((word.to_string(), value.trim().parse().ok()?))
            })
            .collect();
        Model {
            valence,
            boosters: boosters(EN_BOOSTERS_UP, EN_BOOSTERS_DOWN),
            negations: EN_NEGATIONS,
            near_negations: &[],
            contrast: &["but"],
            stemmer: None,
            english_rules: true,
        }
    }

    fn spanish() -> Model {
        // SentiLeak rates stems from -4 to 4, VADER's scale, so they share its squashing.
        let valence = include_str!("../data/sentileak_es.csv")
            .lines()
            .filter_map(|line| {
                let (stem, value) = line.rsplit_once(',')?;
                let value: f32 = value.trim().parse().ok()?;
                (value != 0.0).then(|| (stem.trim().to_string(), value))
            })
            .collect();
        Model {
            valence,
            boosters: boosters(ES_BOOSTERS_UP, ES_BOOSTERS_DOWN),
            negations: ES_NEGATIONS,
            near_negations: &["sin"],
            contrast: ES_CONTRAST,
            stemmer: Some(Stemmer::create(Algorithm::Spanish)),
            english_rules: false,
        }
    }

    /// The compound score and the share of words the lexicon rated; `extra` is
    /// valence from outside the words (emoji), added to their sum.
    fn score(&self, text: &str, extra: f32) -> (f32, f32) {
        let tokens = self.tokens(text);
        if tokens.is_empty() {
            return (normalize(extra), if extra == 0.0 { 0.0 } else { 1.0 });
        }
        let upper = tokens.iter().filter(|t| t.upper).count();
        let cap_diff = upper > 0 && upper < tokens.len();
        let mut valences: Vec<f32> = (0..tokens.len()).map(|i| self.valence_at(&tokens, i, cap_diff)).collect();
        if let Some(at) = tokens.iter().position(|t| self.contrast.contains(&t.key.as_ref())) {
            for (i, v) in valences.iter_mut().enumerate() {
                if i < at {
                    *v *= 0.5;
                } else if i > at {
                    *v *= 1.5;
                }
            }
        }
        let mut sum: f32 = valences.iter().sum::<f32>() + extra;
        let emphasis = punctuation_emphasis(text);
        if sum > 0.0 {
            sum += emphasis;
        } else if sum < 0.0 {
            sum -= emphasis;
        }
        let rated = valences.iter().filter(|v| **v != 0.0).count();
        (normalize(sum), rated as f32 / tokens.len() as f32)
    }

    fn tokens<'t>(&self, text: &'t str) -> Vec<Token<'t>> {
        text.split_whitespace()
            .filter(|w| !w.starts_with('@') && !w.starts_with("http://") && !w.starts_with("https://"))
            .map(|word| {
                let word = strip_punctuation(word.strip_prefix('#').unwrap_or(word));
                let upper = word.chars().any(char::is_alphabetic) && !word.chars().any(char::is_lowercase);
                let lower: Cow<'t, str> =
                    if word.chars().any(char::is_uppercase) { word.to_lowercase().into() } else { word.into() };
                // Emoticons such as `:D` are rated as written.
                let key = if self.valence.contains_key(word) { word.into() } else { self.key(lower) };
                if !self.known(&key) {
                    // A stretched word ("sooo gooood") is read as the word, stressed.
                    let lower = word.to_lowercase();
                    let squeezed = (1..=2).rev().filter_map(|keep| squeeze(&lower, keep)).map(|w| self.key(w.into()));
                    if let Some(key) = squeezed.into_iter().find(|key| self.known(key)) {
                        return Token { upper, stretched: true, key };
                    }
                }
                Token { upper, stretched: false, key }
            })
            .collect()
    }

    fn key<'t>(&self, lower: Cow<'t, str>) -> Cow<'t, str> {
        match &self.stemmer {
            // Snowball's Spanish stemmer drops acute accents itself, as SentiLeak's stems do.
            Some(stemmer) => stemmer.stem(&lower).into_owned().into(),
            None => lower,
        }
    }

    fn known(&self, key: &str) -> bool {
        self.valence.contains_key(key) || self.boosters.contains_key(key)
    }

    fn rating(&self, token: &Token) -> Option<f32> {
        let v = *self.valence.get(token.key.as_ref())?;
        Some(if token.stretched { v + B_INCR * v.signum() } else { v })
    }

    fn rated(&self, token: &Token) -> bool {
        self.valence.contains_key(token.key.as_ref())
    }

    fn valence_at(&self, tokens: &[Token], i: usize, cap_diff: bool) -> f32 {
        let token = &tokens[i];
        let key = token.key.as_ref();
        let word = |k: usize| tokens.get(k).map_or("", |t| t.key.as_ref());
        if self.boosters.contains_key(key) || (key == "kind" && word(i + 1) == "of") {
            return 0.0;
        }
        let Some(base) = self.rating(token) else { return 0.0 };
        let mut valence = base;
        if self.english_rules {
            if key == "no" && tokens.get(i + 1).is_some_and(|t| self.rated(t)) {
                valence = 0.0;
            }
            let before = |k: usize| if i >= k { word(i - k) } else { "" };
            // "no" flips the word it qualifies ("no problem"), not another "no" ("NO NO NO").
            let qualified = key != "no"
                && (before(1) == "no" || before(2) == "no" || (before(3) == "no" && matches!(before(1), "or" | "nor")));
            if qualified {
                valence = base * N_SCALAR;
            }
        }
        if token.upper && cap_diff {
            valence += C_INCR * valence.signum();
        }
        // One negation flips a word once: "don't care don't care" is not a double negative.
        let mut flipped = false;
        for distance in 1..=3 {
            if i < distance || self.rated(&tokens[i - distance]) {
                continue;
            }
            let previous = &tokens[i - distance];
            let mut scalar = self.booster(previous, valence, cap_diff);
            scalar *= [1.0, 0.95, 0.9][distance - 1];
            valence += scalar;
            valence = self.negation(valence, tokens, distance, i, &mut flipped);
        }
        // VADER only looks for these expressions three words into a text; anywhere is meant.
        if self.english_rules {
            valence = special_cases(valence, tokens, i);
        }
        // "least" negates ("the least helpful"), except in "at least" and "very least".
        if self.english_rules
            && i >= 1
            && word(i - 1) == "least"
            && !self.rated(&tokens[i - 1])
            && (i < 2 || !matches!(word(i - 2), "at" | "very"))
        {
            valence *= N_SCALAR;
        }
        valence
    }

    fn booster(&self, token: &Token, valence: f32, cap_diff: bool) -> f32 {
        let Some(scalar) = self.boosters.get(token.key.as_ref()) else { return 0.0 };
        let mut scalar = if valence < 0.0 { -scalar } else { *scalar };
        if token.upper && cap_diff {
            scalar += C_INCR * if valence > 0.0 { 1.0 } else { -1.0 };
        }
        scalar
    }

    fn negated(&self, token: &Token, distance: usize) -> bool {
        let key = token.key.as_ref();
        self.negations.contains(&key)
            || (distance == 1 && self.near_negations.contains(&key))
            || (self.english_rules && key.contains("n't"))
    }

    fn negation(&self, valence: f32, tokens: &[Token], distance: usize, i: usize, flipped: &mut bool) -> f32 {
        let word = |k: usize| tokens[k].key.as_ref();
        let english = self.english_rules;
        match distance {
            2 if english && word(i - 2) == "never" && matches!(word(i - 1), "so" | "this") => valence * 1.25,
            2 if english && word(i - 2) == "without" && word(i - 1) == "doubt" => valence,
            3 if english
                && ((word(i - 3) == "never" && matches!(word(i - 2), "so" | "this"))
                    || matches!(word(i - 1), "so" | "this")) =>
            {
                valence * 1.25
            }
            3 if english && word(i - 3) == "without" && (word(i - 2) == "doubt" || word(i - 1) == "doubt") => valence,
            _ if !*flipped && self.negated(&tokens[i - distance], distance) => {
                *flipped = true;
                valence * N_SCALAR
            }
            _ => valence,
        }
    }
}

struct Token<'t> {
    upper: bool,
    /// Written with a letter repeated for stress ("gooood").
    stretched: bool,
    /// The lexicon key: the lower-cased word, or its stem for a stemmed lexicon.
    key: Cow<'t, str>,
}

fn boosters(up: &[&'static str], down: &[&'static str]) -> FastMap<&'static str, f32> {
    up.iter().map(|w| (*w, B_INCR)).chain(down.iter().map(|w| (*w, B_DECR))).collect()
}

/// Leading and trailing punctuation off, unless that leaves two characters or fewer
/// (then it was an emoticon such as `:)` or `D:`).
fn strip_punctuation(word: &str) -> &str {
    let stripped = word.trim_matches(|c: char| c.is_ascii_punctuation() || "¡¿«»“”‘’…".contains(c));
    if stripped.chars().count() <= 2 { word } else { stripped }
}

/// A word with a character repeated three or more times, with those runs cut short.
fn squeeze(word: &str, keep: usize) -> Option<String> {
    let mut run = (None, 0);
    let stretched = word.chars().any(|c| {
        run = if run.0 == Some(c) { (Some(c), run.1 + 1) } else { (Some(c), 1) };
        run.1 == 3
    });
    if !stretched {
        return None;
    }
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut run = 0;
    for (i, c) in chars.iter().enumerate() {
        run = if i > 0 && chars[i - 1] == *c { run + 1 } else { 1 };
        // Letters keep `keep`; an emoticon's mouth keeps one (`=(((` is `=(`).
        if run <= if c.is_alphabetic() { keep } else { 1 } {
            out.push(*c);
        }
    }
    Some(out)
}

fn special_cases(valence: f32, tokens: &[Token], i: usize) -> f32 {
    let w = |offset: isize| i.checked_add_signed(offset).and_then(|k| tokens.get(k)).map_or("", |t| t.key.as_ref());
    let mut valence = valence;
    let before = [
        format!("{} {}", w(-1), w(0)),
        format!("{} {} {}", w(-2), w(-1), w(0)),
        format!("{} {}", w(-2), w(-1)),
        format!("{} {} {}", w(-3), w(-2), w(-1)),
        format!("{} {}", w(-3), w(-2)),
    ];
    if let Some(v) = before.iter().find_map(|seq| special(seq)) {
        valence = v;
    }
    if let Some(v) = special(&format!("{} {}", w(0), w(1))) {
        valence = v;
    }
    if let Some(v) = special(&format!("{} {} {}", w(0), w(1), w(2))) {
        valence = v;
    }
    for seq in [&before[3], &before[4], &before[2]] {
        if EN_BOOSTERS_DOWN.contains(&seq.as_str()) {
            valence += B_DECR;
        }
    }
    valence
}

fn special(sequence: &str) -> Option<f32> {
    EN_SPECIAL.iter().find(|(s, _)| *s == sequence).map(|(_, v)| *v)
}

fn punctuation_emphasis(text: &str) -> f32 {
    let exclamations = text.matches('!').count().min(4) as f32 * 0.292;
    let questions = match text.matches('?').count() {
        0 | 1 => 0.0,
        n @ 2..=3 => n as f32 * 0.18,
        _ => 0.96,
    };
    exclamations + questions
}

/// VADER's squashing of a valence sum to [-1, 1].
fn normalize(score: f32) -> f32 {
    (score / (score * score + 15.0).sqrt()).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn en(text: &str) -> f32 {
        sentiment(text, Some(Language::English)).score.unwrap_or(f32::NAN)
    }

    fn es(text: &str) -> f32 {
        sentiment(text, Some(Language::Spanish)).score.unwrap_or(f32::NAN)
    }

    #[test]
    fn english_follows_vader() {
        // VADER's own examples, with the scores its reference implementation gives.
        assert!((en("VADER is smart, handsome, and funny.") - 0.8316).abs() < 0.001);
        assert!((en("VADER is not smart, handsome, nor funny.") - -0.7424).abs() < 0.001);
        assert!((en("The book was good.") - 0.4404).abs() < 0.001);
        assert!((en("Today SUX!") - -0.5461).abs() < 0.001);
        assert!(en("VADER is VERY SMART, handsome, and FUNNY!!!") > en("VADER is very smart, handsome, and funny."));
        assert!(en("At least it isn't a horrible book.") > 0.0);
        assert_eq!(en("The bus stop is on Main Street."), 0.0);
    }

    #[test]
    fn social_text_beyond_vader() {
        assert!(en("this is sooooo gooood") > en("this is so good") - 0.01);
        assert!(en("another delay #fail") < 0.0);
        assert!(en("@someone https://example.org great job") > 0.0);
        assert!(en("lost my keys &gt;:(") < 0.0);
        assert!(en("The food was great, but the service was awful") < 0.0);
    }

    #[test]
    fn emoji_carry_sentiment_and_are_counted() {
        let s = sentiment("😠😠 🚌", Some(Language::English));
        assert_eq!(s.emoji, 3);
        assert!(s.score.unwrap_or(0.0) < 0.0);
        // Emoji speak in any language.
        assert!(sentiment("😍", None).score.unwrap_or(0.0) > 0.0);
    }

    #[test]
    fn spanish_with_negation_and_intensifiers() {
        assert!(es("El servicio de autobuses es excelente, gracias") > 0.3);
        assert!(es("Pésima atención, una vergüenza") < -0.3);
        assert!(es("El parque no está bonito") < 0.0);
        assert!(es("muy buena idea") > es("buena idea"));
        assert!(es("¡Tres semanas sin recolección de basura! 😡") < 0.0);
        assert!(es("Gracias por la rapidez 👍") > 0.0);
    }

    #[test]
    fn other_languages_are_unknown_not_guessed() {
        let s = sentiment("Le service est excellent", Some(Language::French));
        assert_eq!((s.score, s.polarity()), (None, "unknown"));
        assert_eq!(sentiment("texto", None).score, None);
    }
}
