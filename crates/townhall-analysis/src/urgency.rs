//! Urgency: emergency language — earthquake, fire, flood, people trapped, a missing
//! person, threats to life, medical emergencies, explosions — in the seeds' languages
//! (Spanish, English, French, Dutch, Macedonian, Arabic) and Portuguese, German and
//! Italian, plus calls for help. A signal raises a post's priority; it never decides
//! alone that something is an emergency, so each comes with the terms that fired.
//!
//! The term lists are the project's own, written for this module (no third-party
//! lexicon), whole words only; plural and gender forms are listed where they differ.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::lexicon::{Lexicon, fold};

/// What kind of emergency a post speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Emergency {
    /// Earthquake or tremor.
    Earthquake,
    /// Fire or wildfire.
    Fire,
    /// Flood.
    Flood,
    /// People trapped or buried.
    Trapped,
    /// A missing person.
    MissingPerson,
    /// Shooting, armed attack, threats to kill.
    ThreatToLife,
    /// Someone not breathing, unconscious, badly hurt.
    Medical,
    /// Explosion or gas leak.
    Explosion,
}

/// A post's urgency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Urgency {
    /// From 0 (nothing urgent) to 1.
    pub score: f32,
    /// The emergencies spoken of, without repeats, in order.
    pub signals: Vec<Emergency>,
    /// Whether the post calls for help (`socorro`, `help`, `au secours`, …).
    pub calls_for_help: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Term {
    Signal(Emergency),
    Help,
}

use Emergency::*;
use Term::{Help, Signal};

