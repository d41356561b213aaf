//! The staff pages: sign-in, the inbox and the case page, server-rendered, working
//! without JavaScript (`/static/townhall.js` only adds keyboard shortcuts). Every form
//! carries the session's CSRF token; every value is escaped by askama and untrusted
//! text is wrapped in `<bdi>`. Words come from the catalogues (`i18n.rs`).

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, FromRequest, FromRequestParts, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use townhall_core::deadline::{DeadlineState, deadline_state};
use townhall_core::{CaseAction, CaseId, CaseStatus, CloseReason, InstitutionId, Platform, SearchQuery, TeamId, User};
use townhall_store::CaseQuery;

use super::AppState;
use super::api::ApiError;
use super::auth::{SESSION_COOKIE, authenticate, client_address, csrf_matches, session};
use super::i18n::{Catalog, negotiate};
use crate::inbox::{self, ReplyRequest};

/// The cookie that carries the sign-in form's CSRF token (before there is a session).
const SIGNIN_COOKIE: &str = "townhall_signin";

/// The signed-in user, for the page header.
pub(super) struct Who {
    pub(super) name: String,
    pub(super) institution: String,
    pub(super) csrf: String,
    /// Whether the header links to the admin pages (admins and leads).
    pub(super) admin: bool,
}

/// A signed-in staff member and their session's CSRF token; pages redirect to the
/// sign-in page without one.
pub(super) struct PageStaff {
    pub(super) user: User,
    pub(super) csrf: String,
}

pub(super) async fn page_staff(state: &AppState, headers: &HeaderMap) -> Result<PageStaff, Response> {
    match session(state, headers).await {
        Ok(Some((user, csrf))) => Ok(PageStaff { user, csrf }),
        Ok(None) => Err(Redirect::to("/signin").into_response()),
        Err(error) => Err(error.into_response()),
    }
}

/// [`page_staff`] for a page someone may have bookmarked or been sent: without a
/// session, the sign-in page brings them back to it.
pub(super) async fn page_viewer(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Result<PageStaff, Response> {
    match session(state, headers).await {
        Ok(Some((user, csrf))) => Ok(PageStaff { user, csrf }),
        Ok(None) => {
            let here = uri.path_and_query().map_or("/inbox", |p| p.as_str());
            Err(Redirect::to(&format!("/signin?next={}", encode(here))).into_response())
        }
        Err(error) => {
            let t = negotiate(headers);
            Err(problem_page(t, error.status(), refused(t, &error)))
        }
    }
}

/// Where to go after signing in: a path on this server, never another site
/// (`//evil.example`, `/\evil.example`) — the inbox otherwise.
fn local_path(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2000
        && !next.chars().any(char::is_control);
    if local { next } else { "/inbox" }
}

pub(super) async fn who(state: &AppState, staff: &PageStaff) -> Who {
    let institution = state.db.institution(staff.user.institution_id).await.ok().flatten().map(|i| i.name);
    Who {
        name: staff.user.name.clone(),
        institution: institution.unwrap_or_default(),
        csrf: staff.csrf.clone(),
        admin: matches!(staff.user.role, townhall_core::Role::Admin | townhall_core::Role::Lead),
    }
}

pub(super) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    t: &'a Catalog,
    who: Option<Who>,
    csrf: String,
    email: String,
    /// The page to return to.
    next: String,
    problem: Option<&'static str>,
}

#[derive(Deserialize)]
pub(super) struct SignInParams {
    #[serde(default)]
    next: String,
}

/// `GET /signin`
pub(super) async fn signin_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<SignInParams>, QueryRejection>,
) -> Response {
    let next = params.map(|Query(p)| p.next).unwrap_or_default();
    signin_page(&state, negotiate(&headers), StatusCode::OK, String::new(), next, None)
}

