//! Multilingual term lists matched in one pass (Aho-Corasick), whole words only, on
//! text folded to lower case without Latin diacritics, so `Inundación`, `inundacion`
//! and `INUNDACIÓN` are one term.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// A list of terms, each with a label, compiled once and matched in linear time.
#[derive(Debug)]
pub struct Lexicon<T> {
    automaton: AhoCorasick,
    labels: Vec<T>,
}

impl<T: Copy> Lexicon<T> {
    /// Compiles the terms; each is folded like the text it will be matched against.
    pub fn new(entries: &[(&str, T)]) -> Lexicon<T> {
        let patterns: Vec<String> = entries.iter().map(|(term, _)| fold(term)).collect();
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            // The lists are small: a full DFA costs little memory and scans fastest.
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            // The patterns are the project's own short word lists: building cannot fail
            // for them, and a test builds every lexicon.
            .unwrap_or_else(|e| panic!("lexicon does not compile: {e}"));
        Lexicon { automaton, labels: entries.iter().map(|(_, label)| *label).collect() }
    }

    /// The labels of the terms found in `folded` (see [`fold`]) as whole words, in order.
    pub fn find(&self, folded: &str) -> Vec<T> {
        self.find_with_terms(folded).into_iter().map(|(_, label)| label).collect()
    }

    /// Like [`Lexicon::find`], with the text each term matched.
    pub fn find_with_terms<'t>(&self, folded: &'t str) -> Vec<(&'t str, T)> {
        self.automaton
            .find_iter(folded)
            .filter(|m| {
                let before = folded[..m.start()].chars().next_back();
                let after = folded[m.end()..].chars().next();
                !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
            })
            .map(|m| (&folded[m.range()], self.labels[m.pattern().as_usize()]))
            .collect()
    }
}

/// A fast hasher for the analyzers' fixed tables (lexicon words, packed n-grams):
/// their keys are the project's own data, so the hash-flooding defence of the
/// standard hasher buys nothing there, and it is the hot path of every post.
#[derive(Debug, Default)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // FNV-1a.
        let mut h = self.0 ^ 0xcbf2_9ce4_8422_2325;
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
        self.0 = h;
    }
    fn write_u64(&mut self, key: u64) {
        self.0 = (self.0 ^ key ^ (key >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn write_u32(&mut self, key: u32) {
        self.write_u64(u64::from(key));
    }
}

/// A map with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Lower case, with the diacritics of Latin letters removed; other scripts are only
/// lower-cased. Core owns it, so routing rules' keywords fold as analysis does.
pub use townhall_core::routing::fold;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_without_case_or_accents() {
        let lexicon = Lexicon::new(&[("inundación", 1), ("fire", 2), ("shots fired", 3), ("земјотрес", 4)]);
        assert_eq!(lexicon.find(&fold("¡INUNDACION en la calle! Inundación.")), [1, 1]);
        assert_eq!(lexicon.find(&fold("fireworks tonight, campfire")), Vec::<i32>::new());
        assert_eq!(lexicon.find(&fold("Shots fired near the fire station")), [3, 2]);
        assert_eq!(lexicon.find(&fold("Силен ЗЕМЈОТРЕС во Скопје")), [4]);
        assert_eq!(fold("Ñandú E\u{301}"), "nandu e");
    }
}
