//! Intent: what the author wants — an answer (question), a fix (complaint), a change
//! (suggestion or proposal), to thank (praise), to inform (information) — so the inbox
//! can sort by it.
//!
//! Cues are the project's own multilingual phrase lists (Spanish, English, French,
//! Dutch, Portuguese, German, Italian, Arabic, Macedonian), matched whole-word in one
//! Aho-Corasick pass, and weighed with the punctuation and the sentiment: a question
//! mark or an interrogative opening makes a question; a complaint phrase or a
//! clearly negative tone a complaint; thanks with a positive tone praise.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::lexicon::Lexicon;

/// What a post wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// Asks something and expects an answer.
    Question,
    /// Reports that something is wrong and expects it fixed.
    Complaint,
    /// Proposes a change or an idea.
    Suggestion,
    /// Thanks or congratulates.
    Praise,
    /// Informs or announces, expecting nothing.
    Information,
    /// None of the above.
    Other,
}

impl Intent {
    /// The snake_case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Question => "question",
            Intent::Complaint => "complaint",
            Intent::Suggestion => "suggestion",
            Intent::Praise => "praise",
            Intent::Information => "information",
            Intent::Other => "other",
        }
    }

    /// The intent a name (as serialized) stands for.
    pub fn parse(name: &str) -> Option<Intent> {
        ALL.iter().copied().find(|i| i.as_str() == name)
    }
}

/// Every intent, in the order the inbox lists them.
pub const ALL: [Intent; 6] =
    [Intent::Question, Intent::Complaint, Intent::Suggestion, Intent::Praise, Intent::Information, Intent::Other];

/// An intent with the confidence in it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// The intent.
    pub label: Intent,
    /// From 0 to 1.
    pub confidence: f32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cue {
    /// An interrogative that opens a question (weighed more at the start).
    Ask,
    Complain,
    Suggest,
    Thank,
    Announce,
}