const TERMS: &[(&str, Term)] = &[
    // Spanish
    ("terremoto", Signal(Earthquake)),
    ("sismo", Signal(Earthquake)),
    ("temblor", Signal(Earthquake)),
    ("incendio", Signal(Fire)),
    ("incendios", Signal(Fire)),
    ("incendio forestal", Signal(Fire)),
    ("se quema", Signal(Fire)),
    ("inundacion", Signal(Flood)),
    ("inundaciones", Signal(Flood)),
    ("inundado", Signal(Flood)),
    ("inundada", Signal(Flood)),
    ("aluvion", Signal(Flood)),
    ("atrapado", Signal(Trapped)),
    ("atrapada", Signal(Trapped)),
    ("atrapados", Signal(Trapped)),
    ("atrapadas", Signal(Trapped)),
    ("bajo los escombros", Signal(Trapped)),
    ("desaparecido", Signal(MissingPerson)),
    ("desaparecida", Signal(MissingPerson)),
    ("desaparecidos", Signal(MissingPerson)),
    ("persona desaparecida", Signal(MissingPerson)),
    ("tiroteo", Signal(ThreatToLife)),
    ("balacera", Signal(ThreatToLife)),
    ("disparos", Signal(ThreatToLife)),
    ("amenaza de muerte", Signal(ThreatToLife)),
    ("me van a matar", Signal(ThreatToLife)),
    ("no respira", Signal(Medical)),
    ("inconsciente", Signal(Medical)),
    ("infarto", Signal(Medical)),
    ("herido grave", Signal(Medical)),
    ("heridos graves", Signal(Medical)),
    ("explosion", Signal(Explosion)),
    ("fuga de gas", Signal(Explosion)),
    ("socorro", Help),
    ("auxilio", Help),
    ("ayuda urgente", Help),
    ("emergencia", Help),
    ("urgente", Help),
    // English
    ("earthquake", Signal(Earthquake)),
    ("quake", Signal(Earthquake)),
    ("wildfire", Signal(Fire)),
    ("house fire", Signal(Fire)),
    ("on fire", Signal(Fire)),
    ("flood", Signal(Flood)),
    ("flooding", Signal(Flood)),
    ("flooded", Signal(Flood)),
    ("trapped", Signal(Trapped)),
    ("under the rubble", Signal(Trapped)),
    ("missing person", Signal(MissingPerson)),
    ("missing child", Signal(MissingPerson)),
    ("shooting", Signal(ThreatToLife)),
    ("shots fired", Signal(ThreatToLife)),
    ("gunman", Signal(ThreatToLife)),
    ("bomb threat", Signal(ThreatToLife)),
    ("not breathing", Signal(Medical)),
    ("unconscious", Signal(Medical)),
    ("heart attack", Signal(Medical)),
    ("badly injured", Signal(Medical)),
    ("explosion", Signal(Explosion)),
    ("gas leak", Signal(Explosion)),
    ("help us", Help),
    ("sos", Help),
    ("emergency", Help),
    ("urgent", Help),
    // French
    ("seisme", Signal(Earthquake)),
    ("tremblement de terre", Signal(Earthquake)),
    ("incendie", Signal(Fire)),
    ("incendies", Signal(Fire)),
    ("inondation", Signal(Flood)),
    ("inondations", Signal(Flood)),
    ("inonde", Signal(Flood)),
    ("coince", Signal(Trapped)),
    ("coinces", Signal(Trapped)),
    ("sous les decombres", Signal(Trapped)),
    ("disparu", Signal(MissingPerson)),
    ("disparue", Signal(MissingPerson)),
    ("fusillade", Signal(ThreatToLife)),
    ("coups de feu", Signal(ThreatToLife)),
    ("ne respire plus", Signal(Medical)),
    ("inconscient", Signal(Medical)),
    ("crise cardiaque", Signal(Medical)),
    ("fuite de gaz", Signal(Explosion)),
    ("au secours", Help),
    ("urgence", Help),
    // Dutch
    ("aardbeving", Signal(Earthquake)),
    // Not "brand" alone: English "brand new" would be a fire.
    ("grote brand", Signal(Fire)),
    ("uitslaande brand", Signal(Fire)),
    ("woningbrand", Signal(Fire)),
    ("bosbrand", Signal(Fire)),
    ("overstroming", Signal(Flood)),
    ("wateroverlast", Signal(Flood)),
    ("bekneld", Signal(Trapped)),
    ("ingesloten", Signal(Trapped)),
    ("vermist", Signal(MissingPerson)),
    ("vermiste", Signal(MissingPerson)),
    ("schietpartij", Signal(ThreatToLife)),
    ("schoten gelost", Signal(ThreatToLife)),
    ("bewusteloos", Signal(Medical)),
    ("hartaanval", Signal(Medical)),
    ("ontploffing", Signal(Explosion)),
    ("explosie", Signal(Explosion)),
    ("gaslek", Signal(Explosion)),
    ("noodgeval", Help),
    ("dringend", Help),
    // Macedonian
    ("земјотрес", Signal(Earthquake)),
    ("пожар", Signal(Fire)),
    ("пожари", Signal(Fire)),
    ("поплава", Signal(Flood)),
    ("поплави", Signal(Flood)),
    ("заробени", Signal(Trapped)),
    ("затрупани", Signal(Trapped)),
    ("исчезнат", Signal(MissingPerson)),
    ("исчезната", Signal(MissingPerson)),
    ("пукање", Signal(ThreatToLife)),
    ("не дише", Signal(Medical)),
    ("срцев удар", Signal(Medical)),
    ("експлозија", Signal(Explosion)),
    ("помош", Help),
    ("итно", Help),
    // Arabic
    ("زلزال", Signal(Earthquake)),
    ("هزة أرضية", Signal(Earthquake)),
    ("حريق", Signal(Fire)),
    ("فيضان", Signal(Flood)),
    ("فيضانات", Signal(Flood)),
    ("سيول", Signal(Flood)),
    ("محاصرون", Signal(Trapped)),
    ("تحت الأنقاض", Signal(Trapped)),
    ("مفقود", Signal(MissingPerson)),
    ("مفقودة", Signal(MissingPerson)),
    ("إطلاق نار", Signal(ThreatToLife)),
    ("لا يتنفس", Signal(Medical)),
    ("نوبة قلبية", Signal(Medical)),
    ("انفجار", Signal(Explosion)),
    ("تسرب غاز", Signal(Explosion)),
    ("النجدة", Help),
    ("عاجل", Help),
    ("طوارئ", Help),
    // Portuguese, German, Italian: the same signals where the words differ
    ("incendio florestal", Signal(Fire)),
    ("enchente", Signal(Flood)),
    ("soterrado", Signal(Trapped)),
    ("tiroteio", Signal(ThreatToLife)),
    ("erdbeben", Signal(Earthquake)),
    ("hochwasser", Signal(Flood)),
    ("uberschwemmung", Signal(Flood)),
    ("verschuttet", Signal(Trapped)),
    ("vermisst", Signal(MissingPerson)),
    ("schusse", Signal(ThreatToLife)),
    ("bewusstlos", Signal(Medical)),
    ("herzinfarkt", Signal(Medical)),
    ("hilfe", Help),
    ("alluvione", Signal(Flood)),
    ("intrappolati", Signal(Trapped)),
    ("scomparso", Signal(MissingPerson)),
    ("sparatoria", Signal(ThreatToLife)),
    ("aiuto", Help),
];

