//! Topics: which public service a post is about, on a per-institution taxonomy.
//!
//! Two sources of evidence, combined: keyword and phrase rules in the seeds' languages
//! (the project's own lists, one Aho-Corasick pass), and a learned model — a
//! multinomial naive Bayes over the post's words — trained on the topics staff gave
//! posts by hand. Every staff re-label is a training example, so the model learns an
//! institution's own vocabulary (street names, local services, slang) that no list
//! has. An institution can add topics and terms of its own to the default taxonomy.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::lexicon::{Lexicon, fold};

/// A topic found in a post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicMatch {
    /// The topic's key, e.g. `transport`.
    pub topic: String,
    /// From 0 to 1.
    pub confidence: f32,
    /// The terms that matched (empty when only the learned model spoke).
    pub terms: Vec<String>,
}

/// The default taxonomy: topic key, then its terms in Spanish, English, French, Dutch,
/// Portuguese, German, Italian, Arabic and Macedonian (whole words, folded; Arabic
/// nouns also with the article ال, which is written joined to the word).
const DEFAULT: &[(&str, &str)] = &[
    (
        "health",
        "salud, hospital, consultorio, cesfam, medico, medica, vacuna, vacunacion, urgencias, ambulancia, enfermera, \
         health, clinic, doctor, vaccine, vaccination, nurse, gp, emergency room, \
         sante, hopital, medecin, vaccin, gezondheid, ziekenhuis, huisarts, vaccinatie, \
         saude, posto de saude, gesundheit, krankenhaus, arzt, impfung, sanita, ospedale, \
         صحة, الصحة, مستشفى, المستشفى, طبيب, الطبيب, لقاح, здравство, болница, лекар, вакцина",
    ),
    (
        "transport",
        "bus, buses, autobus, micro, metro, tren, transporte, paradero, conductor, tarjeta bip, horario, \
         transport, train, tram, subway, bus stop, timetable, driver, \
         transports, gare, arret, vervoer, trein, halte, dienstregeling, \
         onibus, comboio, zug, strassenbahn, haltestelle, treno, fermata, \
         حافلة, الحافلة, مترو, المترو, نقل, النقل, قطار, автобус, превоз, трамвај, воз",
    ),
    (
        "roads",
        "calle, calles, bache, baches, vereda, semaforo, pavimento, carretera, trafico, estacionamiento, \
         road, roads, street, pothole, potholes, pavement, sidewalk, traffic light, traffic, parking, \
         route, nid de poule, trottoir, feu rouge, circulation, stationnement, \
         weg, straat, gat in de weg, stoep, verkeerslicht, parkeren, \
         buraco, calcada, strasse, schlagloch, ampel, buca, marciapiede, semaforo, \
         طريق, الطريق, شارع, الشارع, حفرة, إشارة المرور, пат, улица, дупка, семафор, паркинг",
    ),
    (
        "water",
        "agua, agua potable, corte de agua, alcantarillado, fuga de agua, cañeria, \
         water, water supply, water main, sewer, sewage, leak, tap water, \
         eau, eau potable, fuite, egout, waterleiding, riool, lekkage, \
         agua, esgoto, wasser, abwasser, acqua, fognatura, \
         مياه, المياه, ماء, الماء, صرف صحي, вода, водовод, канализација",
    ),
    (
        "waste",
        "basura, basural, recoleccion, camion de la basura, reciclaje, contenedor, escombros, microbasural, \
         garbage, trash, rubbish, waste, recycling, bin, bins, litter, dumping, \
         dechets, poubelle, poubelles, ordures, recyclage, \
         afval, vuilnis, container, vuilniszak, zwerfafval, \
         lixo, reciclagem, mull, abfall, rifiuti, spazzatura, \
         قمامة, القمامة, نفايات, النفايات, ђубре, смет, отпад, рециклирање",
    ),
    (
        "safety",
        "seguridad, delincuencia, robo, asalto, carabineros, policia, portonazo, violencia, \
         safety, crime, theft, robbery, police, violence, burglary, vandalism, \
         securite, vol, cambriolage, police, veiligheid, diefstal, inbraak, politie, \
         seguranca, assalto, sicherheit, diebstahl, polizei, sicurezza, furto, \
         أمن, الأمن, سرقة, شرطة, الشرطة, безбедност, кражба, полиција",
    ),
    (
        "education",
        "colegio, escuela, liceo, educacion, profesor, profesora, matricula, jardin infantil, universidad, \
         school, schools, education, teacher, enrolment, enrollment, kindergarten, university, \
         ecole, college, lycee, enseignant, school, onderwijs, leraar, kinderopvang, \
         escola, professor, schule, lehrer, scuola, insegnante, \
         مدرسة, المدرسة, تعليم, التعليم, جامعة, училиште, образование, наставник, градинка",
    ),
    (
        "permits",
        "permiso, permiso de circulacion, licencia, tramite, certificado, patente, permiso de edificacion, \
         permit, license, licence, certificate, application form, building permit, paperwork, \
         permis, licence, demarche, vergunning, omgevingsvergunning, aanvraag, \
         licenca, alvara, genehmigung, antrag, permesso, licenza, \
         رخصة, تصريح, شهادة, дозвола, лиценца, уверение",
    ),
    (
        "taxes",
        "impuesto, impuestos, contribuciones, tributo, sii, multa, cobro, tasa, \
         tax, taxes, council tax, property tax, fine, fee, fees, bill, \
         impot, impots, taxe, amende, belasting, gemeentebelasting, boete, \
         imposto, iptu, steuer, steuern, gebuhr, tassa, tasse, \
         ضريبة, ضرائب, الضرائب, غرامة, данок, даноци, казна",
    ),
    (
        "housing",
        "vivienda, arriendo, alquiler, subsidio habitacional, campamento, allegados, \
         housing, rent, social housing, homeless, eviction, \
         logement, loyer, expulsion, woning, huur, sociale huur, dakloos, \
         moradia, aluguel, wohnung, miete, obdachlos, casa popolare, affitto, \
         سكن, السكن, إيجار, домување, станарина, стан",
    ),
    (
        "environment",
        "medio ambiente, contaminacion, smog, arboles, plaza, parque, ruido, reciclaje, \
         environment, pollution, air quality, trees, park, parks, noise, green space, \
         environnement, pollution, arbres, parc, bruit, milieu, vervuiling, bomen, park, geluidsoverlast, \
         ambiente, poluicao, umwelt, verschmutzung, larm, inquinamento, \
         بيئة, البيئة, تلوث, التلوث, حديقة, животна средина, загадување, парк, бучава",
    ),
    (
        "energy",
        "luz, corte de luz, electricidad, alumbrado, alumbrado publico, poste, gas, calefaccion, \
         electricity, power cut, power outage, blackout, street light, streetlight, heating, \
         electricite, coupure de courant, eclairage, stroom, stroomstoring, straatverlichting, \
         energia, eletricidade, strom, stromausfall, luce, blackout, \
         كهرباء, الكهرباء, струја, електрична енергија, улично осветлување, греење",
    ),
    (
        "social",
        "pension, bono, subsidio, adulto mayor, discapacidad, asistencia social, \
         benefits, pension, welfare, social services, disability, elderly care, \
         allocation, aide sociale, uitkering, bijstand, zorg, \
         beneficio, aposentadoria, sozialhilfe, rente, pensione, sussidio, \
         معاش, إعانة, пензија, социјална помош",
    ),
    (
        "events",
        "evento, concierto, feria, festival, actividad, inscripcion, fiesta, \
         event, concert, festival, fair, celebration, registration, \
         evenement, concert, fete, evenement, feest, optreden, \
         festa, veranstaltung, fest, evento, sagra, \
         مهرجان, حفل, фестивал, концерт, настан",
    ),
];