const CUES: &[(&str, Cue)] = &[
    // Spanish
    ("que", Cue::Ask),
    ("cuando", Cue::Ask),
    ("donde", Cue::Ask),
    ("por que", Cue::Ask),
    ("como", Cue::Ask),
    ("quien", Cue::Ask),
    ("cual", Cue::Ask),
    ("cuanto", Cue::Ask),
    ("alguien sabe", Cue::Ask),
    ("se puede", Cue::Ask),
    ("no funciona", Cue::Complain),
    ("no sirve", Cue::Complain),
    ("sigue sin", Cue::Complain),
    ("todavia no", Cue::Complain),
    ("otra vez", Cue::Complain),
    ("nadie responde", Cue::Complain),
    ("nadie contesta", Cue::Complain),
    ("reclamo", Cue::Complain),
    ("queja", Cue::Complain),
    ("denuncio", Cue::Complain),
    ("verguenza", Cue::Complain),
    ("pesimo", Cue::Complain),
    ("pesima", Cue::Complain),
    ("dias sin", Cue::Complain),
    ("semanas sin", Cue::Complain),
    ("abandonado", Cue::Complain),
    ("propongo", Cue::Suggest),
    ("sugiero", Cue::Suggest),
    ("propuesta", Cue::Suggest),
    ("deberian", Cue::Suggest),
    ("seria bueno", Cue::Suggest),
    ("estaria bien", Cue::Suggest),
    ("por que no", Cue::Suggest),
    ("gracias", Cue::Thank),
    ("felicitaciones", Cue::Thank),
    ("felicidades", Cue::Thank),
    ("excelente trabajo", Cue::Thank),
    ("bien hecho", Cue::Thank),
    ("aviso", Cue::Announce),
    ("informamos", Cue::Announce),
    ("comunicado", Cue::Announce),
    // English
    ("what", Cue::Ask),
    ("when", Cue::Ask),
    ("where", Cue::Ask),
    ("why", Cue::Ask),
    ("how", Cue::Ask),
    ("who", Cue::Ask),
    ("which", Cue::Ask),
    ("is there", Cue::Ask),
    ("are there", Cue::Ask),
    ("can i", Cue::Ask),
    ("can you", Cue::Ask),
    ("could you", Cue::Ask),
    ("does anyone know", Cue::Ask),
    ("not working", Cue::Complain),
    ("doesn't work", Cue::Complain),
    ("broken", Cue::Complain),
    ("still no", Cue::Complain),
    ("still not", Cue::Complain),
    ("yet again", Cue::Complain),
    ("no one answers", Cue::Complain),
    ("nobody answers", Cue::Complain),
    ("complaint", Cue::Complain),
    ("disgrace", Cue::Complain),
    ("unacceptable", Cue::Complain),
    ("ridiculous", Cue::Complain),
    ("days without", Cue::Complain),
    ("weeks without", Cue::Complain),
    ("i suggest", Cue::Suggest),
    ("i propose", Cue::Suggest),
    ("proposal", Cue::Suggest),
    ("you should", Cue::Suggest),
    ("the city should", Cue::Suggest),
    ("it would be great if", Cue::Suggest),
    ("would be nice", Cue::Suggest),
    ("why not", Cue::Suggest),
    ("how about", Cue::Suggest),
    ("thank you", Cue::Thank),
    ("thanks", Cue::Thank),
    ("well done", Cue::Thank),
    ("great job", Cue::Thank),
    ("congratulations", Cue::Thank),
    ("kudos", Cue::Thank),
    ("announcement", Cue::Announce),
    ("reminder", Cue::Announce),
    ("update", Cue::Announce),
    ("fyi", Cue::Announce),
    // French
    ("quand", Cue::Ask),
    ("pourquoi", Cue::Ask),
    ("comment", Cue::Ask),
    ("est-ce que", Cue::Ask),
    ("ne marche pas", Cue::Complain),
    ("ne fonctionne pas", Cue::Complain),
    ("toujours pas", Cue::Complain),
    ("encore une fois", Cue::Complain),
    ("inadmissible", Cue::Complain),
    ("honte", Cue::Complain),
    ("je propose", Cue::Suggest),
    ("il faudrait", Cue::Suggest),
    ("vous devriez", Cue::Suggest),
    ("merci", Cue::Thank),
    ("bravo", Cue::Thank),
    ("felicitations", Cue::Thank),
    ("information", Cue::Announce),
    // Dutch
    ("wanneer", Cue::Ask),
    ("waarom", Cue::Ask),
    ("hoe", Cue::Ask),
    ("wie", Cue::Ask),
    ("waar", Cue::Ask),
    ("werkt niet", Cue::Complain),
    ("nog steeds niet", Cue::Complain),
    ("alweer", Cue::Complain),
    ("schandalig", Cue::Complain),
    ("klacht", Cue::Complain),
    ("ik stel voor", Cue::Suggest),
    ("voorstel", Cue::Suggest),
    ("jullie zouden", Cue::Suggest),
    ("bedankt", Cue::Thank),
    ("dank je", Cue::Thank),
    ("dank u", Cue::Thank),
    ("goed gedaan", Cue::Thank),
    ("mededeling", Cue::Announce),
    // Portuguese
    ("quando", Cue::Ask),
    ("onde", Cue::Ask),
    ("por que", Cue::Ask),
    ("nao funciona", Cue::Complain),
    ("ainda nao", Cue::Complain),
    ("reclamacao", Cue::Complain),
    ("sugiro", Cue::Suggest),
    ("proponho", Cue::Suggest),
    ("deveriam", Cue::Suggest),
    ("obrigado", Cue::Thank),
    ("obrigada", Cue::Thank),
    ("parabens", Cue::Thank),
    // German
    ("wann", Cue::Ask),
    ("warum", Cue::Ask),
    ("wo", Cue::Ask),
    ("funktioniert nicht", Cue::Complain),
    ("immer noch nicht", Cue::Complain),
    ("beschwerde", Cue::Complain),
    ("ich schlage vor", Cue::Suggest),
    ("vorschlag", Cue::Suggest),
    ("danke", Cue::Thank),
    ("vielen dank", Cue::Thank),
    // Italian
    ("quando", Cue::Ask),
    ("perche", Cue::Ask),
    ("non funziona", Cue::Complain),
    ("ancora non", Cue::Complain),
    ("propongo", Cue::Suggest),
    ("grazie", Cue::Thank),
    ("complimenti", Cue::Thank),
    // Arabic
    ("هل", Cue::Ask),
    ("متى", Cue::Ask),
    ("أين", Cue::Ask),
    ("لماذا", Cue::Ask),
    ("كيف", Cue::Ask),
    ("لا يعمل", Cue::Complain),
    ("شكوى", Cue::Complain),
    ("حتى الآن لم", Cue::Complain),
    ("أقترح", Cue::Suggest),
    ("اقتراح", Cue::Suggest),
    ("شكرا", Cue::Thank),
    ("شكراً", Cue::Thank),
    ("إعلان", Cue::Announce),
    // Macedonian
    ("кога", Cue::Ask),
    ("каде", Cue::Ask),
    ("зошто", Cue::Ask),
    ("како", Cue::Ask),
    ("дали", Cue::Ask),
    ("не работи", Cue::Complain),
    ("поплака", Cue::Complain),
    ("срамота", Cue::Complain),
    ("предлагам", Cue::Suggest),
    ("предлог", Cue::Suggest),
    ("благодарам", Cue::Thank),
    ("честитки", Cue::Thank),
    ("соопштение", Cue::Announce),
];