fn signin_page(
    state: &AppState,
    t: &Catalog,
    status: StatusCode,
    email: String,
    next: String,
    problem: Option<&'static str>,
) -> Response {
    let (csrf, _) = crate::admin::new_token();
    let next = local_path(&next).to_owned();
    let mut response = render(status, &SignInPage { t, who: None, csrf: csrf.clone(), email, next, problem });
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let cookie = format!("{SIGNIN_COOKIE}={csrf}; Path=/signin; HttpOnly; SameSite=Strict; Max-Age=3600{secure}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
pub(super) struct SignInForm {
    email: String,
    password: String,
    csrf: String,
    #[serde(default)]
    next: String,
}

/// `POST /signin`: the form's token must match its cookie (so no other site can sign
/// someone in); then the same check as the API's sign-in.
pub(super) async fn signin(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let t = negotiate(request.headers());
    let address = client_address(request.extensions());
    let expected = super::auth::cookie(request.headers(), SIGNIN_COOKIE).map(str::to_owned);
    let Ok(Form(form)) = Form::<SignInForm>::from_request(request, &state).await else {
        return signin_page(&state, t, StatusCode::BAD_REQUEST, String::new(), String::new(), Some("signin.expired"));
    };
    if !expected.is_some_and(|e| csrf_matches(form.csrf.as_bytes(), &e)) {
        return signin_page(&state, t, StatusCode::FORBIDDEN, form.email, form.next, Some("signin.expired"));
    }
    match authenticate(&state, &form.email, form.password, &address).await {
        Ok(session) => {
            let mut response = Redirect::to(local_path(&form.next)).into_response();
            response.headers_mut().insert(header::SET_COOKIE, session.cookie);
            // The form's token has served: it is dropped with the form.
            let spent = format!("{SIGNIN_COOKIE}=; Path=/signin; HttpOnly; SameSite=Strict; Max-Age=0");
            if let Ok(value) = HeaderValue::from_str(&spent) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(error) if error.code() == "auth.rate_limited" => {
            signin_page(&state, t, StatusCode::TOO_MANY_REQUESTS, form.email, form.next, Some("signin.limited"))
        }
        Err(error) if error.code() == "auth.invalid_credentials" => {
            signin_page(&state, t, StatusCode::UNAUTHORIZED, form.email, form.next, Some("signin.failed"))
        }
        Err(error) => error.into_response(),
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    csrf: String,
}

/// `POST /signout`
pub(super) async fn signout(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<CsrfForm>,
) -> Response {
    let staff = match page_staff(&state, &headers).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    if !csrf_matches(form.csrf.as_bytes(), &staff.csrf) {
        return forbidden(negotiate(&headers));
    }
    if let Some(token) = super::auth::cookie(&headers, SESSION_COOKIE)
        && let Err(error) = state.db.delete_session(&crate::admin::token_digest(token)).await
    {
        return ApiError::from(error).into_response();
    }
    let mut response = Redirect::to("/signin").into_response();
    let expired = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage<'a> {
    t: &'a Catalog,
    who: Option<Who>,
    filters: Filters,
    rows: Vec<Row>,
    next: Option<String>,
    /// Whether the page refreshes its list while open (the first page only: older
    /// pages do not change at the top).
    live: bool,
    live_seconds: u64,
}

/// How often an open inbox asks for new cases.
const LIVE_SECONDS: u64 = 5;

struct Filters {
    q: String,
    topic: String,
    lang: String,
    mine: bool,
    referred: bool,
    team: Vec<(String, String, bool)>,
    status: Vec<(String, String, bool)>,
    intent: Vec<(String, String, bool)>,
    platform: Vec<(String, String, bool)>,
    deadline: Vec<(String, String, bool)>,
}

struct Row {
    id: i64,
    subject: String,
    status: &'static str,
    priority: &'static str,
    platform: &'static str,
    assignee: String,
    deadline: Option<&'static str>,
}

/// The inbox's query string.
#[derive(Debug, Default, Deserialize)]
pub(super) struct InboxParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    intent: String,
    #[serde(default)]
    platform: String,
    #[serde(default)]
    deadline: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    mine: Option<String>,
    #[serde(default)]
    referred: Option<String>,
    #[serde(default)]
    before: Option<i64>,
}

/// A filter's options: "any", then each value in the reader's words.
fn choices(t: &Catalog, kind: &str, values: &[&str], chosen: &str) -> Vec<(String, String, bool)> {
    std::iter::once((String::new(), t.get("inbox.any").to_owned(), chosen.is_empty()))
        .chain(values.iter().map(|v| ((*v).to_owned(), t.value(kind, v).to_owned(), *v == chosen)))
        .collect()
}

/// `GET /inbox`: the institution's cases, newest first, filtered, 50 a page.
pub(super) async fn inbox_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    params: Result<Query<InboxParams>, QueryRejection>,
) -> Response {
    let t = negotiate(&headers);
    let staff = match page_viewer(&state, &headers, &uri).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    let Ok(Query(params)) = params else {
        return problem_page(t, StatusCode::BAD_REQUEST, t.get("problem.filters").to_owned());
    };
    let (text, search_problem) = match params.q.trim() {
        "" => (None, None),
        q => match SearchQuery::parse(q) {
            Ok(query) => (Some(query), None),
            Err(error) => (None, Some(error.to_string())),
        },
    };
    if let Some(problem) = search_problem {
        return problem_page(t, StatusCode::BAD_REQUEST, problem);
    }
    let query = CaseQuery {
        referred_away: params.referred.is_some(),
        status: params.status.parse().ok(),
        platform: params.platform.parse().ok(),
        intent: (!params.intent.is_empty()).then(|| params.intent.clone()),
        topic: (!params.topic.trim().is_empty()).then(|| params.topic.trim().to_owned()),
        lang: (!params.lang.trim().is_empty()).then(|| params.lang.trim().to_owned()),
        deadline: params.deadline.parse().ok(),
        team: params.team.parse().ok().map(TeamId),
        assignee: params.mine.is_some().then_some(staff.user.id),
        text,
        before: params.before.map(CaseId),
        limit: 50,
        ..CaseQuery::new(staff.user.institution_id)
    };
    let now = Utc::now();
    let cases = match state.db.list_cases(&query, now).await {
        Ok(cases) => cases,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let users = state.db.users(staff.user.institution_id).await.unwrap_or_default();
    let teams = state.db.teams(staff.user.institution_id).await.unwrap_or_default();
    let rows = cases
        .iter()
        .map(|c| Row {
            id: c.id.0,
            subject: c.subject.clone(),
            status: c.status.as_str(),
            priority: c.priority.as_str(),
            platform: c.platform.map_or("", Platform::as_str),
            assignee: c
                .assignee
                .and_then(|a| users.iter().find(|u| u.id == a))
                .map(|u| u.name.clone())
                .unwrap_or_default(),
            deadline: case_deadline(c, now).map(DeadlineState::as_str),
        })
        .collect();
    let next = (cases.len() == 50).then(|| cases.last().map(|c| next_page(&params, c.id))).flatten();
    let statuses: Vec<&str> = CaseStatus::ALL.iter().map(|s| s.as_str()).collect();
    let platforms: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
    let filters = Filters {
        q: params.q.clone(),
        topic: params.topic.clone(),
        lang: params.lang.clone(),
        mine: params.mine.is_some(),
        referred: params.referred.is_some(),
        team: std::iter::once((String::new(), t.get("inbox.any").to_owned(), params.team.is_empty()))
            .chain(
                teams.iter().map(|team| (team.id.to_string(), team.name.clone(), team.id.to_string() == params.team)),
            )
            .collect(),
        status: choices(t, "status", &statuses, &params.status),
        intent: choices(t, "intent", townhall_core::routing::INTENTS, &params.intent),
        platform: choices(t, "platform", &platforms, &params.platform),
        deadline: choices(t, "deadline", &["breached", "due_soon", "on_time"], &params.deadline),
    };
    let who = Some(who(&state, &staff).await);
    let live = params.before.is_none();
    render(StatusCode::OK, &InboxPage { t, who, filters, rows, next, live, live_seconds: LIVE_SECONDS })
}

/// The state of the case's most pressing open deadline.
fn case_deadline(case: &townhall_core::Case, now: chrono::DateTime<Utc>) -> Option<DeadlineState> {
    if matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed) {
        return None;
    }
    let first = deadline_state(case.first_response_due, case.first_response_at, now);
    let resolution = deadline_state(case.resolution_due, case.resolved_at, now);
    [first, resolution]
        .into_iter()
        .flatten()
        .find(|s| matches!(s, DeadlineState::Breached | DeadlineState::DueSoon))
        .or(first.or(resolution))
}

fn next_page(params: &InboxParams, last: CaseId) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (name, value) in [
        ("q", &params.q),
        ("status", &params.status),
        ("intent", &params.intent),
        ("platform", &params.platform),
        ("deadline", &params.deadline),
        ("topic", &params.topic),
        ("lang", &params.lang),
        ("team", &params.team),
    ] {
        if !value.is_empty() {
            pairs.push((name, value.clone()));
        }
    }
    if params.mine.is_some() {
        pairs.push(("mine", "1".into()));
    }
    if params.referred.is_some() {
        pairs.push(("referred", "1".into()));
    }
    pairs.push(("before", last.to_string()));
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    format!("/inbox?{}", query.join("&"))
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage<'a> {
    t: &'a Catalog,
    who: Option<Who>,
    who_csrf: String,
    /// Sent back with the reply form, so a double submission stores one reply.
    reply_key: String,
    case: townhall_core::Case,
    team: String,
    assignee: String,
    opened: String,
    due: Option<String>,
    rating: Option<i32>,
    read_only: bool,
    /// Why the case cannot be acted on here, as a catalogue key.
    read_only_why: &'static str,
    posts: Vec<PostView>,
    replies: Vec<ReplyView>,
    notes: Vec<(String, String, String)>,
    referrals: Vec<String>,
    /// Why the last form was refused, with what was typed in it.
    problem: Option<String>,
    typed: Typed,
    /// What the last form did, as a catalogue key.
    done: Option<&'static str>,
    /// Whether the viewer's role does not see the audit trail.
    audit_hidden: bool,
    /// The citizen's other cases with this institution: (id, subject, status, opened).
    earlier: Vec<(i64, String, &'static str, String)>,
    audit: Vec<String>,
    canned: Vec<(i64, String)>,
    institutions: Vec<(i64, String)>,
    close_reasons: Vec<&'static str>,
}

struct PostView {
    author: String,
    handle: String,
    /// The language analysis found, for the text's `lang` attribute.
    lang: Option<String>,
    platform: &'static str,
    at: String,
    text: String,
    /// Each http(s) link with the host it really goes to, shown beside it.
    links: Vec<(String, String)>,
    tags: Vec<(String, String)>,
}

struct ReplyView {
    kind: &'static str,
    status: &'static str,
    status_key: String,
    body: String,
    error: Option<String>,
}

/// What a refused form held, put back in its fields so nothing typed is lost.
#[derive(Debug, Default)]
struct Typed {
    reply: String,
    note: String,
    outcome: String,
    refer_reason: String,
}

#[derive(Deserialize)]
pub(super) struct CaseParams {
    #[serde(default)]
    done: String,
}

/// A form on a page; a body that is not the form gets the problem page in the
/// reader's words, not axum's plain-text rejection.
pub(super) struct PageForm<T>(pub(super) T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for PageForm<T> {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<PageForm<T>, Response> {
        let t = negotiate(request.headers());
        match Form::<T>::from_request(request, state).await {
            Ok(Form(fields)) => Ok(PageForm(fields)),
            Err(_) => Err(problem_page(t, StatusCode::BAD_REQUEST, t.get("problem.form").to_owned())),
        }
    }
}

/// The id in a page's address; one that is not a number is a page that does not exist.
pub(super) struct PageId(pub(super) i64);

impl<S: Send + Sync> FromRequestParts<S> for PageId {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<PageId, Response> {
        let t = negotiate(&parts.headers);
        match Path::<i64>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(PageId(id)),
            Err(_) => Err(problem_page(t, StatusCode::NOT_FOUND, t.get("error.not_found").to_owned())),
        }
    }
}

/// `GET /cases/{id}`
pub(super) async fn case_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    PageId(id): PageId,
    params: Result<Query<CaseParams>, QueryRejection>,
) -> Response {
    let t = negotiate(&headers);
    let staff = match page_viewer(&state, &headers, &uri).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    let id = CaseId(id);
    let done = params.ok().and_then(|Query(p)| match p.done.as_str() {
        "reply" => Some("done.reply"),
        "note" => Some("done.note"),
        "act" => Some("done.act"),
        "refer" => Some("done.refer"),
        _ => None,
    });
    match build_case_page(&state, t, &staff, id).await {
        Ok(page) => render(StatusCode::OK, &CasePage { done, ..page }),
        Err(error) => problem_page(t, error.status(), refused(t, &error)),
    }
}

async fn build_case_page<'a>(
    state: &AppState,
    t: &'a Catalog,
    staff: &PageStaff,
    id: CaseId,
) -> Result<CasePage<'a>, ApiError> {
    let db = &state.db;
    let detail = inbox::case_detail(db, &staff.user, id).await?;
    let users = db.users(staff.user.institution_id).await?;
    let teams = db.teams(staff.user.institution_id).await?;
    let institutions = db.institutions().await?;
    let name_of =
        |id: InstitutionId| institutions.iter().find(|i| i.id == id).map_or_else(|| id.to_string(), |i| i.name.clone());
    let mut posts = Vec::with_capacity(detail.posts.len());
    for post in &detail.posts {
        // The handle is shown with the display name: anyone can call themselves
        // "Municipalidad de Valparaíso", only one account has its handle.
        let (author, handle) = match post.contact_id {
            Some(contact) => match db.contact(contact).await? {
                Some(c) => (c.display_name.unwrap_or_default(), c.handle),
                None => (String::new(), String::new()),
            },
            None => (String::new(), String::new()),
        };
        let mut lang = None;
        let tags = match db.enrichment(post.id).await? {
            Some((tags, _)) => {
                lang.clone_from(&tags.lang);
                let mut shown = vec![(format!("intent: {}", tags.intent), "—".to_owned())];
                shown.extend(tags.lang.map(|l| (format!("lang: {l}"), "—".to_owned())));
                shown.extend(tags.topics.iter().map(|topic| (topic.topic.clone(), format!("{:.2}", topic.confidence))));
                if tags.urgency >= 0.4 {
                    shown.push(("urgent".into(), format!("{:.2}", tags.urgency)));
                }
                if tags.spam >= 0.5 {
                    shown.push(("spam".into(), format!("{:.2}", tags.spam)));
                }
                shown
            }
            None => Vec::new(),
        };
        posts.push(PostView {
            author,
            handle,
            lang,
            platform: post.platform.as_str(),
            at: post.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            text: post.text.clone(),
            links: post
                .entities
                .links
                .iter()
                .filter_map(|link| {
                    let url = reqwest::Url::parse(link).ok().filter(|u| matches!(u.scheme(), "http" | "https"))?;
                    Some((url.to_string(), url.host_str()?.to_owned()))
                })
                .collect(),
            tags,
        });
    }
    let case = detail.case;
    let earlier = match case.contact_id {
        Some(contact) if detail.access == "owner" => {
            let query = CaseQuery { contact: Some(contact), limit: 11, ..CaseQuery::new(case.institution_id) };
            db.list_cases(&query, Utc::now())
                .await?
                .into_iter()
                .filter(|c| c.id != case.id)
                .take(10)
                .map(|c| (c.id.0, c.subject, c.status.as_str(), c.opened_at.format("%Y-%m-%d").to_string()))
                .collect()
        }
        _ => Vec::new(),
    };
    let canned = db
        .canned_answers(staff.user.institution_id)
        .await?
        .into_iter()
        .map(|a| (a.id, format!("{} ({})", a.name, a.lang)))
        .collect();
    Ok(CasePage {
        t,
        who: Some(who(state, staff).await),
        who_csrf: staff.csrf.clone(),
        reply_key: crate::admin::new_token().0,
        team: case
            .team_id
            .and_then(|id| teams.iter().find(|t| t.id == id))
            .map_or_else(|| t.get("case.nobody").to_owned(), |t| t.name.clone()),
        assignee: case
            .assignee
            .and_then(|id| users.iter().find(|u| u.id == id))
            .map_or_else(|| t.get("case.nobody").to_owned(), |u| u.name.clone()),
        opened: case.opened_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        due: case_deadline(&case, Utc::now()).map(|s| s.as_str().to_owned()),
        rating: detail.rating.map(|r| r.score),
        read_only: detail.access != "owner" || !staff.user.role.can_work_cases(),
        read_only_why: if detail.access != "owner" { "case.read_only" } else { "case.read_only_role" },
        posts,
        replies: detail
            .replies
            .iter()
            .map(|r| ReplyView {
                kind: r.kind.as_str(),
                status: r.status.as_str(),
                status_key: format!("delivery.{}", r.status.as_str()),
                body: r.body.clone(),
                error: r.error.clone(),
            })
            .collect(),
        notes: detail
            .notes
            .iter()
            .map(|n| {
                let author = users.iter().find(|u| u.id == n.user_id).map_or_else(String::new, |u| u.name.clone());
                (author, n.created_at.format("%Y-%m-%d %H:%M").to_string(), n.body.clone())
            })
            .collect(),
        referrals: detail
            .referrals
            .iter()
            .map(|r| {
                format!("{} → {}: {} ({})", name_of(r.from), name_of(r.to), r.reason, r.at.format("%Y-%m-%d %H:%M"))
            })
            .collect(),
        audit: detail
            .audit
            .iter()
            .map(|e| {
                let actor = e
                    .actor
                    .user_id()
                    .and_then(|id| users.iter().find(|u| u.id == id))
                    .map_or_else(|| e.actor.to_stored(), |u| u.name.clone());
                format!("{} · {} · {actor}", e.at.format("%Y-%m-%d %H:%M:%S"), e.action)
            })
            .collect(),
        problem: None,
        typed: Typed::default(),
        done: None,
        audit_hidden: staff.user.role == townhall_core::Role::Analyst,
        earlier,
        canned,
        institutions: institutions
            .iter()
            .filter(|i| i.id != staff.user.institution_id)
            .map(|i| (i.id.0, i.name.clone()))
            .collect(),
        close_reasons: CloseReason::ALL.iter().map(|r| r.as_str()).collect(),
        case,
    })
}

