//! The JSON API under `/api/v1`: the inbox and its configuration. Handlers check the
//! role, call the inbox service or the store with the caller's institution, and map
//! errors to `{"error":{"code","message"}}` with a stable code. Lists page with an
//! opaque `cursor`. The routes are listed once, in [`ROUTES`], which the router and
//! the OpenAPI document both read.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use base64::Engine as _;
use chrono::Utc;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use townhall_core::deadline::{DeadlinePolicy, DeadlineState};
use townhall_core::routing::Rule;
use townhall_core::settings::InboxSettings;
use townhall_core::{
    AccountId, Actor, AuditEventId, CaseAction, CaseId, CaseStatus, InstitutionId, Platform, PostId, ReplyId, Role,
    SearchQuery, TeamId, UserId,
};
use townhall_store::{AccountCredentials, CaseQuery, StoreError, UserChange};

use super::AppState;
use super::auth::Staff;
use crate::inbox::{self, InboxError, ReplyRequest};
use crate::settings::{self, NewStaff, SettingsError};

/// An API error: HTTP status, stable code and a message for people.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// An error with its status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    /// Its HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Its stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Its message for people.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// No valid session or token.
    pub fn unauthenticated() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "auth.required", "sign in or send an API token")
    }

    fn forbidden(message: &str) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "auth.forbidden", message)
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "request.invalid", message)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        let status = match &error {
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            StoreError::Conflict(_) => StatusCode::CONFLICT,
            StoreError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            StoreError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR || status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(code = error.code(), %error, "request failed");
            return ApiError::new(status, error.code(), "the database failed; try again");
        }
        ApiError::new(status, error.code(), error.to_string())
    }
}

impl From<InboxError> for ApiError {
    fn from(error: InboxError) -> ApiError {
        match error {
            InboxError::Store(error) => error.into(),
            InboxError::Forbidden(message) => ApiError::forbidden(message),
            InboxError::Collision(_) => ApiError::new(StatusCode::CONFLICT, error.code(), error.to_string()),
            other => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, other.code(), other.to_string()),
        }
    }
}

impl From<SettingsError> for ApiError {
    fn from(error: SettingsError) -> ApiError {
        match error {
            SettingsError::Store(error) => error.into(),
            SettingsError::Forbidden(message) => ApiError::forbidden(message),
            SettingsError::Invalid { code, message } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message),
            SettingsError::Hashing(message) => ApiError::bad_request(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, axum::Json(body)).into_response()
    }
}

type ApiResult<T = Response> = Result<T, ApiError>;

/// A JSON body whose rejection is an [`ApiError`].
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(ApiError::bad_request(match rejection {
                JsonRejection::JsonDataError(e) => e.body_text(),
                JsonRejection::JsonSyntaxError(_) => "the body is not valid JSON".to_owned(),
                JsonRejection::MissingJsonContentType(_) => "send Content-Type: application/json".to_owned(),
                other => other.body_text(),
            })),
        }
    }
}

fn ok(value: impl serde::Serialize) -> ApiResult {
    Ok(axum::Json(value).into_response())
}

fn created(value: impl serde::Serialize) -> ApiResult {
    Ok((StatusCode::CREATED, axum::Json(value)).into_response())
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Anyone, signed in or not.
    Public,
    /// Every signed-in role.
    Staff,
    /// Admins, leads and agents: the roles that work cases.
    Workers,
    /// Admins and leads.
    Leads,
    /// Admins and auditors.
    Auditors,
    /// Admins only.
    Admins,
}

impl Allowed {
    fn admits(self, role: Role) -> bool {
        match self {
            Allowed::Public | Allowed::Staff => true,
            Allowed::Workers => role.can_work_cases(),
            Allowed::Leads => matches!(role, Role::Admin | Role::Lead),
            Allowed::Auditors => matches!(role, Role::Admin | Role::Auditor),
            Allowed::Admins => role == Role::Admin,
        }
    }

    /// The roles admitted, for the OpenAPI document.
    pub fn roles(self) -> Vec<&'static str> {
        Role::ALL.iter().filter(|r| self.admits(**r) && self != Allowed::Public).map(|r| r.as_str()).collect()
    }
}

