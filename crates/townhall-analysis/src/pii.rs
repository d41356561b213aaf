//! Personal data in a post: e-mail addresses, phone numbers, payment cards (Luhn),
//! IBANs (ISO 13616 mod 97), Chile's RUT (mod 11), Spain's DNI and NIE (mod 23
//! letter), street addresses with a house number, and health conditions said of a
//! person. Found so that it can be flagged on the post and redacted in every public
//! output.
//!
//! The scan is one pass over the bytes, with every look-around bounded, so it is linear
//! in the text whatever it holds. A number is only called a card, an IBAN or an id when
//! its check digits agree; a phone number has no check digits, so a bare run of digits
//! is a phone only with a lower confidence.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::lexicon::{Lexicon, fold};

/// What kind of personal data a span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// A payment card number that passes the Luhn check.
    PaymentCard,
    /// An IBAN whose check digits agree.
    Iban,
    /// Chile's RUT/RUN with a valid check digit.
    ChileRut,
    /// Spain's DNI with a valid letter.
    SpainDni,
    /// Spain's NIE with a valid letter.
    SpainNie,
    /// A street address with a house number.
    Address,
    /// A health condition, near words that tie it to a person ("my", "mi", "son").
    Health,
}

impl PiiKind {
    /// The placeholder a redacted span becomes.
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Email => "[email]",
            PiiKind::Phone => "[phone]",
            PiiKind::PaymentCard => "[card]",
            PiiKind::Iban => "[iban]",
            PiiKind::ChileRut | PiiKind::SpainDni | PiiKind::SpainNie => "[id]",
            PiiKind::Address => "[address]",
            PiiKind::Health => "[health]",
        }
    }
}

/// One span of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PiiMatch {
    /// What it is.
    pub kind: PiiKind,
    /// Byte offset where it starts.
    pub start: usize,
    /// Byte offset just after it.
    pub end: usize,
    /// How sure, from 0 to 1: 0.99 when check digits agree.
    pub confidence: f32,
}

/// Finds the personal data in `text`, in order, without overlaps.
pub fn find(text: &str) -> Vec<PiiMatch> {
    find_in(text, &fold(text))
}

/// [`find`] for a text whose [`fold`]ed form is at hand.
pub fn find_in(text: &str, folded: &str) -> Vec<PiiMatch> {
    let mut found = find_numbers(text);
    // The word-level rules only run when they can match: an address needs a house
    // number and a street word, a health condition one of the listed terms.
    let has_number = text.bytes().any(|b| b.is_ascii_digit())
        && (!street_lexicon().find(folded).is_empty() || STREET_SUFFIXES.iter().any(|s| folded.contains(s)));
    let has_health_term = !health_lexicon().find(folded).is_empty();
    if has_number || has_health_term {
        let words = words(text);
        if has_number {
            found.extend(addresses(&words));
        }
        if has_health_term {
            found.extend(health(&words));
        }
    }
    found.sort_by_key(|m| (m.start, std::cmp::Reverse(m.end)));
    let mut kept: Vec<PiiMatch> = Vec::with_capacity(found.len());
    for m in found {
        if kept.last().is_none_or(|prev| m.start >= prev.end) {
            kept.push(m);
        }
    }
    kept
}

/// A word of the text: its byte span and its lower-cased letters and digits.
struct Word {
    start: usize,
    end: usize,
    lower: String,
}

