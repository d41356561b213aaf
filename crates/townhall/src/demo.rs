//! The demo data set of `serve --demo`: institutions of both kinds and every level
//! in six countries, their accounts and officials' accounts, a few thousand citizen
//! posts in six languages with threads, edits and deletions, half a year of follower
//! counts, and a working inbox: staff of every role who can sign in, teams, routing
//! rules, deadline policies on office calendars with the 2026 public holidays, canned
//! answers, and cases in every state (referred ones too) with their replies, notes,
//! ratings and missed deadlines. Generated from a fixed seed, so every newcomer sees
//! the same living system; clearly marked `"demo": true` in raw payloads. Only the
//! staff password is random: it is made for each database and printed once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use anyhow::{Context, anyhow};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use townhall_core::canned::{CannedAnswer, render};
use townhall_core::case::mentioned_names;
use townhall_core::deadline::{BusinessCalendar, DeadlinePolicy, deadlines, policy_for};
use townhall_core::reply::{Reply, ReplyKind};
use townhall_core::routing::{Arrival, Condition, Rule, RuleAction, default_priority, evaluate};
use townhall_core::settings::InboxSettings;
use townhall_core::{
    Account, AccountId, Actor, Case, CaseAction, CaseStatus, CloseReason, CountryCode, InstitutionId, InstitutionKind,
    Level, MetricSnapshot, NewContact, NewInstitution, NewPost, Platform, PostEntities, PostId, PostMetrics, Priority,
    Role, Team, TeamId, User, UserId, transition,
};
use townhall_store::{Db, IngestOutcome, NewAccount, NewCase, NewReply, NewUser, SEND_REPLY_JOB, UserChange};

/// How much to generate.
#[derive(Debug, Clone, Copy)]
pub struct DemoSize {
    /// Citizen posts.
    pub posts: usize,
    /// Weeks of follower snapshots.
    pub weeks: i64,
}

impl Default for DemoSize {
    fn default() -> Self {
        Self { posts: 3000, weeks: 26 }
    }
}

/// The institution whose whole staff is printed at start: a municipality that
/// refers transport complaints to the ministry.
const SHOWCASE: &str = "valparaiso";

/// The staff of every demo institution, in this order.
const ROSTER: [Role; 7] =
    [Role::Admin, Role::Lead, Role::Agent, Role::Agent, Role::Agent, Role::Analyst, Role::Auditor];

/// Whether each of the three agents takes cases now, and their cap: a full-time
/// agent, a part-time one, and one who is away (routing passes them over).
const AGENT_LOADS: [(bool, Option<i32>); 3] = [(true, Some(25)), (true, Some(10)), (false, None)];

/// A demo user's sign-in, printed by `serve --demo`.
#[derive(Clone)]
pub struct SignIn {
    /// What they may do.
    pub role: Role,
    /// Their institution's name; `None` for the showcase institution.
    pub institution: Option<&'static str>,
    /// Login e-mail.
    pub email: String,
    /// Password, made for this database.
    pub password: String,
}

impl fmt::Debug for SignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignIn")
            .field("role", &self.role)
            .field("institution", &self.institution)
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// What was loaded, printed by `serve --demo`.
#[derive(Debug, Default)]
pub struct DemoSummary {
    institutions: usize,
    accounts: usize,
    posts: usize,
    edits: usize,
    deletions: usize,
    cases: usize,
    snapshots: u64,
    users: usize,
    rules: usize,
    policies: usize,
    canned: usize,
    statuses: BTreeMap<CaseStatus, i64>,
    inbox: InboxCounts,
    breaches: usize,
    sign_ins: Vec<SignIn>,
}

/// What the cases' lives produced.
#[derive(Debug, Default)]
struct InboxCounts {
    referred: usize,
    sent: usize,
    failed: usize,
    awaiting_approval: usize,
    notes: usize,
    ratings: usize,
}

impl DemoSummary {
    /// The printed sign-ins: the showcase institution's whole staff, then one agent
    /// of every other institution.
    pub fn sign_ins(&self) -> &[SignIn] {
        &self.sign_ins
    }
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "demo data loaded: {} institutions, {} accounts, {} posts ({} edited, {} deleted), {} cases, {} follower snapshots",
            self.institutions, self.accounts, self.posts, self.edits, self.deletions, self.cases, self.snapshots
        )?;
        let status = |s: CaseStatus| self.statuses.get(&s).copied().unwrap_or(0);
        let inbox = &self.inbox;
        writeln!(
            f,
            "inbox: {} new, {} open, {} pending, {} resolved, {} closed; {} referred to another institution; \
             {} replies sent, {} failed, {} awaiting approval; {} notes, {} ratings, {} missed deadlines",
            status(CaseStatus::New),
            status(CaseStatus::Open),
            status(CaseStatus::Pending),
            status(CaseStatus::Resolved),
            status(CaseStatus::Closed),
            inbox.referred,
            inbox.sent,
            inbox.failed,
            inbox.awaiting_approval,
            inbox.notes,
            inbox.ratings,
            self.breaches
        )?;
        writeln!(
            f,
            "set up: {} staff users, {} routing rules, {} deadline policies, {} canned answers, office calendars with 2026 holidays",
            self.users, self.rules, self.policies, self.canned
        )?;
        write!(f, "every demo user's password was made for this database and is shown only now:")?;
        let showcase = self.sign_ins.iter().filter(|s| s.institution.is_none());
        for sign_in in showcase {
            write!(f, "\n  sign in as {}: {} / {}", sign_in.role, sign_in.email, sign_in.password)?;
        }
        for sign_in in self.sign_ins.iter().filter(|s| s.institution.is_some()) {
            let institution = sign_in.institution.unwrap_or_default();
            write!(f, "\n  sign in as {} ({institution}): {} / {}", sign_in.role, sign_in.email, sign_in.password)?;
        }
        Ok(())
    }
}

struct DemoInstitution {
    slug: &'static str,
    name: &'static str,
    kind: InstitutionKind,
    level: Level,
    country: &'static str,
    parent: Option<&'static str>,
    jurisdiction: &'static str,
    lang: &'static str,
    teams: [&'static str; 2],
    /// The team emergencies go to.
    emergency_team: usize,
    /// The team transport complaints go to, if it has one.
    transport_team: Option<usize>,
    /// A language its staff also answer in, besides its own, Spanish and English.
    second_lang: Option<&'static str>,
    /// Where it refers cases of one topic: the receiving institution's slug, the topic,
    /// and why, in its own language.
    refers: Option<(&'static str, &'static str, &'static str)>,
    /// (platform, handle, display name, office of an official or "", followers today)
    accounts: &'static [(Platform, &'static str, &'static str, &'static str, i64)],
}

use InstitutionKind::{Government, PublicCompany};
use Level::{Local, National, Regional};
use Platform::{Bluesky, Facebook, Instagram, Mastodon, X};

