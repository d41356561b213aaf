//! Spam and bots: link and follower-selling spam, off-topic self-promotion, the same
//! text from many accounts, and account signals (age, follower/following ratio,
//! posting rate), combined into a score with its reasons.
//!
//! Near-duplicates are found with a 64-bit SimHash of the text's word shingles
//! ([`fingerprint`]); [`NearDuplicates`] remembers recent fingerprints and says how
//! many other accounts posted (nearly) the same text. It is state kept by the caller,
//! so [`spam`] itself stays pure: the count arrives in the context.

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::lexicon::Lexicon;

/// Why a post looks like spam.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpamReason {
    /// Offers followers, likes, money, crypto or prizes.
    Selling,
    /// Promotes a product or a link unrelated to the institution.
    SelfPromotion,
    /// Many links, hashtags or mentions.
    Stuffing,
    /// The same text came from other accounts.
    NearDuplicate,
    /// The account is days old.
    NewAccount,
    /// The account follows far more than follow it.
    FollowRatio,
    /// The account posts faster than a person does.
    PostingRate,
}

/// A post's spam assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spam {
    /// From 0 to 1.
    pub score: f32,
    /// What raised it.
    pub reasons: Vec<SpamReason>,
}

/// What the platform told us about an author's account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountSignals {
    /// Days since the account was created.
    pub age_days: Option<f32>,
    /// Followers.
    pub followers: Option<u64>,
    /// Accounts followed.
    pub following: Option<u64>,
    /// Posts per day over the account's life.
    pub posts_per_day: Option<f32>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cue {
    Selling,
    Promotion,
}

const CUES: &[(&str, Cue)] = &[
    ("buy followers", Cue::Selling),
    ("free followers", Cue::Selling),
    ("get followers", Cue::Selling),
    ("more followers", Cue::Selling),
    ("cheap followers", Cue::Selling),
    ("followers and likes", Cue::Selling),
    ("earn money", Cue::Selling),
    ("make money", Cue::Selling),
    ("work from home", Cue::Selling),
    ("passive income", Cue::Selling),
    ("crypto giveaway", Cue::Selling),
    ("airdrop", Cue::Selling),
    ("double your", Cue::Selling),
    ("investment opportunity", Cue::Selling),
    ("you have won", Cue::Selling),
    ("claim your prize", Cue::Selling),
    ("dm me", Cue::Selling),
    ("dm for promo", Cue::Selling),
    ("click here", Cue::Selling),
    ("link in bio", Cue::Promotion),
    ("promo code", Cue::Promotion),
    ("discount code", Cue::Promotion),
    ("use my code", Cue::Promotion),
    ("% off", Cue::Promotion),
    ("limited offer", Cue::Promotion),
    ("check out my", Cue::Promotion),
    ("follow me", Cue::Promotion),
    ("subscribe to my", Cue::Promotion),
    ("comprar seguidores", Cue::Selling),
    ("seguidores gratis", Cue::Selling),
    ("gana dinero", Cue::Selling),
    ("ganar dinero", Cue::Selling),
    ("dinero facil", Cue::Selling),
    ("trabaja desde casa", Cue::Selling),
    ("haz clic aqui", Cue::Selling),
    ("has ganado", Cue::Selling),
    ("codigo de descuento", Cue::Promotion),
    ("sigueme", Cue::Promotion),
    ("acheter des followers", Cue::Selling),
    ("gagner de l'argent", Cue::Selling),
    ("volgers kopen", Cue::Selling),
    ("geld verdienen", Cue::Selling),
    ("ganhe dinheiro", Cue::Selling),
];

fn lexicon() -> &'static Lexicon<Cue> {
    static LEXICON: OnceLock<Lexicon<Cue>> = OnceLock::new();
    LEXICON.get_or_init(|| Lexicon::new(CUES))
}