fn require(staff: &Staff, allowed: Allowed) -> ApiResult<()> {
    if allowed.admits(staff.0.role) { Ok(()) } else { Err(ApiError::forbidden("your role may not do this")) }
}

/// One route of the API: its method, path (axum syntax), who may call it, and what
/// it does in a sentence (the OpenAPI summary).
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// `GET`, `POST`, …
    pub method: &'static str,
    /// Under `/api/v1`, with `{id}` parameters.
    pub path: &'static str,
    /// Who may call it.
    pub allowed: Allowed,
    /// What it does.
    pub summary: &'static str,
    /// The JSON body it takes, if any (a schema name in the OpenAPI document).
    pub body: Option<&'static str>,
    /// What it answers (a schema name).
    pub answer: &'static str,
}

macro_rules! route {
    ($method:literal $path:literal, $allowed:ident, $summary:literal, $body:expr, $answer:literal) => {
        Route {
            method: $method,
            path: $path,
            allowed: Allowed::$allowed,
            summary: $summary,
            body: $body,
            answer: $answer,
        }
    };
}

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    route!("POST" "/session", Public, "Sign in with e-mail and password; sets the session cookie", Some("SignIn"), "Session"),
    route!("DELETE" "/session", Staff, "Sign out", None, "Empty"),
    route!("GET" "/me", Staff, "The signed-in user and their institution", None, "Me"),
    route!("GET" "/institutions", Staff, "Institutions a case can be referred to", None, "Institutions"),
    route!("GET" "/cases", Staff, "The inbox: cases, newest first, filtered, a page at a time", None, "CasePage"),
    route!("GET" "/cases/{id}", Staff, "A case with its thread, replies, notes, referrals, rating and audit trail", None, "CaseDetail"),
    route!("POST" "/cases/{id}/actions", Workers, "Open, assign, set priority, resolve, close or reopen a case", Some("CaseAction"), "Case"),
    route!("POST" "/cases/{id}/replies", Workers, "Reply to the citizen on the case's platform", Some("ReplyRequest"), "Reply"),
    route!("POST" "/cases/{id}/notes", Workers, "Add an internal note; @name mentions a colleague", Some("NoteRequest"), "Note"),
    route!("POST" "/cases/{id}/referrals", Workers, "Refer the case to the institution responsible", Some("ReferralRequest"), "Case"),
    route!("POST" "/cases/{id}/merge", Workers, "Merge another case into this one", Some("MergeRequest"), "Case"),
    route!("POST" "/cases/{id}/split", Workers, "Move some posts into a new case", Some("SplitRequest"), "Case"),
    route!("POST" "/replies/{id}/approve", Leads, "Approve a reply held for approval", None, "Reply"),
    route!("POST" "/replies/{id}/retry", Workers, "Queue a failed reply again", None, "Reply"),
    route!("GET" "/breaches", Staff, "Missed deadlines, counted and listed", None, "Breaches"),
    route!("GET" "/teams", Staff, "The institution's teams", None, "Teams"),
    route!("POST" "/teams", Admins, "Create a team", Some("TeamRequest"), "Team"),
    route!("GET" "/users", Leads, "The institution's staff", None, "Users"),
    route!("POST" "/users", Admins, "Create a user", Some("UserRequest"), "User"),
    route!("PATCH" "/users/{id}", Staff, "Change a user (admins); set one's own availability (anyone)", Some("UserChange"), "User"),
    route!("POST" "/tokens", Staff, "Create an API token for oneself; it is shown once", Some("TokenRequest"), "Token"),
    route!("DELETE" "/tokens/{id}", Staff, "Revoke one's own token (admins: any of the institution's)", None, "Empty"),
    route!("GET" "/rules", Leads, "Routing rules in the order they run", None, "Rules"),
    route!("POST" "/rules", Admins, "Add a routing rule", Some("Rule"), "Rule"),
    route!("PUT" "/rules/{id}", Admins, "Change a routing rule", Some("Rule"), "Rule"),
    route!("DELETE" "/rules/{id}", Admins, "Delete a routing rule", None, "Empty"),
    route!("GET" "/deadline-policies", Staff, "First-response and resolution targets per priority and channel", None, "DeadlinePolicies"),
    route!("PUT" "/deadline-policies", Admins, "Replace the deadline policies", Some("DeadlinePolicies"), "DeadlinePolicies"),
    route!("GET" "/inbox-settings", Staff, "Business calendar, satisfaction question and approvals", None, "InboxSettings"),
    route!("PUT" "/inbox-settings", Admins, "Replace the inbox settings", Some("InboxSettings"), "InboxSettings"),
    route!("GET" "/canned-answers", Staff, "Canned answers", None, "CannedAnswers"),
    route!("POST" "/canned-answers", Admins, "Add a canned answer", Some("CannedAnswerRequest"), "CannedAnswer"),
    route!("DELETE" "/canned-answers/{id}", Admins, "Delete a canned answer", None, "Empty"),
    route!("GET" "/accounts", Staff, "The institution's platform accounts", None, "Accounts"),
    route!("PUT" "/accounts/{id}/credentials", Admins, "Set how Townhall replies as an account (write-only)", Some("Credentials"), "Empty"),
    route!("GET" "/audit", Auditors, "The institution's audit log, oldest first, a page at a time", None, "AuditPage"),
];