const INSTITUTIONS: &[DemoInstitution] = &[
    DemoInstitution {
        slug: "gob-cl",
        name: "Gobierno de Chile",
        kind: Government,
        level: National,
        country: "CL",
        parent: None,
        jurisdiction: "Chile",
        lang: "es",
        teams: ["Atención ciudadana", "Prensa"],
        emergency_team: 0,
        transport_team: None,
        second_lang: None,
        refers: Some((
            "mtt-cl",
            "transport",
            "Consulta sobre buses y micros: es competencia del Ministerio de Transportes y Telecomunicaciones, que la responderá.",
        )),
        accounts: &[
            (X, "@GobiernodeChile", "Gobierno de Chile", "", 1_650_000),
            (Facebook, "GobiernodeChile", "Gobierno de Chile", "", 820_000),
            (Instagram, "@gobiernodechile", "Gobierno de Chile", "", 610_000),
            (X, "@Presidencia_cl", "Presidencia de Chile", "Presidente de la República", 2_400_000),
        ],
    },
    DemoInstitution {
        slug: "mtt-cl",
        name: "Ministerio de Transportes y Telecomunicaciones",
        kind: Government,
        level: National,
        country: "CL",
        parent: Some("gob-cl"),
        jurisdiction: "Chile",
        lang: "es",
        teams: ["Transporte público", "Tránsito"],
        emergency_team: 1,
        transport_team: Some(0),
        second_lang: None,
        refers: Some((
            "metro-santiago",
            "transport",
            "El reclamo es sobre el servicio de Metro, que opera directamente Metro de Santiago.",
        )),
        accounts: &[
            (X, "@MTTChile", "Ministerio de Transportes", "", 410_000),
            (X, "@MinistroMTT", "Ministro de Transportes", "Ministro de Transportes", 95_000),
        ],
    },
    DemoInstitution {
        slug: "valparaiso",
        name: "Municipalidad de Valparaíso",
        kind: Government,
        level: Local,
        country: "CL",
        parent: None,
        jurisdiction: "Comuna de Valparaíso",
        lang: "es",
        teams: ["Aseo y ornato", "Seguridad"],
        emergency_team: 1,
        transport_team: None,
        second_lang: None,
        refers: Some((
            "mtt-cl",
            "transport",
            "El transporte público de la región lo regula el Ministerio de Transportes: derivamos el reclamo a su equipo de Transporte público.",
        )),
        accounts: &[
            (X, "@MuniValpo", "Municipalidad de Valparaíso", "", 120_000),
            (Instagram, "@munivalpo", "Muni Valpo", "", 64_000),
            (Mastodon, "@munivalpo@mastodon.cl", "Municipalidad de Valparaíso", "", 3_100),
        ],
    },
    DemoInstitution {
        slug: "metro-santiago",
        name: "Metro de Santiago",
        kind: PublicCompany,
        level: Regional,
        country: "CL",
        parent: None,
        jurisdiction: "Región Metropolitana",
        lang: "es",
        teams: ["Servicio al cliente", "Operaciones"],
        emergency_team: 1,
        transport_team: Some(0),
        second_lang: None,
        refers: None,
        accounts: &[
            (X, "@metrodesantiago", "Metro de Santiago", "", 1_900_000),
            (Instagram, "@metrodesantiago", "Metro", "", 300_000),
        ],
    },
    DemoInstitution {
        slug: "madrid",
        name: "Ayuntamiento de Madrid",
        kind: Government,
        level: Local,
        country: "ES",
        parent: None,
        jurisdiction: "Madrid",
        lang: "es",
        teams: ["Línea Madrid", "Medio ambiente"],
        emergency_team: 0,
        transport_team: None,
        second_lang: None,
        refers: Some((
            "policia-es",
            "safety",
            "Las denuncias por robo corresponden a la Policía Nacional; le trasladamos el caso con lo que nos contó el vecino.",
        )),
        accounts: &[
            (X, "@MADRID", "Ayuntamiento de Madrid", "", 1_400_000),
            (Bluesky, "madrid.es", "Ayuntamiento de Madrid", "", 21_000),
            (X, "@AlcaldeMadrid", "Alcalde de Madrid", "Alcalde", 380_000),
        ],
    },
    DemoInstitution {
        slug: "policia-es",
        name: "Policía Nacional",
        kind: Government,
        level: National,
        country: "ES",
        parent: None,
        jurisdiction: "España",
        lang: "es",
        teams: ["Denuncias", "Comunicación"],
        emergency_team: 0,
        transport_team: None,
        second_lang: None,
        refers: None,
        accounts: &[
            (X, "@policia", "Policía Nacional", "", 3_600_000),
            (Instagram, "@policianacional", "Policía Nacional", "", 1_200_000),
        ],
    },
    DemoInstitution {
        slug: "gent",
        name: "Stad Gent",
        kind: Government,
        level: Local,
        country: "BE",
        parent: None,
        jurisdiction: "Gent",
        lang: "nl",
        teams: ["Gentinfo", "Mobiliteit"],
        emergency_team: 0,
        transport_team: Some(1),
        second_lang: None,
        refers: Some((
            "de-lijn",
            "transport",
            "Bus en tram in Gent worden uitgebaat door De Lijn: zij volgen deze klacht verder op.",
        )),
        accounts: &[
            (Facebook, "stadgent", "Stad Gent", "", 95_000),
            (Mastodon, "@stadgent@mastodon.social", "Stad Gent", "", 5_800),
            (Bluesky, "stad.gent", "Stad Gent", "", 7_400),
        ],
    },
    DemoInstitution {
        slug: "de-lijn",
        name: "De Lijn",
        kind: PublicCompany,
        level: Regional,
        country: "BE",
        parent: None,
        jurisdiction: "Vlaanderen",
        lang: "nl",
        teams: ["Klantendienst", "Verkeersinfo"],
        emergency_team: 1,
        transport_team: Some(0),
        second_lang: None,
        refers: None,
        accounts: &[(X, "@delijn", "De Lijn", "", 88_000), (Facebook, "delijn", "De Lijn", "", 150_000)],
    },
    DemoInstitution {
        slug: "bruxelles",
        name: "Région de Bruxelles-Capitale",
        kind: Government,
        level: Regional,
        country: "BE",
        parent: None,
        jurisdiction: "Bruxelles-Capitale",
        lang: "fr",
        teams: ["Information", "Propreté"],
        emergency_team: 0,
        transport_team: None,
        second_lang: Some("nl"),
        refers: None,
        accounts: &[
            (X, "@BrusselsGov", "Bruxelles-Capitale", "", 41_000),
            (Mastodon, "@brussels@mastodon.brussels", "Région bruxelloise", "", 2_200),
        ],
    },
    DemoInstitution {
        slug: "vlada-mk",
        name: "Влада на Република Северна Македонија",
        kind: Government,
        level: National,
        country: "MK",
        parent: None,
        jurisdiction: "Северна Македонија",
        lang: "mk",
        teams: ["Граѓански услуги", "Печат"],
        emergency_team: 0,
        transport_team: None,
        second_lang: None,
        refers: None,
        accounts: &[(Facebook, "vladamk", "Влада на РСМ", "", 210_000), (X, "@Vlada_RSM", "Влада на РСМ", "", 60_000)],
    },
    DemoInstitution {
        slug: "dubai-municipality",
        name: "بلدية دبي",
        kind: Government,
        level: Local,
        country: "AE",
        parent: None,
        jurisdiction: "دبي",
        lang: "ar",
        teams: ["خدمة المتعاملين", "الصحة العامة"],
        emergency_team: 0,
        transport_team: None,
        second_lang: None,
        refers: None,
        accounts: &[
            (X, "@DMunicipality", "بلدية دبي", "", 1_100_000),
            (Instagram, "@dubaimunicipality", "Dubai Municipality", "", 520_000),
        ],
    },
    DemoInstitution {
        slug: "tfl",
        name: "Transport for London",
        kind: PublicCompany,
        level: Regional,
        country: "GB",
        parent: None,
        jurisdiction: "Greater London",
        lang: "en",
        teams: ["Customer service", "Network status"],
        emergency_team: 1,
        transport_team: Some(0),
        second_lang: None,
        refers: None,
        accounts: &[
            (X, "@TfL", "Transport for London", "", 3_000_000),
            (Bluesky, "tfl.gov.uk", "TfL", "", 44_000),
            (Mastodon, "@tfl@mastodon.london", "Transport for London", "", 9_500),
        ],
    },
];

/// Citizen post templates per language: (label, topic, text). The label is the intent,
/// or `emergency` (a complaint with emergency words) or `spam` (a bot's question); the
/// topic is a key of the default taxonomy, or empty. `{n}` is a number, `{place}` a
/// local place name.
fn templates(lang: &str) -> &'static [(&'static str, &'static str, &'static str)] {
    match lang {
        "es" => &[
            ("question", "transport", "¿A qué hora pasa la micro {n} por {place}? Llevo 40 minutos esperando"),
            ("complaint", "waste", "Otra vez basura acumulada en {place}, nadie la retira desde hace {n} días"),
            ("complaint", "roads", "El semáforo de {place} lleva {n} días apagado, es peligroso para los niños"),
            ("question", "permits", "¿Dónde puedo renovar mi licencia de conducir? La web no carga"),
            ("suggestion", "roads", "Propongo una ciclovía en {place}, cada mañana hay {n} ciclistas arriesgándose"),
            ("praise", "roads", "Gracias al equipo que arregló el bache de {place}, ¡rapidísimo!"),
            ("complaint", "water", "Sin agua en {place} desde esta mañana. ¿Hasta cuándo?"),
            ("question", "health", "¿El CESFAM de {place} atiende este sábado? Necesito vacunar a mi hijo"),
            ("information", "environment", "Árbol caído en {place} bloqueando la calle, ya avisé a carabineros"),
            ("emergency", "", "Hay un incendio de pastizales cerca de {place}, por favor envíen ayuda urgente"),
            ("complaint", "safety", "Otro robo en {place} anoche, necesitamos más seguridad en el sector"),
            ("spam", "", "¿Quieres ganar $500.000 al mes desde tu casa? Escríbeme al DM 💰 bit.ly/gana{n}"),
        ],
        "nl" => &[
            ("question", "transport", "Wanneer rijdt tram {n} weer normaal langs {place}?"),
            ("complaint", "waste", "Al {n} dagen ligt het afval naast de glasbol aan {place}"),
            (
                "suggestion",
                "",
                "Waarom geen extra fietsenstalling aan {place}? Elke ochtend staan er {n} fietsen tegen de gevel",
            ),
            ("praise", "energy", "Bedankt voor de snelle herstelling van de straatverlichting in {place}!"),
            ("question", "permits", "Waar kan ik een parkeerkaart voor bewoners aanvragen?"),
            ("complaint", "transport", "Bus {n} is alweer niet gekomen aan halte {place}"),
            ("complaint", "safety", "Alweer een inbraak in de buurt van {place}, wanneer komt er meer politie?"),
            ("emergency", "", "Wateroverlast in {place}, de kelder loopt onder en een oudere buurvrouw zit ingesloten"),
            ("spam", "", "Verdien €500 per dag vanuit huis! Stuur me een DM 💰 bit.ly/geld{n}"),
        ],
        "fr" => &[
            ("question", "waste", "Quand la collecte des encombrants passe-t-elle à {place} ?"),
            ("complaint", "roads", "Le trottoir de {place} est impraticable depuis {n} semaines"),
            ("suggestion", "environment", "Il faudrait plus de bancs au parc de {place}"),
            ("praise", "waste", "Merci pour le nettoyage rapide de {place} après le marché !"),
            ("question", "permits", "Comment obtenir un permis de stationnement à {place} ?"),
            ("complaint", "safety", "Encore un vol à {place} hier soir, que fait la police ?"),
            ("emergency", "", "Inondation à {place}, des habitants sont coincés au rez-de-chaussée"),
            ("spam", "", "Gagnez 500 € par jour depuis chez vous ! Écrivez-moi en DM 💰 bit.ly/gain{n}"),
        ],
        "mk" => &[
            ("question", "roads", "Кога ќе се поправи патот во {place}? Веќе {n} месеци е оштетен"),
            ("complaint", "water", "Нема вода во {place} од утрово"),
            ("suggestion", "transport", "Предлагам повеќе автобуски линии до {place}"),
            ("praise", "", "Благодарам за брзата помош во {place}"),
            ("complaint", "safety", "Повторно кражба во {place}, повикавме полиција но никој не дојде"),
            ("emergency", "", "Пожар во близина на {place}, има заглавени луѓе во зградата"),
            ("spam", "", "Заработете 500 евра дневно од дома! Пишете ми во DM 💰 bit.ly/pari{n}"),
        ],
        "ar" => &[
            ("question", "energy", "متى سيتم إصلاح الإنارة في {place}؟"),
            ("complaint", "waste", "تراكم النفايات في {place} منذ {n} أيام"),
            ("suggestion", "roads", "نقترح إضافة مواقف للدراجات في {place}"),
            ("praise", "", "شكراً لفريق البلدية على سرعة الاستجابة في {place}"),
            ("complaint", "safety", "سرقة جديدة في {place}، نطلب حضور الشرطة"),
            ("emergency", "", "حريق في مبنى قرب {place} وهناك أشخاص محاصرون"),
            ("spam", "", "اربح 500 درهم يومياً من المنزل! راسلني 💰 bit.ly/rbh{n}"),
        ],
        _ => &[
            ("question", "transport", "Is the {n} bus running from {place} this evening? The app shows nothing"),
            ("complaint", "transport", "Third day in a row the lift at {place} station is out of order"),
            ("suggestion", "transport", "Could you add more step-free routes around {place}? {n} of us asked already"),
            ("praise", "", "Huge thanks to the staff at {place} who helped my dad today"),
            ("question", "transport", "How do I get a refund for a delayed journey from {place}?"),
            ("complaint", "transport", "Signal failure at {place} again, {n} minutes stuck in the tunnel"),
            ("complaint", "safety", "Another theft at {place} station last night, where are the police?"),
            ("emergency", "", "Smoke and fire near the platform at {place}, people trapped in the last carriage"),
            ("spam", "", "Earn £500 a day from home! DM me 💰 bit.ly/earn{n}"),
        ],
    }
}

fn places(lang: &str) -> &'static [&'static str] {
    match lang {
        "es" => {
            &["Av. Brasil", "calle Condell", "Plaza Sotomayor", "Cerro Alegre", "Gran Vía", "Lavapiés", "Providencia"]
        }
        "nl" => &["Korenmarkt", "Sint-Pietersstation", "Dampoort", "Zuid", "Overpoort"],
        "fr" => &["Ixelles", "Place Flagey", "Schaerbeek", "Gare du Midi"],
        "mk" => &["Карпош", "Центар", "Аеродром", "Битола"],
        "ar" => &["ديرة", "بر دبي", "الكرامة", "جميرا"],
        _ => &["King's Cross", "Brixton", "Stratford", "Victoria", "Canary Wharf"],
    }
}