/// The spam score of a post from its text, the text [`fold`](crate::lexicon::fold)ed,
/// its author's account signals and the number of other accounts that posted the
/// same text recently.
pub fn spam(text: &str, folded: &str, account: &AccountSignals, duplicates: u32) -> Spam {
    let mut reasons = Vec::new();
    let mut score = 0f32;
    let mut add = |reason: SpamReason, weight: f32, reasons: &mut Vec<SpamReason>| {
        if !reasons.contains(&reason) {
            reasons.push(reason);
            // Independent signals combine like probabilities.
            score = 1.0 - (1.0 - score) * (1.0 - weight);
        }
    };
    let links = text.matches("http://").count() + text.matches("https://").count();
    for cue in lexicon().find(folded) {
        match cue {
            Cue::Selling => add(SpamReason::Selling, 0.7, &mut reasons),
            Cue::Promotion if links > 0 => add(SpamReason::SelfPromotion, 0.5, &mut reasons),
            Cue::Promotion => add(SpamReason::SelfPromotion, 0.3, &mut reasons),
        }
    }
    let hashtags = text.split_whitespace().filter(|w| w.starts_with('#')).count();
    let mentions = text.split_whitespace().filter(|w| w.starts_with('@')).count();
    if links >= 3 || hashtags >= 8 || mentions >= 8 {
        add(SpamReason::Stuffing, 0.4, &mut reasons);
    }
    if duplicates >= 2 {
        add(SpamReason::NearDuplicate, (0.3 + 0.1 * duplicates as f32).min(0.8), &mut reasons);
    }
    if account.age_days.is_some_and(|d| d < 7.0) {
        add(SpamReason::NewAccount, 0.2, &mut reasons);
    }
    if let (Some(followers), Some(following)) = (account.followers, account.following)
        && following >= 500
        && following > 20 * followers.max(1)
    {
        add(SpamReason::FollowRatio, 0.3, &mut reasons);
    }
    if account.posts_per_day.is_some_and(|rate| rate > 150.0) {
        add(SpamReason::PostingRate, 0.4, &mut reasons);
    }
    Spam { score, reasons }
}

/// Fewer words than this and a text is too common to be evidence of a wave
/// ("gracias", an emoji alone): it gets no fingerprint.
const MIN_WORDS: usize = 4;

/// A 64-bit SimHash of the text's lower-cased word pairs, without links and mentions:
/// texts that differ by a few words differ by a few bits. `None` for a text of fewer
/// than four words.
pub fn fingerprint(folded: &str) -> Option<u64> {
    let words: Vec<&str> = folded
        .split_whitespace()
        .filter(|w| !w.starts_with('@') && !w.starts_with("http"))
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() < MIN_WORDS {
        return None;
    }
    let mut weights = [0i32; 64];
    let mut add = |feature: u64| {
        for (bit, weight) in weights.iter_mut().enumerate() {
            *weight += if feature >> bit & 1 == 1 { 1 } else { -1 };
        }
    };
    for pair in words.windows(2) {
        add(hash(pair[0].as_bytes(), hash(pair[1].as_bytes(), 0)));
    }
    Some(weights.iter().enumerate().fold(0u64, |out, (bit, w)| if *w > 0 { out | 1 << bit } else { out }))
}

