//! The inbox search language, parsed once here and rendered by each store backend
//! into its own full-text syntax, so user text never reaches a query parser raw.
//!
//! Syntax: words (all must match), `"quoted phrases"`, `-word` to exclude.
//! Words are split into letters-and-digits tokens the way the full-text indexes
//! split text, so `covid-19` searches for the phrase `covid 19`.

use serde::{Deserialize, Serialize};

/// At most this many tokens in one query: the index handles more, the inbox need not.
pub const MAX_TOKENS: usize = 32;
/// Tokens longer than this are cut; no real word is longer.
pub const MAX_TOKEN_CHARS: usize = 64;

/// A parsed search: every phrase must match, no excluded phrase may.
/// A single word is a phrase of one token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// Phrases that must all occur; each is a list of lower-cased tokens.
    pub required: Vec<Vec<String>>,
    /// Phrases that must not occur.
    pub excluded: Vec<Vec<String>>,
}

/// Why a search text gives no query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchQueryError {
    /// Nothing to search for (empty, only punctuation, or only exclusions).
    #[error("the search needs at least one word to look for")]
    Empty,
    /// More than [`MAX_TOKENS`] tokens.
    #[error("the search has more than {MAX_TOKENS} words")]
    TooLong,
}

impl SearchQueryError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SearchQueryError::Empty => "search.empty",
            SearchQueryError::TooLong => "search.too_long",
        }
    }
}

impl SearchQuery {
    /// Parses what a user typed.
    pub fn parse(text: &str) -> Result<SearchQuery, SearchQueryError> {
        let mut query = SearchQuery { required: Vec::new(), excluded: Vec::new() };
        let mut tokens = 0;
        let mut rest = text;
        while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
            rest = &rest[start..];
            let (negated, body) = match rest.strip_prefix('-') {
                Some(after) => (true, after),
                None => (false, rest),
            };
            let (chunk, after) = if let Some(quoted) = body.strip_prefix('"') {
                match quoted.find('"') {
                    Some(end) => (&quoted[..end], &quoted[end + 1..]),
                    None => (quoted, ""),
                }
            } else {
                let end = body.find(char::is_whitespace).unwrap_or(body.len());
                (&body[..end], &body[end..])
            };
            rest = after;
            let phrase = tokenize(chunk);
            if phrase.is_empty() {
                continue;
            }
            tokens += phrase.len();
            if tokens > MAX_TOKENS {
                return Err(SearchQueryError::TooLong);
            }
            if negated { query.excluded.push(phrase) } else { query.required.push(phrase) }
        }
        if query.required.is_empty() {
            return Err(SearchQueryError::Empty);
        }
        Ok(query)
    }
}

/// Splits text into lower-cased runs of letters and digits, each cut to
/// [`MAX_TOKEN_CHARS`].
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        // Lowercasing may add a combining mark (İ becomes i + U+0307): keep letters and digits only.
        .map(|t| t.chars().take(MAX_TOKEN_CHARS).flat_map(char::to_lowercase).filter(|c| c.is_alphanumeric()).collect())
        .filter(|t: &String| !t.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn phrases(list: &[&[&str]]) -> Vec<Vec<String>> {
        list.iter().map(|p| p.iter().map(|t| t.to_string()).collect()).collect()
    }

    #[test]
    fn words_phrases_and_exclusions() {
        let q = SearchQuery::parse(r#"  Metro "línea 4"  -spam covid-19 "#).unwrap();
        assert_eq!(q.required, phrases(&[&["metro"], &["línea", "4"], &["covid", "19"]]));
        assert_eq!(q.excluded, phrases(&[&["spam"]]));
    }

    #[test]
    fn operators_of_the_backends_are_just_text() {
        let q = SearchQuery::parse(r#"NEAR(a b) OR col:x* ^y ' ; DROP"#).unwrap();
        assert!(q.required.iter().flatten().all(|t| t.chars().all(char::is_alphanumeric)));
    }

    #[test]
    fn empty_or_oversized_queries_are_refused() {
        assert_eq!(SearchQuery::parse("  ... !! "), Err(SearchQueryError::Empty));
        assert_eq!(SearchQuery::parse("-only -excluded"), Err(SearchQueryError::Empty));
        assert_eq!(SearchQuery::parse(&"w ".repeat(MAX_TOKENS + 1)), Err(SearchQueryError::TooLong));
        assert_eq!(
            SearchQuery::parse("\"unterminated phrase").unwrap().required,
            phrases(&[&["unterminated", "phrase"]])
        );
    }

    proptest! {
        #[test]
        fn any_text_parses_without_panic_into_clean_tokens(text in "\\PC{0,200}") {
            if let Ok(q) = SearchQuery::parse(&text) {
                for token in q.required.iter().chain(&q.excluded).flatten() {
                    prop_assert!(!token.is_empty() && token.chars().all(char::is_alphanumeric));
                }
            }
        }
    }
}