/// The text's words: runs of letters and digits, keeping a `.` or `/` that ends an
/// abbreviation of a street (`Av.`, `c/`) and dropping one that ends a sentence.
fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        let inside = c.is_alphanumeric() || ((c == '.' || c == '/') && start.is_some());
        match (inside, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let mut end = i;
                let mut lower = text[s..end].to_lowercase();
                while lower.ends_with(['.', '/']) && !STREET_WORDS.contains(&lower.as_str()) {
                    lower.pop();
                    end -= 1;
                }
                out.push(Word { start: s, end, lower });
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Words that name a street, in the seeds' languages (abbreviations with their dot).
/// Words that also mean something else ("plaza", "place", "via", "drive") are left out.
const STREET_WORDS: &[&str] = &[
    "calle",
    "c/",
    "avenida",
    "av.",
    "avda.",
    "av",
    "pasaje",
    "psje.",
    "street",
    "st.",
    "road",
    "rd.",
    "avenue",
    "ave.",
    "boulevard",
    "blvd.",
    "rue",
    "bd.",
    "chemin",
    "allée",
    "rua",
    "travessa",
    "viale",
    "straße",
    "strasse",
    "laan",
    "straat",
    "gracht",
    "улица",
    "ул.",
    "булевар",
    "бул.",
    "شارع",
];

/// Endings of Dutch and German street names written as one word (`Kerkstraat`).
const STREET_SUFFIXES: &[&str] = &["straat", "laan", "gracht", "plein", "weg", "straße", "strasse", "gasse", "steeg"];

fn is_house_number(word: &str) -> bool {
    let digits = word.chars().take_while(char::is_ascii_digit).count();
    (1..=5).contains(&digits)
        && word.chars().skip(digits).all(|c| c.is_alphabetic())
        && word.chars().count() <= digits + 1
}

/// "Calle Esmeralda 1234", "Av. Providencia 1550", "123 Main Street", "Kerkstraat 12".
fn addresses(words: &[Word]) -> Vec<PiiMatch> {
    let mut found = Vec::new();
    let span =
        |from: &Word, to: &Word| PiiMatch { kind: PiiKind::Address, start: from.start, end: to.end, confidence: 0.7 };
    for (k, word) in words.iter().enumerate() {
        let street = STREET_WORDS.contains(&word.lower.as_str());
        let compound = word.lower.chars().count() > 6 && STREET_SUFFIXES.iter().any(|s| word.lower.ends_with(s));
        if street || compound {
            // Street word, up to four name words, then the number.
            let reach = if compound { 1 } else { 5 };
            if let Some(number) = words[k + 1..].iter().take(reach).position(|w| is_house_number(&w.lower)) {
                found.push(span(word, &words[k + 1 + number]));
                continue;
            }
        }
        if street && k >= 2 {
            // English order: number, one to three name words, street word.
            let window = &words[k.saturating_sub(4)..k - 1];
            if let Some(number) = window.iter().rposition(|w| is_house_number(&w.lower)) {
                found.push(span(&window[number], word));
            }
        }
    }
    found
}

/// Health conditions (the project's own list, in the seeds' languages).
const HEALTH_TERMS: &[&str] = &[
    "diabetes",
    "cancer",
    "cáncer",
    "vih",
    "hiv",
    "sida",
    "aids",
    "embarazada",
    "pregnant",
    "enceinte",
    "zwanger",
    "grávida",
    "schwanger",
    "incinta",
    "depresión",
    "depression",
    "dépression",
    "depressie",
    "esquizofrenia",
    "schizophrenia",
    "epilepsia",
    "epilepsy",
    "épilepsie",
    "alzheimer",
    "demencia",
    "dementia",
    "autismo",
    "autism",
    "quimioterapia",
    "chemotherapy",
    "chimiothérapie",
    "diálisis",
    "dialysis",
    "tuberculosis",
    "hepatitis",
    "insulina",
    "insulin",
    "discapacidad",
    "disability",
    "handicap",
    "rak",
    "дијабетес",
    "рак",
    "السرطان",
    "السكري",
];

/// Words that tie a condition to a person.
const PERSONAL: &[&str] = &[
    "my",
    "mi",
    "mis",
    "mon",
    "ma",
    "mes",
    "mijn",
    "minha",
    "meu",
    "mein",
    "meine",
    "mio",
    "mia",
    "i",
    "i'm",
    "yo",
    "tengo",
    "tiene",
    "has",
    "have",
    "suffers",
    "sufre",
    "padece",
    "heeft",
    "hijo",
    "hija",
    "son",
    "daughter",
    "madre",
    "padre",
    "mother",
    "father",
    "wife",
    "husband",
    "esposa",
    "esposo",
    "mamá",
    "papá",
    "мојот",
    "мојата",
];

fn street_lexicon() -> &'static Lexicon<()> {
    static LEXICON: OnceLock<Lexicon<()>> = OnceLock::new();
    LEXICON.get_or_init(|| Lexicon::new(&STREET_WORDS.iter().map(|t| (*t, ())).collect::<Vec<_>>()))
}

