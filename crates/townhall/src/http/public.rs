//! The public pages, read without signing in: the institutions (`/public`), one
//! institution's accounts and responsiveness (`/public/{slug}`), and a citizen's view
//! of their case through the link Townhall sent them (`/public/cases/{token}`).
//!
//! What they never show: a citizen's post, name or handle, a staff member's name,
//! internal notes, assignees, priorities or the audit trail. Institution pages show
//! aggregates the store computes in SQL; the case page shows what the citizen was
//! told — the replies Townhall sent (public on the platform already), with personal
//! data redacted — and the referrals with their reasons. Words come from the
//! catalogues (`public.*`), untrusted names and texts are escaped and in `<bdi>`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use townhall_analysis::pii;
use townhall_core::reply::{ReplyKind, ReplyStatus};
use townhall_core::{Account, CaseStatus, Institution, InstitutionKind, Level, MetricSnapshot};
use townhall_store::{PeriodCount, Responsiveness, StoreError};

use super::AppState;
use super::chart::BarChart;
use super::i18n::{Catalog, negotiate};

/// The window of the responsiveness figures.
const WINDOW_DAYS: i64 = 90;
/// Weeks in the chart of cases opened and answered.
const WEEKS: u32 = 12;
/// Days of follower history drawn per account, as on the overview.
const HISTORY_DAYS: i64 = 182;

#[derive(Template)]
#[template(path = "public_index.html")]
struct IndexPage<'a> {
    t: &'a Catalog,
    institutions: Vec<Listed>,
}

struct Listed {
    slug: String,
    name: String,
    country: String,
    kind: &'static str,
}

#[derive(Template)]
#[template(path = "public_institution.html")]
struct InstitutionPage<'a> {
    t: &'a Catalog,
    name: String,
    kind: &'static str,
    level: &'static str,
    country: String,
    jurisdiction: Option<String>,
    parent: Option<(String, String)>,
    accounts: Vec<AccountRow>,
    figures: Vec<(&'static str, String)>,
    window_from: String,
    chart: BarChart,
}

struct AccountRow {
    platform: &'static str,
    handle: String,
    display_name: String,
    official: Option<String>,
    followers: Option<i64>,
    trend: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "public_case.html")]
struct CasePage<'a> {
    t: &'a Catalog,
    id: i64,
    handled_by: String,
    status: &'static str,
    opened: String,
    answered: Option<String>,
    resolved: Option<String>,
    outcome: Option<String>,
    referrals: Vec<ReferralView>,
    replies: Vec<ReplyView>,
}

struct ReferralView {
    at: String,
    from: String,
    to: String,
    reason: String,
}

struct ReplyView {
    at: String,
    kind: &'static str,
    body: String,
    url: Option<String>,
}

/// A page that could not be shown (also the overview's and an unknown address's);
/// `title` and `message` are catalogue keys.
#[derive(Template)]
#[template(path = "public_missing.html")]
pub(super) struct MissingPage<'a> {
    pub(super) t: &'a Catalog,
    pub(super) title: &'static str,
    pub(super) message: &'static str,
    pub(super) noindex: bool,
}

