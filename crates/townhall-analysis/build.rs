//! Builds the fast language pass's table at compile time: the character-trigram
//! log-probabilities of every supported language, read from the n-gram models of the
//! `lingua-*-language-model` crates (Apache-2.0) and written compactly to
//! `$OUT_DIR/trigrams.bin`. The library embeds that table; only lingua embeds the full
//! models, so they are in the binary once.
//!
//! Format (little-endian): `THT1`, the number of languages and each one's name (u8
//! length, bytes), the number of trigrams, then per trigram its packed key (u64:
//! three 21-bit chars), its number of languages (u8) and for each the language's
//! index (u8) and ln P(third char | first two) as f32. Keys are sorted, so the file
//! is the same on every build.

use std::collections::BTreeMap;
use std::io::Write;

use fst::{IntoStreamer, Streamer};

fn main() {
    let models = [
        ("English", lingua_english_language_model::ENGLISH_MODELS_DIRECTORY),
        ("Spanish", lingua_spanish_language_model::SPANISH_MODELS_DIRECTORY),
        ("Portuguese", lingua_portuguese_language_model::PORTUGUESE_MODELS_DIRECTORY),
        ("French", lingua_french_language_model::FRENCH_MODELS_DIRECTORY),
        ("German", lingua_german_language_model::GERMAN_MODELS_DIRECTORY),
        ("Italian", lingua_italian_language_model::ITALIAN_MODELS_DIRECTORY),
        ("Dutch", lingua_dutch_language_model::DUTCH_MODELS_DIRECTORY),
        ("Arabic", lingua_arabic_language_model::ARABIC_MODELS_DIRECTORY),
        ("Macedonian", lingua_macedonian_language_model::MACEDONIAN_MODELS_DIRECTORY),
        ("Albanian", lingua_albanian_language_model::ALBANIAN_MODELS_DIRECTORY),
        ("Catalan", lingua_catalan_language_model::CATALAN_MODELS_DIRECTORY),
        ("Basque", lingua_basque_language_model::BASQUE_MODELS_DIRECTORY),
        ("Welsh", lingua_welsh_language_model::WELSH_MODELS_DIRECTORY),
        ("Irish", lingua_irish_language_model::IRISH_MODELS_DIRECTORY),
        ("Turkish", lingua_turkish_language_model::TURKISH_MODELS_DIRECTORY),
        ("Russian", lingua_russian_language_model::RUSSIAN_MODELS_DIRECTORY),
        ("Ukrainian", lingua_ukrainian_language_model::UKRAINIAN_MODELS_DIRECTORY),
        ("Polish", lingua_polish_language_model::POLISH_MODELS_DIRECTORY),
        ("Japanese", lingua_japanese_language_model::JAPANESE_MODELS_DIRECTORY),
        ("Korean", lingua_korean_language_model::KOREAN_MODELS_DIRECTORY),
        ("Chinese", lingua_chinese_language_model::CHINESE_MODELS_DIRECTORY),
        ("Thai", lingua_thai_language_model::THAI_MODELS_DIRECTORY),
        ("Indonesian", lingua_indonesian_language_model::INDONESIAN_MODELS_DIRECTORY),
        ("Malay", lingua_malay_language_model::MALAY_MODELS_DIRECTORY),
        ("Tagalog", lingua_tagalog_language_model::TAGALOG_MODELS_DIRECTORY),
        ("Hindi", lingua_hindi_language_model::HINDI_MODELS_DIRECTORY),
        ("Urdu", lingua_urdu_language_model::URDU_MODELS_DIRECTORY),
        ("Persian", lingua_persian_language_model::PERSIAN_MODELS_DIRECTORY),
        ("Bengali", lingua_bengali_language_model::BENGALI_MODELS_DIRECTORY),
        ("Vietnamese", lingua_vietnamese_language_model::VIETNAMESE_MODELS_DIRECTORY),
        ("Swedish", lingua_swedish_language_model::SWEDISH_MODELS_DIRECTORY),
        ("Romanian", lingua_romanian_language_model::ROMANIAN_MODELS_DIRECTORY),
        ("Greek", lingua_greek_language_model::GREEK_MODELS_DIRECTORY),
        ("Hebrew", lingua_hebrew_language_model::HEBREW_MODELS_DIRECTORY),
        ("Czech", lingua_czech_language_model::CZECH_MODELS_DIRECTORY),
        ("Hungarian", lingua_hungarian_language_model::HUNGARIAN_MODELS_DIRECTORY),
        ("Danish", lingua_danish_language_model::DANISH_MODELS_DIRECTORY),
        ("Bokmal", lingua_bokmal_language_model::BOKMAL_MODELS_DIRECTORY),
        ("Finnish", lingua_finnish_language_model::FINNISH_MODELS_DIRECTORY),
        ("Tamil", lingua_tamil_language_model::TAMIL_MODELS_DIRECTORY),
        ("Serbian", lingua_serbian_language_model::SERBIAN_MODELS_DIRECTORY),
        ("Bulgarian", lingua_bulgarian_language_model::BULGARIAN_MODELS_DIRECTORY),
        ("Croatian", lingua_croatian_language_model::CROATIAN_MODELS_DIRECTORY),
    ];
    let mut table: BTreeMap<u64, Vec<(u8, f32)>> = BTreeMap::new();
    for (index, (_, dir)) in models.iter().enumerate() {
        let bytes = dir.get_file("ngrams.fst").map(|f| f.contents()).expect("every model has ngrams.fst");
        let map = fst::Map::new(bytes).expect("lingua's models are valid FSTs");
        let mut stream = map.into_stream();
        while let Some((key, value)) = stream.next() {
            let Ok(ngram) = std::str::from_utf8(key) else { continue };
            let chars: Vec<char> = ngram.chars().collect();
            if chars.len() == 3 {
                let packed = chars.iter().fold(0u64, |key, c| (key << 21) | u64::from(*c));
                table.entry(packed).or_default().push((index as u8, f64::from_bits(value) as f32));
            }
        }
    }
    let mut out = Vec::with_capacity(table.len() * 16);
    out.extend_from_slice(b"THT1");
    out.push(models.len() as u8);
    for (name, _) in &models {
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
    }
    out.extend_from_slice(&(table.len() as u32).to_le_bytes());
    for (key, entries) in &table {
        out.extend_from_slice(&key.to_le_bytes());
        out.push(entries.len() as u8);
        for (language, logp) in entries {
            out.push(*language);
            out.extend_from_slice(&logp.to_le_bytes());
        }
    }
    let path = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("trigrams.bin");
    std::fs::File::create(&path).and_then(|mut f| f.write_all(&out)).expect("write trigrams.bin");
    println!("cargo::rerun-if-changed=build.rs");
}