/// What an institution's staff are called, configure and write, in one language.
struct Words {
    lang: &'static str,
    /// Display name and e-mail local part (the `@name` colleagues mention), in
    /// [`ROSTER`] order for the first institution of the language.
    staff: [(&'static str, &'static str); 7],
    /// Rule names: general inbox, spam, emergencies, transport complaints, acknowledgement.
    rules: [&'static str; 5],
    /// Words that make a post an emergency.
    emergency_keywords: &'static [&'static str],
    emergency_tag: &'static str,
    transport_tag: &'static str,
    /// Canned answers (name, body): acknowledgement ([`ACK`]), asking for details
    /// ([`DETAILS`]), referral, and outcome ([`RESOLVED`]).
    canned: [(&'static str, &'static str); 4],
    /// Agents' answers.
    answers: &'static [&'static str],
    /// Outcomes of resolved cases, each a sentence.
    outcomes: &'static [&'static str],
    /// The satisfaction question.
    satisfaction: &'static str,
    /// Telling the citizen that `{to}` handles the case now.
    referred: &'static str,
    /// Internal notes; `{name}` is a colleague's mention name.
    notes: &'static [&'static str],
    /// Asking the lead, `{name}`, to approve a reply.
    approval: &'static str,
}

const ACK: usize = 0;
const DETAILS: usize = 1;
const RESOLVED: usize = 3;

const SPANISH: Words = Words {
    lang: "es",
    staff: [
        ("Carolina Muñoz", "carolina"),
        ("Rodrigo Soto", "rodrigo"),
        ("Camila Rojas", "camila"),
        ("Matías González", "matias"),
        ("Valentina Díaz", "valentina"),
        ("Felipe Contreras", "felipe"),
        ("Javiera Morales", "javiera"),
    ],
    rules: [
        "Todo entra a la bandeja general",
        "Spam probable: etiquetar y no seguir",
        "Emergencias: urgente al equipo de turno",
        "Reclamos de transporte al equipo de transporte",
        "Acuse de recibo automático en X",
    ],
    emergency_keywords: &[
        "inundación",
        "inundaciones",
        "incendio",
        "incendios",
        "atrapado",
        "atrapada",
        "atrapados",
        "derrumbe",
    ],
    emergency_tag: "emergencia",
    transport_tag: "transporte",
    canned: [
        (
            "Acuse de recibo",
            "Hola {{citizen}}, recibimos tu mensaje y lo registramos como caso {{case}}. Te responderemos a la \
             brevedad. — {{institution}}",
        ),
        (
            "Pedir más datos",
            "Hola {{citizen}}, para avanzar con tu caso {{case}} necesitamos la dirección exacta y, si puedes, una \
             foto. Gracias. — {{agent}}, {{institution}}",
        ),
        (
            "Derivación",
            "Hola {{citizen}}, tu caso {{case}} corresponde a otra institución: se lo derivamos con todos los \
             antecedentes y ellos te responderán. — {{agent}}, {{institution}}",
        ),
        (
            "Caso resuelto",
            "Hola {{citizen}}, tu caso {{case}} está resuelto: {{outcome}} Gracias por avisarnos. — {{agent}}, \
             {{institution}}",
        ),
    ],
    answers: &[
        "Hola {{citizen}}, gracias por escribirnos. Ya informamos al equipo en terreno y te avisaremos aquí cuando \
         tengamos novedades (caso {{case}}). — {{agent}}",
        "Hola {{citizen}}, lamentamos la molestia. Tu reclamo quedó registrado como caso {{case}} y está \
         priorizado. — {{agent}}, {{institution}}",
        "Hola {{citizen}}, revisamos tu mensaje: el equipo visitará el lugar durante la semana. Seguimos el caso \
         {{case}} hasta cerrarlo. — {{agent}}",
    ],
    outcomes: &[
        "El equipo de mantención reparó el problema el día de hoy.",
        "El servicio responsable confirmó el horario y lo publicó en su sitio.",
        "Te enviamos por mensaje privado los horarios de atención y el formulario en línea.",
    ],
    satisfaction: "Hola {{citizen}}, ¿cómo evaluarías la atención de tu caso {{case}}? Responde con un número del 1 \
                   (mala) al 5 (excelente).",
    referred: "Hola {{citizen}}, tu caso {{case}} corresponde a {to}: se lo derivamos con todos los antecedentes y te \
               responderán por este mismo medio. — {{agent}}, {{institution}}",
    notes: &[
        "@{name} ¿puedes confirmarlo con el equipo en terreno antes de responder?",
        "Llamé al vecino; @{name} queda a cargo del seguimiento.",
        "@{name} este caso se repite en el sector, ojo con el plazo.",
    ],
    approval: "@{name} es un tema de seguridad: necesito tu visto bueno antes de enviar la respuesta.",
};

const ENGLISH: Words = Words {
    lang: "en",
    staff: [
        ("Sarah Thompson", "sarah"),
        ("James Patel", "james"),
        ("Emily Clarke", "emily"),
        ("Daniel Okafor", "daniel"),
        ("Priya Shah", "priya"),
        ("Tom Hughes", "tom"),
        ("Grace Evans", "grace"),
    ],
    rules: [
        "Everything to the general inbox",
        "Likely spam: tag and stop",
        "Emergencies: urgent, to the duty team",
        "Transport complaints to the transport team",
        "Automatic acknowledgement on X",
    ],
    emergency_keywords: &["flood", "flooding", "fire", "smoke", "trapped"],
    emergency_tag: "emergency",
    transport_tag: "transport",
    canned: [
        (
            "Acknowledgement",
            "Hi {{citizen}}, we have your message and logged it as case {{case}}. We will get back to you shortly. \
             — {{institution}}",
        ),
        (
            "Ask for details",
            "Hi {{citizen}}, to move case {{case}} forward we need the exact location and, if you can, a photo. \
             Thank you. — {{agent}}, {{institution}}",
        ),
        (
            "Referral",
            "Hi {{citizen}}, case {{case}} is handled by another organisation: we have passed it on with everything \
             you told us and they will reply to you. — {{agent}}, {{institution}}",
        ),
        (
            "Case resolved",
            "Hi {{citizen}}, case {{case}} is resolved: {{outcome}} Thank you for letting us know. — {{agent}}, \
             {{institution}}",
        ),
    ],
    answers: &[
        "Hi {{citizen}}, thanks for getting in touch. We have told the team on site and will update you here \
         (case {{case}}). — {{agent}}",
        "Hi {{citizen}}, sorry about this. Your complaint is logged as case {{case}} and has been prioritised. \
         — {{agent}}, {{institution}}",
        "Hi {{citizen}}, we checked: staff will be there this week. We will follow case {{case}} until it is \
         closed. — {{agent}}",
    ],
    outcomes: &[
        "The maintenance team fixed the fault today.",
        "The service concerned confirmed the timetable and published it online.",
        "We sent you the opening hours and the online form in a private message.",
    ],
    satisfaction: "Hi {{citizen}}, how did we do with case {{case}}? Reply with a number from 1 (poor) to 5 \
                   (excellent).",
    referred: "Hi {{citizen}}, case {{case}} is for {to}: we have passed it on with everything you told us and they \
               will reply here. — {{agent}}, {{institution}}",
    notes: &[
        "@{name} can you check with the team on site before we reply?",
        "Called the passenger back; @{name} will follow this up.",
        "@{name} this keeps coming up at the same place, watch the deadline.",
    ],
    approval: "@{name} this is a safety matter: please approve the reply before it goes out.",
};

const DUTCH: Words = Words {
    lang: "nl",
    staff: [
        ("Els Peeters", "els"),
        ("Tom Janssens", "tom"),
        ("Lotte Maes", "lotte"),
        ("Pieter Claes", "pieter"),
        ("Sofie Wouters", "sofie"),
        ("Bram De Smet", "bram"),
        ("Ine Willems", "ine"),
    ],
    rules: [
        "Alles naar de algemene inbox",
        "Waarschijnlijk spam: taggen en stoppen",
        "Noodgevallen: dringend naar de wachtdienst",
        "Klachten over vervoer naar het mobiliteitsteam",
        "Automatische ontvangstbevestiging op X",
    ],
    emergency_keywords: &["overstroming", "wateroverlast", "brand", "ingesloten", "opgesloten"],
    emergency_tag: "noodgeval",
    transport_tag: "vervoer",
    canned: [
        (
            "Ontvangstbevestiging",
            "Dag {{citizen}}, we hebben je bericht goed ontvangen en geregistreerd als dossier {{case}}. We \
             antwoorden zo snel mogelijk. — {{institution}}",
        ),
        (
            "Meer informatie vragen",
            "Dag {{citizen}}, om dossier {{case}} verder te behandelen hebben we het exacte adres nodig en, als het \
             kan, een foto. Bedankt! — {{agent}}, {{institution}}",
        ),
        (
            "Doorverwijzing",
            "Dag {{citizen}}, dossier {{case}} hoort bij een andere organisatie: we hebben het met alle gegevens \
             doorgestuurd en zij antwoorden je. — {{agent}}, {{institution}}",
        ),
        (
            "Dossier afgerond",
            "Dag {{citizen}}, dossier {{case}} is afgerond: {{outcome}} Bedankt voor je melding. — {{agent}}, \
             {{institution}}",
        ),
    ],
    answers: &[
        "Dag {{citizen}}, bedankt voor je bericht. We hebben de ploeg ter plaatse verwittigd en houden je hier op \
         de hoogte (dossier {{case}}). — {{agent}}",
        "Dag {{citizen}}, sorry voor het ongemak. Je klacht is geregistreerd als dossier {{case}} en krijgt \
         voorrang. — {{agent}}, {{institution}}",
        "Dag {{citizen}}, we hebben het nagekeken: een ploeg komt deze week langs. We volgen dossier {{case}} op \
         tot het afgerond is. — {{agent}}",
    ],
    outcomes: &[
        "De onderhoudsploeg heeft het probleem vandaag hersteld.",
        "De bevoegde dienst heeft de dienstregeling bevestigd en online gezet.",
        "We hebben je de openingsuren en het online formulier in een privébericht gestuurd.",
    ],
    satisfaction: "Dag {{citizen}}, hoe tevreden ben je over de behandeling van dossier {{case}}? Antwoord met een \
                   cijfer van 1 (slecht) tot 5 (uitstekend).",
    referred: "Dag {{citizen}}, dossier {{case}} hoort bij {to}: we hebben het met alle gegevens doorgestuurd en zij \
               antwoorden je hier. — {{agent}}, {{institution}}",
    notes: &[
        "@{name} kun je dit eerst nagaan bij de ploeg ter plaatse?",
        "Melder teruggebeld; @{name} volgt dit verder op.",
        "@{name} dit komt vaker voor op deze plek, let op de termijn.",
    ],
    approval: "@{name} dit gaat over veiligheid: graag je akkoord voor het antwoord vertrekt.",
};

