//! The demo data set of `serve --demo`: institutions of both kinds and every level
//! in six countries, their accounts and officials' accounts, a few thousand citizen
//! posts in six languages with threads, edits and deletions, cases at every stage,
//! and half a year of follower counts. Generated from a fixed seed, so every
//! newcomer sees the same living system; clearly marked `"demo": true` in raw payloads.

use std::fmt;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use townhall_core::{
    Account, Actor, CaseAction, CloseReason, CountryCode, InstitutionKind, Level, MetricSnapshot, NewContact,
    NewInstitution, NewPost, Platform, PostEntities, PostMetrics, Priority, Team, User, transition,
};
use townhall_store::{Db, IngestOutcome, NewAccount, NewCase, NewUser};

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
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "demo data loaded: {} institutions, {} accounts, {} posts ({} edited, {} deleted), {} cases, {} follower snapshots",
            self.institutions, self.accounts, self.posts, self.edits, self.deletions, self.cases, self.snapshots
        )
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
        accounts: &[
            (X, "@TfL", "Transport for London", "", 3_000_000),
            (Bluesky, "tfl.gov.uk", "TfL", "", 44_000),
            (Mastodon, "@tfl@mastodon.london", "Transport for London", "", 9_500),
        ],
    },
];

/// Citizen post templates per language: (intent, topic, text). `{n}` is a number,
/// `{place}` a local place name.
fn templates(lang: &str) -> &'static [(&'static str, &'static str)] {
    match lang {
        "es" => &[
            ("question", "¿A qué hora pasa la micro {n} por {place}? Llevo 40 minutos esperando"),
            ("complaint", "Otra vez basura acumulada en {place}, nadie la retira desde hace {n} días"),
            ("complaint", "El semáforo de {place} lleva {n} días apagado, es peligroso para los niños"),
            ("question", "¿Dónde puedo renovar mi licencia de conducir? La web no carga"),
            ("suggestion", "Propongo una ciclovía en {place}, cada mañana hay {n} ciclistas arriesgándose"),
            ("praise", "Gracias al equipo que arregló el bache de {place}, ¡rapidísimo!"),
            ("complaint", "Sin agua en {place} desde esta mañana. ¿Hasta cuándo?"),
            ("question", "¿El CESFAM de {place} atiende este sábado? Necesito vacunar a mi hijo"),
            ("information", "Árbol caído en {place} bloqueando la calle, ya avisé a carabineros"),
            ("complaint", "Hay un incendio de pastizales cerca de {place}, por favor envíen ayuda urgente"),
        ],
        "nl" => &[
            ("question", "Wanneer rijdt tram {n} weer normaal langs {place}?"),
            ("complaint", "Al {n} dagen ligt het afval naast de glasbol aan {place}"),
            (
                "suggestion",
                "Waarom geen extra fietsenstalling aan {place}? Elke ochtend staan er {n} fietsen tegen de gevel",
            ),
            ("praise", "Bedankt voor de snelle herstelling van de straatverlichting in {place}!"),
            ("question", "Waar kan ik een parkeerkaart voor bewoners aanvragen?"),
            ("complaint", "Bus {n} is alweer niet gekomen aan halte {place}"),
        ],
        "fr" => &[
            ("question", "Quand la collecte des encombrants passe-t-elle à {place} ?"),
            ("complaint", "Le trottoir de {place} est impraticable depuis {n} semaines"),
            ("suggestion", "Il faudrait plus de bancs au parc de {place}"),
            ("praise", "Merci pour le nettoyage rapide de {place} après le marché !"),
            ("question", "Comment obtenir un permis de stationnement à {place} ?"),
        ],
        "mk" => &[
            ("question", "Кога ќе се поправи патот во {place}? Веќе {n} месеци е оштетен"),
            ("complaint", "Нема вода во {place} од утрово"),
            ("suggestion", "Предлагам повеќе автобуски линии до {place}"),
            ("praise", "Благодарам за брзата помош во {place}"),
        ],
        "ar" => &[
            ("question", "متى سيتم إصلاح الإنارة في {place}؟"),
            ("complaint", "تراكم النفايات في {place} منذ {n} أيام"),
            ("suggestion", "نقترح إضافة مواقف للدراجات في {place}"),
            ("praise", "شكراً لفريق البلدية على سرعة الاستجابة في {place}"),
        ],
        _ => &[
            ("question", "Is the {n} bus running from {place} this evening? The app shows nothing"),
            ("complaint", "Third day in a row the lift at {place} station is out of order"),
            ("suggestion", "Could you add more step-free routes around {place}? {n} of us asked already"),
            ("praise", "Huge thanks to the staff at {place} who helped my dad today"),
            ("question", "How do I get a refund for a delayed journey from {place}?"),
            ("complaint", "Signal failure at {place} again, {n} minutes stuck in the tunnel"),
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

const OUTCOMES: &[&str] = &[
    "Fixed by the maintenance team; thank you for reporting it.",
    "Passed to the service concerned, which confirmed the schedule.",
    "Answered with the opening hours and the online form.",
];

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

/// Loads the demo data set. Meant for an empty database; the caller checks.
pub async fn load(db: &Db, size: DemoSize) -> anyhow::Result<DemoSummary> {
    let actor = Actor::System("demo".into());
    let mut rng = StdRng::seed_from_u64(2010);
    let now = Utc::now();
    let mut summary = DemoSummary::default();
    let mut setups = Vec::new();

    for demo in INSTITUTIONS {
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
        let mut agents = Vec::new();
        for (i, role) in
            [townhall_core::Role::Admin, townhall_core::Role::Agent, townhall_core::Role::Agent].into_iter().enumerate()
        {
            let user = NewUser {
                institution_id: institution.id,
                email: format!("{role}{i}@{}.demo.townhall.invalid", demo.slug),
                name: format!("{} {}", role.as_str(), i),
                role,
                team_id: Some(teams[i % teams.len()].id),
                password_hash: None,
            };
            agents.push(db.create_user(&user, &actor).await?);
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
        summary.institutions += 1;
        summary.accounts += accounts.len();
        setups.push((demo, institution.id, teams, agents, accounts));
    }

    // Posts: spread over the institutions, the last 60 days, with threads.
    let mut batch = Vec::new();
    let mut written: Vec<(usize, NewPost, &'static str)> = Vec::new();
    for i in 0..size.posts {
        let which = rng.random_range(0..setups.len());
        let (demo, _, _, _, accounts) = &setups[which];
        let account = accounts.choose(&mut rng).context("every demo institution has accounts")?;
        let (intent, template) = *templates(demo.lang).choose(&mut rng).context("templates")?;
        let text = template
            .replace("{n}", &rng.random_range(2..120).to_string())
            .replace("{place}", places(demo.lang).choose(&mut rng).unwrap_or(&"centro"));
        let created_at = now - Duration::minutes(rng.random_range(0..60 * 24 * 60));
        let external_id = format!("demo-{}-{i}", account.platform);
        let reply_to = written
            .iter()
            .rev()
            .take(40)
            .find(|(w, p, _)| *w == which && p.platform == account.platform && rng.random_bool(0.15))
            .map(|(_, p, _)| p.external_id.clone());
        let post = NewPost {
            platform: account.platform,
            external_id: external_id.clone(),
            account_id: Some(account.id),
            author: Some(author(&mut rng, account.platform)),
            text: text.clone(),
            lang_hint: Some(demo.lang.into()),
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
        written.push((which, post, intent));
        if batch.len() == 500 {
            summary.posts += count_inserted(&db.ingest_posts(&batch).await?);
            batch.clear();
        }
    }
    summary.posts += count_inserted(&db.ingest_posts(&batch).await?);

    // A few authors edit their posts; a few delete them.
    for (_, post, _) in written.iter().step_by(47) {
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
    for (_, post, _) in written.iter().skip(13).step_by(97) {
        let raw = json!({ "demo": true, "event": "delete", "id": post.external_id }).to_string();
        let (_, changed) = db
            .tombstone_post(post.platform, &post.external_id, post.created_at + Duration::hours(2), raw.as_bytes())
            .await?;
        summary.deletions += usize::from(changed);
    }

    // Cases from questions and complaints, at every stage of their life.
    for (which, post, intent) in
        written.iter().filter(|(_, _, intent)| matches!(*intent, "question" | "complaint")).step_by(3)
    {
        let (_, institution_id, teams, agents, _) = &setups[*which];
        let Some(stored) = db.post_by_external_id(post.platform, &post.external_id).await? else { continue };
        let urgent = post.text.contains("urgente") || post.text.contains("incendio");
        let new = NewCase {
            institution_id: *institution_id,
            contact_id: stored.contact_id,
            subject: post.text.chars().take(90).collect(),
            priority: if urgent {
                Priority::Urgent
            } else if *intent == "complaint" {
                Priority::High
            } else {
                Priority::Normal
            },
            team_id: teams.choose(&mut rng).map(|t: &Team| t.id),
            assignee: None,
            platform: Some(post.platform),
            tags: Vec::new(),
            first_response_due: None,
            resolution_due: None,
            post_ids: vec![stored.id],
        };
        let case = db.create_case(&new, &actor).await?;
        summary.cases += 1;
        let agent: &User = agents.choose(&mut rng).context("agents")?;
        let mut script = vec![CaseAction::Assign { team: case.team_id, assignee: Some(agent.id) }];
        match rng.random_range(0..10) {
            0..=2 => {}
            3..=4 => script.push(CaseAction::Respond),
            5..=7 => script.extend([
                CaseAction::Respond,
                CaseAction::Resolve { outcome: (*OUTCOMES.choose(&mut rng).unwrap_or(&OUTCOMES[0])).into() },
            ]),
            8 => script.extend([
                CaseAction::Respond,
                CaseAction::Resolve { outcome: OUTCOMES[0].into() },
                CaseAction::Close { reason: None },
            ]),
            _ => script.push(CaseAction::Close {
                reason: Some(*CloseReason::ALL.choose(&mut rng).unwrap_or(&CloseReason::Duplicate)),
            }),
        }
        let mut current = case;
        let mut at = stored.created_at;
        for action in script {
            at += Duration::minutes(rng.random_range(5..600));
            let (next, events) = transition(&current, &action, at.min(now))?;
            db.save_case_transition(&current, &next, &action, &events, &Actor::User(agent.id), None).await?;
            current = next;
        }
    }
    Ok(summary)
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