/// The API's router, mounted at `/api/v1`.
pub fn router() -> axum::Router<AppState> {
    let mut router = axum::Router::new();
    for route in ROUTES {
        router = router.route(route.path, handler(route.method, route.path));
    }
    router.route("/openapi.json", get(super::openapi::document)).fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "request.not_found", "no such API route")
}

fn handler(method: &str, path: &str) -> MethodRouter<AppState> {
    match (method, path) {
        ("POST", "/session") => post(super::auth::sign_in),
        ("DELETE", "/session") => delete(super::auth::sign_out),
        ("GET", "/me") => get(me),
        ("GET", "/institutions") => get(institutions),
        ("GET", "/cases") => get(list_cases),
        ("GET", "/cases/{id}") => get(case_detail),
        ("POST", "/cases/{id}/actions") => post(case_action),
        ("POST", "/cases/{id}/replies") => post(case_reply),
        ("POST", "/cases/{id}/notes") => post(case_note),
        ("POST", "/cases/{id}/referrals") => post(case_referral),
        ("POST", "/cases/{id}/merge") => post(case_merge),
        ("POST", "/cases/{id}/split") => post(case_split),
        ("POST", "/replies/{id}/approve") => post(approve_reply),
        ("POST", "/replies/{id}/retry") => post(retry_reply),
        ("GET", "/breaches") => get(breaches),
        ("GET", "/teams") => get(teams),
        ("POST", "/teams") => post(create_team),
        ("GET", "/users") => get(users),
        ("POST", "/users") => post(create_user),
        ("PATCH", "/users/{id}") => patch(update_user),
        ("POST", "/tokens") => post(create_token),
        ("DELETE", "/tokens/{id}") => delete(revoke_token),
        ("GET", "/rules") => get(rules),
        ("POST", "/rules") => post(create_rule),
        ("PUT", "/rules/{id}") => put(update_rule),
        ("DELETE", "/rules/{id}") => delete(delete_rule),
        ("GET", "/deadline-policies") => get(deadline_policies),
        ("PUT", "/deadline-policies") => put(set_deadline_policies),
        ("GET", "/inbox-settings") => get(inbox_settings),
        ("PUT", "/inbox-settings") => put(set_inbox_settings),
        ("GET", "/canned-answers") => get(canned_answers),
        ("POST", "/canned-answers") => post(create_canned_answer),
        ("DELETE", "/canned-answers/{id}") => delete(delete_canned_answer),
        ("GET", "/accounts") => get(accounts),
        ("PUT", "/accounts/{id}/credentials") => put(set_credentials),
        ("GET", "/audit") => get(audit),
        // ROUTES and this table are kept together; a test checks every route answers.
        _ => get(not_found),
    }
}

