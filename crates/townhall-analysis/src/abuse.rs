//! Abuse: insults, threats, harassment and hate toward protected groups, as a score
//! with the clause of the institution's comment policy the post may break.
//!
//! It feeds the moderation queue and never hides anything by itself: whether a
//! flagged post is hidden is the institution's configured decision, made elsewhere.
//! The term lists are the project's own, in the seeds' languages; they hold insults
//! and threat phrases, and for hate the dehumanising patterns aimed at groups rather
//! than a catalogue of slurs, so a reclaimed word or a quotation is not flagged alone.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::lexicon::Lexicon;

/// A kind of abuse, each tied to one clause of a comment policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbuseKind {
    /// Insults and personal attacks.
    Insult,
    /// Threats of violence.
    Threat,
    /// Harassment: repeated targeting, telling someone to harm themselves.
    Harassment,
    /// Hate toward a protected group.
    Hate,
}

impl AbuseKind {
    /// The clause of the default comment policy this kind breaks; an institution's
    /// own policy maps the same kinds to its own wording.
    pub fn default_clause(self) -> &'static str {
        match self {
            AbuseKind::Insult => "1. Be respectful: no insults or personal attacks",
            AbuseKind::Threat => "2. No threats or incitement to violence",
            AbuseKind::Harassment => "3. No harassment of staff or other users",
            AbuseKind::Hate => "4. No hate speech against any group for who they are",
        }
    }
}

/// A post's abuse assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Abuse {
    /// From 0 (none found) to 1.
    pub score: f32,
    /// The kinds found, without repeats, most serious first.
    pub kinds: Vec<AbuseKind>,
    /// The policy clauses the post may break, one per kind.
    pub clauses: Vec<String>,
}

const TERMS: &[(&str, AbuseKind)] = &[
    // Spanish
    ("idiota", AbuseKind::Insult),
    ("imbecil", AbuseKind::Insult),
    ("estupido", AbuseKind::Insult),
    ("estupida", AbuseKind::Insult),
    ("inutil", AbuseKind::Insult),
    ("inutiles", AbuseKind::Insult),
    ("ladrones", AbuseKind::Insult),
    ("corruptos", AbuseKind::Insult),
    ("weon", AbuseKind::Insult),
    ("hueon", AbuseKind::Insult),
    ("conchetumare", AbuseKind::Insult),
    ("hijo de puta", AbuseKind::Insult),
    ("hijos de puta", AbuseKind::Insult),
    ("mierda", AbuseKind::Insult),
    ("te voy a matar", AbuseKind::Threat),
    ("los voy a matar", AbuseKind::Threat),
    ("te vamos a matar", AbuseKind::Threat),
    ("deberian morir", AbuseKind::Threat),
    ("ojala se mueran", AbuseKind::Threat),
    ("se donde vives", AbuseKind::Harassment),
    ("matate", AbuseKind::Harassment),
    ("suicidate", AbuseKind::Harassment),
    ("vuelvan a su pais", AbuseKind::Hate),
    ("fuera inmigrantes", AbuseKind::Hate),
    ("son una plaga", AbuseKind::Hate),
    ("son animales", AbuseKind::Hate),
    // English
    ("idiot", AbuseKind::Insult),
    ("idiots", AbuseKind::Insult),
    ("moron", AbuseKind::Insult),
    ("morons", AbuseKind::Insult),
    ("stupid", AbuseKind::Insult),
    ("useless", AbuseKind::Insult),
    ("clowns", AbuseKind::Insult),
    ("scum", AbuseKind::Insult),
    ("bastard", AbuseKind::Insult),
    ("bastards", AbuseKind::Insult),
    ("asshole", AbuseKind::Insult),
    ("assholes", AbuseKind::Insult),
    ("piece of shit", AbuseKind::Insult),
    ("fuck you", AbuseKind::Insult),
    ("i will kill you", AbuseKind::Threat),
    ("i'll kill you", AbuseKind::Threat),
    ("we will kill you", AbuseKind::Threat),
    ("you will pay", AbuseKind::Threat),
    ("should be shot", AbuseKind::Threat),
    ("should be hanged", AbuseKind::Threat),
    ("burn it down", AbuseKind::Threat),
    ("i know where you live", AbuseKind::Harassment),
    ("kill yourself", AbuseKind::Harassment),
    ("kys", AbuseKind::Harassment),
    ("go back to your country", AbuseKind::Hate),
    ("go back where you came from", AbuseKind::Hate),
    ("are vermin", AbuseKind::Hate),
    ("are animals", AbuseKind::Hate),
    ("subhuman", AbuseKind::Hate),
    // French
    ("connard", AbuseKind::Insult),
    ("connards", AbuseKind::Insult),
    ("abruti", AbuseKind::Insult),
    ("incapables", AbuseKind::Insult),
    ("je vais te tuer", AbuseKind::Threat),
    ("on va vous tuer", AbuseKind::Threat),
    ("je sais ou tu habites", AbuseKind::Harassment),
    ("rentrez chez vous", AbuseKind::Hate),
    ("sous-homme", AbuseKind::Hate),
    // Dutch
    ("klootzak", AbuseKind::Insult),
    ("idioot", AbuseKind::Insult),
    ("sukkels", AbuseKind::Insult),
    ("ik maak je af", AbuseKind::Threat),
    ("ik weet waar je woont", AbuseKind::Harassment),
    ("ga terug naar je eigen land", AbuseKind::Hate),
    // Portuguese, German, Italian
    ("idiota", AbuseKind::Insult),
    ("vou te matar", AbuseKind::Threat),
    ("arschloch", AbuseKind::Insult),
    ("ich bring dich um", AbuseKind::Threat),
    ("stronzo", AbuseKind::Insult),
    ("ti ammazzo", AbuseKind::Threat),
    // Arabic
    ("غبي", AbuseKind::Insult),
    ("حقير", AbuseKind::Insult),
    ("سأقتلك", AbuseKind::Threat),
    ("سنقتلكم", AbuseKind::Threat),
    // Macedonian
    ("идиот", AbuseKind::Insult),
    ("будала", AbuseKind::Insult),
    ("ќе те убијам", AbuseKind::Threat),
];