fn lexicon() -> &'static Lexicon<Cue> {
    static LEXICON: OnceLock<Lexicon<Cue>> = OnceLock::new();
    LEXICON.get_or_init(|| Lexicon::new(CUES))
}

/// The intent of a post, from its text as written, the same text [`fold`]ed, and its
/// sentiment score (`None` when unknown).
///
/// [`fold`]: crate::lexicon::fold
pub fn intent(text: &str, folded: &str, sentiment: Option<f32>) -> Scored {
    let mut scores = [0f32; 6];
    // Where the opening (the first two words after any mentions) ends.
    let opening_end = folded
        .split_whitespace()
        .filter(|w| !w.starts_with('@'))
        .nth(1)
        .map_or(folded.len(), |w| w.as_ptr() as usize - folded.as_ptr() as usize + w.len());
    // A question word after the first sentence's end does not open the post.
    let first_stop = folded.find(['.', '!', '?']).unwrap_or(folded.len());
    let mut opens_with_question = false;
    for (term, cue) in lexicon().find_with_terms(folded) {
        let start = term.as_ptr() as usize - folded.as_ptr() as usize;
        opens_with_question |= cue == Cue::Ask && start < opening_end && start < first_stop;
        let slot = match cue {
            Cue::Ask => 0,
            Cue::Complain => 1,
            Cue::Suggest => 2,
            Cue::Thank => 3,
            Cue::Announce => 4,
        };
        scores[slot] += match cue {
            // Interrogatives are common words mid-sentence; they ask when they open.
            Cue::Ask => 0.15,
            _ => 0.6,
        };
    }
    if opens_with_question {
        scores[0] += 0.5;
    }
    if text.contains('?') || text.contains('¿') || text.contains('؟') {
        scores[0] += 0.8;
    }
    match sentiment {
        Some(s) if s <= -0.3 => scores[1] += 0.3 + (-s - 0.3),
        Some(s) if s >= 0.5 => scores[3] += 0.2,
        _ => {}
    }
    // Praise needs a positive tone: "thanks for nothing" is a complaint.
    if sentiment.is_some_and(|s| s < 0.0) {
        scores[3] *= 0.3;
    }
    if text.contains("http://") || text.contains("https://") {
        scores[4] += 0.3;
    }
    let (best, score) = scores.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or((5, 0.0));
    if score < 0.3 {
        return Scored { label: Intent::Other, confidence: 0.5 };
    }
    let total: f32 = scores.iter().sum();
    // Its share of all the evidence, discounted when the evidence itself is thin.
    Scored { label: ALL[best], confidence: (score / total).clamp(0.0, 1.0) * score.clamp(0.5, 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::fold;

    fn label(text: &str, sentiment: Option<f32>) -> Intent {
        intent(text, &fold(text), sentiment).label
    }

    #[test]
    fn questions_in_several_languages() {
        assert_eq!(label("¿A qué hora abre el consultorio el sábado?", None), Intent::Question);
        assert_eq!(label("When does the pool open", None), Intent::Question);
        assert_eq!(label("Wanneer wordt het afval opgehaald?", None), Intent::Question);
        assert_eq!(label("Кога ќе се поправи патот", None), Intent::Question);
        assert_eq!(label("متى سيتم إصلاح الطريق؟", None), Intent::Question);
    }

    #[test]
    fn complaints_suggestions_praise_information() {
        assert_eq!(label("El semáforo de Alameda sigue sin funcionar, otra vez", Some(-0.2)), Intent::Complaint);
        assert_eq!(label("Three weeks without garbage collection. Unacceptable.", Some(-0.6)), Intent::Complaint);
        assert_eq!(label("Propongo un carril bici en la avenida principal", Some(0.0)), Intent::Suggestion);
        assert_eq!(label("It would be great if the library opened on Sundays", Some(0.6)), Intent::Suggestion);
        assert_eq!(label("Gracias al equipo de emergencias, excelente trabajo", Some(0.8)), Intent::Praise);
        assert_eq!(
            label("Reminder: road works on Main St from Monday https://example.org", Some(0.0)),
            Intent::Information
        );
        assert_eq!(label("nice weather", Some(0.4)), Intent::Other);
    }

    #[test]
    fn sarcastic_thanks_is_not_praise() {
        assert_eq!(label("Thanks for nothing, still no water", Some(-0.5)), Intent::Complaint);
    }

    #[test]
    fn names_round_trip() {
        for intent in ALL {
            assert_eq!(Intent::parse(intent.as_str()), Some(intent));
        }
    }
}