const FRENCH: Words = Words {
    lang: "fr",
    staff: [
        ("Sophie Dubois", "sophie"),
        ("Julien Lambert", "julien"),
        ("Camille Martin", "camille"),
        ("Nicolas Dupont", "nicolas"),
        ("Émilie Leroy", "emilie"),
        ("Antoine Simon", "antoine"),
        ("Claire Laurent", "claire"),
    ],
    rules: [
        "Tout vers la boîte générale",
        "Spam probable : étiqueter et arrêter",
        "Urgences : priorité urgente à l'équipe de garde",
        "Plaintes transport vers l'équipe mobilité",
        "Accusé de réception automatique sur X",
    ],
    emergency_keywords: &["inondation", "incendie", "feu", "coincé", "coincée", "coincés"],
    emergency_tag: "urgence",
    transport_tag: "transport",
    canned: [
        (
            "Accusé de réception",
            "Bonjour {{citizen}}, nous avons bien reçu votre message, enregistré sous le dossier {{case}}. Nous vous \
             répondrons rapidement. — {{institution}}",
        ),
        (
            "Demander des précisions",
            "Bonjour {{citizen}}, pour traiter le dossier {{case}}, il nous faut l'adresse exacte et, si possible, \
             une photo. Merci ! — {{agent}}, {{institution}}",
        ),
        (
            "Réorientation",
            "Bonjour {{citizen}}, le dossier {{case}} relève d'un autre organisme : nous le lui avons transmis avec \
             tous les éléments et il vous répondra. — {{agent}}, {{institution}}",
        ),
        (
            "Dossier résolu",
            "Bonjour {{citizen}}, le dossier {{case}} est résolu : {{outcome}} Merci de nous l'avoir signalé. — \
             {{agent}}, {{institution}}",
        ),
    ],
    answers: &[
        "Bonjour {{citizen}}, merci pour votre message. L'équipe sur le terrain est prévenue et nous vous \
         tiendrons informé ici (dossier {{case}}). — {{agent}}",
        "Bonjour {{citizen}}, désolés pour la gêne. Votre plainte est enregistrée sous le dossier {{case}} et \
         traitée en priorité. — {{agent}}, {{institution}}",
        "Bonjour {{citizen}}, vérification faite : une équipe passera cette semaine. Nous suivons le dossier \
         {{case}} jusqu'à sa clôture. — {{agent}}",
    ],
    outcomes: &[
        "L'équipe d'entretien a réparé le problème aujourd'hui.",
        "Le service compétent a confirmé l'horaire et l'a publié en ligne.",
        "Nous vous avons envoyé les heures d'ouverture et le formulaire en ligne en message privé.",
    ],
    satisfaction: "Bonjour {{citizen}}, êtes-vous satisfait du traitement du dossier {{case}} ? Répondez par un \
                   chiffre de 1 (mauvais) à 5 (excellent).",
    referred: "Bonjour {{citizen}}, le dossier {{case}} relève de {to} : nous le lui avons transmis avec tous les \
               éléments et il vous répondra ici. — {{agent}}, {{institution}}",
    notes: &[
        "@{name} peux-tu vérifier avec l'équipe sur le terrain avant de répondre ?",
        "J'ai rappelé l'habitant ; @{name} assure le suivi.",
        "@{name} ça revient souvent à cet endroit, attention au délai.",
    ],
    approval: "@{name} c'est une question de sécurité : merci de valider la réponse avant l'envoi.",
};

const MACEDONIAN: Words = Words {
    lang: "mk",
    staff: [
        ("Елена Стојанова", "elena"),
        ("Марко Петровски", "marko"),
        ("Ана Николовска", "ana"),
        ("Стефан Трајковски", "stefan"),
        ("Ивана Јовановска", "ivana"),
        ("Горан Илиевски", "goran"),
        ("Марија Димитрова", "marija"),
    ],
    rules: [
        "Сè во општото сандаче",
        "Веројатен спам: означи и запри",
        "Итни случаи: итно до дежурниот тим",
        "Поплаки за превоз до тимот за превоз",
        "Автоматска потврда за прием на X",
    ],
    emergency_keywords: &["пожар", "поплава", "заглавен", "заглавени", "заробени"],
    emergency_tag: "итно",
    transport_tag: "превоз",
    canned: [
        (
            "Потврда за прием",
            "Здраво {{citizen}}, ја примивме вашата порака и ја евидентиравме како предмет {{case}}. Ќе ви одговориме \
             наскоро. — {{institution}}",
        ),
        (
            "Барање дополнителни податоци",
            "Здраво {{citizen}}, за да продолжиме со предметот {{case}} ни треба точната адреса и, ако може, \
             фотографија. Ви благодариме. — {{agent}}, {{institution}}",
        ),
        (
            "Препраќање",
            "Здраво {{citizen}}, предметот {{case}} е во надлежност на друга институција: го препративме со сите \
             податоци и тие ќе ви одговорат. — {{agent}}, {{institution}}",
        ),
        (
            "Решен предмет",
            "Здраво {{citizen}}, предметот {{case}} е решен: {{outcome}} Ви благодариме што не известивте. — \
             {{agent}}, {{institution}}",
        ),
    ],
    answers: &[
        "Здраво {{citizen}}, ви благодариме за пораката. Го известивме тимот на терен и ќе ве информираме тука \
         (предмет {{case}}). — {{agent}}",
        "Здраво {{citizen}}, се извинуваме за непријатноста. Вашата поплака е евидентирана како предмет {{case}} \
         и има приоритет. — {{agent}}, {{institution}}",
        "Здраво {{citizen}}, проверивме: екипа ќе излезе на терен оваа недела. Го следиме предметот {{case}} до \
         крај. — {{agent}}",
    ],
    outcomes: &[
        "Екипата за одржување го отстрани проблемот денес.",
        "Надлежната служба го потврди распоредот и го објави на интернет.",
        "Ви го испративме работното време и електронскиот формулар во приватна порака.",
    ],
    satisfaction: "Здраво {{citizen}}, колку сте задоволни од постапувањето по предметот {{case}}? Одговорете со \
                   број од 1 (лошо) до 5 (одлично).",
    referred: "Здраво {{citizen}}, предметот {{case}} е во надлежност на {to}: го препративме со сите податоци и ќе \
               ви одговорат тука. — {{agent}}, {{institution}}",
    notes: &[
        "@{name} можеш ли да провериш со екипата на терен пред да одговориме?",
        "Го повикав граѓанинот; @{name} го презема следењето.",
        "@{name} ова се повторува на истото место, внимавај на рокот.",
    ],
    approval: "@{name} ова е безбедносно прашање: потребно е твое одобрение пред да се испрати одговорот.",
};

const ARABIC: Words = Words {
    lang: "ar",
    staff: [
        ("فاطمة الهاشمي", "fatima"),
        ("أحمد المنصوري", "ahmed"),
        ("مريم الشامسي", "mariam"),
        ("خالد الفلاسي", "khalid"),
        ("نورة الكعبي", "noura"),
        ("سعيد النعيمي", "saeed"),
        ("عائشة المهيري", "aisha"),
    ],
    rules: [
        "كل الرسائل إلى الصندوق العام",
        "رسائل مزعجة محتملة: وسم وإيقاف",
        "الطوارئ: أولوية عاجلة لفريق المناوبة",
        "شكاوى النقل إلى فريق النقل",
        "إشعار استلام تلقائي على X",
    ],
    emergency_keywords: &["حريق", "فيضان", "محاصر", "محاصرون", "عالق"],
    emergency_tag: "طوارئ",
    transport_tag: "نقل",
    canned: [
        (
            "إشعار استلام",
            "مرحباً {{citizen}}، استلمنا رسالتك وسجلناها برقم الحالة {{case}}. سنرد عليك قريباً. — {{institution}}",
        ),
        (
            "طلب معلومات إضافية",
            "مرحباً {{citizen}}، لمتابعة الحالة {{case}} نحتاج إلى العنوان الدقيق وصورة إن أمكن. شكراً لك. — \
             {{agent}}، {{institution}}",
        ),
        (
            "إحالة",
            "مرحباً {{citizen}}، الحالة {{case}} من اختصاص جهة أخرى: أحلناها إليها مع كل التفاصيل وسترد عليك. — \
             {{agent}}، {{institution}}",
        ),
        (
            "تم حل الحالة",
            "مرحباً {{citizen}}، تم حل الحالة {{case}}: {{outcome}} شكراً لإبلاغنا. — {{agent}}، {{institution}}",
        ),
    ],
    answers: &[
        "مرحباً {{citizen}}، شكراً لتواصلك معنا. أبلغنا الفريق الميداني وسنوافيك بالمستجدات هنا (الحالة {{case}}). — \
         {{agent}}",
        "مرحباً {{citizen}}، نعتذر عن الإزعاج. سُجلت شكواك برقم الحالة {{case}} ولها أولوية. — {{agent}}، \
         {{institution}}",
        "مرحباً {{citizen}}، تحققنا من الأمر: سيزور الفريق الموقع هذا الأسبوع، وسنتابع الحالة {{case}} حتى إغلاقها. — \
         {{agent}}",
    ],
    outcomes: &[
        "أصلح فريق الصيانة المشكلة اليوم.",
        "أكدت الجهة المختصة المواعيد ونشرتها على موقعها.",
        "أرسلنا إليك ساعات العمل ورابط النموذج الإلكتروني في رسالة خاصة.",
    ],
    satisfaction: "مرحباً {{citizen}}، ما مدى رضاك عن معالجة الحالة {{case}}؟ أجب برقم من 1 (سيئ) إلى 5 (ممتاز).",
    referred: "مرحباً {{citizen}}، الحالة {{case}} من اختصاص {to}: أحلناها مع كل التفاصيل وسيردون عليك هنا. — \
               {{agent}}، {{institution}}",
    notes: &[
        "@{name} هل يمكنك التأكد مع الفريق الميداني قبل الرد؟",
        "اتصلت بالمتعامل؛ @{name} سيتابع الحالة.",
        "@{name} تتكرر هذه المشكلة في الموقع نفسه، انتبه للمهلة.",
    ],
    approval: "@{name} هذه مسألة أمنية: أرجو الموافقة على الرد قبل إرساله.",
};

fn words(lang: &str) -> &'static Words {
    match lang {
        "es" => &SPANISH,
        "nl" => &DUTCH,
        "fr" => &FRENCH,
        "mk" => &MACEDONIAN,
        "ar" => &ARABIC,
        _ => &ENGLISH,
    }
}

/// Where an institution's office is and when it is closed.
struct Office {
    country: &'static str,
    timezone: &'static str,
    /// Weekday opening and closing times of a government office.
    hours: ((u32, u32), (u32, u32)),
    /// The country's 2026 public holidays (a Sunday holiday is listed on the Monday
    /// it moves to where the country moves it).
    holidays: &'static [&'static str],
}