/// A taxonomy of topics with their terms.
#[derive(Debug)]
pub struct Taxonomy {
    topics: Vec<String>,
    lexicon: Lexicon<usize>,
}

impl Taxonomy {
    /// The default taxonomy of public services.
    pub fn default_taxonomy() -> &'static Taxonomy {
        static DEFAULT_TAXONOMY: OnceLock<Taxonomy> = OnceLock::new();
        DEFAULT_TAXONOMY.get_or_init(|| Taxonomy::with_extra(&[]))
    }

    /// The default taxonomy plus an institution's own topics and terms: `(topic,
    /// terms)`; a topic already in the default gains the terms.
    pub fn with_extra(extra: &[(String, Vec<String>)]) -> Taxonomy {
        let mut topics: Vec<String> = Vec::new();
        let mut entries: Vec<(String, usize)> = Vec::new();
        let all = DEFAULT
            .iter()
            .map(|(topic, terms)| {
                (topic.to_string(), terms.split(',').map(|t| t.trim().to_string()).collect::<Vec<_>>())
            })
            .chain(extra.iter().cloned());
        for (topic, terms) in all {
            let index = match topics.iter().position(|t| *t == topic) {
                Some(index) => index,
                None => {
                    topics.push(topic);
                    topics.len() - 1
                }
            };
            entries.extend(terms.into_iter().filter(|t| !t.is_empty()).map(|t| (fold(&t), index)));
        }
        let borrowed: Vec<(&str, usize)> = entries.iter().map(|(t, i)| (t.as_str(), *i)).collect();
        Taxonomy { topics, lexicon: Lexicon::new(&borrowed) }
    }

    /// The topics whose terms appear in `folded` (see [`fold`]), best first, merged
    /// with what `model` (if any) predicts.
    pub fn classify(&self, folded: &str, model: Option<&TopicModel>) -> Vec<TopicMatch> {
        let mut found: Vec<TopicMatch> = Vec::new();
        for (term, topic) in self.lexicon.find_with_terms(folded) {
            let name = &self.topics[topic];
            match found.iter_mut().find(|m| m.topic == *name) {
                Some(m) => {
                    if !m.terms.iter().any(|t| t == term) {
                        m.terms.push(term.to_string());
                    }
                }
                None => found.push(TopicMatch { topic: name.clone(), confidence: 0.0, terms: vec![term.to_string()] }),
            }
        }
        for m in &mut found {
            // One term is fair evidence; each further distinct term raises it.
            m.confidence = (0.6 + 0.15 * (m.terms.len() - 1) as f32).min(0.95);
        }
        if let Some(model) = model {
            for (topic, p) in model.predict(folded) {
                match found.iter_mut().find(|m| m.topic == topic) {
                    Some(m) => m.confidence = 1.0 - (1.0 - m.confidence) * (1.0 - p),
                    None if p >= 0.5 => found.push(TopicMatch { topic, confidence: p, terms: Vec::new() }),
                    None => {}
                }
            }
        }
        found.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        found
    }
}