/// Checks the route's role rule for the request's method and path.
fn guard(staff: &Staff, method: &str, path: &str) -> ApiResult<()> {
    let route = ROUTES.iter().find(|r| r.method == method && r.path == path);
    require(staff, route.map_or(Allowed::Admins, |r| r.allowed))
}

async fn me(State(state): State<AppState>, staff: Staff) -> ApiResult {
    let institution = state.db.institution(staff.0.institution_id).await?;
    ok(json!({ "user": staff.0, "institution": institution }))
}

async fn institutions(State(state): State<AppState>, _staff: Staff) -> ApiResult {
    ok(state.db.institutions().await?)
}

/// The query string of the inbox listing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseListParams {
    status: Option<String>,
    team: Option<i64>,
    assignee: Option<String>,
    platform: Option<String>,
    intent: Option<String>,
    topic: Option<String>,
    lang: Option<String>,
    deadline: Option<String>,
    q: Option<String>,
    referred: Option<bool>,
    cursor: Option<String>,
    limit: Option<i64>,
}

fn parse<T: std::str::FromStr>(value: Option<String>) -> ApiResult<Option<T>>
where
    T::Err: std::fmt::Display,
{
    value.map(|v| v.parse::<T>().map_err(|e| ApiError::bad_request(e.to_string()))).transpose()
}

fn encode_cursor(id: CaseId) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("before:{id}"))
}

fn decode_cursor(cursor: &str) -> ApiResult<CaseId> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| ApiError::bad_request("bad cursor"))?;
    let text = String::from_utf8(bytes).map_err(|_| ApiError::bad_request("bad cursor"))?;
    let id =
        text.strip_prefix("before:").and_then(|n| n.parse().ok()).ok_or_else(|| ApiError::bad_request("bad cursor"))?;
    Ok(CaseId(id))
}

async fn list_cases(
    State(state): State<AppState>,
    staff: Staff,
    params: Result<Query<CaseListParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let assignee = match params.assignee.as_deref() {
        Some("me") => Some(staff.0.id),
        Some(other) => Some(UserId(other.parse().map_err(|_| ApiError::bad_request("assignee is a user id or `me`"))?)),
        None => None,
    };
    let text = match params.q.as_deref().map(str::trim) {
        Some(q) if !q.is_empty() => {
            Some(SearchQuery::parse(q).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.code(), e.to_string()))?)
        }
        _ => None,
    };
    let limit = params.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request("limit is 1 to 200"));
    }
    let query = CaseQuery {
        referred_away: params.referred.unwrap_or(false),
        status: parse::<CaseStatus>(params.status)?,
        team: params.team.map(TeamId),
        assignee,
        platform: parse::<Platform>(params.platform)?,
        intent: params.intent,
        topic: params.topic,
        lang: params.lang,
        deadline: parse::<DeadlineState>(params.deadline)?,
        text,
        before: params.cursor.as_deref().map(decode_cursor).transpose()?,
        limit,
        ..CaseQuery::new(staff.0.institution_id)
    };
    let cases = state.db.list_cases(&query, Utc::now()).await?;
    let next = (cases.len() as i64 == limit).then(|| cases.last().map(|c| encode_cursor(c.id))).flatten();
    ok(json!({ "items": cases, "next_cursor": next }))
}