const OFFICES: &[Office] = &[
    Office {
        country: "CL",
        timezone: "America/Santiago",
        hours: ((8, 30), (17, 30)),
        holidays: &[
            "2026-01-01",
            "2026-04-03",
            "2026-04-04",
            "2026-05-01",
            "2026-05-21",
            "2026-06-29",
            "2026-07-16",
            "2026-08-15",
            "2026-09-18",
            "2026-09-19",
            "2026-10-12",
            "2026-12-08",
            "2026-12-25",
        ],
    },
    Office {
        country: "ES",
        timezone: "Europe/Madrid",
        hours: ((9, 0), (17, 0)),
        holidays: &[
            "2026-01-01",
            "2026-01-06",
            "2026-04-02",
            "2026-04-03",
            "2026-05-01",
            "2026-08-15",
            "2026-10-12",
            "2026-12-08",
            "2026-12-25",
        ],
    },
    Office {
        country: "BE",
        timezone: "Europe/Brussels",
        hours: ((8, 30), (16, 30)),
        holidays: &[
            "2026-01-01",
            "2026-04-06",
            "2026-05-01",
            "2026-05-14",
            "2026-05-25",
            "2026-07-21",
            "2026-08-15",
            "2026-11-11",
            "2026-12-25",
        ],
    },
    Office {
        country: "MK",
        timezone: "Europe/Skopje",
        hours: ((8, 0), (16, 0)),
        holidays: &[
            "2026-01-01",
            "2026-01-07",
            "2026-03-20",
            "2026-04-13",
            "2026-05-01",
            "2026-05-25",
            "2026-08-03",
            "2026-09-08",
            "2026-10-12",
            "2026-10-23",
            "2026-12-08",
        ],
    },
    // The Islamic holidays follow the moon: these are the expected dates.
    Office {
        country: "AE",
        timezone: "Asia/Dubai",
        hours: ((7, 30), (15, 30)),
        holidays: &["2026-01-01", "2026-03-20", "2026-05-26", "2026-05-27", "2026-12-02", "2026-12-03"],
    },
    Office {
        country: "GB",
        timezone: "Europe/London",
        hours: ((9, 0), (17, 0)),
        holidays: &[
            "2026-01-01",
            "2026-04-03",
            "2026-04-06",
            "2026-05-04",
            "2026-05-25",
            "2026-08-31",
            "2026-12-25",
            "2026-12-28",
        ],
    },
];

/// The office calendar of an institution: weekdays for a government body; every day
/// from 07:00 to 22:00 for a public company's customer service. Both close on the
/// country's public holidays.
fn office_calendar(demo: &DemoInstitution) -> anyhow::Result<BusinessCalendar> {
    let office = OFFICES.iter().find(|o| o.country == demo.country).context("every demo country has an office")?;
    let time = |(h, m): (u32, u32)| NaiveTime::from_hms_opt(h, m, 0).context("office hours");
    let (open, close) = match demo.kind {
        InstitutionKind::Government => (time(office.hours.0)?, time(office.hours.1)?),
        InstitutionKind::PublicCompany => (time((7, 0))?, time((22, 0))?),
    };
    let timezone = office.timezone.parse().map_err(|_| anyhow!("unknown time zone {}", office.timezone))?;
    let weekdays = BusinessCalendar::office(timezone, open, close)?;
    let hours = match demo.kind {
        InstitutionKind::Government => *weekdays.hours(),
        InstitutionKind::PublicCompany => [Some((open, close)); 7],
    };
    let holidays = office.holidays.iter().map(|d| d.parse::<NaiveDate>()).collect::<Result<BTreeSet<_>, _>>()?;
    Ok(BusinessCalendar::new(weekdays.timezone(), hours, holidays)?)
}

/// The open hours of one business day of `calendar` (its first open day's).
fn business_day(calendar: &BusinessCalendar) -> Duration {
    calendar.hours().iter().flatten().next().map_or(Duration::hours(8), |&(open, close)| {
        if close == NaiveTime::MIN { Duration::days(1) - (open - NaiveTime::MIN) } else { close - open }
    })
}

/// The deadlines of every priority, in business time; X, where a slow answer is
/// public, is stricter.
fn deadline_policies(day: Duration) -> Vec<DeadlinePolicy> {
    let policy = |priority, platform, first_response, resolution| DeadlinePolicy {
        priority,
        platform,
        first_response,
        resolution,
    };
    vec![
        policy(Priority::Urgent, None, Duration::hours(1), Duration::hours(8)),
        policy(Priority::High, None, Duration::hours(4), day * 2),
        policy(Priority::Normal, None, day, day * 5),
        policy(Priority::Low, None, day * 3, day * 10),
        policy(Priority::High, Some(X), Duration::hours(2), day),
        policy(Priority::Normal, Some(X), Duration::hours(4), day * 3),
    ]
}

/// An institution's routing rules, in its language: everything to the first team;
/// spam tagged and left alone; emergencies urgent to the duty team; transport
/// complaints to the transport team; questions on X acknowledged at once.
fn routing_rules(demo: &DemoInstitution, words: &Words, teams: &[Team], acknowledgement: i64) -> Vec<Rule> {
    let rule = |position: i32, name: &str, conditions, actions, stop| Rule {
        id: 0,
        name: name.into(),
        position,
        enabled: true,
        conditions,
        actions,
        stop,
    };
    let team = |i: usize| RuleAction::AssignTeam { team: teams[i % teams.len()].id };
    let tag = |tag: &str| RuleAction::Tag { tag: tag.into() };
    let mut rules = vec![
        rule(10, words.rules[0], Vec::new(), vec![team(0)], false),
        rule(
            20,
            words.rules[1],
            vec![Condition::Spam { at_least: 0.8 }],
            vec![tag("spam"), RuleAction::SetPriority { priority: Priority::Low }],
            true,
        ),
        rule(
            30,
            words.rules[2],
            vec![Condition::Keywords { any_of: words.emergency_keywords.iter().map(|k| (*k).into()).collect() }],
            vec![
                RuleAction::SetPriority { priority: Priority::Urgent },
                tag(words.emergency_tag),
                team(demo.emergency_team),
            ],
            true,
        ),
    ];
    if let Some(transport) = demo.transport_team {
        rules.push(rule(
            40,
            words.rules[3],
            vec![
                Condition::Intent { any_of: vec!["complaint".into()] },
                Condition::Topic { any_of: vec!["transport".into()] },
            ],
            vec![team(transport), tag(words.transport_tag)],
            false,
        ));
    }
    rules.push(rule(
        50,
        words.rules[4],
        vec![Condition::Platform { any_of: vec![X] }, Condition::Intent { any_of: vec!["question".into()] }],
        vec![RuleAction::Acknowledge { canned_answer: acknowledgement }],
        false,
    ));
    rules
}

/// A password for every demo user of one database: 20 characters from an alphabet
/// without look-alikes, from the operating system's generator (never the seed, which
/// everyone has).
fn demo_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let group = |rng: &mut rand::rngs::ThreadRng| -> String {
        (0..5).map(|_| char::from(*ALPHABET.choose(rng).unwrap_or(&b'x'))).collect()
    };
    [group(&mut rng), group(&mut rng), group(&mut rng), group(&mut rng)].join("-")
}

fn author(rng: &mut StdRng, platform: Platform) -> NewContact {
    let n: u32 = rng.random_range(1..600);
    let handle = match platform {
        Mastodon => format!("@vecino{n}@mastodon.social"),
        Bluesky => format!("vecino{n}.bsky.social"),
        Facebook => format!("Vecino {n}"),
        _ => format!("@vecino{n}"),
    };
    NewContact { external_id: format!("{platform}-user-{n}"), handle, display_name: Some(format!("Vecino {n}")) }
}

/// One demo institution once stored, with its staff and inbox configuration.
struct Setup {
    demo: &'static DemoInstitution,
    words: &'static Words,
    id: InstitutionId,
    /// In [`ROSTER`] order.
    staff: Vec<User>,
    accounts: Vec<Account>,
    inbox: InboxSetup,
}

/// How an institution runs its inbox.
struct InboxSetup {
    settings: InboxSettings,
    policies: Vec<DeadlinePolicy>,
    canned: Vec<CannedAnswer>,
    rules: Vec<Rule>,
}

impl Setup {
    fn lead(&self) -> &User {
        &self.staff[1]
    }

    /// An available agent of `team` when it has some, else any available agent.
    fn agent(&self, rng: &mut StdRng, team: Option<TeamId>) -> &User {
        let agents: Vec<&User> = self.staff.iter().filter(|u| u.role == Role::Agent && u.available).collect();
        let of_team: Vec<&User> = agents.iter().copied().filter(|a| team.is_some() && a.team_id == team).collect();
        of_team.choose(rng).or_else(|| agents.choose(rng)).copied().unwrap_or(self.lead())
    }

    /// The account it answers from on `platform`: `preferred` (the one the citizen
    /// wrote to) if it is its own, else its first there.
    fn account_on(&self, platform: Platform, preferred: Option<AccountId>) -> Option<AccountId> {
        let mut own = self.accounts.iter().filter(|a| a.platform == platform);
        let first = own.clone().next();
        own.find(|a| Some(a.id) == preferred).or(first).map(|a| a.id)
    }

    /// The colleagues a note mentions, by the name before the `@` of their e-mail.
    fn mentions(&self, body: &str) -> Vec<UserId> {
        let names = mentioned_names(body);
        self.staff.iter().filter(|u| names.iter().any(|n| Some(n.as_str()) == mention_name(u))).map(|u| u.id).collect()
    }
}

fn mention_name(user: &User) -> Option<&str> {
    user.email.split_once('@').map(|(name, _)| name)
}

/// Stores an institution's inbox configuration: calendar and settings, deadline
/// policies, canned answers (its language, Spanish, English and any second one) and
/// routing rules, each validated as the API would.
async fn configure_inbox(
    db: &Db,
    institution: InstitutionId,
    demo: &DemoInstitution,
    teams: &[Team],
    actor: &Actor,
) -> anyhow::Result<InboxSetup> {
    let own = words(demo.lang);
    let calendar = office_calendar(demo)?;
    let policies = deadline_policies(business_day(&calendar));
    let settings = InboxSettings {
        calendar,
        satisfaction_delay_secs: Some(3600),
        approval_topics: vec!["safety".into()],
        approval_roles: Vec::new(),
    };
    db.set_inbox_settings(institution, &settings, actor).await?;
    db.set_deadline_policies(institution, &policies, actor).await?;

    let mut langs = vec![demo.lang];
    for lang in demo.second_lang.into_iter().chain(["es", "en"]) {
        if !langs.contains(&lang) {
            langs.push(lang);
        }
    }
    let mut canned = Vec::new();
    for lang in langs {
        for (i, (name, _)) in own.canned.iter().enumerate() {
            let answer =
                CannedAnswer { id: 0, name: (*name).into(), lang: lang.into(), body: words(lang).canned[i].1.into() };
            answer.validate()?;
            canned.push(db.create_canned_answer(institution, &answer, actor).await?);
        }
    }
    let acknowledgement = canned
        .iter()
        .find(|a| a.lang == own.lang && a.name == own.canned[ACK].0)
        .context("the acknowledgement was just stored")?
        .id;
    let mut rules = Vec::new();
    for rule in routing_rules(demo, own, teams, acknowledgement) {
        rule.validate()?;
        rules.push(db.save_rule(institution, &rule, actor).await?);
    }
    Ok(InboxSetup { settings, policies, canned, rules })
}

