//! The interface's words, in catalogues (`crates/townhall/i18n/*.toml`), chosen by the
//! browser's `Accept-Language`. Templates ask a [`Catalog`] for a key; they hold no
//! text of their own. English is the fallback for a language or key that is missing.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::{HeaderMap, header};

/// The catalogues compiled in, English first.
const SOURCES: &[(&str, &str)] =
    &[("en", include_str!("../../i18n/en.toml")), ("es", include_str!("../../i18n/es.toml"))];

/// One language's texts.
#[derive(Debug)]
pub struct Catalog {
    lang: &'static str,
    texts: HashMap<String, String>,
}

impl Catalog {
    /// The text of `key`, in English when this catalogue lacks it, or the key itself.
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        self.texts.get(key).or_else(|| catalogs()[0].texts.get(key)).map_or(key, String::as_str)
    }

    /// The words for one value of an enumeration, e.g. `value("status", "new")` reads
    /// `status.new`; the value itself when no catalogue names it.
    pub fn value<'a>(&'a self, kind: &str, value: &'a str) -> &'a str {
        let key = format!("{kind}.{value}");
        self.texts.get(&key).or_else(|| catalogs()[0].texts.get(&key)).map_or(value, String::as_str)
    }

    /// `{key}_one` or `{key}_many` for `n`, with `{n}` replaced by the number.
    pub fn count(&self, key: &str, n: usize) -> String {
        let key = format!("{key}_{}", if n == 1 { "one" } else { "many" });
        self.get(&key).replace("{n}", &n.to_string())
    }

    /// The language code, for `<html lang>`.
    pub fn lang(&self) -> &'static str {
        self.lang
    }
}

fn catalogs() -> &'static [Catalog] {
    static CATALOGS: OnceLock<Vec<Catalog>> = OnceLock::new();
    CATALOGS.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(lang, source)| Catalog {
                lang,
                // The catalogues are checked by a unit test; a broken one would fail it.
                texts: toml::from_str(source).unwrap_or_default(),
            })
            .collect()
    })
}

/// The catalogue that best matches the request's `Accept-Language` (by quality, then
/// order), English when none does.
pub fn negotiate(headers: &HeaderMap) -> &'static Catalog {
    let all = catalogs();
    let accepted = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut wanted: Vec<(f32, usize, String)> = accepted
        .split(',')
        .take(20)
        .enumerate()
        .filter_map(|(i, part)| {
            let mut pieces = part.split(';');
            let tag = pieces.next()?.trim().to_ascii_lowercase();
            let quality =
                pieces.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
            (!tag.is_empty() && quality > 0.0).then_some((quality, i, tag))
        })
        .collect();
    wanted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    wanted
        .iter()
        .find_map(|(_, _, tag)| {
            let primary = tag.split('-').next().unwrap_or_default();
            all.iter().find(|c| c.lang == primary)
        })
        .unwrap_or(&all[0])
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn every_catalogue_parses_and_has_every_key() {
        let english: HashMap<String, String> = toml::from_str(SOURCES[0].1).unwrap();
        for (lang, source) in SOURCES {
            let texts: HashMap<String, String> = toml::from_str(source).unwrap();
            let mut missing: Vec<&String> = english.keys().filter(|k| !texts.contains_key(*k)).collect();
            missing.sort();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
            assert_eq!(texts.len(), english.len(), "{lang} has keys English lacks");
        }
    }

    #[test]
    fn every_key_a_template_uses_exists() {
        let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let english = &catalogs()[0].texts;
        for entry in std::fs::read_dir(templates).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for piece in text.split("t.get(\"").skip(1) {
                let key = piece.split('"').next().unwrap();
                assert!(english.contains_key(key), "{} uses unknown key {key}", path.display());
            }
        }
    }

    #[test]
    fn every_value_shown_on_a_page_has_its_words() {
        use townhall_core::deadline::DeadlineState;
        use townhall_core::reply::ReplyKind;
        use townhall_core::{CaseStatus, CloseReason, Platform, Priority};
        let mut values: Vec<(&str, &str)> = Vec::new();
        values.extend(CaseStatus::ALL.iter().map(|v| ("status", v.as_str())));
        values.extend(Priority::ALL.iter().map(|v| ("priority", v.as_str())));
        values.extend(DeadlineState::ALL.iter().map(|v| ("deadline", v.as_str())));
        values.extend(CloseReason::ALL.iter().map(|v| ("close_reason", v.as_str())));
        values.extend(ReplyKind::ALL.iter().map(|v| ("reply_kind", v.as_str())));
        values.extend(Platform::ALL.iter().map(|v| ("platform", v.as_str())));
        values.extend(townhall_core::routing::INTENTS.iter().map(|v| ("intent", *v)));
        values.extend(["first_response", "resolution"].map(|v| ("breach", v)));
        for catalog in catalogs() {
            for (kind, value) in &values {
                let key = format!("{kind}.{value}");
                assert!(catalog.texts.contains_key(&key), "{} lacks {key}", catalog.lang);
            }
        }
        let spanish = catalogs().iter().find(|c| c.lang == "es").unwrap();
        assert_eq!(spanish.value("status", "new"), "nuevo");
        assert_eq!(spanish.value("status", "unheard-of"), "unheard-of");
        assert_eq!(spanish.count("inbox.shown", 1), "1 caso");
        assert_eq!(spanish.count("inbox.shown", 3), "3 casos");
    }

    #[test]
    fn the_browser_s_language_is_chosen_by_quality() {
        let catalog = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static(value));
            negotiate(&headers)
        };
        let with = |value: &'static str| catalog(value).lang();
        assert_eq!(with("es-CL,es;q=0.9,en;q=0.8"), "es");
        assert_eq!(with("fr-FR, en;q=0.5, es;q=0.7"), "es");
        assert_eq!(with("mk"), "en");
        assert_eq!(negotiate(&HeaderMap::new()).lang(), "en");
        assert_eq!(catalog("es").get("nav.inbox"), "Bandeja");
        assert_eq!(catalog("es").get("no.such.key"), "no.such.key");
    }
}
