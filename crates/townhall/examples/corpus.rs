//! Writes a benchmark corpus: platform records in the real wire formats `townhall
//! import` reads, one a line — Mastodon statuses, Jetstream posts and likes, X API v2
//! responses and Facebook comment webhooks — in the seeds' languages (es, en, fr, nl,
//! ar, mk), with replies and threads, mentions of institution accounts, questions and
//! complaints about public services, praise, chatter, emergencies, spam waves,
//! near-duplicates and emoji. It can also write the fixed set of search queries the
//! search benchmark runs against the same corpus.
//!
//! ```text
//! cargo run --release --example corpus -- COUNT [PATH|-] [SEED]
//!     [--handles LIST] [--queries FILE] [--query-count N]
//! ```
//!
//! `LIST` names the institution accounts posts mention, replacing the demo's:
//! comma-separated `platform:handle`, each optionally prefixed `lang=` to mention it
//! only in posts of that language, e.g. `es=x:@MuniValpo,mastodon:@muni@gob.example,
//! bluesky:did:plc:muni,facebook:123456` (Bluesky mentions are DIDs; a Facebook
//! entry is the page id the comments arrive for).
//!
//! The same count, seed and handles always write the same bytes: the generator is its
//! own (no crate's random numbers), and it streams, so memory stays flat at any size.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};

/// A small deterministic generator (SplitMix64): the corpus must not depend on a
/// crate's version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// What a language's posts are made of. Templates take `{s}` (a service), `{p}` (a
/// place) and `{n}` (a number).
struct Lang {
    code: &'static str,
    /// Share of posts, in percent.
    weight: u64,
    services: &'static [&'static str],
    places: &'static [&'static str],
    complaints: &'static [&'static str],
    questions: &'static [&'static str],
    praise: &'static [&'static str],
    emergencies: &'static [&'static str],
    chatter: &'static [&'static str],
    replies: &'static [&'static str],
    spam: &'static [&'static str],
    names: &'static [&'static str],
    hashtags: &'static [&'static str],
    /// The Mastodon instance its citizens write from.
    instance: &'static str,
}

