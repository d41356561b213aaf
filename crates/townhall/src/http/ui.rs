//! Server-rendered pages. Every value is escaped by askama; pages work without
//! JavaScript and carry no inline script or style (the CSP forbids both).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{Duration, Utc};
use townhall_core::{Account, CaseStatus, MetricSnapshot};

use super::AppState;
use super::i18n::{Catalog, negotiate};
use super::public::{MissingPage, kind_key, level_key};

const STYLESHEET: &str = include_str!("../../static/townhall.css");
const SCRIPT: &str = include_str!("../../static/townhall.js");

/// Weeks of follower history drawn on the overview.
const HISTORY_DAYS: i64 = 182;

/// One account's row on the overview.
struct AccountView {
    platform: &'static str,
    handle: String,
    display_name: String,
    official: Option<String>,
    followers: Option<i64>,
    trend: Option<Trend>,
}

/// Follower history as an SVG polyline plus its words for screen readers.
pub(super) struct Trend {
    pub(super) points: String,
    pub(super) summary: String,
}

struct InstitutionView {
    name: String,
    slug: String,
    kind: &'static str,
    level: &'static str,
    country: String,
    parent: Option<String>,
    jurisdiction: Option<String>,
    accounts: Vec<AccountView>,
    /// `None` while the posts are being counted.
    posts: Option<i64>,
    cases: Vec<(&'static str, i64)>,
}

/// All posts, the deleted ones and the posts per platform.
struct PostTotals {
    total: i64,
    deleted: i64,
    by_platform: Vec<(&'static str, i64)>,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview<'a> {
    t: &'a Catalog,
    institutions: Vec<InstitutionView>,
    /// `None` while the posts are being counted.
    posts: Option<PostTotals>,
    total_accounts: usize,
}

fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

fn error_page(t: &Catalog, status: StatusCode, title: &'static str, message: &'static str) -> Response {
    render(status, &MissingPage { t, title, message, noindex: false })
}

/// `GET /`: every institution with its accounts, follower trends, posts and cases.
pub async fn overview(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let t = negotiate(&headers);
    match build_overview(&state, t).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(error) => {
            tracing::error!(code = error.code(), %error, "overview failed");
            error_page(t, StatusCode::SERVICE_UNAVAILABLE, "public.unavailable.title", "public.unavailable")
        }
    }
}

async fn build_overview<'a>(state: &AppState, t: &'a Catalog) -> Result<Overview<'a>, townhall_store::StoreError> {
    let db = &state.db;
    let institutions = db.institutions().await?;
    let accounts = db.accounts(None).await?;
    let now = Utc::now();
    let all_series = db.all_metric_series(now - Duration::days(HISTORY_DAYS), now).await?;
    let stats = state.post_stats().await;
    let mut views = Vec::with_capacity(institutions.len());
    for institution in &institutions {
        let mut account_views = Vec::new();
        for account in accounts.iter().filter(|a| a.institution_id == institution.id) {
            // Sorted by account: the account's run of snapshots.
            let start = all_series.partition_point(|s| s.account_id < account.id);
            let end = all_series.partition_point(|s| s.account_id <= account.id);
            account_views.push(account_view(t, account, &all_series[start..end]));
        }
        let cases = db.case_counts(institution.id).await?;
        views.push(InstitutionView {
            name: institution.name.clone(),
            slug: institution.slug.clone(),
            kind: kind_key(institution.kind),
            level: level_key(institution.level),
            country: institution.country.to_string(),
            parent: institution.parent.and_then(|p| institutions.iter().find(|i| i.id == p)).map(|p| p.name.clone()),
            jurisdiction: institution.jurisdiction.clone(),
            accounts: account_views,
            posts: stats
                .as_ref()
                .map(|s| s.by_institution.iter().find(|(i, _)| *i == institution.id).map_or(0, |(_, n)| *n)),
            cases: CaseStatus::ALL
                .iter()
                .map(|s| (s.as_str(), cases.iter().find(|(c, _)| c == s).map_or(0, |(_, n)| *n)))
                .collect(),
        });
    }
    Ok(Overview {
        t,
        institutions: views,
        posts: stats.as_ref().map(|s| PostTotals {
            total: s.total,
            deleted: s.deleted,
            by_platform: s.by_platform.iter().map(|(p, n)| (p.as_str(), *n)).collect(),
        }),
        total_accounts: accounts.len(),
    })
}

fn account_view(t: &Catalog, account: &Account, series: &[MetricSnapshot]) -> AccountView {
    AccountView {
        platform: account.platform.as_str(),
        handle: account.handle.clone(),
        display_name: account.display_name.clone(),
        official: account.official.clone(),
        followers: series.last().map(|s| s.followers),
        trend: trend(t, series),
    }
}

/// Scales a follower series into a 120×24 polyline, with its words for screen readers.
pub(super) fn trend(t: &Catalog, series: &[MetricSnapshot]) -> Option<Trend> {
    let (first, last) = (series.first()?, series.last()?);
    if series.len() < 2 {
        return None;
    }
    let min = series.iter().map(|s| s.followers).min()?;
    let max = series.iter().map(|s| s.followers).max()?;
    let span = (max - min).max(1) as f64;
    let step = 120.0 / (series.len() - 1) as f64;
    let points = series
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{:.1},{:.1}", i as f64 * step, 22.0 - 20.0 * (s.followers - min) as f64 / span))
        .collect::<Vec<_>>()
        .join(" ");
    let summary = format!(
        "{}: {} → {} ({} – {})",
        t.get("public.col.followers"),
        first.followers,
        last.followers,
        first.at.format("%Y-%m-%d"),
        last.at.format("%Y-%m-%d")
    );
    Some(Trend { points, summary })
}

/// `GET /static/townhall.css`
pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], STYLESHEET)
        .into_response()
}

/// `GET /static/townhall.js`: the staff pages' keyboard shortcuts.
pub async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        SCRIPT,
    )
        .into_response()
}

/// Any unknown path.
pub async fn not_found(headers: HeaderMap) -> Response {
    error_page(negotiate(&headers), StatusCode::NOT_FOUND, "error.not_found.title", "error.not_found")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn institution(posts: Option<i64>) -> InstitutionView {
        InstitutionView {
            name: "Municipalidad".into(),
            slug: "muni".into(),
            kind: "public.kind.government",
            level: "public.level.local",
            country: "CL".into(),
            parent: None,
            jurisdiction: None,
            accounts: Vec::new(),
            posts,
            cases: Vec::new(),
        }
    }

    #[test]
    fn the_overview_says_when_its_posts_are_still_being_counted() {
        let t = negotiate(&HeaderMap::new());
        let counting =
            Overview { t, institutions: vec![institution(None)], posts: None, total_accounts: 2 }.render().unwrap();
        assert!(counting.contains("1 institutions, 2 accounts; their citizen posts are being counted"), "{counting}");
        assert!(counting.contains("Posts to its accounts: being counted."));
        assert!(!counting.contains("Posts by platform"));

        let totals = PostTotals { total: 12, deleted: 1, by_platform: vec![("x", 12)] };
        let counted = Overview { t, institutions: vec![institution(Some(12))], posts: Some(totals), total_accounts: 2 }
            .render()
            .unwrap();
        assert!(counted.contains("12 citizen posts (1 deleted by their authors"), "{counted}");
        assert!(counted.contains("12 posts to its accounts.") && counted.contains("Posts by platform"));
        assert!(!counted.contains("being counted"));
    }
}