fn render(status: StatusCode, page: &impl Template, private: bool) -> Response {
    match page.render() {
        Ok(html) => {
            let cache = if private { "no-store" } else { "public, max-age=60" };
            // The words follow the reader's Accept-Language: a shared cache must keep
            // one copy per language.
            (status, [(header::CACHE_CONTROL, cache), (header::VARY, "Accept-Language")], Html(html)).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

fn unavailable(t: &Catalog, error: &StoreError, private: bool) -> Response {
    tracing::error!(code = error.code(), %error, "public page failed");
    let page = MissingPage { t, title: "public.unavailable.title", message: "public.unavailable", noindex: private };
    render(StatusCode::SERVICE_UNAVAILABLE, &page, true)
}

/// `GET /public`: every institution, linking to its page.
pub(super) async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let t = negotiate(&headers);
    match state.db.institutions().await {
        Ok(institutions) => {
            let mut institutions: Vec<Listed> = institutions
                .into_iter()
                .map(|i| Listed { kind: kind_key(i.kind), country: i.country.to_string(), slug: i.slug, name: i.name })
                .collect();
            institutions.sort_by_key(|i| i.name.to_lowercase());
            render(StatusCode::OK, &IndexPage { t, institutions }, false)
        }
        Err(error) => unavailable(t, &error, false),
    }
}

/// `GET /public/{slug}`: an institution's accounts and responsiveness.
pub(super) async fn institution(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let t = negotiate(&headers);
    match institution_page(&state, t, &slug).await {
        Ok(Some(page)) => render(StatusCode::OK, &page, false),
        Ok(None) => {
            let page = MissingPage { t, title: "public.missing.title", message: "public.missing", noindex: false };
            render(StatusCode::NOT_FOUND, &page, false)
        }
        Err(error) => unavailable(t, &error, false),
    }
}

async fn institution_page<'a>(
    state: &AppState,
    t: &'a Catalog,
    slug: &str,
) -> Result<Option<InstitutionPage<'a>>, StoreError> {
    let db = &state.db;
    let Some(institution) = db.institution_by_slug(slug).await? else { return Ok(None) };
    let now = Utc::now();
    let parent = match institution.parent {
        Some(id) => db.institution(id).await?.map(|p| (p.slug, p.name)),
        None => None,
    };
    let mut accounts = Vec::new();
    for account in db.accounts(Some(institution.id)).await? {
        let series = db.metric_series(account.id, now - Duration::days(HISTORY_DAYS), now).await?;
        accounts.push(account_row(t, account, &series));
    }
    let since = now - Duration::days(WINDOW_DAYS);
    let figures = figures(t, &db.responsiveness(institution.id, since).await?);
    let weeks =
        db.cases_per_period(institution.id, now - Duration::weeks(i64::from(WEEKS)), Duration::weeks(1), WEEKS).await?;
    Ok(Some(InstitutionPage {
        t,
        kind: kind_key(institution.kind),
        level: level_key(institution.level),
        country: institution.country.to_string(),
        jurisdiction: institution.jurisdiction.clone(),
        parent,
        accounts,
        figures,
        window_from: since.format("%Y-%m-%d").to_string(),
        chart: weekly_chart(t, &weeks),
        name: institution.name,
    }))
}

fn account_row(t: &Catalog, account: Account, series: &[MetricSnapshot]) -> AccountRow {
    let trend = super::ui::trend(t, series).map(|trend| (trend.points, trend.summary));
    AccountRow {
        platform: account.platform.as_str(),
        handle: account.handle,
        display_name: account.display_name,
        official: account.official,
        followers: series.last().map(|s| s.followers),
        trend,
    }
}

/// The responsiveness figures as (label key, value in words), in the page's order.
fn figures(t: &Catalog, r: &Responsiveness) -> Vec<(&'static str, String)> {
    let no_data = || t.get("public.no_data").to_owned();
    let share = |part: i64, whole: i64| {
        if whole == 0 {
            no_data()
        } else {
            let percent = (part * 100 + whole / 2) / whole;
            format!("{percent}% ({part} {} {whole})", t.get("public.of"))
        }
    };
    let median = r.median_first_response_secs.map_or_else(no_data, |secs| duration(t, secs));
    let rating = match r.average_rating {
        Some(average) if r.ratings > 0 => format!("{average:.1} / 5 ({} {})", r.ratings, t.get("public.ratings")),
        _ => no_data(),
    };
    vec![
        ("public.opened", r.opened.to_string()),
        ("public.answered", share(r.answered, r.opened)),
        ("public.median", median),
        ("public.in_time", share(r.answered_in_time, r.answered_with_deadline)),
        ("public.resolved", share(r.resolved, r.opened)),
        ("public.referred_away", r.referred_away.to_string()),
        ("public.received", r.received.to_string()),
        ("public.rating", rating),
    ]
}

/// A duration in minutes, hours and minutes, or days and hours.
fn duration(t: &Catalog, secs: f64) -> String {
    let minutes = (secs.max(0.0) / 60.0).round() as i64;
    let (min, h, d) = (t.get("public.unit.min"), t.get("public.unit.h"), t.get("public.unit.d"));
    match minutes {
        m if m < 60 => format!("{m} {min}"),
        m if m < 48 * 60 => format!("{} {h} {} {min}", m / 60, m % 60),
        m => format!("{} {d} {} {h}", m / (24 * 60), m % (24 * 60) / 60),
    }
}

fn weekly_chart(t: &Catalog, weeks: &[PeriodCount]) -> BarChart {
    let (opened, answered) = (t.get("public.chart.opened"), t.get("public.chart.answered"));
    let mut chart = BarChart::new("weekly", t.get("public.chart.title"), vec![opened.to_owned(), answered.to_owned()]);
    chart.group_header = t.get("public.chart.week").to_owned();
    chart.table_label = t.get("public.chart.table").to_owned();
    for week in weeks {
        chart.push(week.start.format("%m-%d").to_string(), &[week.opened as f64, week.answered as f64]);
    }
    let total = |f: fn(&PeriodCount) -> i64| weeks.iter().map(f).sum::<i64>();
    chart.description = format!(
        "{} {opened}: {}; {answered}: {}.",
        t.get("public.chart.desc"),
        total(|w| w.opened),
        total(|w| w.answered)
    );
    chart
}