fn lexicon() -> &'static Lexicon<Term> {
    static LEXICON: OnceLock<Lexicon<Term>> = OnceLock::new();
    LEXICON.get_or_init(|| Lexicon::new(TERMS))
}

/// How urgent `text` sounds.
pub fn urgency(text: &str) -> Urgency {
    urgency_folded(&fold(text))
}

/// [`urgency`] of a text already [`fold`]ed.
pub fn urgency_folded(folded: &str) -> Urgency {
    let found = lexicon().find(folded);
    let mut signals: Vec<Emergency> = Vec::new();
    let mut calls_for_help = false;
    for term in found {
        match term {
            Signal(emergency) if !signals.contains(&emergency) => signals.push(emergency),
            Signal(_) => {}
            Help => calls_for_help = true,
        }
    }
    // One emergency is urgent; more than one, or one with a call for help, more so. A
    // call for help alone ("urgente", "help") is a weaker signal on its own.
    let score = match (signals.len(), calls_for_help) {
        (0, false) => 0.0,
        (0, true) => 0.3,
        (n, help) => (0.6 + 0.15 * (n - 1) as f32 + if help { 0.2 } else { 0.0 }).min(1.0),
    };
    Urgency { score, signals, calls_for_help }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn emergencies_in_each_language() {
        let cases: [(&str, &[Emergency]); 8] = [
            ("¡Terremoto fuerte! Hay personas ATRAPADAS bajo los escombros en calle Esmeralda", &[Earthquake, Trapped]),
            ("Wildfire spreading fast near the ridge, we are trapped", &[Fire, Trapped]),
            ("Inondation rue Haute, une personne disparue", &[Flood, MissingPerson]),
            ("Grote brand in de Veldstraat, iemand is bewusteloos", &[Fire, Medical]),
            ("Силен земјотрес во Скопје", &[Earthquake]),
            ("حريق كبير في حي الخالدية", &[Fire]),
            ("Fuga de gas y una explosión en el edificio", &[Explosion]),
            ("Shots fired near the station, one man not breathing", &[ThreatToLife, Medical]),
        ];
        for (text, expected) in cases {
            assert_eq!(urgency(text).signals, expected, "{text}");
            assert!(urgency(text).score >= 0.6, "{text}");
        }
    }

    #[test]
    fn ordinary_complaints_are_not_urgent() {
        for text in [
            "El camión de la basura no pasó esta semana",
            "The fireworks were great, this song is fire",
            "Branding van de gemeente is mooi",
            "¿A qué hora abre el consultorio?",
        ] {
            let u = urgency(text);
            assert_eq!((u.score, u.signals.len()), (0.0, 0), "{text}");
        }
    }

    #[test]
    fn a_call_for_help_raises_the_score() {
        let plain = urgency("Hay una inundación en mi calle");
        let help = urgency("¡SOCORRO! Hay una inundación en mi calle");
        assert!(help.calls_for_help && help.score > plain.score);
        assert_eq!(urgency("urgente: llámenme").score, 0.3);
    }

    #[test]
    fn every_term_is_found_in_its_own_words() {
        for (term, label) in TERMS {
            assert!(lexicon().find(&fold(term)).contains(label), "{term}");
        }
    }

    proptest! {
        #[test]
        fn any_text_is_scored_in_range(text in any::<String>()) {
            let u = urgency(&text);
            prop_assert!((0.0..=1.0).contains(&u.score));
        }
    }
}