pub(super) fn forbidden(t: &Catalog) -> Response {
    problem_page(t, StatusCode::FORBIDDEN, t.get("problem.expired").to_owned())
}

#[derive(Template)]
#[template(path = "problem.html")]
struct ProblemPage<'a> {
    t: &'a Catalog,
    who: Option<Who>,
    message: String,
}

pub(super) fn problem_page(t: &Catalog, status: StatusCode, message: String) -> Response {
    render(status, &ProblemPage { t, who: None, message })
}

/// Why an action was refused, in the reader's words: the catalogue's text for the
/// error's code (`refused.<code>`), else the error's own (English) message.
pub(super) fn refused(t: &Catalog, error: &ApiError) -> String {
    let key = format!("refused.{}", error.code());
    match t.get(&key) {
        text if text == key => error.message().to_owned(),
        text => text.to_owned(),
    }
}

/// Runs a form's action for the signed-in staff member after checking its CSRF token,
/// then goes back to the case page at the section it changed (`done` names it); or
/// shows the case page again with the reason it was refused and what was typed.
async fn case_form<F, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    id: CaseId,
    csrf: &str,
    (done, typed): (&str, Typed),
    act: F,
) -> Response
where
    F: FnOnce(User, CaseId) -> Fut,
    Fut: Future<Output = Result<(), ApiError>>,
{
    let t = negotiate(headers);
    let staff = match page_staff(state, headers).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    if !csrf_matches(csrf.as_bytes(), &staff.csrf) {
        return forbidden(t);
    }
    let refusal = match act(staff.user.clone(), id).await {
        Ok(()) => {
            // Back at the section the form changed, with a status message there.
            let section = match done {
                "reply" => "replies",
                "note" => "notes",
                "refer" => "referrals",
                _ => "main",
            };
            return Redirect::to(&format!("/cases/{id}?done={done}#{section}")).into_response();
        }
        Err(error) => error,
    };
    match build_case_page(state, t, &staff, id).await {
        Ok(page) => render(refusal.status(), &CasePage { problem: Some(refused(t, &refusal)), typed, ..page }),
        Err(_) => problem_page(t, refusal.status(), refused(t, &refusal)),
    }
}