async fn case_detail(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> ApiResult {
    ok(inbox::case_detail(&state.db, &staff.0, CaseId(id)).await?)
}

async fn case_action(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Body(action): Body<CaseAction>,
) -> ApiResult {
    guard(&staff, "POST", "/cases/{id}/actions")?;
    ok(inbox::act(&state.db, &staff.0, CaseId(id), &action, state.public_url.as_deref()).await?)
}

async fn case_reply(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Body(request): Body<ReplyRequest>,
) -> ApiResult {
    guard(&staff, "POST", "/cases/{id}/replies")?;
    created(inbox::reply(&state.db, &staff.0, CaseId(id), &request).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteRequest {
    body: String,
}

async fn case_note(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Body(request): Body<NoteRequest>,
) -> ApiResult {
    guard(&staff, "POST", "/cases/{id}/notes")?;
    created(inbox::note(&state.db, &staff.0, CaseId(id), &request.body).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferralRequest {
    to: i64,
    reason: String,
}

async fn case_referral(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Body(request): Body<ReferralRequest>,
) -> ApiResult {
    guard(&staff, "POST", "/cases/{id}/referrals")?;
    let referral = (InstitutionId(request.to), request.reason.as_str());
    ok(inbox::refer(&state.db, &staff.0, CaseId(id), referral, state.public_url.as_deref()).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeRequest {
    from: i64,
}

async fn case_merge(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Body(request): Body<MergeRequest>,
) -> ApiResult {
    guard(&staff, "POST", "/cases/{id}/merge")?;
    ok(inbox::merge(&state.db, &staff.0, CaseId(id), CaseId(request.from)).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitRequest {
    post_ids: Vec<i64>,
}

async fn case_split(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Body(request): Body<SplitRequest>,
) -> ApiResult {
    guard(&staff, "POST", "/cases/{id}/split")?;
    let posts: Vec<PostId> = request.post_ids.into_iter().map(PostId).collect();
    created(inbox::split(&state.db, &staff.0, CaseId(id), &posts).await?)
}

async fn approve_reply(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> ApiResult {
    guard(&staff, "POST", "/replies/{id}/approve")?;
    ok(inbox::approve(&state.db, &staff.0, ReplyId(id)).await?)
}

async fn retry_reply(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> ApiResult {
    guard(&staff, "POST", "/replies/{id}/retry")?;
    ok(inbox::retry(&state.db, &staff.0, ReplyId(id)).await?)
}

async fn breaches(State(state): State<AppState>, staff: Staff) -> ApiResult {
    let items = state.db.breaches(staff.0.institution_id, 500).await?;
    let count = |kind| items.iter().filter(|b| b.kind == kind).count();
    let counts = json!({
        "first_response": count(townhall_store::DeadlineKind::FirstResponse),
        "resolution": count(townhall_store::DeadlineKind::Resolution),
    });
    ok(json!({ "counts": counts, "items": items }))
}

async fn teams(State(state): State<AppState>, staff: Staff) -> ApiResult {
    ok(state.db.teams(staff.0.institution_id).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamRequest {
    name: String,
}

async fn create_team(State(state): State<AppState>, staff: Staff, Body(request): Body<TeamRequest>) -> ApiResult {
    guard(&staff, "POST", "/teams")?;
    created(settings::create_team(&state.db, &staff.0, &request.name).await?)
}

async fn users(State(state): State<AppState>, staff: Staff) -> ApiResult {
    guard(&staff, "GET", "/users")?;
    ok(state.db.users(staff.0.institution_id).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRequest {
    email: String,
    name: String,
    role: Role,
    team_id: Option<i64>,
    password: Option<String>,
}

async fn create_user(State(state): State<AppState>, staff: Staff, Body(request): Body<UserRequest>) -> ApiResult {
    guard(&staff, "POST", "/users")?;
    let new = NewStaff {
        email: request.email,
        name: request.name,
        role: request.role,
        team_id: request.team_id.map(TeamId),
        password: request.password,
    };
    created(settings::create_user(&state.db, &staff.0, new).await?)
}

async fn update_user(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Body(change): Body<UserChange>,
) -> ApiResult {
    ok(settings::update_user(&state.db, &staff.0, UserId(id), &change).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    name: String,
}

async fn create_token(State(state): State<AppState>, staff: Staff, Body(request): Body<TokenRequest>) -> ApiResult {
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "token.invalid_name",
            "a token's name has 1 to 100 characters",
        ));
    }
    let (token, digest) = crate::admin::new_token();
    let id = state.db.create_api_token(&staff.0, name, &digest, &Actor::User(staff.0.id)).await?;
    created(json!({ "id": id, "name": name, "token": token }))
}

async fn revoke_token(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> ApiResult {
    let owner = if staff.0.role == Role::Admin { None } else { Some(staff.0.id) };
    state.db.revoke_api_token(id, Some((staff.0.institution_id, owner)), &Actor::User(staff.0.id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn rules(State(state): State<AppState>, staff: Staff) -> ApiResult {
    guard(&staff, "GET", "/rules")?;
    ok(state.db.rules(staff.0.institution_id).await?)
}

async fn create_rule(State(state): State<AppState>, staff: Staff, Body(rule): Body<Rule>) -> ApiResult {
    guard(&staff, "POST", "/rules")?;
    created(settings::create_rule(&state.db, &staff.0, rule).await?)
}

async fn update_rule(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Body(rule): Body<Rule>,
) -> ApiResult {
    guard(&staff, "PUT", "/rules/{id}")?;
    ok(settings::update_rule(&state.db, &staff.0, id, rule).await?)
}

async fn delete_rule(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> ApiResult {
    guard(&staff, "DELETE", "/rules/{id}")?;
    settings::delete_rule(&state.db, &staff.0, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn deadline_policies(State(state): State<AppState>, staff: Staff) -> ApiResult {
    ok(state.db.deadline_policies(staff.0.institution_id).await?)
}

async fn set_deadline_policies(
    State(state): State<AppState>,
    staff: Staff,
    Body(policies): Body<Vec<DeadlinePolicy>>,
) -> ApiResult {
    guard(&staff, "PUT", "/deadline-policies")?;
    settings::set_deadline_policies(&state.db, &staff.0, &policies).await?;
    ok(policies)
}

async fn inbox_settings(State(state): State<AppState>, staff: Staff) -> ApiResult {
    ok(state.db.inbox_settings(staff.0.institution_id).await?)
}

async fn set_inbox_settings(
    State(state): State<AppState>,
    staff: Staff,
    Body(settings): Body<InboxSettings>,
) -> ApiResult {
    guard(&staff, "PUT", "/inbox-settings")?;
    settings::set_inbox_settings(&state.db, &staff.0, &settings).await?;
    ok(settings)
}

async fn canned_answers(State(state): State<AppState>, staff: Staff) -> ApiResult {
    ok(state.db.canned_answers(staff.0.institution_id).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CannedAnswerRequest {
    name: String,
    lang: String,
    body: String,
}

async fn create_canned_answer(
    State(state): State<AppState>,
    staff: Staff,
    Body(request): Body<CannedAnswerRequest>,
) -> ApiResult {
    guard(&staff, "POST", "/canned-answers")?;
    let answer =
        settings::create_canned_answer(&state.db, &staff.0, &request.name, &request.lang, &request.body).await?;
    created(answer)
}

async fn delete_canned_answer(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> ApiResult {
    guard(&staff, "DELETE", "/canned-answers/{id}")?;
    settings::delete_canned_answer(&state.db, &staff.0, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn accounts(State(state): State<AppState>, staff: Staff) -> ApiResult {
    ok(state.db.accounts(Some(staff.0.institution_id)).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsRequest {
    endpoint: String,
    identifier: Option<String>,
    secret: String,
}

async fn set_credentials(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Body(request): Body<CredentialsRequest>,
) -> ApiResult {
    guard(&staff, "PUT", "/accounts/{id}/credentials")?;
    let endpoint = request.endpoint.trim().trim_end_matches('/').to_owned();
    let invalid =
        |message: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "account.invalid_credentials", message);
    crate::deliver::check_endpoint(&endpoint, state.loopback_endpoints).map_err(|e| invalid(e.message))?;
    if request.secret.is_empty() {
        return Err(invalid("give the secret (a token or app password)".into()));
    }
    let credentials = AccountCredentials { endpoint, identifier: request.identifier, secret: request.secret };
    state
        .db
        .set_account_credentials(staff.0.institution_id, AccountId(id), &credentials, &Actor::User(staff.0.id))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn audit(
    State(state): State<AppState>,
    staff: Staff,
    params: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    guard(&staff, "GET", "/audit")?;
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = params.limit.unwrap_or(100).clamp(1, 1000);
    let events =
        state.db.audit_events(Some(staff.0.institution_id), AuditEventId(params.after.unwrap_or(0)), limit).await?;
    let next: Option<Value> = (events.len() as i64 == limit).then(|| events.last().map(|e| json!(e.id.0))).flatten();
    ok(json!({ "items": events, "next_after": next }))
}