fn lexicon() -> &'static Lexicon<AbuseKind> {
    static LEXICON: OnceLock<Lexicon<AbuseKind>> = OnceLock::new();
    LEXICON.get_or_init(|| Lexicon::new(TERMS))
}

/// The abuse in a text already [`fold`](crate::lexicon::fold)ed.
pub fn abuse_folded(folded: &str) -> Abuse {
    let mut kinds: Vec<AbuseKind> = Vec::new();
    let mut hits = 0usize;
    for kind in lexicon().find(folded) {
        hits += 1;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    // Threats and hate are grave on one hit; an insult is milder, and rises with repetition.
    kinds.sort_by_key(|k| match k {
        AbuseKind::Threat => 0,
        AbuseKind::Hate => 1,
        AbuseKind::Harassment => 2,
        AbuseKind::Insult => 3,
    });
    let score = kinds
        .iter()
        .map(|k| match k {
            AbuseKind::Threat | AbuseKind::Hate => 0.9,
            AbuseKind::Harassment => 0.8,
            AbuseKind::Insult => (0.5 + 0.15 * (hits.saturating_sub(1)) as f32).min(0.85),
        })
        .fold(0.0f32, f32::max);
    let clauses = kinds.iter().map(|k| k.default_clause().to_string()).collect();
    Abuse { score, kinds, clauses }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::fold;

    fn abuse(text: &str) -> Abuse {
        abuse_folded(&fold(text))
    }

    #[test]
    fn kinds_and_clauses_in_several_languages() {
        let threat = abuse("Alcalde, te voy a matar");
        assert_eq!(threat.kinds, [AbuseKind::Threat]);
        assert!(threat.score >= 0.9);
        assert_eq!(threat.clauses, [AbuseKind::Threat.default_clause()]);
        assert_eq!(abuse("You useless idiots").kinds, [AbuseKind::Insult]);
        assert!(abuse("You useless idiots").score > abuse("That was stupid").score);
        assert_eq!(abuse("Go back to your country").kinds, [AbuseKind::Hate]);
        assert_eq!(abuse("Ik weet waar je woont").kinds, [AbuseKind::Harassment]);
        assert_eq!(abuse("ќе те убијам").kinds, [AbuseKind::Threat]);
    }

    #[test]
    fn criticism_is_not_abuse() {
        for text in [
            "The council's decision is wrong and I will vote against it",
            "Pésimo servicio, llevo tres semanas esperando",
            "This policy will kill small businesses",
        ] {
            let a = abuse(text);
            assert_eq!((a.score, a.kinds.len()), (0.0, 0), "{text}");
        }
    }
}