fn health_lexicon() -> &'static Lexicon<()> {
    static LEXICON: OnceLock<Lexicon<()>> = OnceLock::new();
    LEXICON.get_or_init(|| Lexicon::new(&HEALTH_TERMS.iter().map(|t| (*t, ())).collect::<Vec<_>>()))
}

fn health(words: &[Word]) -> Vec<PiiMatch> {
    words
        .iter()
        .enumerate()
        .filter(|(_, w)| HEALTH_TERMS.contains(&w.lower.as_str()))
        .filter(|(k, _)| words[k.saturating_sub(5)..*k].iter().any(|w| PERSONAL.contains(&w.lower.as_str())))
        .map(|(_, w)| PiiMatch { kind: PiiKind::Health, start: w.start, end: w.end, confidence: 0.6 })
        .collect()
}

/// The byte scan: e-mails, phones, cards, IBANs and national ids.
fn find_numbers(text: &str) -> Vec<PiiMatch> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let at_boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let hit = match b[i] {
            b'@' => email_at(b, i, found.last().map_or(0, |m: &PiiMatch| m.end)),
            b'A'..=b'Z' if at_boundary => iban_at(b, i).or_else(|| nie_at(b, i)),
            b'0'..=b'9' | b'+' if at_boundary => number_at(b, i),
            _ => None,
        };
        match hit {
            Some(m) => {
                // An e-mail's local part lies before the '@': drop what it overlaps.
                while found.last().is_some_and(|prev: &PiiMatch| prev.end > m.start) {
                    found.pop();
                }
                i = m.end;
                found.push(m);
            }
            None => i += 1,
        }
    }
    found
}

/// `text` with every span of personal data replaced by its placeholder.
pub fn redact(text: &str, matches: &[PiiMatch]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in matches {
        if m.start < last || m.end > text.len() || !text.is_char_boundary(m.start) || !text.is_char_boundary(m.end) {
            continue;
        }
        out.push_str(&text[last..m.start]);
        out.push_str(m.kind.placeholder());
        last = m.end;
    }
    out.push_str(&text[last..]);
    out
}

fn email_at(b: &[u8], at: usize, floor: usize) -> Option<PiiMatch> {
    let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let domain = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    let mut start = at;
    while start > floor && at - start < 64 && local(b[start - 1]) {
        start -= 1;
    }
    let mut end = at + 1;
    while end < b.len() && end - at < 255 && domain(b[end]) {
        end += 1;
    }
    while end > at + 1 && matches!(b[end - 1], b'.' | b'-') {
        end -= 1;
    }
    let host = &b[at + 1..end];
    let tld = host.rsplit(|&c| c == b'.').next().unwrap_or_default();
    let dotted = host.contains(&b'.') && !host.starts_with(b".");
    (start < at && dotted && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic)).then_some(PiiMatch {
        kind: PiiKind::Email,
        start,
        end,
        confidence: 0.99,
    })
}

/// `ES91 2100 0418 4502 0005 1332`, spaces between groups of up to four allowed.
fn iban_at(b: &[u8], start: usize) -> Option<PiiMatch> {
    let head = b.get(start..start + 4)?;
    if !(head[0].is_ascii_uppercase()
        && head[1].is_ascii_uppercase()
        && head[2].is_ascii_digit()
        && head[3].is_ascii_digit())
    {
        return None;
    }
    let part = |c: u8| c.is_ascii_digit() || c.is_ascii_uppercase();
    // (chars so far, end offset) after each group, to try the longest valid one first.
    let mut ends = Vec::new();
    let mut chars = Vec::with_capacity(34);
    let mut i = start;
    while i < b.len() && chars.len() < 34 {
        if part(b[i]) {
            chars.push(b[i]);
            i += 1;
            if i == b.len() || !part(b[i]) {
                ends.push((chars.len(), i));
            }
        } else if b[i] == b' ' && i + 1 < b.len() && part(b[i + 1]) && !chars.is_empty() {
            i += 1;
        } else {
            break;
        }
    }
    ends.into_iter().rev().filter(|(n, _)| (15..=34).contains(n)).find_map(|(n, end)| {
        let after_ok = end == b.len() || !b[end].is_ascii_alphanumeric();
        (after_ok && iban_valid(&chars[..n])).then_some(PiiMatch { kind: PiiKind::Iban, start, end, confidence: 0.99 })
    })
}