const LANGS: &[Lang] = &[
    Lang {
        code: "es",
        weight: 34,
        services: &[
            "el agua",
            "la luz",
            "la basura",
            "el alumbrado",
            "el semáforo",
            "la micro 612",
            "el metro",
            "el bus",
            "la recolección",
            "el consultorio",
            "el bache",
            "la plaza",
            "el ascensor",
            "el tren",
            "la vereda",
        ],
        places: &[
            "Cerro Alegre",
            "Av. Brasil",
            "calle Esmeralda",
            "Playa Ancha",
            "Lavapiés",
            "Vallecas",
            "Plaza Italia",
            "Estación Central",
            "Cerro Barón",
            "calle Atocha",
            "Maipú",
            "Chamberí",
        ],
        complaints: &[
            "{s} en {p} lleva {n} días sin funcionar, ¿hasta cuándo?",
            "Otra vez sin {s} en {p}. Llevamos {n} horas esperando y nadie responde",
            "Vergüenza: {s} de {p} sigue roto después de {n} reclamos",
            "Pésimo servicio, {s} en {p} no pasa hace {n} minutos",
            "Llamé {n} veces por {s} en {p} y nadie contesta. Exijo una respuesta",
        ],
        questions: &[
            "¿Cuándo vuelve {s} a {p}? Llevamos {n} días sin suministro",
            "¿A qué hora abre la oficina de atención por {s}? Vivo en {p}",
            "Hola, ¿dónde puedo reclamar por {s} en {p}?",
            "¿Alguien sabe si {s} funciona hoy en {p}?",
            "¿Qué documentos necesito para el trámite de {s}? Gracias",
        ],
        praise: &[
            "Gracias por arreglar {s} en {p} tan rápido 👏",
            "Excelente atención hoy con {s}, muy amables en {p}",
            "Por fin {s} funciona en {p}. ¡Bien hecho!",
        ],
        emergencies: &[
            "Incendio en {p}, hay humo por todos lados, ¡manden bomberos! 🚒",
            "Terremoto fuerte, hay personas atrapadas en {p} 🙏",
            "Accidente grave en {p}, un herido en la calzada, urgente",
        ],
        chatter: &[
            "Qué lindo día en {p} hoy ☀️",
            "Alguien para un café en {p}?",
            "El partido de anoche estuvo increíble",
            "Nueva foto desde {p} 📷",
        ],
        replies: &[
            "Lo mismo en mi barrio, {n} días igual",
            "+1, aquí en {p} también",
            "Totalmente de acuerdo",
            "¿Ya les respondieron? A mí nada",
            "Gracias por avisar 🙏",
        ],
        spam: &[
            "🔥 Gana dinero desde casa, {n}€ al día 💰 https://ganar-{n}.example/promo",
            "Sigue mi cuenta y gana seguidores gratis 🚀 https://seguidores.example/{n}",
            "Oferta exclusiva cripto 💎 solo hoy x{n} https://cripto-{n}.example",
        ],
        names: &["María", "José", "Camila", "Diego", "Valentina", "Joaquín", "Lucía", "Pedro"],
        hashtags: &["Valparaíso", "Madrid", "Santiago", "reclamo", "transporte"],
        instance: "mastodon.cl",
    },
    Lang {
        code: "en",
        weight: 20,
        services: &[
            "the 14 bus",
            "the Northern line",
            "the streetlight",
            "bin collection",
            "the water supply",
            "the lift",
            "the pothole",
            "the library",
            "the bike lane",
            "the overground",
        ],
        places: &["Camden", "Brixton", "Oxford Street", "King's Cross", "Hackney", "Stratford", "Elephant and Castle"],
        complaints: &[
            "{s} skipped our stop at {p} again, third time this week",
            "{s} near {p} has been broken for {n} days, this is ridiculous",
            "Terrible service: {s} at {p}, waited {n} minutes and nothing",
            "Still no fix for {s} in {p} after {n} reports. Disgraceful",
        ],
        questions: &[
            "When will {s} be back at {p}? It's been {n} days",
            "Is {s} running today near {p}?",
            "How do I report a problem with {s} in {p}?",
            "Any update on {s} at {p}? Thanks",
        ],
        praise: &["Thanks for fixing {s} at {p} so quickly 👍", "Great job on {s} today, staff at {p} were lovely"],
        emergencies: &[
            "Fire near {p}, smoke everywhere, people trapped, call 999! 🚒",
            "Serious crash at {p}, someone injured on the road, urgent",
        ],
        chatter: &["Lovely sunset over {p} tonight 🌅", "Anyone watching the match?", "Coffee at {p} is the best ☕"],
        replies: &["Same here at {p}", "+1, {n} days now", "Have they answered you yet?", "Thanks for the heads up"],
        spam: &[
            "🔥 Earn ${n} a day from home 💰 https://earn-{n}.example/now",
            "Free followers!!! 🚀 https://followers.example/{n}",
        ],
        names: &["Alice", "Tom", "Priya", "James", "Olivia", "Mohammed", "Emma"],
        hashtags: &["London", "TfL", "commute"],
        instance: "mastodon.online",
    },
    Lang {
        code: "fr",
        weight: 12,
        services: &[
            "l'éclairage",
            "le tram 81",
            "la collecte des déchets",
            "le métro",
            "l'ascenseur",
            "la piscine",
            "le trottoir",
        ],
        places: &["rue Haute", "Ixelles", "Schaerbeek", "place Flagey", "la gare du Midi", "Molenbeek"],
        complaints: &[
            "{s} de {p} est en panne depuis {n} jours, c'est inadmissible",
            "Encore une fois {s} à {p} ne fonctionne pas, {n} signalements sans réponse",
            "Service lamentable : {s} à {p}, {n} minutes d'attente",
        ],
        questions: &[
            "Quand est-ce que {s} de {p} sera réparé ?",
            "Bonjour, où signaler un problème avec {s} à {p} ?",
            "Est-ce que {s} fonctionne aujourd'hui à {p} ?",
        ],
        praise: &["Merci pour la réparation rapide de {s} à {p} 👏", "Bravo pour {s}, très efficace à {p}"],
        emergencies: &["Incendie à {p}, beaucoup de fumée, des personnes coincées, urgent 🚒"],
        chatter: &["Belle journée à {p} ☀️", "Qui vient au concert ce soir ?"],
        replies: &["Pareil à {p}", "Tout à fait d'accord", "Vous avez eu une réponse ?"],
        spam: &["🔥 Gagnez {n}€ par jour depuis chez vous 💰 https://gagner-{n}.example"],
        names: &["Camille", "Louis", "Inès", "Hugo", "Chloé"],
        hashtags: &["Bruxelles", "STIB", "mobilité"],
        instance: "piaille.fr",
    },
    Lang {
        code: "nl",
        weight: 12,
        services: &[
            "het afval",
            "de tram",
            "de bus 17",
            "de straatverlichting",
            "het fietspad",
            "de lift",
            "het zwembad",
        ],
        places: &["de Veldstraat", "Gent-Sint-Pieters", "de Korenmarkt", "Ledeberg", "de Dampoort", "Sint-Amandsberg"],
        complaints: &[
            "{s} in {p} is al {n} dagen niet opgehaald, schandalig",
            "Weer rijdt {s} niet bij {p}, {n} minuten gewacht",
            "{s} aan {p} is al {n} weken kapot en niemand doet iets",
        ],
        questions: &[
            "Wanneer wordt {s} in {p} hersteld?",
            "Waar kan ik een klacht indienen over {s} in {p}?",
            "Rijdt {s} vandaag naar {p}?",
        ],
        praise: &["Bedankt voor het snelle herstel van {s} in {p} 👍", "Top service vandaag bij {p}!"],
        emergencies: &["Brand in {p}, veel rook, mensen vast, dringend 🚒"],
        chatter: &["Mooi weer in {p} vandaag ☀️", "Wie gaat er naar de Gentse Feesten?"],
        replies: &["Hier in {p} ook", "Helemaal mee eens", "Al antwoord gekregen?"],
        spam: &["🔥 Verdien {n} euro per dag vanuit huis 💰 https://verdien-{n}.example"],
        names: &["Jan", "Lotte", "Pieter", "Emma", "Wout", "Fien"],
        hashtags: &["Gent", "DeLijn", "mobiliteit"],
        instance: "mastodon.social",
    },
    Lang {
        code: "ar",
        weight: 11,
        services: &["إنارة الشارع", "المياه", "جمع النفايات", "الحافلة", "المترو", "الرصيف"],
        places: &["حي الخالدية", "ديرة", "الكرامة", "البرشاء", "القصيص", "جميرا"],
        complaints: &["{s} في {p} معطلة منذ {n} أيام، هذا غير مقبول", "للمرة {n} لا تعمل {s} في {p} ولا أحد يرد"],
        questions: &[
            "متى سيتم إصلاح {s} في {p}؟",
            "أين يمكنني تقديم شكوى بخصوص {s} في {p}؟",
            "هل تعمل {s} اليوم في {p}؟",
        ],
        praise: &["شكراً على سرعة إصلاح {s} في {p} 👏", "خدمة ممتازة اليوم في {p}"],
        emergencies: &["حريق في {p}، دخان كثيف وأشخاص محاصرون، عاجل 🚒"],
        chatter: &["يوم جميل في {p} ☀️", "من يشاهد المباراة الليلة؟"],
        replies: &["نفس المشكلة في {p}", "أوافقك تماماً", "هل ردوا عليك؟"],
        spam: &["🔥 اربح {n} درهم يومياً من المنزل 💰 https://arbah-{n}.example"],
        names: &["أحمد", "فاطمة", "محمد", "مريم", "علي"],
        hashtags: &["دبي", "بلدية_دبي"],
        instance: "mastodon.social",
    },
    Lang {
        code: "mk",
        weight: 11,
        services: &["патот", "водата", "уличното осветлување", "автобусот 22", "ѓубрето", "тротоарот"],
        places: &["Аеродром", "Карпош", "Центар", "Ѓорче Петров", "Кисела Вода", "Чаир"],
        complaints: &[
            "{s} во {p} не работи веќе {n} дена, ова е срамота",
            "Пак нема {s} во {p}, чекаме {n} часа и никој не одговара",
        ],
        questions: &[
            "Кога ќе се поправи {s} кон {p}? Има големи дупки",
            "Каде можам да пријавам проблем со {s} во {p}?",
            "Дали {s} работи денес во {p}?",
        ],
        praise: &["Благодарам за брзата поправка на {s} во {p} 👏", "Одлична услуга денес во {p}"],
        emergencies: &["Пожар во {p}, има многу чад и заробени луѓе, итно 🚒"],
        chatter: &["Убав ден во {p} ☀️", "Кој гледа натпревар вечер?"],
        replies: &["Исто и во {p}", "Целосно се согласувам", "Дали ви одговорија?"],
        spam: &["🔥 Заработи {n} евра дневно од дома 💰 https://zarabotka-{n}.example"],
        names: &["Марко", "Ана", "Стефан", "Елена", "Никола"],
        hashtags: &["Скопје", "Македонија"],
        instance: "mastodon.social",
    },
];