/// FNV-1a, seeded, then mixed: stable across runs and versions (fingerprints are stored).
fn hash(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// Fingerprints differing in at most this many bits are the same text.
const NEAR: u32 = 3;
/// Other accounts counted at most: the spam score no longer rises past a handful,
/// and a wave of thousands must not make each new post cost thousands of checks.
const MAX_COUNTED: usize = 16;
/// Most recent posts looked at per band: bounds the work per post however many
/// posts share a band.
const MAX_SCANNED: usize = 64;

/// Recent fingerprints and their authors, bounded, to count how many other accounts
/// posted nearly the same text.
#[derive(Debug)]
pub struct NearDuplicates {
    capacity: usize,
    recent: VecDeque<(u64, String)>,
    /// Band of 16 bits → positions in `recent` (offset by `evicted`), oldest first:
    /// any two fingerprints within 3 bits agree on at least one of four bands.
    bands: [HashMap<u16, VecDeque<u64>>; 4],
    evicted: u64,
}

impl NearDuplicates {
    /// Remembers the newest `capacity` posts.
    pub fn new(capacity: usize) -> NearDuplicates {
        NearDuplicates { capacity: capacity.max(1), recent: VecDeque::new(), bands: Default::default(), evicted: 0 }
    }

    /// Records a post by `author` and returns how many other authors (up to 16)
    /// posted a near-identical text among the remembered ones.
    pub fn observe(&mut self, fingerprint: u64, author: &str) -> u32 {
        let mut others: Vec<&str> = Vec::new();
        'bands: for (band, index) in self.bands.iter().enumerate() {
            let key = (fingerprint >> (band * 16)) as u16;
            for position in index.get(&key).into_iter().flat_map(|list| list.iter().rev().take(MAX_SCANNED)) {
                let Some((other, who)) = position.checked_sub(self.evicted).and_then(|p| self.recent.get(p as usize))
                else {
                    continue;
                };
                if (other ^ fingerprint).count_ones() <= NEAR && who != author && !others.contains(&who.as_str()) {
                    others.push(who);
                    if others.len() == MAX_COUNTED {
                        break 'bands;
                    }
                }
            }
        }
        let count = others.len() as u32;
        if self.recent.len() == self.capacity
            && let Some((old, _)) = self.recent.pop_front()
        {
            // The evicted post is the oldest of every band it is in: the front.
            for (band, index) in self.bands.iter_mut().enumerate() {
                let key = (old >> (band * 16)) as u16;
                if let Some(list) = index.get_mut(&key) {
                    if list.front() == Some(&self.evicted) {
                        list.pop_front();
                    }
                    if list.is_empty() {
                        index.remove(&key);
                    }
                }
            }
            self.evicted += 1;
        }
        let position = self.evicted + self.recent.len() as u64;
        for (band, index) in self.bands.iter_mut().enumerate() {
            index.entry((fingerprint >> (band * 16)) as u16).or_default().push_back(position);
        }
        self.recent.push_back((fingerprint, author.to_string()));
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::fold;

    fn score(text: &str) -> Spam {
        spam(text, &fold(text), &AccountSignals::default(), 0)
    }

    #[test]
    fn selling_and_promotion_with_reasons() {
        let s = score("Buy followers now!! cheap followers https://spam.example");
        assert_eq!(s.reasons, [SpamReason::Selling]);
        assert!(s.score >= 0.7);
        assert_eq!(score("Gana dinero desde casa, haz clic aquí").reasons, [SpamReason::Selling]);
        assert_eq!(score("Use my code SAVE20 for 20% off https://shop.example").reasons, [SpamReason::SelfPromotion]);
        assert_eq!(score("The bus is late again on line 42").score, 0.0);
    }

    #[test]
    fn account_signals_add_up() {
        let bot = AccountSignals {
            age_days: Some(2.0),
            followers: Some(3),
            following: Some(4000),
            posts_per_day: Some(400.0),
        };
        let s = spam("hello", "hello", &bot, 0);
        assert_eq!(s.reasons, [SpamReason::NewAccount, SpamReason::FollowRatio, SpamReason::PostingRate]);
        assert!(s.score > 0.6);
        let person = AccountSignals {
            age_days: Some(900.0),
            followers: Some(120),
            following: Some(300),
            posts_per_day: Some(3.0),
        };
        assert_eq!(spam("hello", "hello", &person, 0).score, 0.0);
    }

    #[test]
    fn the_same_text_from_many_accounts() {
        let mut seen = NearDuplicates::new(1000);
        let texts = [
            "Vote NO on the new park project, it is a waste of money! #NoPark",
            "vote no on the new park project, it is a waste of money!! #NoPark",
            "Vote NO on the new park project it is a waste of money #NoPark @mayor",
        ];
        let counts: Vec<u32> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| seen.observe(fingerprint(&fold(t)).unwrap(), &format!("user{i}")))
            .collect();
        assert_eq!(counts, [0, 1, 2]);
        // The same author repeating is not a wave of accounts; a different text is not a duplicate.
        assert_eq!(seen.observe(fingerprint(&fold(texts[0])).unwrap(), "user0"), 2);
        assert_eq!(seen.observe(fingerprint(&fold("The library opens at nine tomorrow")).unwrap(), "user9"), 0);
        let s = spam(texts[0], &fold(texts[0]), &AccountSignals::default(), 2);
        assert_eq!(s.reasons, [SpamReason::NearDuplicate]);
    }

    #[test]
    fn a_wave_of_thousands_is_counted_up_to_a_cap() {
        let mut seen = NearDuplicates::new(100_000);
        let print = fingerprint("vote no on the park project").unwrap();
        let counts: Vec<u32> = (0..20_000).map(|i| seen.observe(print, &format!("bot{i}"))).collect();
        assert_eq!((counts[0], counts[5], counts[19_999]), (0, 5, 16));
    }

    #[test]
    fn short_texts_are_not_evidence_of_a_wave() {
        assert_eq!(fingerprint("gracias"), None);
        assert_eq!(fingerprint("😀 👍 @a https://x.example"), None);
    }

    #[test]
    fn memory_is_bounded() {
        let mut seen = NearDuplicates::new(2);
        let print = |text: &str| fingerprint(text).unwrap();
        seen.observe(print("the first text here"), "a");
        seen.observe(print("the second text here"), "b");
        seen.observe(print("the third text here"), "c");
        assert_eq!(seen.observe(print("the first text here"), "d"), 0, "the oldest was forgotten");
        assert_eq!(seen.recent.len(), 2);
    }
}