/// `GET /public/cases/{token}`: the citizen's view of their case. Every token takes
/// the same path: one lookup; an unknown one gets the same page as any missing case.
pub(super) async fn case(State(state): State<AppState>, Path(token): Path<String>, headers: HeaderMap) -> Response {
    let t = negotiate(&headers);
    match case_page(&state, t, &token).await {
        Ok(Some(page)) => render(StatusCode::OK, &page, true),
        Ok(None) => {
            let page =
                MissingPage { t, title: "public.case.missing.title", message: "public.case.missing", noindex: true };
            render(StatusCode::NOT_FOUND, &page, true)
        }
        Err(error) => unavailable(t, &error, true),
    }
}

async fn case_page<'a>(state: &AppState, t: &'a Catalog, token: &str) -> Result<Option<CasePage<'a>>, StoreError> {
    let db = &state.db;
    let Some(case) = db.case_by_public_token(token).await? else { return Ok(None) };
    let institutions = db.institutions().await?;
    let name = |id| institutions.iter().find(|i: &&Institution| i.id == id).map(|i| i.name.clone()).unwrap_or_default();
    let chain = db.referrals(case.id).await?;
    // The people a text may name: the citizen, and the staff of every institution
    // that held the case (a canned answer fills in {{citizen}} and {{agent}}).
    let mut people = Vec::new();
    let contact = match case.contact_id {
        Some(id) => db.contact(id).await?,
        None => None,
    };
    if let Some(contact) = contact {
        people.push(contact.handle.trim_start_matches('@').to_owned());
        people.extend(contact.display_name);
    }
    let mut holders: Vec<_> = chain.iter().flat_map(|r| [r.from, r.to]).collect();
    holders.push(case.institution_id);
    holders.sort();
    holders.dedup();
    for holder in holders {
        people.extend(db.users(holder).await?.into_iter().map(|u| u.name));
    }
    let told = |text: &str| unnamed(&redacted(text), &people);
    let referrals = chain
        .iter()
        .map(|r| ReferralView { at: when(r.at), from: name(r.from), to: name(r.to), reason: told(&r.reason) })
        .collect();
    // Only what was sent to this citizen: a merged case also holds replies to others.
    let theirs: Vec<_> = db
        .case_posts(case.id, case.institution_id)
        .await?
        .into_iter()
        .filter(|p| p.contact_id.is_some() && p.contact_id == case.contact_id)
        .map(|p| p.id)
        .collect();
    let mut replies: Vec<ReplyView> = db
        .replies(case.id)
        .await?
        .into_iter()
        .filter(|r| r.status == ReplyStatus::Sent && theirs.contains(&r.post_id))
        .map(|r| ReplyView {
            at: when(r.sent_at.unwrap_or(r.created_at)),
            kind: reply_kind_key(r.kind),
            body: told(&r.body),
            url: r.url.filter(|u| is_web_link(u)),
        })
        .collect();
    replies.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(Some(CasePage {
        t,
        id: case.id.0,
        handled_by: name(case.institution_id),
        status: status_key(case.status),
        opened: when(case.opened_at),
        answered: case.first_response_at.map(when),
        resolved: case.resolved_at.map(when),
        outcome: case.outcome.as_deref().filter(|o| !o.trim().is_empty()).map(told),
        referrals,
        replies,
    }))
}

/// Text with personal data (ids, phones, e-mails, addresses…) replaced by placeholders.
fn redacted(text: &str) -> String {
    pii::redact(text, &pii::find(text))
}

/// `text` with each of `names` (whole words, three letters or more: a person's full
/// name, first name or handle) replaced by "…": a public page names nobody.
fn unnamed(text: &str, names: &[String]) -> String {
    let mut words: Vec<&str> = names
        .iter()
        .flat_map(|name| std::iter::once(name.trim()).chain(name.split_whitespace().next()))
        .filter(|name| name.chars().count() >= 3)
        .collect();
    // Longest first, so a full name goes before the first name inside it.
    words.sort_by_key(|name| std::cmp::Reverse(name.len()));
    words.dedup();
    let mut text = text.to_owned();
    for name in words {
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(at) = rest.find(name) {
            let (before, after) = (&rest[..at], &rest[at + name.len()..]);
            let bounded = !before.chars().next_back().is_some_and(char::is_alphanumeric)
                && !after.chars().next().is_some_and(char::is_alphanumeric);
            out.push_str(before);
            out.push_str(if bounded { "…" } else { name });
            rest = after;
        }
        out.push_str(rest);
        text = out;
    }
    text
}