/// A multinomial naive Bayes topic model trained on staff labels.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TopicModel {
    /// Examples per topic.
    documents: HashMap<String, u32>,
    /// Word counts per topic.
    words: HashMap<String, HashMap<String, u32>>,
    /// Words per topic.
    totals: HashMap<String, u32>,
    /// Distinct words over all topics.
    vocabulary: usize,
}

/// Fewer examples than this in all and the model stays silent.
const MIN_EXAMPLES: u32 = 5;

impl TopicModel {
    /// A model trained on `(text, topic)` examples (staff labels).
    pub fn train<'a>(examples: impl IntoIterator<Item = (&'a str, &'a str)>) -> TopicModel {
        let mut model = TopicModel::default();
        for (text, topic) in examples {
            model.learn(&fold(text), topic);
        }
        model
    }

    /// Adds one example; `folded` is the text [`fold`]ed.
    pub fn learn(&mut self, folded: &str, topic: &str) {
        *self.documents.entry(topic.to_string()).or_default() += 1;
        for word in model_words(folded) {
            if !self.words.values().any(|counts| counts.contains_key(word)) {
                self.vocabulary += 1;
            }
            *self.words.entry(topic.to_string()).or_default().entry(word.to_string()).or_default() += 1;
            *self.totals.entry(topic.to_string()).or_default() += 1;
        }
    }

    /// Examples learned.
    pub fn examples(&self) -> u32 {
        self.documents.values().sum()
    }

    /// Posterior probability of each topic for `folded` text, best first; empty
    /// until the model has seen enough examples or when no word is known.
    pub fn predict(&self, folded: &str) -> Vec<(String, f32)> {
        let n = self.examples();
        if n < MIN_EXAMPLES || self.documents.len() < 2 {
            return Vec::new();
        }
        let words: Vec<&str> = model_words(folded).collect();
        let known = words.iter().filter(|w| self.words.values().any(|c| c.contains_key(**w))).count();
        if known == 0 {
            return Vec::new();
        }
        let vocabulary = self.vocabulary as f64 + 1.0;
        let mut scores: Vec<(String, f64)> = self
            .documents
            .iter()
            .map(|(topic, docs)| {
                let counts = &self.words[topic];
                let total = f64::from(self.totals.get(topic).copied().unwrap_or_default());
                let prior = (f64::from(*docs) / f64::from(n)).ln();
                let likelihood: f64 = words
                    .iter()
                    .map(|w| {
                        ((f64::from(counts.get(*w).copied().unwrap_or_default()) + 1.0) / (total + vocabulary)).ln()
                    })
                    .sum();
                (topic.clone(), prior + likelihood)
            })
            .collect();
        let max = scores.iter().map(|(_, s)| *s).fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = scores.iter().map(|(_, s)| (s - max).exp()).sum();
        for (_, s) in &mut scores {
            *s = (*s - max).exp() / sum;
        }
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        scores.into_iter().map(|(t, p)| (t, p as f32)).collect()
    }
}