/// Loads the demo data set. Meant for an empty database; the caller checks.
pub async fn load(db: &Db, size: DemoSize) -> anyhow::Result<DemoSummary> {
    let actor = Actor::System("demo".into());
    let mut rng = StdRng::seed_from_u64(2010);
    let now = Utc::now();
    let mut summary = DemoSummary::default();
    let password = demo_password();
    // Argon2 is slow on purpose: one hash serves every demo user.
    let password_hash = crate::admin::hash_password(&password)?;
    let mut setups: Vec<Setup> = Vec::new();

    for (index, demo) in INSTITUTIONS.iter().enumerate() {
        let parent = match demo.parent {
            Some(slug) => Some(db.institution_by_slug(slug).await?.context("demo parent comes first")?.id),
            None => None,
        };
        let new = NewInstitution {
            slug: demo.slug.into(),
            name: demo.name.into(),
            kind: demo.kind,
            level: demo.level,
            country: CountryCode::parse(demo.country)?,
            parent,
            jurisdiction: Some(demo.jurisdiction.into()),
        };
        let institution = db.create_institution(&new, &actor).await?;
        let mut teams = Vec::new();
        for name in demo.teams {
            teams.push(db.create_team(institution.id, name, &actor).await?);
        }
        let words = words(demo.lang);
        let mut staff: Vec<User> = Vec::new();
        // Institutions that share a language do not share people: each takes the names
        // one step further along.
        let turn = INSTITUTIONS[..index].iter().filter(|d| d.lang == demo.lang).count();
        for (i, role) in ROSTER.into_iter().enumerate() {
            let (name, login) = words.staff[(i + turn) % words.staff.len()];
            let team_id = match role {
                Role::Lead => Some(teams[0].id),
                Role::Agent => Some(teams[i % teams.len()].id),
                _ => None,
            };
            let user = NewUser {
                institution_id: institution.id,
                email: format!("{login}@{}.demo.invalid", demo.slug),
                name: name.into(),
                role,
                team_id,
                password_hash: Some(password_hash.clone()),
            };
            let mut user = db.create_user(&user, &actor).await?;
            if role == Role::Agent {
                let (available, cap) = *AGENT_LOADS.get(i.saturating_sub(2)).context("ROSTER has three agents")?;
                let change =
                    UserChange { available: Some(available), max_open_cases: Some(cap), ..UserChange::default() };
                user = db.update_user(user.id, institution.id, &change, &actor).await?;
            }
            let first_agent = role == Role::Agent && staff.iter().all(|u| u.role != Role::Agent);
            if demo.slug == SHOWCASE || first_agent {
                summary.sign_ins.push(SignIn {
                    role,
                    institution: (demo.slug != SHOWCASE).then_some(demo.name),
                    email: user.email.clone(),
                    password: password.clone(),
                });
            }
            staff.push(user);
        }
        let mut accounts = Vec::new();
        for (platform, handle, display_name, office, followers) in demo.accounts {
            let new = NewAccount {
                institution_id: institution.id,
                platform: *platform,
                handle: (*handle).into(),
                display_name: (*display_name).into(),
                external_id: None,
                official: (!office.is_empty()).then(|| (*office).into()),
            };
            let account = db.create_account(&new, &actor).await?;
            summary.snapshots +=
                db.record_metrics(&follower_history(&mut rng, &account, *followers, size.weeks, now)).await?;
            accounts.push(account);
        }
        let inbox = configure_inbox(db, institution.id, demo, &teams, &actor).await?;
        summary.institutions += 1;
        summary.accounts += accounts.len();
        summary.users += staff.len();
        summary.rules += inbox.rules.len();
        summary.policies += inbox.policies.len();
        summary.canned += inbox.canned.len();
        setups.push(Setup { demo, words, id: institution.id, staff, accounts, inbox });
    }

    // Posts: spread over the institutions, the last 60 days, with threads.
    let mut batch = Vec::new();
    let mut written: Vec<Written> = Vec::new();
    for i in 0..size.posts {
        let which = rng.random_range(0..setups.len());
        let setup = &setups[which];
        let account = setup.accounts.choose(&mut rng).context("every demo institution has accounts")?;
        let (label, topic, template) = *templates(setup.demo.lang).choose(&mut rng).context("templates")?;
        let text = template
            .replace("{n}", &rng.random_range(2..120).to_string())
            .replace("{place}", places(setup.demo.lang).choose(&mut rng).unwrap_or(&"centro"));
        let created_at = now - Duration::minutes(rng.random_range(0..60 * 24 * 60));
        let external_id = format!("demo-{}-{i}", account.platform);
        let reply_to = written
            .iter()
            .rev()
            .take(40)
            .find(|w| w.which == which && w.post.platform == account.platform && rng.random_bool(0.15))
            .map(|w| w.post.external_id.clone());
        let post = NewPost {
            platform: account.platform,
            external_id: external_id.clone(),
            account_id: Some(account.id),
            author: Some(author(&mut rng, account.platform)),
            text: text.clone(),
            lang_hint: Some(setup.demo.lang.into()),
            created_at,
            edited_at: None,
            conversation: Some(reply_to.clone().unwrap_or_else(|| external_id.clone())),
            reply_to,
            metrics: PostMetrics {
                likes: rng.random_range(0..40),
                reposts: rng.random_range(0..8),
                replies: 0,
                quotes: 0,
            },
            entities: PostEntities {
                mentions: vec![account.handle.trim_start_matches('@').to_owned()],
                ..PostEntities::default()
            },
            raw: Vec::new(),
        };
        let post = NewPost { raw: raw_payload(&post), ..post };
        batch.push(post.clone());
        written.push(Written { which, post, label, topic });
        if batch.len() == 500 {
            summary.posts += count_inserted(&db.ingest_posts(&batch).await?);
            batch.clear();
        }
    }
    summary.posts += count_inserted(&db.ingest_posts(&batch).await?);

    // A few authors edit their posts; a few delete them.
    for Written { post, .. } in written.iter().step_by(47) {
        let edited = NewPost {
            text: format!("{} (edit: still happening)", post.text),
            edited_at: Some(post.created_at + Duration::minutes(12)),
            ..post.clone()
        };
        let edited = NewPost { raw: raw_payload(&edited), ..edited };
        if matches!(db.ingest_post(&edited).await?, IngestOutcome::Edited(..)) {
            summary.edits += 1;
        }
    }
    for Written { post, .. } in written.iter().skip(13).step_by(97) {
        let raw = json!({ "demo": true, "event": "delete", "id": post.external_id }).to_string();
        let (_, changed) = db
            .tombstone_post(post.platform, &post.external_id, post.created_at + Duration::hours(2), raw.as_bytes())
            .await?;
        summary.deletions += usize::from(changed);
    }

    // Cases from what asks for an answer, routed by the institution's rules, with
    // deadlines from its policies and calendar, at every stage of their life.
    let mut tallies: Vec<Tally> = setups.iter().map(|_| Tally::default()).collect();
    let mut counts = InboxCounts::default();
    let answerable = |w: &&Written| matches!(w.label, "question" | "complaint" | "emergency" | "spam");
    for w in written.iter().filter(answerable).step_by(3) {
        let setup = &setups[w.which];
        let post = &w.post;
        let Some(stored) = db.post_by_external_id(post.platform, &post.external_id).await? else { continue };
        let spam = w.label == "spam";
        let intent = match w.label {
            "spam" => "question",
            "emergency" => "complaint",
            label => label,
        };
        let urgency = if w.label == "emergency" { 0.9 } else { 0.1 };
        let topics: Vec<String> = [w.topic].into_iter().filter(|t| !t.is_empty()).map(String::from).collect();
        let contact = post.author.as_ref();
        let arrival = Arrival {
            platform: post.platform,
            account: stored.account_id,
            lang: Some(setup.demo.lang),
            intent,
            topics: &topics,
            urgency,
            spam: if spam { 0.95 } else { 0.05 },
            text: &post.text,
            author: contact.map_or("", |c| c.handle.as_str()),
        };
        let decision = evaluate(&setup.inbox.rules, &arrival);
        let priority = decision.priority.unwrap_or_else(|| default_priority(intent, urgency));
        let policy = policy_for(&setup.inbox.policies, priority, post.platform);
        let due = deadlines(&setup.inbox.settings.calendar, policy, post.created_at);
        let new = NewCase {
            institution_id: setup.id,
            contact_id: stored.contact_id,
            subject: post.text.chars().take(90).collect(),
            priority,
            team_id: decision.team,
            assignee: decision.agent,
            platform: Some(post.platform),
            tags: decision.tags.clone(),
            first_response_due: due.first_response_due,
            resolution_due: due.resolution_due,
            post_ids: vec![stored.id],
        };
        let case = db.create_case(&new, &actor).await?;
        summary.cases += 1;
        let citizen = contact.map_or_else(String::new, |c| c.display_name.clone().unwrap_or_else(|| c.handle.clone()));
        let mut play = Play {
            db,
            case,
            post: stored.id,
            platform: post.platform,
            account: stored.account_id,
            citizen,
            topics,
            at: post.created_at,
            now,
            replies: 0,
            counts: &mut counts,
        };
        if let Some(answer) = decision.acknowledge.and_then(|id| setup.inbox.canned.iter().find(|a| a.id == id)) {
            play.tell(setup, ReplyKind::Acknowledgement, None, &answer.body, None).await?;
        }

        let tally = &mut tallies[w.which];
        let partner = setup
            .demo
            .refers
            .filter(|(_, topic, _)| *topic == w.topic)
            .and_then(|(slug, ..)| setups.iter().position(|s| s.demo.slug == slug));
        let fate = if spam {
            if rng.random_bool(0.8) { Fate::Closed(CloseReason::Spam) } else { Fate::New }
        } else if let Some(to) = partner
            && take_turn(&mut tally.referable, 2)
        {
            Fate::Referred(to)
        } else if w.topic == "safety" && take_turn(&mut tally.safety, 3) {
            Fate::AwaitingApproval
        } else if let Some(fate) = FIRST_FATES.get(tally.cases) {
            tally.cases += 1;
            *fate
        } else {
            fate_by_age(&mut rng, now - post.created_at)
        };
        play.live(fate, setup, &setups, &mut tallies, &mut rng).await?;
    }

    // The demo played the outbox worker: nothing it delivered or gave up on is left
    // for the real one, which has no credentials for demo accounts.
    loop {
        let lease = std::time::Duration::from_secs(60);
        let jobs = db.claim_jobs("demo", &[SEND_REPLY_JOB], lease, Utc::now(), 500).await?;
        if jobs.is_empty() {
            break;
        }
        db.complete_jobs(&jobs.iter().map(|j| j.id).collect::<Vec<_>>(), "demo").await?;
    }
    summary.breaches = db.flag_breaches(Utc::now()).await?.len();
    for setup in &setups {
        for (status, n) in db.case_counts(setup.id).await? {
            *summary.statuses.entry(status).or_default() += n;
        }
    }
    summary.inbox = counts;
    Ok(summary)
}