/// Whether a link may be shown: http or https, judged on the parsed URL.
fn is_web_link(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub(super) fn kind_key(kind: InstitutionKind) -> &'static str {
    match kind {
        InstitutionKind::Government => "public.kind.government",
        InstitutionKind::PublicCompany => "public.kind.public_company",
    }
}

pub(super) fn level_key(level: Level) -> &'static str {
    match level {
        Level::Local => "public.level.local",
        Level::Regional => "public.level.regional",
        Level::National => "public.level.national",
        Level::Supranational => "public.level.supranational",
    }
}

fn status_key(status: CaseStatus) -> &'static str {
    match status {
        CaseStatus::New => "public.status.new",
        CaseStatus::Open => "public.status.open",
        CaseStatus::Pending => "public.status.pending",
        CaseStatus::Resolved => "public.status.resolved",
        CaseStatus::Closed => "public.status.closed",
    }
}

fn reply_kind_key(kind: ReplyKind) -> &'static str {
    match kind {
        ReplyKind::Answer => "public.reply.answer",
        ReplyKind::Acknowledgement => "public.reply.acknowledgement",
        ReplyKind::Referral => "public.reply.referral",
        ReplyKind::Outcome => "public.reply.outcome",
        ReplyKind::Satisfaction => "public.reply.satisfaction",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        let t = negotiate(&HeaderMap::new());
        assert_eq!(duration(t, 0.0), "0 min");
        assert_eq!(duration(t, -50.0), "0 min");
        assert_eq!(duration(t, 59.0 * 60.0), "59 min");
        assert_eq!(duration(t, 3.0 * 3600.0 + 20.0 * 60.0), "3 h 20 min");
        assert_eq!(duration(t, 50.0 * 3600.0), "2 d 2 h");
    }

    #[test]
    fn shares_round_and_say_of_what() {
        let t = negotiate(&HeaderMap::new());
        let r = Responsiveness { opened: 3, answered: 2, answered_with_deadline: 0, ..Responsiveness::default() };
        let words = figures(t, &r);
        assert_eq!(words[1].1, "67% (2 of 3)");
        assert_eq!(words[3].1, t.get("public.no_data"), "no deadline, no share");
        assert_eq!(words[2].1, t.get("public.no_data"));
    }

    #[test]
    fn names_are_taken_out_as_whole_words() {
        let names = ["Valentina Díaz".to_owned(), "vecina.cerro@mastodon.cl".to_owned(), "Al".to_owned()];
        assert_eq!(
            unnamed(
                "Hola vecina.cerro@mastodon.cl, le escribe Valentina Díaz. Valentina revisó; Valentinas no.",
                &names
            ),
            "Hola …, le escribe …. … revisó; Valentinas no."
        );
        assert_eq!(unnamed("Al fin", &names), "Al fin", "names shorter than three letters stay");
    }

    #[test]
    fn every_key_chosen_in_code_is_in_every_catalogue() {
        let mut keys = vec!["public.unit.min", "public.unit.h", "public.unit.d", "public.no_data", "public.of"];
        keys.extend([InstitutionKind::Government, InstitutionKind::PublicCompany].map(kind_key));
        keys.extend([Level::Local, Level::Regional, Level::National, Level::Supranational].map(level_key));
        keys.extend(CaseStatus::ALL.iter().map(|s| status_key(*s)));
        keys.extend(
            [
                ReplyKind::Answer,
                ReplyKind::Acknowledgement,
                ReplyKind::Referral,
                ReplyKind::Outcome,
                ReplyKind::Satisfaction,
            ]
            .map(reply_kind_key),
        );
        keys.extend(figures(negotiate(&HeaderMap::new()), &Responsiveness::default()).iter().map(|(k, _)| *k));
        keys.extend(["public.unavailable", "public.unavailable.title", "public.missing", "public.missing.title"]);
        keys.extend(["public.case.missing", "public.case.missing.title", "public.ratings"]);
        for lang in ["en", "es"] {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_LANGUAGE, lang.parse().unwrap());
            let t = negotiate(&headers);
            assert_eq!(t.lang(), lang);
            for key in &keys {
                assert_ne!(t.get(key), *key, "{lang} lacks {key}");
            }
        }
    }

    #[test]
    fn only_web_links_are_shown() {
        assert!(is_web_link("https://mastodon.social/@muni/1"));
        assert!(!is_web_link("javascript:alert(1)//https://x"));
        assert!(!is_web_link("data:text/html,x"));
    }
}