/// Words of three letters or more, the ones that carry a topic.
fn model_words(folded: &str) -> impl Iterator<Item = &str> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3 && !w.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(text: &str) -> Vec<String> {
        Taxonomy::default_taxonomy().classify(&fold(text), None).into_iter().map(|m| m.topic).collect()
    }

    #[test]
    fn public_services_in_several_languages() {
        assert_eq!(topics("El camión de la basura no pasó por Providencia"), ["waste"]);
        assert_eq!(topics("The 42 bus never came, third time this week"), ["transport"]);
        assert_eq!(topics("Coupure de courant rue Haute depuis ce matin"), ["energy"]);
        assert_eq!(topics("Gat in de weg bij de Kerkstraat"), ["roads"]);
        assert_eq!(topics("انقطاع المياه في الحي منذ يومين"), ["water"]);
        assert_eq!(topics("Кога ќе се отвори болница во Тетово"), ["health"]);
        assert!(topics("Lovely sunset tonight").is_empty());
    }

    #[test]
    fn institutions_add_their_own_terms() {
        let taxonomy = Taxonomy::with_extra(&[
            ("transport".into(), vec!["red movilidad".into()]),
            ("libraries".into(), vec!["biblioteca".into(), "library card".into()]),
        ]);
        let found: Vec<String> =
            taxonomy.classify(&fold("La Red Movilidad y la biblioteca"), None).into_iter().map(|m| m.topic).collect();
        assert_eq!(found.len(), 2);
        assert!(found.contains(&"transport".to_string()) && found.contains(&"libraries".to_string()));
    }

    #[test]
    fn staff_labels_teach_the_model_what_no_list_has() {
        let text = "El Transantiago de la 210 viene lleno";
        assert!(topics(text).is_empty(), "no rule knows this local name");
        let examples = [
            ("la 210 no para en el paradero", "transport"),
            ("transantiago atrasado otra vez", "transport"),
            ("el transantiago no pasa", "transport"),
            ("micro 210 llena", "transport"),
            ("hay basura en la esquina de la plaza", "waste"),
            ("no pasan a retirar la basura", "waste"),
            ("contenedor lleno de basura", "waste"),
        ];
        let model = TopicModel::train(examples);
        let found = Taxonomy::default_taxonomy().classify(&fold(text), Some(&model));
        assert_eq!(found.first().map(|m| m.topic.as_str()), Some("transport"));
        assert!(found[0].terms.is_empty());
    }

    #[test]
    fn the_model_is_silent_before_it_has_learned_enough() {
        let model = TopicModel::train([("basura", "waste"), ("micro", "transport")]);
        assert!(model.predict(&fold("micro")).is_empty());
    }
}