/// A citizen post as generated, with what the demo meant it to be.
struct Written {
    /// Index of its institution.
    which: usize,
    post: NewPost,
    /// Intent, or `emergency` or `spam`.
    label: &'static str,
    /// Topic key, or empty.
    topic: &'static str,
}

/// Where a demo case ends up.
#[derive(Debug, Clone, Copy)]
enum Fate {
    /// Nobody looked at it yet.
    New,
    /// Assigned, not answered.
    Open,
    /// Answered, waiting for the citizen.
    Pending,
    /// Answered and resolved, the citizen told the outcome and asked to rate it.
    Resolved,
    /// Resolved, then closed.
    ResolvedThenClosed,
    /// Closed without an answer, for a reason.
    Closed(CloseReason),
    /// The answer could not be delivered.
    FailedReply,
    /// The answer waits for the lead's approval.
    AwaitingApproval,
    /// Handed to the institution at this index.
    Referred(usize),
}

/// The first cases of each institution go through these, so every inbox shows every
/// state; later ones follow their age.
const FIRST_FATES: [Fate; 10] = [
    Fate::Pending,
    Fate::Resolved,
    Fate::New,
    Fate::ResolvedThenClosed,
    Fate::Open,
    Fate::Closed(CloseReason::AnsweredElsewhere),
    Fate::Closed(CloseReason::Duplicate),
    Fate::Closed(CloseReason::NotAQuestion),
    Fate::Closed(CloseReason::OutOfRemit),
    Fate::FailedReply,
];

/// How far an institution's cases went through the fates that are taken in turns.
#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    referable: usize,
    safety: usize,
    received: usize,
}

/// Counts one more candidate; true for the first of every `every`.
fn take_turn(count: &mut usize, every: usize) -> bool {
    *count += 1;
    *count % every == 1
}

/// Recent cases are mostly waiting; old ones mostly settled, a few stuck.
fn fate_by_age(rng: &mut StdRng, age: Duration) -> Fate {
    const REASONS: [CloseReason; 4] =
        [CloseReason::AnsweredElsewhere, CloseReason::Duplicate, CloseReason::NotAQuestion, CloseReason::OutOfRemit];
    let reason = REASONS[rng.random_range(0..REASONS.len())];
    let roll = rng.random_range(0..100);
    if age < Duration::hours(6) {
        if roll < 55 { Fate::New } else { Fate::Open }
    } else if age < Duration::days(3) {
        match roll {
            0..10 => Fate::New,
            10..35 => Fate::Open,
            35..70 => Fate::Pending,
            70..90 => Fate::Resolved,
            _ => Fate::Closed(reason),
        }
    } else {
        match roll {
            0..3 => Fate::Open,
            3..8 => Fate::Pending,
            8..45 => Fate::Resolved,
            45..85 => Fate::ResolvedThenClosed,
            _ => Fate::Closed(reason),
        }
    }
}

/// One case played through its demo life, its clock running from the citizen's post.
struct Play<'a> {
    db: &'a Db,
    case: Case,
    /// The citizen's post that opened it: replies answer it, on its platform.
    post: PostId,
    platform: Platform,
    /// The account the citizen wrote to.
    account: Option<AccountId>,
    /// The citizen's name, for `{{citizen}}`.
    citizen: String,
    topics: Vec<String>,
    /// When the next step happens; never after `now`.
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    /// Replies written so far, for their idempotency keys.
    replies: u32,
    counts: &'a mut InboxCounts,
}