/// ISO 13616: move the first four characters to the end, letters to numbers, mod 97 = 1.
pub fn iban_valid(chars: &[u8]) -> bool {
    if chars.len() < 15 || chars.len() > 34 {
        return false;
    }
    let mut remainder: u32 = 0;
    for &c in chars[4..].iter().chain(&chars[..4]) {
        let value = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        remainder = if value >= 10 { (remainder * 100 + value) % 97 } else { (remainder * 10 + value) % 97 };
    }
    remainder == 1
}

/// `X1234567L`: a NIE, X/Y/Z standing for 0/1/2.
fn nie_at(b: &[u8], start: usize) -> Option<PiiMatch> {
    let prefix = match b[start] {
        b'X' => 0,
        b'Y' => 1,
        b'Z' => 2,
        _ => return None,
    };
    let mut i = start + 1;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    let digits = b.get(i..i + 7)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    i += 7;
    if matches!(b.get(i), Some(b'-' | b' ')) {
        i += 1;
    }
    let letter = *b.get(i)?;
    let number = digits.iter().fold(prefix, |n, d| n * 10 + u32::from(d - b'0'));
    let end = i + 1;
    let after_ok = end == b.len() || !b[end].is_ascii_alphanumeric();
    (after_ok && dni_letter(number) == letter.to_ascii_uppercase()).then_some(PiiMatch {
        kind: PiiKind::SpainNie,
        start,
        end,
        confidence: 0.99,
    })
}

/// The DNI/NIE control letter of a number.
pub fn dni_letter(number: u32) -> u8 {
    b"TRWAGMYFPDXBNJZSQVHLCKE"[(number % 23) as usize]
}