#[derive(Deserialize)]
pub(super) struct ReplyForm {
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    canned_answer: String,
    #[serde(default)]
    force: Option<String>,
}

/// `POST /cases/{id}/reply`
pub(super) async fn reply_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
    PageForm(form): PageForm<ReplyForm>,
) -> Response {
    let db = state.db.clone();
    let typed = Typed { reply: form.body.clone(), ..Typed::default() };
    case_form(&state, &headers, CaseId(id), &form.csrf, ("reply", typed), |user, id| async move {
        let canned = form.canned_answer.parse::<i64>().ok();
        let request = ReplyRequest {
            body: if canned.is_some() { None } else { Some(form.body) },
            canned_answer: canned,
            idempotency_key: (!form.key.is_empty()).then_some(form.key),
            force: form.force.is_some(),
        };
        inbox::reply(&db, &user, id, &request).await.map(|_| ()).map_err(ApiError::from)
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct NoteForm {
    csrf: String,
    body: String,
}

/// `POST /cases/{id}/note`
pub(super) async fn note_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
    PageForm(form): PageForm<NoteForm>,
) -> Response {
    let db = state.db.clone();
    let typed = Typed { note: form.body.clone(), ..Typed::default() };
    case_form(&state, &headers, CaseId(id), &form.csrf, ("note", typed), |user, id| async move {
        inbox::note(&db, &user, id, &form.body).await.map(|_| ()).map_err(ApiError::from)
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct ActForm {
    csrf: String,
    action: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    reason: String,
}

/// `POST /cases/{id}/act`: assign to oneself, open, resolve, close, reopen.
pub(super) async fn act_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
    PageForm(form): PageForm<ActForm>,
) -> Response {
    let db = state.db.clone();
    let typed = Typed { outcome: form.outcome.clone(), ..Typed::default() };
    let public_url = state.public_url.clone();
    case_form(&state, &headers, CaseId(id), &form.csrf, ("act", typed), |user, id| async move {
        let action = match form.action.as_str() {
            "assign_me" => {
                let case = db.owned_case(id, user.institution_id).await?;
                CaseAction::Assign { team: case.team_id.or(user.team_id), assignee: Some(user.id) }
            }
            "open" => CaseAction::Open,
            "resolve" => CaseAction::Resolve { outcome: form.outcome },
            "close" => CaseAction::Close { reason: form.reason.parse::<CloseReason>().ok() },
            "reopen" => CaseAction::Reopen,
            _ => return Err(ApiError::new(StatusCode::BAD_REQUEST, "request.invalid", "unknown action")),
        };
        inbox::act(&db, &user, id, &action, public_url.as_deref()).await.map(|_| ()).map_err(ApiError::from)
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct ReferForm {
    csrf: String,
    to: i64,
    reason: String,
}

/// `POST /cases/{id}/refer`
pub(super) async fn refer_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
    PageForm(form): PageForm<ReferForm>,
) -> Response {
    let db = state.db.clone();
    let typed = Typed { refer_reason: form.reason.clone(), ..Typed::default() };
    let public_url = state.public_url.clone();
    case_form(&state, &headers, CaseId(id), &form.csrf, ("refer", typed), |user, id| async move {
        let referral = (InstitutionId(form.to), form.reason.as_str());
        inbox::refer(&db, &user, id, referral, public_url.as_deref()).await.map(|_| ()).map_err(ApiError::from)
    })
    .await
}