impl Play<'_> {
    /// Moves the clock on by some minutes, up to now.
    fn wait(&mut self, rng: &mut StdRng, minutes: Range<i64>) {
        self.at = (self.at + Duration::minutes(rng.random_range(minutes))).min(self.now);
    }

    async fn act(&mut self, action: CaseAction, by: &User) -> anyhow::Result<()> {
        let (next, events) = transition(&self.case, &action, self.at)?;
        self.db.save_case_transition(&self.case, &next, &action, &events, &Actor::User(by.id), None).await?;
        self.case = next;
        Ok(())
    }

    /// Gives the case to an available agent of its team (or of `setup` at all) and
    /// returns them.
    async fn assign<'s>(&mut self, setup: &'s Setup, rng: &mut StdRng) -> anyhow::Result<&'s User> {
        let agent = setup.agent(rng, self.case.team_id);
        self.wait(rng, 5..300);
        self.act(CaseAction::Assign { team: self.case.team_id.or(agent.team_id), assignee: Some(agent.id) }, agent)
            .await?;
        Ok(agent)
    }

    /// Puts a message for the citizen in `setup`'s outbox, rendered for this case. When
    /// the institution wants the author's reply approved, the lead approves it if
    /// `approve`, else it waits.
    async fn write(
        &mut self,
        setup: &Setup,
        kind: ReplyKind,
        by: Option<&User>,
        body: &str,
        outcome: Option<&str>,
        approve: bool,
    ) -> anyhow::Result<Reply> {
        let mut vars = BTreeMap::from([
            ("citizen", self.citizen.clone()),
            ("case", self.case.id.to_string()),
            ("institution", setup.demo.name.to_owned()),
            ("agent", by.map_or(setup.demo.name, |u| u.name.as_str()).to_owned()),
        ]);
        if let Some(outcome) = outcome {
            vars.insert("outcome", outcome.to_owned());
        }
        self.replies += 1;
        let needs_approval = by.is_some_and(|u| setup.inbox.settings.needs_approval(u.role, &self.topics));
        let new = NewReply {
            case_id: self.case.id,
            institution_id: setup.id,
            user_id: by.map(|u| u.id),
            kind,
            post_id: self.post,
            platform: self.platform,
            account_id: setup.account_on(self.platform, self.account),
            body: render(body, &vars)?,
            needs_approval,
            idempotency_key: format!("demo:{}:{}", self.case.id, self.replies),
            send_at: None,
        };
        let actor = by.map_or_else(|| Actor::System("demo".into()), |u| Actor::User(u.id));
        let reply = self.db.queue_reply(&new, &actor).await?;
        if needs_approval && approve {
            return Ok(self.db.approve_reply(reply.id, setup.id, setup.lead().id).await?);
        }
        Ok(reply)
    }

    /// Records a reply as delivered; an answer also moves the case (`respond`).
    async fn delivered(&mut self, reply: &Reply, answer: bool) -> anyhow::Result<()> {
        let external_id = format!("demo-reply-{}", reply.id);
        self.db.start_sending(reply.id, 1).await?;
        if answer {
            let (next, events) = transition(&self.case, &CaseAction::Respond, self.at)?;
            self.db.reply_sent(reply, &external_id, None, 1, Some((&self.case, &next, &events))).await?;
            self.case = next;
        } else {
            self.db.reply_sent(reply, &external_id, None, 1, None).await?;
        }
        self.counts.sent += 1;
        Ok(())
    }

    /// An agent's answer, delivered.
    async fn answer(&mut self, setup: &Setup, by: &User, rng: &mut StdRng) -> anyhow::Result<()> {
        self.wait(rng, 10..600);
        let body = setup.words.answers.choose(rng).copied().unwrap_or(setup.words.canned[DETAILS].1);
        let reply = self.write(setup, ReplyKind::Answer, Some(by), body, None, true).await?;
        self.delivered(&reply, true).await
    }

    /// A message that is not an answer (acknowledgement, referral, outcome,
    /// satisfaction question), delivered.
    async fn tell(
        &mut self,
        setup: &Setup,
        kind: ReplyKind,
        by: Option<&User>,
        body: &str,
        outcome: Option<&str>,
    ) -> anyhow::Result<()> {
        let reply = self.write(setup, kind, by, body, outcome, true).await?;
        self.delivered(&reply, false).await
    }

    /// An internal note by `by` that mentions `about`.
    async fn note(&mut self, setup: &Setup, by: &User, template: &str, about: &User) -> anyhow::Result<()> {
        let body = template.replace("{name}", mention_name(about).unwrap_or_default());
        let mentions = setup.mentions(&body);
        self.db.add_note(&self.case, setup.id, by.id, &body, &mentions, &Actor::User(by.id)).await?;
        self.counts.notes += 1;
        Ok(())
    }

    async fn random_note(&mut self, setup: &Setup, by: &User, rng: &mut StdRng) -> anyhow::Result<()> {
        let about = if by.id == setup.lead().id { setup.agent(rng, self.case.team_id) } else { setup.lead() };
        let template = setup.words.notes.choose(rng).copied().unwrap_or(setup.words.approval);
        self.note(setup, by, template, about).await
    }

    /// Resolves the answered case, tells the citizen the outcome and, an hour later
    /// (the demo institutions' satisfaction delay), asks for a rating, which most give.
    async fn resolve(&mut self, setup: &Setup, by: &User, rng: &mut StdRng) -> anyhow::Result<()> {
        self.wait(rng, 60..2880);
        let outcome = setup.words.outcomes.choose(rng).copied().unwrap_or_default();
        self.act(CaseAction::Resolve { outcome: outcome.into() }, by).await?;
        self.tell(setup, ReplyKind::Outcome, Some(by), setup.words.canned[RESOLVED].1, Some(outcome)).await?;
        if self.at + Duration::hours(1) <= self.now {
            self.at += Duration::hours(1);
            self.tell(setup, ReplyKind::Satisfaction, None, setup.words.satisfaction, None).await?;
            if rng.random_bool(0.7) {
                let score = *[5, 5, 4, 4, 4, 3, 2, 1].choose(rng).unwrap_or(&4);
                if self.db.record_rating(&self.case, score, None, &Actor::System("demo".into())).await? {
                    self.counts.ratings += 1;
                }
            }
        }
        Ok(())
    }

    async fn live(
        &mut self,
        fate: Fate,
        setup: &Setup,
        setups: &[Setup],
        tallies: &mut [Tally],
        rng: &mut StdRng,
    ) -> anyhow::Result<()> {
        match fate {
            Fate::New => {}
            Fate::Open => {
                let agent = self.assign(setup, rng).await?;
                if rng.random_bool(0.3) {
                    self.random_note(setup, agent, rng).await?;
                }
            }
            Fate::Pending => {
                let agent = self.assign(setup, rng).await?;
                self.answer(setup, agent, rng).await?;
                if rng.random_bool(0.2) {
                    self.random_note(setup, agent, rng).await?;
                }
            }
            Fate::Resolved | Fate::ResolvedThenClosed => {
                let agent = self.assign(setup, rng).await?;
                self.answer(setup, agent, rng).await?;
                self.resolve(setup, agent, rng).await?;
                if matches!(fate, Fate::ResolvedThenClosed) {
                    self.wait(rng, 60..4320);
                    self.act(CaseAction::Close { reason: None }, agent).await?;
                }
            }
            Fate::Closed(reason) => {
                let by = if rng.random_bool(0.5) { self.assign(setup, rng).await? } else { setup.lead() };
                self.wait(rng, 10..600);
                self.act(CaseAction::Close { reason: Some(reason) }, by).await?;
            }
            Fate::FailedReply => {
                let agent = self.assign(setup, rng).await?;
                self.wait(rng, 10..600);
                let body = setup.words.canned[DETAILS].1;
                let reply = self.write(setup, ReplyKind::Answer, Some(agent), body, None, true).await?;
                let error = "the platform refused the reply (403): the author limits who can reply to this post";
                self.db.reply_failed(&reply, 1, "deliver.rejected", error, true).await?;
                self.counts.failed += 1;
                self.random_note(setup, agent, rng).await?;
            }
            Fate::AwaitingApproval => {
                let agent = self.assign(setup, rng).await?;
                self.wait(rng, 10..600);
                self.note(setup, agent, setup.words.approval, setup.lead()).await?;
                let body = setup.words.answers.choose(rng).copied().unwrap_or(setup.words.canned[DETAILS].1);
                self.write(setup, ReplyKind::Answer, Some(agent), body, None, false).await?;
                self.counts.awaiting_approval += 1;
            }
            Fate::Referred(to) => {
                let agent = self.assign(setup, rng).await?;
                let receiver = &setups[to];
                let reason = setup.demo.refers.map_or("", |(_, _, reason)| reason);
                self.wait(rng, 10..240);
                let notice = setup.words.referred.replace("{to}", receiver.demo.name);
                self.tell(setup, ReplyKind::Referral, Some(agent), &notice, None).await?;
                let policy = policy_for(&receiver.inbox.policies, self.case.priority, self.platform);
                let due = deadlines(&receiver.inbox.settings.calendar, policy, self.at);
                let refer = CaseAction::Refer {
                    to: receiver.id,
                    reason: reason.into(),
                    first_response_due: due.first_response_due,
                    resolution_due: due.resolution_due,
                };
                self.act(refer, agent).await?;
                self.counts.referred += 1;
                // On the receiving side: one in three still new, one taken up, one answered.
                self.account = None;
                let received = &mut tallies[to].received;
                *received += 1;
                match *received % 3 {
                    1 => {}
                    2 => {
                        let agent = self.assign(receiver, rng).await?;
                        self.random_note(receiver, agent, rng).await?;
                    }
                    _ => {
                        let agent = self.assign(receiver, rng).await?;
                        if receiver.account_on(self.platform, None).is_some() {
                            self.answer(receiver, agent, rng).await?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn count_inserted(outcomes: &[IngestOutcome]) -> usize {
    outcomes.iter().filter(|o| matches!(o, IngestOutcome::Inserted(_))).count()
}

fn raw_payload(post: &NewPost) -> Vec<u8> {
    json!({
        "demo": true,
        "platform": post.platform,
        "id": post.external_id,
        "text": post.text,
        "author": post.author.as_ref().map(|a| &a.handle),
        "created_at": post.created_at,
        "edited_at": post.edited_at,
        "in_reply_to": post.reply_to,
    })
    .to_string()
    .into_bytes()
}

/// Weekly counts growing towards `today` with some noise, oldest first.
fn follower_history(
    rng: &mut StdRng,
    account: &Account,
    today: i64,
    weeks: i64,
    now: DateTime<Utc>,
) -> Vec<MetricSnapshot> {
    let start = today as f64 * rng.random_range(0.78..0.95);
    (0..=weeks)
        .map(|week| {
            let progress = week as f64 / weeks.max(1) as f64;
            let noise = if week == weeks { 1.0 } else { rng.random_range(0.995..1.005) };
            let followers = ((start + (today as f64 - start) * progress) * noise) as i64;
            MetricSnapshot {
                account_id: account.id,
                at: now - Duration::weeks(weeks - week),
                followers,
                following: 150 + week * 2,
                posts: 4000 + week * rng.random_range(10..40),
                likes: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHash, PasswordVerifier};
    use townhall_core::reply::ReplyStatus;
    use townhall_store::{Access, DbOptions};

    use super::*;

    #[tokio::test]
    async fn the_demo_inbox_signs_staff_in_and_shows_every_state() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("demo.db").display());
        let db = Db::open(&DbOptions::new(url)).await.unwrap();
        let summary = load(&db, DemoSize { posts: 1500, weeks: 2 }).await.unwrap();

        // What `serve --demo` prints: the counts, then sign-ins that work.
        let printed = summary.to_string();
        assert!(printed.starts_with("demo data loaded: 12 institutions"), "{printed}");
        for role in ["admin", "lead", "agent", "analyst", "auditor"] {
            let line = format!("  sign in as {role}: ");
            assert!(
                printed.lines().any(|l| l.starts_with(&line) && l.contains("@valparaiso.demo.invalid / ")),
                "no {role} sign-in in {printed}"
            );
        }
        let elsewhere = printed.lines().filter(|l| l.starts_with("  sign in as agent (")).count();
        assert_eq!(elsewhere, INSTITUTIONS.len() - 1, "{printed}");
        let admin = summary.sign_ins().iter().find(|s| s.role == Role::Admin).unwrap();
        assert!(printed.contains(&format!("  sign in as admin: {} / {}", admin.email, admin.password)));
        assert!(!format!("{summary:?}").contains(&admin.password), "Debug keeps the password out of logs");
        let (user, hash) = db.user_credentials(&admin.email).await.unwrap().unwrap();
        assert_eq!(user.role, Role::Admin);
        let hash = hash.unwrap();
        argon2::Argon2::default()
            .verify_password(admin.password.as_bytes(), &PasswordHash::new(&hash).unwrap())
            .unwrap();

        // Every status, every close reason, closing after resolution, referrals that
        // the referring institution can still read, and replies on the case's own post.
        let mut statuses = BTreeSet::new();
        let mut reasons = BTreeSet::new();
        let mut reply_statuses = BTreeSet::new();
        let (mut closed_after_resolution, mut referred, mut ratings, mut notes) = (0, 0, 0, 0);
        for institution in db.institutions().await.unwrap() {
            let rules = db.rules(institution.id).await.unwrap();
            assert!(rules.len() >= 4 && rules.iter().all(|r| r.validate().is_ok()));
            assert!(rules.iter().any(|r| r.stop));
            assert_eq!(db.deadline_policies(institution.id).await.unwrap().len(), 6);
            let canned = db.canned_answers(institution.id).await.unwrap();
            assert!(canned.len() >= 8 && canned.iter().all(|a| a.validate().is_ok()));
            for lang in ["es", "en"] {
                assert!(canned.iter().any(|a| a.lang == lang), "{} lacks {lang}", institution.slug);
            }
            let settings = db.inbox_settings(institution.id).await.unwrap();
            assert_ne!(settings.calendar, BusinessCalendar::always_open());
            assert!(!settings.calendar.holidays().is_empty());
            assert_eq!(settings.approval_topics, ["safety"]);
            assert_eq!(settings.satisfaction_delay_secs, Some(3600));
            let users = db.users(institution.id).await.unwrap();
            assert_eq!(users.iter().map(|u| u.role).collect::<BTreeSet<_>>().len(), 5);
            let agents: Vec<&User> = users.iter().filter(|u| u.role == Role::Agent).collect();
            assert!(agents.len() >= 2 && agents.iter().any(|a| !a.available));
            assert!(agents.iter().any(|a| a.available && a.max_open_cases.is_some()));

            let mut own_statuses = BTreeSet::new();
            for case in db.cases(institution.id, None, 100_000).await.unwrap() {
                statuses.insert(case.status);
                own_statuses.insert(case.status);
                reasons.extend(case.close_reason);
                if case.status == CaseStatus::Closed && case.close_reason.is_none() {
                    assert!(case.first_response_at.is_some());
                    closed_after_resolution += 1;
                }
                let posts: Vec<PostId> =
                    db.case_posts(case.id, institution.id).await.unwrap().iter().map(|p| p.id).collect();
                for reply in db.replies(case.id).await.unwrap() {
                    assert!(posts.contains(&reply.post_id));
                    assert_eq!(Some(reply.platform), case.platform);
                    reply_statuses.insert(reply.status);
                }
                let referrals = db.referrals(case.id).await.unwrap();
                if let Some(referral) = referrals.first() {
                    referred += 1;
                    assert_ne!(referral.from, case.institution_id);
                    assert!(!referral.reason.is_empty());
                    let (_, access) = db.case(case.id, referral.from).await.unwrap().unwrap();
                    assert_eq!(access, Access::Referrer);
                }
                ratings += usize::from(db.rating(case.id).await.unwrap().is_some());
                notes += db.notes(case.id, institution.id).await.unwrap().len();
            }
            if institution.slug == SHOWCASE {
                assert_eq!(own_statuses.len(), 5, "the showcase inbox shows every status");
                assert!(!db.breaches(institution.id, 10).await.unwrap().is_empty());
            }
        }
        assert_eq!(statuses.len(), 5, "{statuses:?}");
        assert_eq!(reasons.len(), CloseReason::ALL.len(), "{reasons:?}");
        assert!(closed_after_resolution > 0 && referred > 0 && ratings > 0 && notes > 0);
        assert_eq!(referred, summary.inbox.referred);
        for status in [ReplyStatus::Sent, ReplyStatus::Failed, ReplyStatus::AwaitingApproval] {
            assert!(reply_statuses.contains(&status), "no {status} reply");
        }
        assert!(!reply_statuses.contains(&ReplyStatus::Queued), "the demo delivered what it queued");
        assert!(summary.breaches > 0);
        let lease = std::time::Duration::from_secs(1);
        assert!(db.claim_jobs("test", &[SEND_REPLY_JOB], lease, Utc::now(), 10).await.unwrap().is_empty());
        db.close().await;
    }

    #[test]
    fn office_calendars_follow_the_country() {
        for demo in INSTITUTIONS {
            let calendar = office_calendar(demo).unwrap();
            assert!(calendar.holidays().iter().all(|d| d.to_string().starts_with("2026-")));
            let day = business_day(&calendar);
            assert!(day >= Duration::hours(8) && day <= Duration::hours(15), "{}: {day}", demo.slug);
        }
        let valparaiso = INSTITUTIONS.iter().find(|d| d.slug == SHOWCASE).unwrap();
        assert_eq!(office_calendar(valparaiso).unwrap().timezone().name(), "America/Santiago");
    }
}