/// A run of digits with separators: a card, a RUT, a DNI or a phone number.
fn number_at(b: &[u8], start: usize) -> Option<PiiMatch> {
    let plus = b[start] == b'+';
    let mut i = start + usize::from(plus);
    let mut digits: Vec<u8> = Vec::with_capacity(20);
    let mut separators: Vec<u8> = Vec::new();
    let mut end = i;
    while i < b.len() && digits.len() <= 20 {
        let c = b[i];
        if c.is_ascii_digit() {
            digits.push(c - b'0');
            i += 1;
            end = i;
        } else if b" -.()/".contains(&c)
            && b.get(i + 1).is_some_and(|n| n.is_ascii_digit() || *n == b'(')
            && !digits.is_empty()
        {
            separators.push(c);
            i += 1;
        } else {
            break;
        }
    }
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let next = b.get(end).copied();
    // Chile's RUT: 12.345.678-5 or 12345678-K; the last symbol after the dash may be K.
    if let Some(rut) = rut_at(b, start, end, &digits, &separators) {
        return Some(rut);
    }
    // Spain's DNI: eight digits and the control letter.
    if digits.len() == 8 && separators.is_empty() {
        let (letter_at, letter) = match next {
            Some(b'-' | b' ') => (end + 1, b.get(end + 1).copied()),
            _ => (end, next),
        };
        if let Some(letter) = letter.filter(u8::is_ascii_alphabetic) {
            let after_ok = b.get(letter_at + 1).is_none_or(|c| !c.is_ascii_alphanumeric());
            let number = digits.iter().fold(0u32, |n, d| n * 10 + u32::from(*d));
            if after_ok && dni_letter(number) == letter.to_ascii_uppercase() {
                return Some(PiiMatch { kind: PiiKind::SpainDni, start, end: letter_at + 1, confidence: 0.99 });
            }
        }
    }
    if next.is_some_and(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let card_separators = separators.iter().all(|s| *s == b' ' || *s == b'-');
    if !plus && (13..=19).contains(&digits.len()) && card_separators && luhn_valid(&digits) {
        return Some(PiiMatch { kind: PiiKind::PaymentCard, start, end, confidence: 0.99 });
    }
    let phone_separators = separators.iter().all(|s| b" -.()".contains(s));
    match (plus, digits.len()) {
        (true, 8..=15) if phone_separators => Some(PiiMatch { kind: PiiKind::Phone, start, end, confidence: 0.9 }),
        (false, 9..=12) if phone_separators && !separators.contains(&b'.') => {
            Some(PiiMatch { kind: PiiKind::Phone, start, end, confidence: 0.5 })
        }
        _ => None,
    }
}

fn rut_at(b: &[u8], start: usize, end: usize, digits: &[u8], separators: &[u8]) -> Option<PiiMatch> {
    // The check symbol follows the body's last separator, a dash.
    let (body, check, end) = match (separators.last(), b.get(end)) {
        (_, Some(b'-')) if matches!(b.get(end + 1), Some(b'k' | b'K')) => (digits, 10, end + 2),
        (Some(b'-'), _) if b[end - 2] == b'-' => {
            (&digits[..digits.len() - 1], u32::from(digits[digits.len() - 1]), end)
        }
        _ => return None,
    };
    let dots = separators.iter().filter(|s| **s == b'.').count();
    let grouped = separators.iter().all(|s| *s == b'.' || *s == b'-') && (dots == 0 || dots == 2);
    if !grouped || !(7..=8).contains(&body.len()) || b.get(end).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    let sum: u32 = body.iter().rev().zip([2u32, 3, 4, 5, 6, 7].iter().cycle()).map(|(d, w)| u32::from(*d) * w).sum();
    let expected = match 11 - sum % 11 {
        11 => 0,
        other => other,
    };
    (expected == check).then_some(PiiMatch { kind: PiiKind::ChileRut, start, end, confidence: 0.99 })
}

/// The Luhn check of a card number.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
        })
        .sum();
    !digits.is_empty() && sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn kinds(text: &str) -> Vec<(PiiKind, &str)> {
        find(text).into_iter().map(|m| (m.kind, &text[m.start..m.end])).collect()
    }

    #[test]
    fn emails_in_running_text() {
        assert_eq!(
            kinds("Escríbame a ana.perez+muni@correo.example.cl. Gracias"),
            [(PiiKind::Email, "ana.perez+muni@correo.example.cl")]
        );
        assert!(kinds("@muni y @gob.cl no son correos; tampoco a@b").is_empty());
    }

    #[test]
    fn cards_need_a_valid_luhn_digit() {
        assert_eq!(kinds("tarjeta 4111 1111 1111 1111 gracias"), [(PiiKind::PaymentCard, "4111 1111 1111 1111")]);
        assert_eq!(kinds("5500-0000-0000-0004"), [(PiiKind::PaymentCard, "5500-0000-0000-0004")]);
        assert!(!kinds("4111 1111 1111 1112").iter().any(|(k, _)| *k == PiiKind::PaymentCard));
    }

    #[test]
    fn ibans_need_valid_check_digits() {
        assert_eq!(kinds("IBAN: ES91 2100 0418 4502 0005 1332."), [(PiiKind::Iban, "ES91 2100 0418 4502 0005 1332")]);
        assert_eq!(kinds("BE68539007547034"), [(PiiKind::Iban, "BE68539007547034")]);
        assert!(kinds("ES92 2100 0418 4502 0005 1332").iter().all(|(k, _)| *k != PiiKind::Iban));
        assert!(iban_valid(b"GB82WEST12345698765432"));
    }

    #[test]
    fn chilean_ruts_need_a_valid_check_digit() {
        assert_eq!(kinds("mi RUT es 12.345.678-5"), [(PiiKind::ChileRut, "12.345.678-5")]);
        assert_eq!(kinds("RUN 7654321-6,"), [(PiiKind::ChileRut, "7654321-6")]);
        assert_eq!(kinds("10.000.013-k"), [(PiiKind::ChileRut, "10.000.013-k")]);
        assert!(kinds("12.345.678-4").iter().all(|(k, _)| *k != PiiKind::ChileRut));
    }

    #[test]
    fn spanish_dni_and_nie_need_a_valid_letter() {
        assert_eq!(
            kinds("DNI 12345678Z y NIE X1234567L"),
            [(PiiKind::SpainDni, "12345678Z"), (PiiKind::SpainNie, "X1234567L")]
        );
        assert_eq!(kinds("12345678-Z"), [(PiiKind::SpainDni, "12345678-Z")]);
        assert!(kinds("12345678A X1234567A").is_empty());
    }

    #[test]
    fn phones_with_and_without_a_country_code() {
        let found = find("Llame al +56 9 8765 4321 o al 612 345 678; el bus 14 sale 10:30");
        let spans: Vec<(&str, f32)> = found
            .iter()
            .map(|m| (&"Llame al +56 9 8765 4321 o al 612 345 678; el bus 14 sale 10:30"[m.start..m.end], m.confidence))
            .collect();
        assert_eq!(spans, [("+56 9 8765 4321", 0.9), ("612 345 678", 0.5)]);
        assert!(find("Año 2026, 3.000 personas, 15/03/2026").is_empty());
    }

    #[test]
    fn redaction_replaces_only_the_spans() {
        let text = "Soy Ana (ana@example.org), RUT 12.345.678-5, 📞 +34 612 345 678 — ¿me llaman?";
        assert_eq!(redact(text, &find(text)), "Soy Ana ([email]), RUT [id], 📞 [phone] — ¿me llaman?");
    }

    #[test]
    fn street_addresses_with_a_number() {
        assert_eq!(kinds("Vivo en Calle Esmeralda 1234, depto 5"), [(PiiKind::Address, "Calle Esmeralda 1234")]);
        assert_eq!(kinds("Av. Providencia 1550 sin luz"), [(PiiKind::Address, "Av. Providencia 1550")]);
        assert_eq!(kinds("Flooding at 221 Baker Street now"), [(PiiKind::Address, "221 Baker Street")]);
        assert_eq!(kinds("Gat in de weg voor Kerkstraat 12b"), [(PiiKind::Address, "Kerkstraat 12b")]);
        assert_eq!(kinds("The street lights on Main Street are out"), []);
    }

    #[test]
    fn sentence_ends_do_not_hide_personal_data() {
        assert_eq!(kinds("Vivo en Calle Esmeralda 1234."), [(PiiKind::Address, "Calle Esmeralda 1234")]);
        assert_eq!(kinds("Mi hijo tiene diabetes."), [(PiiKind::Health, "diabetes")]);
        assert_eq!(kinds("Av. Matta 20/"), [(PiiKind::Address, "Av. Matta 20")]);
        let long = format!("{} Mi hijo tiene diabetes", "palabra ".repeat(5000));
        assert_eq!(kinds(&long), [(PiiKind::Health, "diabetes")], "no cap on where it is found");
    }

    #[test]
    fn health_conditions_said_of_a_person() {
        assert_eq!(
            kinds("Mi hijo tiene diabetes y no hay insulina"),
            [(PiiKind::Health, "diabetes"), (PiiKind::Health, "insulina")]
        );
        assert_eq!(kinds("The new cancer unit opens on Monday"), []);
        let text = "My mother has dementia, she lives at 12 Oak Road";
        assert_eq!(redact(text, &find(text)), "My mother has [health], she lives at [address]");
    }

    proptest! {
        #[test]
        fn any_text_is_scanned_without_panicking_and_spans_are_in_bounds(text in any::<String>()) {
            let found = find(&text);
            for pair in found.windows(2) {
                prop_assert!(pair[0].end <= pair[1].start);
            }
            for m in &found {
                prop_assert!(m.start < m.end && m.end <= text.len() && text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
            }
            let _ = redact(&text, &found);
        }
    }

    #[test]
    fn hostile_runs_finish() {
        // Each look-around is bounded, so these take one pass each, not one per position.
        for unit in ["1-", "a@", "ES00 ", "X-", "1.", "+1 ", "a.b@c"] {
            let text = unit.repeat(400_000);
            let _ = find(&text);
        }
    }
}