const EMOJI: &[&str] = &["😡", "🙏", "👏", "😤", "🚌", "💧", "💡", "🗑️", "😢", "👍", "🤬", "❤️", "🇨🇱", "🇧🇪", "🇲🇰"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Platform {
    Mastodon,
    Bluesky,
    X,
    Facebook,
}

impl Platform {
    fn parse(name: &str) -> Option<Platform> {
        match name {
            "mastodon" => Some(Platform::Mastodon),
            "bluesky" => Some(Platform::Bluesky),
            "x" => Some(Platform::X),
            "facebook" => Some(Platform::Facebook),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// An institution account posts may mention.
struct Handle {
    lang: Option<&'static str>,
    platform: Platform,
    /// Without a leading `@`.
    handle: String,
}

/// The demo's institution accounts (`townhall serve --demo`), by language. Bluesky
/// accounts are mentioned by DID and Facebook pages by page id, which the demo does
/// not set: an admin who adds them with these ids gets the posts attributed.
const DEMO_HANDLES: &[(&str, &str)] = &[
    ("es", "x:@MuniValpo"),
    ("es", "x:@MTTChile"),
    ("es", "x:@metrodesantiago"),
    ("es", "x:@MADRID"),
    ("es", "x:@policia"),
    ("es", "x:@GobiernodeChile"),
    ("es", "mastodon:@munivalpo@mastodon.cl"),
    ("es", "bluesky:did:plc:madrid"),
    ("es", "facebook:100000000000001"),
    ("en", "x:@TfL"),
    ("en", "mastodon:@tfl@mastodon.london"),
    ("en", "bluesky:did:plc:tfl"),
    ("fr", "x:@BrusselsGov"),
    ("fr", "mastodon:@brussels@mastodon.brussels"),
    ("nl", "x:@delijn"),
    ("nl", "mastodon:@stadgent@mastodon.social"),
    ("nl", "bluesky:did:plc:stadgent"),
    ("nl", "facebook:100000000000002"),
    ("mk", "x:@Vlada_RSM"),
    ("mk", "facebook:100000000000003"),
    ("ar", "x:@DMunicipality"),
];

fn parse_handle(lang: Option<&'static str>, entry: &str) -> Result<Handle, String> {
    let (platform, handle) = entry.split_once(':').ok_or_else(|| format!("{entry:?}: expected platform:handle"))?;
    let platform =
        Platform::parse(platform).ok_or_else(|| format!("{platform:?}: expected mastodon, bluesky, x or facebook"))?;
    let handle = handle.trim_start_matches('@').to_owned();
    if handle.is_empty() {
        return Err(format!("{entry:?}: empty handle"));
    }
    Ok(Handle { lang, platform, handle })
}

fn parse_handles(list: &str) -> Result<Vec<Handle>, String> {
    let mut handles = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (lang, rest) = match entry.split_once('=') {
            Some((lang, rest)) => {
                let code =
                    LANGS.iter().find(|l| l.code == lang).ok_or_else(|| format!("{lang:?}: unknown language"))?;
                (Some(code.code), rest)
            }
            None => (None, entry),
        };
        handles.push(parse_handle(lang, rest)?);
    }
    Ok(handles)
}

/// A post recently written, that later posts may answer.
#[derive(Clone, Default)]
struct Recent {
    /// Mastodon local id, Bluesky URI, X id, Facebook comment id.
    id: String,
    /// The thread's first post (Bluesky URI, X id, Facebook post id).
    root: String,
    /// Mastodon: the author's account id.
    author: u64,
    lang: usize,
}

/// A bounded ring of recent posts per platform, so replies need constant memory.
struct Ring {
    items: Vec<Recent>,
    next: usize,
}

const RING: usize = 512;

impl Ring {
    fn new() -> Ring {
        Ring { items: Vec::with_capacity(RING), next: 0 }
    }

    fn push(&mut self, item: Recent) {
        if self.items.len() < RING {
            self.items.push(item);
        } else {
            self.items[self.next] = item;
        }
        self.next = (self.next + 1) % RING;
    }

    /// A recent post of `lang`, preferring the newest ones.
    fn pick(&self, rng: &mut Rng, lang: usize) -> Option<&Recent> {
        let len = self.items.len();
        if len == 0 {
            return None;
        }
        for _ in 0..4 {
            let back = rng.below(64).min(len as u64 - 1) as usize;
            let at = if len < RING { len - 1 - back } else { (self.next + RING - 1 - back) % RING };
            let item = &self.items[at];
            if item.lang == lang {
                return Some(item);
            }
        }
        None
    }
}

/// What kind of text a post carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Complaint,
    Question,
    Praise,
    Emergency,
    Chatter,
    Reply,
    Spam,
}

struct Generator {
    rng: Rng,
    handles: Vec<Handle>,
    rings: [Ring; 4],
    /// Recent texts, for near-duplicates.
    texts: Vec<(usize, String)>,
    /// Posts left in the current spam wave, and its template.
    wave: u64,
    wave_lang: usize,
    wave_template: &'static str,
    /// Serial numbers: Mastodon local ids, Facebook posts.
    serial: u64,
    buf: String,
    text: String,
}

const BASE_SECONDS: u64 = 1_772_445_600; // 2026-03-02T10:00:00Z

impl Generator {
    fn new(seed: u64, handles: Vec<Handle>) -> Generator {
        Generator {
            rng: Rng(seed),
            handles,
            rings: [Ring::new(), Ring::new(), Ring::new(), Ring::new()],
            texts: Vec::new(),
            wave: 0,
            wave_lang: 0,
            wave_template: "",
            serial: 0,
            buf: String::with_capacity(4096),
            text: String::with_capacity(512),
        }
    }

    fn lang(&mut self) -> usize {
        let total: u64 = LANGS.iter().map(|l| l.weight).sum();
        let mut roll = self.rng.below(total);
        for (i, lang) in LANGS.iter().enumerate() {
            if roll < lang.weight {
                return i;
            }
            roll -= lang.weight;
        }
        0
    }

    /// Fills `self.text` from a template.
    fn fill(&mut self, lang: usize, template: &str) {
        let l = &LANGS[lang];
        self.text.clear();
        let mut rest = template;
        while let Some(at) = rest.find('{') {
            self.text.push_str(&rest[..at]);
            let slot = rest.as_bytes().get(at + 1).copied();
            match slot {
                Some(b's') => self.text.push_str(self.rng.pick(l.services)),
                Some(b'p') => self.text.push_str(self.rng.pick(l.places)),
                Some(b'n') => {
                    let n = 2 + self.rng.below(40);
                    let _ = write!(self.text, "{n}");
                }
                _ => self.text.push('{'),
            }
            rest = rest.get(at + 3..).unwrap_or("");
        }
        self.text.push_str(rest);
    }

    /// Chooses what the post says and writes it to `self.text`; returns its kind.
    fn compose(&mut self, lang: usize, reply: bool) -> Kind {
        let l = &LANGS[lang];
        if self.wave > 0 && lang == self.wave_lang && self.rng.chance(60) {
            self.wave -= 1;
            let template = self.wave_template;
            self.fill(lang, template);
            return Kind::Spam;
        }
        if !reply && !self.texts.is_empty() && self.rng.chance(5) {
            // A near-duplicate: a recent text, slightly changed.
            let (near_lang, text) = self.texts[self.rng.below(self.texts.len() as u64) as usize].clone();
            if near_lang == lang {
                self.text = text;
                match self.rng.below(3) {
                    0 => self.text.push_str(" !!"),
                    1 => {
                        self.text.push(' ');
                        self.text.push_str(self.rng.pick(EMOJI));
                    }
                    _ => self.text = self.text.to_uppercase(),
                }
                return Kind::Complaint;
            }
        }
        let (kind, templates) = if reply {
            (Kind::Reply, l.replies)
        } else {
            match self.rng.below(100) {
                0..=34 => (Kind::Complaint, l.complaints),
                35..=59 => (Kind::Question, l.questions),
                60..=69 => (Kind::Praise, l.praise),
                70..=71 => (Kind::Emergency, l.emergencies),
                _ => (Kind::Chatter, l.chatter),
            }
        };
        let template = self.rng.pick(templates);
        self.fill(lang, template);
        if self.rng.chance(25) {
            self.text.push(' ');
            self.text.push_str(self.rng.pick(EMOJI));
        }
        if kind != Kind::Reply && kind != Kind::Chatter {
            if self.texts.len() < 64 {
                self.texts.push((lang, self.text.clone()));
            } else {
                let at = self.rng.below(64) as usize;
                self.texts[at] = (lang, self.text.clone());
            }
        }
        kind
    }

    /// An institution account on `platform` for a post in `lang`.
    fn handle(&mut self, platform: Platform, lang: usize) -> Option<usize> {
        let code = LANGS[lang].code;
        let matching =
            |h: &Handle, strict: bool| h.platform == platform && (!strict || h.lang.is_none_or(|l| l == code));
        let count = self.handles.iter().filter(|h| matching(h, true)).count();
        let (strict, count) =
            if count > 0 { (true, count) } else { (false, self.handles.iter().filter(|h| matching(h, false)).count()) };
        if count == 0 {
            return None;
        }
        let nth = self.rng.below(count as u64) as usize;
        self.handles.iter().enumerate().filter(|(_, h)| matching(h, strict)).nth(nth).map(|(i, _)| i)
    }

    /// Writes record `i` (one line, without the newline) to `self.buf`.
    fn record(&mut self, i: u64) {
        self.buf.clear();
        if self.wave == 0 && self.rng.below(2_500) == 0 {
            self.wave = 100 + self.rng.below(500);
            self.wave_lang = self.lang();
            self.wave_template = self.rng.pick(LANGS[self.wave_lang].spam);
        }
        let us = (BASE_SECONDS * 1_000_000) + i * 250_000 + self.rng.below(250_000);
        let platform = match self.rng.below(100) {
            0..=29 => Platform::Mastodon,
            30..=54 => Platform::Bluesky,
            55..=59 => {
                if self.bluesky_like(i, us) {
                    return;
                }
                Platform::Bluesky
            }
            60..=84 => Platform::X,
            _ => Platform::Facebook,
        };
        let mut lang = self.lang();
        let mut parent = None;
        if self.rng.chance(25) {
            // Answer a recent post of the same platform, in its language.
            let wanted = self.lang();
            if let Some(p) = self.rings[platform.index()].pick(&mut self.rng, wanted) {
                lang = wanted;
                parent = Some(p.clone());
            }
        }
        let kind = self.compose(lang, parent.is_some());
        // Spam and chatter mention no institution; most others do.
        let mention = match kind {
            Kind::Spam | Kind::Chatter => None,
            Kind::Reply => self.handle(platform, lang).filter(|_| self.rng.chance(20)),
            _ => self.handle(platform, lang).filter(|_| self.rng.chance(85)),
        };
        let spammer = kind == Kind::Spam;
        let author = if spammer { 900_000 + self.rng.below(20_000) } else { self.rng.below(200_000) };
        let hashtag = if !spammer && self.rng.chance(15) { Some(self.rng.pick(LANGS[lang].hashtags)) } else { None };
        match platform {
            Platform::Mastodon => self.mastodon(i, us, lang, author, spammer, mention, hashtag, parent),
            Platform::Bluesky => self.bluesky(i, us, lang, author, mention, hashtag, parent),
            Platform::X => self.x(i, us, lang, author, spammer, mention, hashtag, parent),
            Platform::Facebook => self.facebook(us, lang, author, mention, parent),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn mastodon(
        &mut self,
        i: u64,
        us: u64,
        lang: usize,
        author: u64,
        spammer: bool,
        mention: Option<usize>,
        hashtag: Option<&str>,
        parent: Option<Recent>,
    ) {
        self.serial += 1;
        let id = 116_000_000_000_000_000 + i;
        let l = &LANGS[lang];
        let host = l.instance;
        let name = self.rng.pick(l.names);
        let b = &mut self.buf;
        let _ = write!(b, r#"{{"id":"{id}","created_at":""#);
        iso(b, us, true);
        b.push_str(r#"","in_reply_to_id":"#);
        match &parent {
            Some(p) => {
                let _ = write!(b, r#""{}","in_reply_to_account_id":"{}""#, p.id, p.author);
            }
            None => b.push_str(r#"null,"in_reply_to_account_id":null"#),
        }
        let _ = write!(
            b,
            r#","sensitive":false,"spoiler_text":"","visibility":"public","language":"{}","uri":"https://{host}/users/u{author}/statuses/{id}","url":"https://{host}/@u{author}/{id}","replies_count":0,"reblogs_count":{},"favourites_count":{},"edited_at":null,"content":"#,
            l.code,
            self.rng.below(5),
            self.rng.below(30)
        );
        let mut html = String::with_capacity(self.text.len() + 200);
        html.push_str("<p>");
        let handle = mention.map(|m| self.handles[m].handle.as_str());
        if let Some(h) = handle {
            let (user, domain) = h.split_once('@').unwrap_or((h, host));
            let _ = write!(
                html,
                r#"<span class="h-card" translate="no"><a href="https://{domain}/@{user}" class="u-url mention">@<span>{user}</span></a></span> "#
            );
        }
        html_escape(&mut html, &self.text);
        if let Some(tag) = hashtag {
            let _ = write!(
                html,
                r##" <a href="https://{host}/tags/{tag}" class="mention hashtag" rel="tag">#<span>{tag}</span></a>"##
            );
        }
        html.push_str("</p>");
        json_str(b, &html);
        let created = if spammer { "2026-03-01T00:00:00.000Z" } else { "2019-05-14T00:00:00.000Z" };
        let (followers, following, statuses) = if spammer {
            (self.rng.below(3), 2_000 + self.rng.below(3_000), 5)
        } else {
            (self.rng.below(900), 150, 40 + author % 3_000)
        };
        let _ = write!(
            b,
            r#","reblog":null,"application":null,"account":{{"id":"{author}","username":"u{author}","acct":"u{author}@{host}","display_name":"{name} {author}","locked":false,"bot":false,"group":false,"created_at":"{created}","note":"","url":"https://{host}/@u{author}","followers_count":{followers},"following_count":{following},"statuses_count":{statuses},"emojis":[],"fields":[]}},"media_attachments":[],"mentions":["#
        );
        if let Some(h) = handle {
            let (user, domain) = h.split_once('@').unwrap_or((h, host));
            let _ = write!(
                b,
                r#"{{"id":"{}","username":"{user}","url":"https://{domain}/@{user}","acct":"{h}"}}"#,
                fnv(h) % 1_000_000
            );
        }
        b.push_str(r#"],"tags":["#);
        if let Some(tag) = hashtag {
            let _ = write!(b, r#"{{"name":"{tag}","url":"https://{host}/tags/{tag}"}}"#);
        }
        b.push_str(r#"],"emojis":[],"card":null,"poll":null}"#);
        self.rings[Platform::Mastodon.index()].push(Recent { id: id.to_string(), root: String::new(), author, lang });
    }

    fn bluesky_like(&mut self, i: u64, us: u64) -> bool {
        let lang = self.lang();
        let Some(target) = self.rings[Platform::Bluesky.index()].pick(&mut self.rng, lang) else { return false };
        let target = target.id.clone();
        let liker = self.rng.below(200_000);
        let b = &mut self.buf;
        let _ = write!(
            b,
            r#"{{"did":"{}","time_us":{us},"kind":"commit","commit":{{"rev":"{}","operation":"create","collection":"app.bsky.feed.like","rkey":"{}","record":{{"$type":"app.bsky.feed.like","createdAt":""#,
            Did(liker),
            Tid(us, i),
            Tid(us, i + 1)
        );
        iso(b, us, true);
        let _ = write!(b, r#"","subject":{{"cid":"{}","uri":"{target}"}}}},"cid":"{}"}}}}"#, Cid(fnv(&target)), Cid(i));
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn bluesky(
        &mut self,
        i: u64,
        us: u64,
        lang: usize,
        author: u64,
        mention: Option<usize>,
        hashtag: Option<&str>,
        parent: Option<Recent>,
    ) {
        let did = Did(author).to_string();
        let rkey = Tid(us, i).to_string();
        let uri = format!("at://{did}/app.bsky.feed.post/{rkey}");
        let mut text = String::with_capacity(self.text.len() + 64);
        let mut facets = String::new();
        if let Some(m) = mention {
            // A mention's text is the account's handle; its facet carries the DID.
            let target = &self.handles[m].handle;
            let shown = target.strip_prefix("did:plc:").map_or(target.clone(), |h| format!("{h}.bsky.social"));
            let _ = write!(text, "@{shown} ");
            let _ = write!(
                facets,
                r#"{{"$type":"app.bsky.richtext.facet","features":[{{"$type":"app.bsky.richtext.facet#mention","did":"{target}"}}],"index":{{"byteEnd":{},"byteStart":0}}}}"#,
                shown.len() + 1
            );
        }
        text.push_str(&self.text);
        if let Some(tag) = hashtag {
            let start = text.len() + 1;
            let _ = write!(text, " #{tag}");
            if !facets.is_empty() {
                facets.push(',');
            }
            let _ = write!(
                facets,
                r#"{{"$type":"app.bsky.richtext.facet","features":[{{"$type":"app.bsky.richtext.facet#tag","tag":"{tag}"}}],"index":{{"byteEnd":{},"byteStart":{start}}}}}"#,
                text.len()
            );
        }
        let b = &mut self.buf;
        let _ = write!(
            b,
            r#"{{"did":"{did}","time_us":{us},"kind":"commit","commit":{{"rev":"{}","operation":"create","collection":"app.bsky.feed.post","rkey":"{rkey}","record":{{"$type":"app.bsky.feed.post","createdAt":""#,
            Tid(us + 7, i)
        );
        iso(b, us.saturating_sub(1_500_000), true);
        b.push('"');
        if !facets.is_empty() {
            let _ = write!(b, r#","facets":[{facets}]"#);
        }
        let _ = write!(b, r#","langs":["{}"]"#, LANGS[lang].code);
        let root = match &parent {
            Some(p) => {
                let root = if p.root.is_empty() { p.id.clone() } else { p.root.clone() };
                let _ = write!(
                    b,
                    r#","reply":{{"parent":{{"cid":"{}","uri":"{}"}},"root":{{"cid":"{}","uri":"{root}"}}}}"#,
                    Cid(fnv(&p.id)),
                    p.id,
                    Cid(fnv(&root))
                );
                root
            }
            None => String::new(),
        };
        b.push_str(r#","text":"#);
        json_str(b, &text);
        let _ = write!(b, r#"}},"cid":"{}"}}}}"#, Cid(fnv(&uri)));
        self.rings[Platform::Bluesky.index()].push(Recent { id: uri, root, author, lang });
    }

    #[allow(clippy::too_many_arguments)]
    fn x(
        &mut self,
        i: u64,
        us: u64,
        lang: usize,
        author: u64,
        spammer: bool,
        mention: Option<usize>,
        hashtag: Option<&str>,
        parent: Option<Recent>,
    ) {
        // A snowflake: milliseconds since X's epoch, then a sequence.
        let id = ((us / 1_000 - 1_288_834_974_657) << 22) | (i & 0x3F_FFFF);
        let l = &LANGS[lang];
        let mut text = String::with_capacity(self.text.len() + 64);
        let mut entities = String::new();
        if let Some(m) = mention {
            let handle = &self.handles[m].handle;
            let _ = write!(text, "@{handle} ");
            let _ = write!(
                entities,
                r#""mentions":[{{"start":0,"end":{},"username":"{handle}","id":"{}"}}]"#,
                handle.chars().count() + 1,
                fnv(handle) % 1_000_000_000
            );
        }
        html_escape(&mut text, &self.text);
        if let Some(tag) = hashtag {
            let start = text.chars().count() + 1;
            let _ = write!(text, " #{tag}");
            if !entities.is_empty() {
                entities.push(',');
            }
            let _ = write!(
                entities,
                r#""hashtags":[{{"start":{start},"end":{},"tag":"{tag}"}}]"#,
                start + 1 + tag.chars().count()
            );
        }
        let b = &mut self.buf;
        let _ = write!(b, r#"{{"data":{{"id":"{id}","text":"#);
        json_str(b, &text);
        let _ = write!(b, r#","author_id":"{}","created_at":""#, 10_000 + author);
        iso(b, us, true);
        let _ = write!(b, r#"","lang":"{}","edit_history_tweet_ids":["{id}"]"#, l.code);
        let root = match &parent {
            Some(p) => {
                let root = if p.root.is_empty() { p.id.clone() } else { p.root.clone() };
                let _ = write!(
                    b,
                    r#","conversation_id":"{root}","in_reply_to_user_id":"{}","referenced_tweets":[{{"type":"replied_to","id":"{}"}}]"#,
                    10_000 + p.author,
                    p.id
                );
                root
            }
            None => {
                let _ = write!(b, r#","conversation_id":"{id}""#);
                String::new()
            }
        };
        if !entities.is_empty() {
            let _ = write!(b, r#","entities":{{{entities}}}"#);
        }
        let _ = write!(
            b,
            r#","public_metrics":{{"retweet_count":{},"reply_count":0,"like_count":{},"quote_count":0,"impression_count":{}}}}},"includes":{{"users":[{{"id":"{}","username":"vecino{author}","name":"#,
            self.rng.below(4),
            self.rng.below(40),
            self.rng.below(3_000),
            10_000 + author
        );
        let name = format!("{} {}", self.rng.pick(l.names), author % 1_000);
        json_str(&mut self.buf, &name);
        let (created, followers, following, tweets) = if spammer {
            ("2026-02-28T00:00:00.000Z", self.rng.below(5), 4_000 + self.rng.below(1_000), 3)
        } else {
            ("2016-09-01T00:00:00.000Z", self.rng.below(2_000), 300, 100 + author % 5_000)
        };
        let _ = write!(
            self.buf,
            r#","created_at":"{created}","public_metrics":{{"followers_count":{followers},"following_count":{following},"tweet_count":{tweets},"listed_count":0}}}}]}}}}"#
        );
        self.rings[Platform::X.index()].push(Recent { id: id.to_string(), root, author, lang });
    }

    fn facebook(&mut self, us: u64, lang: usize, author: u64, mention: Option<usize>, parent: Option<Recent>) {
        // Comments arrive for the page they were left on: the mentioned page, else
        // a page of the language's institutions, else a fixed one.
        let page = match &parent {
            Some(p) => p.root.split('_').next().unwrap_or_default().to_owned(),
            None => mention
                .or_else(|| self.handle(Platform::Facebook, lang))
                .map_or_else(|| "100000000000009".to_owned(), |m| self.handles[m].handle.clone()),
        };
        self.serial += 1;
        let seconds = us / 1_000_000;
        let (post_id, parent_id) = match &parent {
            Some(p) => (p.root.clone(), p.id.clone()),
            None => {
                let post = format!("{page}_{}", 900_000_000 + self.serial % 5_000);
                (post.clone(), post)
            }
        };
        let post_number = post_id.rsplit('_').next().unwrap_or("0").to_owned();
        let comment_id = format!("{post_number}_{}", 1_000_000_000_000 + self.serial);
        let name = format!("{} {}", self.rng.pick(LANGS[lang].names), author % 1_000);
        let b = &mut self.buf;
        let _ = write!(
            b,
            r#"{{"object":"page","entry":[{{"id":"{page}","time":{seconds},"changes":[{{"field":"feed","value":{{"item":"comment","verb":"add","comment_id":"{comment_id}","post_id":"{post_id}","parent_id":"{parent_id}","from":{{"id":"{}","name":"#,
            5_000_000_000 + author
        );
        json_str(b, &name);
        let _ = write!(b, r#"}},"created_time":{seconds},"message":"#);
        json_str(b, &self.text);
        b.push_str("}}]}]}");
        self.rings[Platform::Facebook.index()].push(Recent { id: comment_id, root: post_id, author, lang });
    }

    /// Writes one search query line: `query<TAB>lang<TAB>platform` (filters may be empty).
    fn query(&mut self) -> String {
        let lang = self.lang();
        let l = &LANGS[lang];
        let word = |rng: &mut Rng, from: &[&str]| {
            let words: Vec<&str> =
                rng.pick(from).split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() > 3).collect();
            if words.is_empty() {
                String::from(rng.pick(from))
            } else {
                words[rng.below(words.len() as u64) as usize].to_owned()
            }
        };
        let pick_text = |rng: &mut Rng| match rng.below(3) {
            0 => l.complaints,
            1 => l.questions,
            _ => l.praise,
        };
        let mut filter_lang = "";
        let mut filter_platform = "";
        let q = match self.rng.below(100) {
            0..=34 => word(&mut self.rng, l.services),
            35..=49 => format!("{} {}", word(&mut self.rng, l.services), word(&mut self.rng, l.places)),
            50..=69 => {
                // A phrase: two neighbouring words of a template without slots.
                let templates = pick_text(&mut self.rng);
                let template = self.rng.pick(templates);
                let words: Vec<&str> = template
                    .split(|c: char| !c.is_alphanumeric() && c != '{' && c != '}')
                    .filter(|w| !w.is_empty() && !w.contains('{'))
                    .collect();
                if words.len() >= 2 {
                    let at = self.rng.below(words.len() as u64 - 1) as usize;
                    format!("\"{} {}\"", words[at], words[at + 1])
                } else {
                    word(&mut self.rng, l.services)
                }
            }
            70..=79 => {
                filter_lang = l.code;
                word(&mut self.rng, l.places)
            }
            80..=89 => {
                filter_platform = self.rng.pick(&["mastodon", "bluesky", "x", "facebook"]);
                word(&mut self.rng, l.services)
            }
            _ => format!("{} -{}", word(&mut self.rng, l.services), word(&mut self.rng, l.places)),
        };
        format!("{q}\t{filter_lang}\t{filter_platform}\n")
    }
}

/// A Bluesky DID for an author number.
struct Did(u64);

impl std::fmt::Display for Did {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("did:plc:")?;
        base32(f, wide(self.0), 24)
    }
}

/// A Bluesky TID (record key, revision): time-sortable base32.
struct Tid(u64, u64);

impl std::fmt::Display for Tid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        base32(f, ((self.0 as u128) << 10 | (self.1 as u128 & 0x3FF)) << 1 >> 1, 13)
    }
}

/// A content id's look (not a real hash of the record).
struct Cid(u64);

impl std::fmt::Display for Cid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bafyrei")?;
        base32(f, wide(self.0), 25)?;
        base32(f, wide(!self.0), 27)
    }
}

/// 128 bits that look random, from a number.
fn wide(n: u64) -> u128 {
    let mut rng = Rng(n);
    u128::from(rng.next()) << 64 | u128::from(rng.next())
}

fn base32(f: &mut std::fmt::Formatter<'_>, mut value: u128, len: usize) -> std::fmt::Result {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let mut out = [0u8; 32];
    for slot in out[..len].iter_mut().rev() {
        *slot = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    f.write_str(std::str::from_utf8(&out[..len]).unwrap_or(""))
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Appends `us` (microseconds since the epoch) as RFC 3339 UTC, with milliseconds.
fn iso(out: &mut String, us: u64, millis: bool) {
    let seconds = us / 1_000_000;
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let _ = write!(out, "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", rest / 3_600, rest % 3_600 / 60, rest % 60);
    if millis {
        let _ = write!(out, ".{:03}", us / 1_000 % 1_000);
    }
    out.push('Z');
}

/// Appends `text` as a JSON string.
fn json_str(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `text` escaped the way Mastodon's HTML and X's text escape it.
fn html_escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

struct Options {
    count: u64,
    path: String,
    seed: u64,
    handles: Vec<Handle>,
    queries: Option<String>,
    query_count: u64,
}

fn options() -> Result<Options, String> {
    let mut positional = Vec::new();
    let mut handles = None;
    let mut queries = None;
    let mut query_count = 2_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--handles" => handles = Some(parse_handles(&value("--handles")?)?),
            "--queries" => queries = Some(value("--queries")?),
            "--query-count" => {
                query_count = value("--query-count")?.parse().map_err(|e| format!("--query-count: {e}"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            _ => positional.push(arg),
        }
    }
    let count = match positional.first() {
        Some(n) => n.replace('_', "").parse().map_err(|e| format!("COUNT {n:?}: {e}"))?,
        None => 1_000_000,
    };
    let seed = match positional.get(2) {
        Some(s) => s.parse().map_err(|e| format!("SEED {s:?}: {e}"))?,
        None => 2010,
    };
    let handles = match handles {
        Some(h) => h,
        None => DEMO_HANDLES.iter().map(|(lang, entry)| parse_handle(Some(lang), entry)).collect::<Result<_, _>>()?,
    };
    Ok(Options {
        count,
        path: positional.get(1).cloned().unwrap_or_else(|| "corpus.ndjson".into()),
        seed,
        handles,
        queries,
        query_count,
    })
}

fn main() {
    let options = match options() {
        Ok(o) => o,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            eprintln!(
                "usage: corpus COUNT [PATH|-] [SEED] [--handles LIST] [--queries FILE] [--query-count N]\n\
                 LIST: comma-separated [lang=]platform:handle, platform one of mastodon, bluesky, x, facebook"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&options) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(options: &Options) -> std::io::Result<()> {
    let started = std::time::Instant::now();
    let sink: Box<dyn Write> = if options.path == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::fs::File::create(&options.path)?)
    };
    let mut out = BufWriter::with_capacity(1 << 20, sink);
    let handles =
        options.handles.iter().map(|h| Handle { lang: h.lang, platform: h.platform, handle: h.handle.clone() });
    let mut generator = Generator::new(options.seed, handles.collect());
    let mut bytes = 0u64;
    for i in 0..options.count {
        generator.record(i);
        out.write_all(generator.buf.as_bytes())?;
        out.write_all(b"\n")?;
        bytes += generator.buf.len() as u64 + 1;
    }
    out.flush()?;
    if let Some(path) = &options.queries {
        // Queries have their own generator, so they do not depend on the corpus size.
        let mut queries = Generator::new(options.seed ^ 0x5EA7C4, Vec::new());
        let mut file = BufWriter::new(std::fs::File::create(path)?);
        for _ in 0..options.query_count {
            file.write_all(queries.query().as_bytes())?;
        }
        file.flush()?;
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "corpus: {} records, {:.1} MB in {:.2} s ({:.0} MB/s, {:.0} records/s)",
        options.count,
        bytes as f64 / 1e6,
        seconds,
        bytes as f64 / 1e6 / seconds.max(1e-9),
        options.count as f64 / seconds.max(1e-9)
    );
    Ok(())
}
