//! The admin pages: teams, users, routing rules, deadline policies with the inbox
//! settings, and canned answers, server-rendered and usable without JavaScript.
//!
//! Who sees and changes what mirrors the API's [`ROUTES`]: a page is for admins and
//! leads, and only when the API lets them read everything it shows; its forms are
//! shown (and accepted) only when the API would let them make the change; anyone else
//! gets a 403 page. Every change is checked and made by `crate::settings`, the same
//! functions the API calls, after the form's CSRF token is checked, and then the page
//! is loaded again (POST/redirect/GET). A refused form comes back with its reason
//! (`role="alert"`) and what was typed — never a password — with status 422.

use askama::Template;
use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::json;
use townhall_core::canned::VARIABLES;
use townhall_core::deadline::{BusinessCalendar, DeadlinePolicy};
use townhall_core::routing::{Condition, INTENTS, Rule, RuleAction};
use townhall_core::settings::InboxSettings;
use townhall_core::{Platform, Priority, Role, TeamId, UserId};
use townhall_store::{StoreError, UserChange};

use super::AppState;
use super::api::{ApiError, ROUTES};
use super::auth::csrf_matches;
use super::i18n::{Catalog, negotiate};
use super::pages::{PageForm, PageId, PageStaff, Who, forbidden, page_staff, problem_page, render, who};
use crate::settings::{self, NewStaff, SettingsError};

/// The admin pages' routes, merged into the application's router.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(index))
        .route("/admin/teams", get(teams_page).post(create_team))
        .route("/admin/users", get(users_page).post(create_user))
        .route("/admin/users/{id}", post(update_user))
        .route("/admin/rules", get(rules_page).post(create_rule))
        .route("/admin/rules/{id}", get(rule_page).post(update_rule))
        .route("/admin/rules/{id}/delete", post(delete_rule))
        .route("/admin/deadlines", get(deadlines_page).post(set_policies))
        .route("/admin/deadlines/settings", post(set_inbox_settings))
        .route("/admin/canned", get(canned_page).post(create_canned))
        .route("/admin/canned/{id}/delete", post(delete_canned))
}

// ---------------------------------------------------------------------------------
// Who may do what

/// An API route: method and path as in [`ROUTES`].
type ApiRoute = (&'static str, &'static str);

/// What a page shows (the API routes that read it) and changes (those that write it).
struct Area {
    reads: &'static [ApiRoute],
    writes: &'static [ApiRoute],
}

const INDEX: Area = Area { reads: &[], writes: &[] };
const TEAMS: Area = Area { reads: &[("GET", "/teams")], writes: &[("POST", "/teams")] };
const USERS: Area =
    Area { reads: &[("GET", "/users"), ("GET", "/teams")], writes: &[("POST", "/users"), ("PATCH", "/users/{id}")] };
const RULES: Area = Area {
    reads: &[("GET", "/rules"), ("GET", "/teams"), ("GET", "/users"), ("GET", "/canned-answers")],
    writes: &[("POST", "/rules"), ("PUT", "/rules/{id}"), ("DELETE", "/rules/{id}")],
};
const DEADLINES: Area = Area {
    reads: &[("GET", "/deadline-policies"), ("GET", "/inbox-settings")],
    writes: &[("PUT", "/deadline-policies"), ("PUT", "/inbox-settings")],
};
const CANNED: Area = Area {
    reads: &[("GET", "/canned-answers")],
    writes: &[("POST", "/canned-answers"), ("DELETE", "/canned-answers/{id}")],
};

/// Whether the API lets `role` call `route`.
fn api_admits(role: Role, (method, path): ApiRoute) -> bool {
    ROUTES.iter().any(|r| r.method == method && r.path == path && r.allowed.roles().contains(&role.as_str()))
}

/// Admins and leads read a page when the API lets them read all it shows.
fn may_read(role: Role, area: &Area) -> bool {
    matches!(role, Role::Admin | Role::Lead) && area.reads.iter().all(|r| api_admits(role, *r))
}

/// A signed-in admin or lead on a page they may read.
struct Signed {
    t: &'static Catalog,
    staff: PageStaff,
    /// Whether the API lets them make every change the page offers.
    can_change: bool,
}

impl Signed {
    async fn who(&self, state: &AppState) -> Option<Who> {
        Some(who(state, &self.staff).await)
    }
}

fn not_allowed(t: &Catalog) -> Response {
    problem_page(t, StatusCode::FORBIDDEN, t.get("admin.forbidden").to_owned())
}

/// The signed-in user, when they may read `area`; else the sign-in redirect or a 403.
async fn reader(state: &AppState, headers: &HeaderMap, area: &Area) -> Result<Signed, Response> {
    let t = negotiate(headers);
    let staff = page_staff(state, headers).await?;
    if !may_read(staff.user.role, area) {
        return Err(not_allowed(t));
    }
    let can_change = area.writes.iter().all(|w| api_admits(staff.user.role, *w));
    Ok(Signed { t, staff, can_change })
}

/// The signed-in user, when the form carries their session's CSRF token and the API
/// lets them make the change `write`.
async fn writer(
    state: &AppState,
    headers: &HeaderMap,
    area: &Area,
    fields: &Fields,
    write: ApiRoute,
) -> Result<Signed, Response> {
    let t = negotiate(headers);
    let staff = page_staff(state, headers).await?;
    if !csrf_matches(fields.get("csrf").as_bytes(), &staff.csrf) {
        return Err(forbidden(t));
    }
    if !may_read(staff.user.role, area) || !api_admits(staff.user.role, write) {
        return Err(not_allowed(t));
    }
    let can_change = area.writes.iter().all(|w| api_admits(staff.user.role, *w));
    Ok(Signed { t, staff, can_change })
}

/// A page for a database failure.
fn store_failed(t: &Catalog, error: StoreError) -> Response {
    let error = ApiError::from(error);
    problem_page(t, error.status(), error.message().to_owned())
}

/// A handler's outcome where both arms are responses.
fn respond(result: Result<Response, Response>) -> Response {
    result.unwrap_or_else(|response| response)
}

// ---------------------------------------------------------------------------------
// Forms

/// A form's fields in order; a name may repeat (checkboxes). Never logged: it may hold
/// a password.
struct Fields(Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Fields, Response> {
        PageForm::from_request(request, state).await.map(|PageForm(pairs)| Fields(pairs))
    }
}

impl Fields {
    /// The first value of `name`, or "".
    fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`.
    fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v.clone()).collect()
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }
}

/// Why a form was refused, in the reader's language; `detail` is the value or check
/// at fault, when it helps.
struct Problem {
    text: String,
    detail: Option<String>,
}

impl Problem {
    fn new(t: &Catalog, key: &str) -> Problem {
        Problem { text: t.get(key).to_owned(), detail: None }
    }

    fn with(t: &Catalog, key: &str, detail: impl Into<String>) -> Problem {
        Problem { text: t.get(key).to_owned(), detail: Some(detail.into()).filter(|d| !d.is_empty()) }
    }
}

/// A refused change: the form to show again with its reason, or a page that ends the
/// request (forbidden, or the database failed).
// The page is the handler's answer as it is; it is not moved around.
#[allow(clippy::result_large_err)]
fn refusal(t: &Catalog, error: SettingsError) -> Result<Problem, Response> {
    let code = error.code();
    match error {
        SettingsError::Forbidden(_) => Err(not_allowed(t)),
        SettingsError::Store(store)
            if !matches!(store, StoreError::NotFound(_) | StoreError::Conflict(_) | StoreError::Invalid(_)) =>
        {
            Err(store_failed(t, store))
        }
        other => {
            let key = format!("admin.error.{code}");
            Ok(match t.get(&key) {
                text if text == key => Problem::with(t, "admin.error.other", other.to_string()),
                _ if matches!(code, "store.invalid" | "canned.unknown_variable") => {
                    Problem::with(t, &key, other.to_string())
                }
                _ => Problem::new(t, &key),
            })
        }
    }
}

/// One option of a select, or one checkbox.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

fn choices(options: impl IntoIterator<Item = (String, String)>, chosen: impl Fn(&str) -> bool) -> Vec<Choice> {
    options.into_iter().map(|(value, label)| Choice { selected: chosen(&value), value, label }).collect()
}

fn role_label(t: &Catalog, role: Role) -> String {
    t.get(&format!("admin.role.{}", role.as_str())).to_owned()
}

fn role_options(t: &Catalog) -> Vec<(String, String)> {
    Role::ALL.iter().map(|r| (r.as_str().to_owned(), role_label(t, *r))).collect()
}

/// Splits a list typed with commas or one per line.
fn list(text: &str) -> Vec<String> {
    text.split([',', '\n']).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect()
}

/// A decimal number, with a point or a comma.
fn decimal(text: &str) -> Option<f64> {
    text.trim().replace(',', ".").parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A number of seconds in a larger unit, without needless decimals.
fn in_units(secs: i64, unit: i64) -> String {
    if secs % unit == 0 {
        (secs / unit).to_string()
    } else {
        let text = format!("{:.4}", secs as f64 / unit as f64);
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

// ---------------------------------------------------------------------------------
// The index

#[derive(Template)]
#[template(path = "admin.html")]
struct IndexPage<'a> {
    t: &'a Catalog,
    who: Option<Who>,
    /// Address, title key and description key of each page the user may read.
    links: Vec<(&'static str, &'static str, &'static str)>,
}

/// `GET /admin`
async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(
        async {
            let s = reader(&state, &headers, &INDEX).await?;
            let pages: [(&str, &str, &str, &Area); 5] = [
                ("/admin/teams", "admin.teams.title", "admin.teams.about", &TEAMS),
                ("/admin/users", "admin.users.title", "admin.users.about", &USERS),
                ("/admin/rules", "admin.rules.title", "admin.rules.about", &RULES),
                ("/admin/deadlines", "admin.deadlines.title", "admin.deadlines.about", &DEADLINES),
                ("/admin/canned", "admin.canned.title", "admin.canned.about", &CANNED),
            ];
            let role = s.staff.user.role;
            let links = pages.iter().filter(|p| may_read(role, p.3)).map(|p| (p.0, p.1, p.2)).collect();
            Ok(render(StatusCode::OK, &IndexPage { t: s.t, who: s.who(&state).await, links }))
        }
        .await,
    )
}

// ---------------------------------------------------------------------------------
// Teams

#[derive(Template)]
#[template(path = "admin_teams.html")]
struct TeamsPage<'a> {
    t: &'a Catalog,
    who: Option<Who>,
    current: &'static str,
    csrf: String,
    can_change: bool,
    problem: Option<Problem>,
    /// Each team's name and how many staff are in it.
    teams: Vec<(String, usize)>,
    /// The new team's name as typed.
    name: String,
}

/// `GET /admin/teams`
async fn teams_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(
        async {
            let s = reader(&state, &headers, &TEAMS).await?;
            teams_view(&state, &s, None, String::new()).await
        }
        .await,
    )
}

async fn teams_view(
    state: &AppState,
    s: &Signed,
    problem: Option<Problem>,
    name: String,
) -> Result<Response, Response> {
    let institution = s.staff.user.institution_id;
    let teams = state.db.teams(institution).await.map_err(|e| store_failed(s.t, e))?;
    let users = state.db.users(institution).await.map_err(|e| store_failed(s.t, e))?;
    let teams = teams
        .into_iter()
        .map(|team| {
            let members = users.iter().filter(|u| u.team_id == Some(team.id)).count();
            (team.name, members)
        })
        .collect();
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = TeamsPage {
        t: s.t,
        who: s.who(state).await,
        current: "teams",
        csrf: s.staff.csrf.clone(),
        can_change: s.can_change,
        problem,
        teams,
        name,
    };
    Ok(render(status, &page))
}

/// `POST /admin/teams`
async fn create_team(State(state): State<AppState>, headers: HeaderMap, fields: Fields) -> Response {
    respond(
        async {
            let s = writer(&state, &headers, &TEAMS, &fields, ("POST", "/teams")).await?;
            let name = fields.get("name");
            match settings::create_team(&state.db, &s.staff.user, name).await {
                Ok(_) => Ok(Redirect::to("/admin/teams").into_response()),
                Err(error) => teams_view(&state, &s, Some(refusal(s.t, error)?), name.to_owned()).await,
            }
        }
        .await,
    )
}

// ---------------------------------------------------------------------------------
// Users

struct UserRow {
    id: i64,
    name: String,
    email: String,
    active: bool,
    role: String,
    team: String,
    available: bool,
    /// Empty for no cap.
    max_open_cases: String,
    roles: Vec<Choice>,
    teams: Vec<Choice>,
}

/// What was typed into a user's row.
struct UserInput {
    role: String,
    team: String,
    available: bool,
    max_open_cases: String,
}

impl UserInput {
    fn from_fields(fields: &Fields) -> UserInput {
        UserInput {
            role: fields.get("role").to_owned(),
            team: fields.get("team").to_owned(),
            available: fields.has("available"),
            max_open_cases: fields.get("max_open_cases").trim().to_owned(),
        }
    }
}

/// The new-user form as typed, without its password.
struct NewUserInput {
    email: String,
    name: String,
    role: String,
    team: String,
}

impl NewUserInput {
    /// An empty form, offering the least powerful role that works cases.
    fn fresh() -> NewUserInput {
        NewUserInput {
            email: String::new(),
            name: String::new(),
            role: Role::Agent.as_str().to_owned(),
            team: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage<'a> {
    t: &'a Catalog,
    who: Option<Who>,
    current: &'static str,
    csrf: String,
    can_change: bool,
    problem: Option<Problem>,
    rows: Vec<UserRow>,
    new: NewUserInput,
    roles: Vec<Choice>,
    teams: Vec<Choice>,
}

/// `GET /admin/users`
async fn users_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(
        async {
            let s = reader(&state, &headers, &USERS).await?;
            users_view(&state, &s, None, NewUserInput::fresh(), None).await
        }
        .await,
    )
}

async fn users_view(
    state: &AppState,
    s: &Signed,
    problem: Option<Problem>,
    new: NewUserInput,
    edited: Option<(i64, UserInput)>,
) -> Result<Response, Response> {
    let t = s.t;
    let institution = s.staff.user.institution_id;
    let teams = state.db.teams(institution).await.map_err(|e| store_failed(t, e))?;
    let users = state.db.users(institution).await.map_err(|e| store_failed(t, e))?;
    let team_options = || {
        std::iter::once((String::new(), t.get("admin.none").to_owned()))
            .chain(teams.iter().map(|team| (team.id.0.to_string(), team.name.clone())))
            .collect::<Vec<_>>()
    };
    let rows = users
        .into_iter()
        .map(|u| {
            let typed = edited.as_ref().filter(|(id, _)| *id == u.id.0).map(|(_, input)| input);
            let role = typed.map_or_else(|| u.role.as_str().to_owned(), |i| i.role.clone());
            let team = typed.map_or_else(|| u.team_id.map(|t| t.0.to_string()).unwrap_or_default(), |i| i.team.clone());
            UserRow {
                id: u.id.0,
                name: u.name,
                email: u.email,
                active: u.active,
                roles: choices(role_options(t), |v| v == role),
                teams: choices(team_options(), |v| v == team),
                role: Role::ALL.iter().find(|r| r.as_str() == role).map_or(role.clone(), |r| role_label(t, *r)),
                team: teams
                    .iter()
                    .find(|tm| tm.id.0.to_string() == team)
                    .map_or_else(|| t.get("admin.none").to_owned(), |tm| tm.name.clone()),
                available: typed.map_or(u.available, |i| i.available),
                max_open_cases: typed.map_or_else(
                    || u.max_open_cases.map(|m| m.to_string()).unwrap_or_default(),
                    |i| i.max_open_cases.clone(),
                ),
            }
        })
        .collect();
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = UsersPage {
        t,
        who: s.who(state).await,
        current: "users",
        csrf: s.staff.csrf.clone(),
        can_change: s.can_change,
        problem,
        rows,
        roles: choices(role_options(t), |v| v == new.role),
        teams: choices(team_options(), |v| v == new.team),
        new,
    };
    Ok(render(status, &page))
}

/// A team chosen in a form: "" for none.
fn team_choice(text: &str) -> Result<Option<TeamId>, ()> {
    match text.trim() {
        "" => Ok(None),
        id => id.parse().map(|id| Some(TeamId(id))).map_err(|_| ()),
    }
}

/// `POST /admin/users`
async fn create_user(State(state): State<AppState>, headers: HeaderMap, fields: Fields) -> Response {
    respond(
        async {
            let s = writer(&state, &headers, &USERS, &fields, ("POST", "/users")).await?;
            let typed = NewUserInput {
                email: fields.get("email").to_owned(),
                name: fields.get("name").to_owned(),
                role: fields.get("role").to_owned(),
                team: fields.get("team").to_owned(),
            };
            let (Ok(role), Ok(team_id)) = (typed.role.parse::<Role>(), team_choice(&typed.team)) else {
                return users_view(&state, &s, Some(Problem::new(s.t, "admin.error.choice")), typed, None).await;
            };
            let password = Some(fields.get("password").to_owned()).filter(|p| !p.is_empty());
            let new = NewStaff { email: typed.email.clone(), name: typed.name.clone(), role, team_id, password };
            match settings::create_user(&state.db, &s.staff.user, new).await {
                Ok(_) => Ok(Redirect::to("/admin/users").into_response()),
                Err(error) => users_view(&state, &s, Some(refusal(s.t, error)?), typed, None).await,
            }
        }
        .await,
    )
}

/// `POST /admin/users/{id}`: role, team, availability and cap.
async fn update_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
    fields: Fields,
) -> Response {
    respond(
        async {
            let s = writer(&state, &headers, &USERS, &fields, ("PATCH", "/users/{id}")).await?;
            let typed = UserInput::from_fields(&fields);
            let again = |problem| users_view(&state, &s, Some(problem), NewUserInput::fresh(), Some((id, typed)));
            let (Ok(role), Ok(team)) = (fields.get("role").parse::<Role>(), team_choice(fields.get("team"))) else {
                return again(Problem::new(s.t, "admin.error.choice")).await;
            };
            let max = match fields.get("max_open_cases").trim() {
                "" => None,
                text => match text.parse::<i32>() {
                    Ok(n) if n >= 0 => Some(n),
                    _ => return again(Problem::with(s.t, "admin.error.whole_number", text)).await,
                },
            };
            let change = UserChange {
                role: Some(role),
                team_id: Some(team),
                available: Some(fields.has("available")),
                max_open_cases: Some(max),
                active: None,
            };
            match settings::update_user(&state.db, &s.staff.user, UserId(id), &change).await {
                Ok(_) => Ok(Redirect::to("/admin/users").into_response()),
                Err(error) => again(refusal(s.t, error)?).await,
            }
        }
        .await,
    )
}

// ---------------------------------------------------------------------------------
// Routing rules

/// A rule as the form shows it: the common conditions and actions, as typed.
#[derive(Clone, Default)]
struct RuleForm {
    name: String,
    position: String,
    enabled: bool,
    stop: bool,
    keywords: String,
    languages: String,
    topics: String,
    authors: String,
    platforms: Vec<String>,
    intents: Vec<String>,
    urgency: String,
    spam: String,
    team: String,
    agent: String,
    priority: String,
    tags: String,
    acknowledge: String,
}

impl RuleForm {
    fn from_fields(fields: &Fields) -> RuleForm {
        let text = |name: &str| fields.get(name).to_owned();
        RuleForm {
            name: text("name"),
            position: text("position"),
            enabled: fields.has("enabled"),
            stop: fields.has("stop"),
            keywords: text("keywords"),
            languages: text("languages"),
            topics: text("topics"),
            authors: text("authors"),
            platforms: fields.all("platform"),
            intents: fields.all("intent"),
            urgency: text("urgency"),
            spam: text("spam"),
            team: text("team"),
            agent: text("agent"),
            priority: text("priority"),
            tags: text("tags"),
            acknowledge: text("acknowledge"),
        }
    }

    /// The form of a stored rule, or `None` when the form cannot show it faithfully
    /// (a field tested twice, or a value with a comma); account conditions, which
    /// the form does not show, are kept as they are.
    fn from_rule(rule: &Rule) -> Option<RuleForm> {
        let mut form = RuleForm {
            name: rule.name.clone(),
            position: rule.position.to_string(),
            enabled: rule.enabled,
            stop: rule.stop,
            ..RuleForm::default()
        };
        let mut seen = Vec::new();
        let joined = |values: &[String]| {
            if values.iter().any(|v| v.contains(',') || v.contains('\n')) { None } else { Some(values.join(", ")) }
        };
        for condition in &rule.conditions {
            if seen.contains(&condition.field()) {
                return None;
            }
            seen.push(condition.field());
            match condition {
                Condition::Account { .. } => {}
                Condition::Platform { any_of } => {
                    form.platforms = any_of.iter().map(|p| p.as_str().to_owned()).collect()
                }
                Condition::Intent { any_of } => form.intents.clone_from(any_of),
                Condition::Language { any_of } => form.languages = joined(any_of)?,
                Condition::Topic { any_of } => form.topics = joined(any_of)?,
                Condition::Keywords { any_of } => form.keywords = joined(any_of)?,
                Condition::Author { any_of } => form.authors = joined(any_of)?,
                Condition::Urgency { at_least } => form.urgency = at_least.to_string(),
                Condition::Spam { at_least } => form.spam = at_least.to_string(),
            }
        }
        let mut tags = Vec::new();
        // A later action of the same kind overrides an earlier one, so the last is
        // the one that counts; tags add up.
        for action in &rule.actions {
            match action {
                RuleAction::AssignTeam { team } => form.team = team.0.to_string(),
                RuleAction::AssignAgent { user } => form.agent = user.0.to_string(),
                RuleAction::SetPriority { priority } => form.priority = priority.as_str().to_owned(),
                RuleAction::Tag { tag } => tags.push(tag.clone()),
                RuleAction::Acknowledge { canned_answer } => form.acknowledge = canned_answer.to_string(),
            }
        }
        form.tags = joined(&tags)?;
        Some(form)
    }

    /// The rule typed, with `kept` conditions the form does not show; `Err` holds the
    /// catalogue key of what could not be read and the value at fault.
    fn to_rule(&self, kept: Vec<Condition>) -> Result<Rule, (&'static str, String)> {
        let position =
            self.position.trim().parse::<i32>().map_err(|_| ("admin.error.whole_number", self.position.clone()))?;
        let threshold = |text: &str| match text.trim() {
            "" => Ok(None),
            other => decimal(other).map(|n| Some(n as f32)).ok_or(("admin.error.threshold", other.to_owned())),
        };
        let id = |text: &str| match text.trim() {
            "" => Ok(None),
            other => other.parse::<i64>().map(Some).map_err(|_| ("admin.error.choice", String::new())),
        };
        let mut conditions = Vec::new();
        if !self.platforms.is_empty() {
            let any_of = self.platforms.iter().map(|p| p.parse::<Platform>()).collect::<Result<Vec<_>, _>>();
            conditions.push(Condition::Platform { any_of: any_of.map_err(|_| ("admin.error.choice", String::new()))? });
        }
        if !self.intents.is_empty() {
            conditions.push(Condition::Intent { any_of: self.intents.clone() });
        }
        for (text, make) in [
            (&self.languages, (|any_of| Condition::Language { any_of }) as fn(Vec<String>) -> Condition),
            (&self.topics, |any_of| Condition::Topic { any_of }),
            (&self.keywords, |any_of| Condition::Keywords { any_of }),
            (&self.authors, |any_of| Condition::Author { any_of }),
        ] {
            let values = list(text);
            if !values.is_empty() {
                conditions.push(make(values));
            }
        }
        if let Some(at_least) = threshold(&self.urgency)? {
            conditions.push(Condition::Urgency { at_least });
        }
        if let Some(at_least) = threshold(&self.spam)? {
            conditions.push(Condition::Spam { at_least });
        }
        conditions.extend(kept);
        let mut actions = Vec::new();
        if let Some(team) = id(&self.team)? {
            actions.push(RuleAction::AssignTeam { team: TeamId(team) });
        }
        if let Some(user) = id(&self.agent)? {
            actions.push(RuleAction::AssignAgent { user: UserId(user) });
        }
        if !self.priority.trim().is_empty() {
            let priority = self.priority.parse::<Priority>().map_err(|_| ("admin.error.choice", String::new()))?;
            actions.push(RuleAction::SetPriority { priority });
        }
        actions.extend(list(&self.tags).into_iter().map(|tag| RuleAction::Tag { tag }));
        if let Some(canned_answer) = id(&self.acknowledge)? {
            actions.push(RuleAction::Acknowledge { canned_answer });
        }
        Ok(Rule {
            id: 0,
            name: self.name.clone(),
            position,
            enabled: self.enabled,
            conditions,
            actions,
            stop: self.stop,
        })
    }
}

/// A rule's form with its options, for the template.
struct RuleFormView {
    form: RuleForm,
    platforms: Vec<Choice>,
    intents: Vec<Choice>,
    teams: Vec<Choice>,
    agents: Vec<Choice>,
    priorities: Vec<Choice>,
    canned: Vec<Choice>,
}

/// A stored rule, readably: label and value of each condition and action.
struct RuleView {
    id: i64,
    name: String,
    position: i32,
    enabled: bool,
    stop: bool,
    conditions: Vec<(String, String)>,
    actions: Vec<(String, String)>,
}

/// What the rule pages name: the institution's teams, agents and canned answers.
struct RuleTargets {
    teams: Vec<(String, String)>,
    agents: Vec<(String, String)>,
    canned: Vec<(String, String)>,
}

impl RuleTargets {
    async fn load(state: &AppState, s: &Signed) -> Result<RuleTargets, Response> {
        let institution = s.staff.user.institution_id;
        let failed = |e| store_failed(s.t, e);
        let teams = state.db.teams(institution).await.map_err(failed)?;
        let users = state.db.users(institution).await.map_err(failed)?;
        let canned = state.db.canned_answers(institution).await.map_err(failed)?;
        Ok(RuleTargets {
            teams: teams.into_iter().map(|t| (t.id.0.to_string(), t.name)).collect(),
            agents: users
                .into_iter()
                .filter(|u| u.role.can_work_cases())
                .map(|u| (u.id.0.to_string(), u.name))
                .collect(),
            canned: canned.into_iter().map(|a| (a.id.to_string(), format!("{} ({})", a.name, a.lang))).collect(),
        })
    }

    fn name(list: &[(String, String)], id: String) -> String {
        list.iter().find(|(value, _)| *value == id).map_or_else(|| format!("#{id}"), |(_, name)| name.clone())
    }

    fn view(&self, t: &Catalog, form: RuleForm) -> RuleFormView {
        let none = || (String::new(), t.get("admin.none").to_owned());
        // A stored target the lists no longer offer (an agent who became an analyst) is
        // shown by its id, so saving the form does not drop it silently.
        let with_none = |list: &[(String, String)], current: &str| {
            let missing = (!current.is_empty() && !list.iter().any(|(v, _)| v == current))
                .then(|| (current.to_owned(), format!("#{current}")));
            std::iter::once(none()).chain(list.iter().cloned()).chain(missing).collect::<Vec<_>>()
        };
        let named = |kind: &str, values: &[&str]| {
            values.iter().map(|v| ((*v).to_owned(), t.value(kind, v).to_owned())).collect::<Vec<_>>()
        };
        let platforms: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
        let priorities: Vec<&str> = Priority::ALL.iter().map(|p| p.as_str()).collect();
        RuleFormView {
            platforms: choices(named("platform", &platforms), |v| form.platforms.iter().any(|p| p == v)),
            intents: choices(named("intent", INTENTS), |v| form.intents.iter().any(|i| i == v)),
            teams: choices(with_none(&self.teams, &form.team), |v| v == form.team),
            agents: choices(with_none(&self.agents, &form.agent), |v| v == form.agent),
            priorities: choices(std::iter::once(none()).chain(named("priority", &priorities)), |v| v == form.priority),
            canned: choices(with_none(&self.canned, &form.acknowledge), |v| v == form.acknowledge),
            form,
        }
    }

    fn describe(&self, t: &Catalog, rule: Rule) -> RuleView {
        let label = |key: &str| t.get(key).to_owned();
        let strings = |values: &[String]| values.join(", ");
        let conditions = rule
            .conditions
            .iter()
            .map(|c| match c {
                Condition::Platform { any_of } => {
                    let names: Vec<&str> = any_of.iter().map(|p| t.value("platform", p.as_str())).collect();
                    (label("admin.rules.platforms"), names.join(", "))
                }
                Condition::Account { any_of } => (
                    label("admin.rules.accounts"),
                    any_of.iter().map(|a| format!("#{}", a.0)).collect::<Vec<_>>().join(", "),
                ),
                Condition::Language { any_of } => (label("admin.rules.languages"), strings(any_of)),
                Condition::Intent { any_of } => {
                    let names: Vec<&str> = any_of.iter().map(|i| t.value("intent", i)).collect();
                    (label("admin.rules.intents"), names.join(", "))
                }
                Condition::Topic { any_of } => (label("admin.rules.topics"), strings(any_of)),
                Condition::Keywords { any_of } => (label("admin.rules.keywords"), strings(any_of)),
                Condition::Author { any_of } => (label("admin.rules.authors"), strings(any_of)),
                Condition::Urgency { at_least } => (label("admin.rules.urgency"), format!("≥ {at_least}")),
                Condition::Spam { at_least } => (label("admin.rules.spam"), format!("≥ {at_least}")),
            })
            .collect();
        let actions = rule
            .actions
            .iter()
            .map(|a| match a {
                RuleAction::AssignTeam { team } => {
                    (label("admin.rules.team"), RuleTargets::name(&self.teams, team.0.to_string()))
                }
                RuleAction::AssignAgent { user } => {
                    (label("admin.rules.agent"), RuleTargets::name(&self.agents, user.0.to_string()))
                }
                RuleAction::SetPriority { priority } => {
                    (label("admin.rules.priority"), t.value("priority", priority.as_str()).to_owned())
                }
                RuleAction::Tag { tag } => (label("admin.rules.tag"), tag.clone()),
                RuleAction::Acknowledge { canned_answer } => {
                    (label("admin.rules.acknowledge"), RuleTargets::name(&self.canned, canned_answer.to_string()))
                }
            })
            .collect();
        RuleView {
            id: rule.id,
            name: rule.name,
            position: rule.position,
            enabled: rule.enabled,
            stop: rule.stop,
            conditions,
            actions,
        }
    }
}

#[derive(Template)]
#[template(path = "admin_rules.html")]
struct RulesPage<'a> {
    t: &'a Catalog,
    who: Option<Who>,
    current: &'static str,
    csrf: String,
    can_change: bool,
    problem: Option<Problem>,
    rules: Vec<RuleView>,
    /// Where the form posts and its button's catalogue key.
    action: String,
    submit: &'static str,
    rule: RuleFormView,
}

/// `GET /admin/rules`
async fn rules_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(
        async {
            let s = reader(&state, &headers, &RULES).await?;
            rules_view(&state, &s, None, None).await
        }
        .await,
    )
}

async fn rules_view(
    state: &AppState,
    s: &Signed,
    problem: Option<Problem>,
    typed: Option<RuleForm>,
) -> Result<Response, Response> {
    let rules = state.db.rules(s.staff.user.institution_id).await.map_err(|e| store_failed(s.t, e))?;
    let targets = RuleTargets::load(state, s).await?;
    let next = rules.iter().map(|r| r.position).max().map_or(10, |p| p.saturating_add(10));
    let form = typed.unwrap_or_else(|| RuleForm { position: next.to_string(), enabled: true, ..RuleForm::default() });
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = RulesPage {
        t: s.t,
        who: s.who(state).await,
        current: "rules",
        csrf: s.staff.csrf.clone(),
        can_change: s.can_change,
        problem,
        rules: rules.into_iter().map(|r| targets.describe(s.t, r)).collect(),
        action: "/admin/rules".into(),
        submit: "admin.rules.create",
        rule: targets.view(s.t, form),
    };
    Ok(render(status, &page))
}

#[derive(Template)]
#[template(path = "admin_rule.html")]
struct RulePage<'a> {
    t: &'a Catalog,
    who: Option<Who>,
    current: &'static str,
    csrf: String,
    can_change: bool,
    problem: Option<Problem>,
    view: RuleView,
    /// How many of its conditions the form does not show (kept as they are).
    kept: usize,
    action: String,
    submit: &'static str,
    /// `None` when the form cannot show the rule faithfully.
    rule: Option<RuleFormView>,
}

/// `GET /admin/rules/{id}`: one rule, with its form to change it.
async fn rule_page(State(state): State<AppState>, headers: HeaderMap, PageId(id): PageId) -> Response {
    respond(
        async {
            let s = reader(&state, &headers, &RULES).await?;
            rule_view(&state, &s, id, None, None).await
        }
        .await,
    )
}

/// The stored rule `id` of the user's institution, or a 404 page.
async fn stored_rule(state: &AppState, s: &Signed, id: i64) -> Result<Rule, Response> {
    let rules = state.db.rules(s.staff.user.institution_id).await.map_err(|e| store_failed(s.t, e))?;
    rules.into_iter().find(|r| r.id == id).ok_or_else(|| store_failed(s.t, StoreError::NotFound("rule")))
}

/// Conditions of a stored rule that the form does not show.
fn kept_conditions(rule: &Rule) -> Vec<Condition> {
    rule.conditions.iter().filter(|c| matches!(c, Condition::Account { .. })).cloned().collect()
}

async fn rule_view(
    state: &AppState,
    s: &Signed,
    id: i64,
    problem: Option<Problem>,
    typed: Option<RuleForm>,
) -> Result<Response, Response> {
    let rule = stored_rule(state, s, id).await?;
    let targets = RuleTargets::load(state, s).await?;
    let kept = kept_conditions(&rule).len();
    let form = typed.or_else(|| RuleForm::from_rule(&rule));
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = RulePage {
        t: s.t,
        who: s.who(state).await,
        current: "rules",
        csrf: s.staff.csrf.clone(),
        can_change: s.can_change,
        problem,
        view: targets.describe(s.t, rule),
        kept,
        action: format!("/admin/rules/{id}"),
        submit: "admin.rules.save",
        rule: form.map(|form| targets.view(s.t, form)),
    };
    Ok(render(status, &page))
}

/// `POST /admin/rules`
async fn create_rule(State(state): State<AppState>, headers: HeaderMap, fields: Fields) -> Response {
    respond(
        async {
            let s = writer(&state, &headers, &RULES, &fields, ("POST", "/rules")).await?;
            let typed = RuleForm::from_fields(&fields);
            let rule = match typed.to_rule(Vec::new()) {
                Ok(rule) => rule,
                Err((key, value)) => {
                    return rules_view(&state, &s, Some(Problem::with(s.t, key, value)), Some(typed)).await;
                }
            };
            match settings::create_rule(&state.db, &s.staff.user, rule).await {
                Ok(_) => Ok(Redirect::to("/admin/rules").into_response()),
                Err(error) => rules_view(&state, &s, Some(refusal(s.t, error)?), Some(typed)).await,
            }
        }
        .await,
    )
}

/// `POST /admin/rules/{id}`
async fn update_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
    fields: Fields,
) -> Response {
    respond(
        async {
            let s = writer(&state, &headers, &RULES, &fields, ("PUT", "/rules/{id}")).await?;
            let stored = stored_rule(&state, &s, id).await?;
            if RuleForm::from_rule(&stored).is_none() {
                // The form would lose what it cannot show.
                return rule_view(&state, &s, id, Some(Problem::new(s.t, "admin.rules.api_only")), None).await;
            }
            let typed = RuleForm::from_fields(&fields);
            let rule = match typed.to_rule(kept_conditions(&stored)) {
                Ok(rule) => rule,
                Err((key, value)) => {
                    return rule_view(&state, &s, id, Some(Problem::with(s.t, key, value)), Some(typed)).await;
                }
            };
            match settings::update_rule(&state.db, &s.staff.user, id, rule).await {
                Ok(_) => Ok(Redirect::to("/admin/rules").into_response()),
                Err(error) => rule_view(&state, &s, id, Some(refusal(s.t, error)?), Some(typed)).await,
            }
        }
        .await,
    )
}

/// `POST /admin/rules/{id}/delete`
async fn delete_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
    fields: Fields,
) -> Response {
    respond(
        async {
            let s = writer(&state, &headers, &RULES, &fields, ("DELETE", "/rules/{id}")).await?;
            match settings::delete_rule(&state.db, &s.staff.user, id).await {
                Ok(()) => Ok(Redirect::to("/admin/rules").into_response()),
                Err(error) => rules_view(&state, &s, Some(refusal(s.t, error)?), None).await,
            }
        }
        .await,
    )
}

// ---------------------------------------------------------------------------------
// Deadline policies and inbox settings

/// One row of the policies table as typed: priority, channel ("" for all) and the
/// two targets in business hours.
#[derive(Clone)]
struct PolicyInput {
    priority: String,
    platform: String,
    first: String,
    resolution: String,
}

/// At most this many rows of policies are read from a form.
const MAX_POLICY_ROWS: usize = 100;

impl PolicyInput {
    fn blank() -> PolicyInput {
        PolicyInput {
            priority: String::new(),
            platform: String::new(),
            first: String::new(),
            resolution: String::new(),
        }
    }

    fn of(policy: &DeadlinePolicy) -> PolicyInput {
        PolicyInput {
            priority: policy.priority.as_str().to_owned(),
            platform: policy.platform.map_or_else(String::new, |p| p.as_str().to_owned()),
            first: in_units(policy.first_response.num_seconds(), 3600),
            resolution: in_units(policy.resolution.num_seconds(), 3600),
        }
    }

    /// A row for each priority on all channels, then the channel-specific policies,
    /// then a few blank rows to add some.
    fn rows(policies: &[DeadlinePolicy]) -> Vec<PolicyInput> {
        let mut rows: Vec<PolicyInput> = Priority::ALL
            .iter()
            .map(|priority| match policies.iter().find(|p| p.priority == *priority && p.platform.is_none()) {
                Some(policy) => PolicyInput::of(policy),
                None => PolicyInput { priority: priority.as_str().to_owned(), ..PolicyInput::blank() },
            })
            .collect();
        rows.extend(policies.iter().filter(|p| p.platform.is_some()).map(PolicyInput::of));
        rows.extend(std::iter::repeat_with(PolicyInput::blank).take(3));
        rows
    }

    fn from_fields(fields: &Fields) -> Vec<PolicyInput> {
        (0..MAX_POLICY_ROWS)
            .take_while(|i| fields.has(&format!("priority_{i}")))
            .map(|i| PolicyInput {
                priority: fields.get(&format!("priority_{i}")).to_owned(),
                platform: fields.get(&format!("platform_{i}")).to_owned(),
                first: fields.get(&format!("first_{i}")).trim().to_owned(),
                resolution: fields.get(&format!("resolution_{i}")).trim().to_owned(),
            })
            .collect()
    }

    /// The policy of a row; `None` for a row left empty.
    fn policy(&self) -> Result<Option<DeadlinePolicy>, (&'static str, String)> {
        if self.first.is_empty() && self.resolution.is_empty() {
            return Ok(None);
        }
        let choice = || ("admin.error.choice", String::new());
        let priority = self.priority.parse::<Priority>().map_err(|_| choice())?;
        let platform = match self.platform.as_str() {
            "" => None,
            other => Some(other.parse::<Platform>().map_err(|_| choice())?),
        };
        let secs = |text: &str| match text {
            "" => Ok(chrono::Duration::zero()),
            other => decimal(other)
                .map(|hours| chrono::Duration::seconds((hours * 3600.0).round() as i64))
                .ok_or(("admin.error.hours", other.to_owned())),
        };
        Ok(Some(DeadlinePolicy {
            priority,
            platform,
            first_response: secs(&self.first)?,
            resolution: secs(&self.resolution)?,
        }))
    }
}

/// A row of the policies table, for the template.
struct PolicyRow {
    index: usize,
    priorities: Vec<Choice>,
    platforms: Vec<Choice>,
    first: String,
    resolution: String,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The inbox settings as typed.
#[derive(Clone)]
struct SettingsInput {
    timezone: String,
    /// Opening hours Monday to Sunday, `09:00-17:00`, empty when closed.
    hours: [String; 7],
    /// One date per line.
    holidays: String,
    /// Minutes; empty to ask nothing.
    satisfaction: String,
    topics: String,
    roles: Vec<String>,
}

impl SettingsInput {
    fn of(settings: &InboxSettings) -> SettingsInput {
        // The calendar's own wire form writes the hours the way the form reads them.
        let calendar = serde_json::to_value(&settings.calendar).unwrap_or_default();
        let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_owned();
        SettingsInput {
            timezone: text(&calendar["timezone"]),
            hours: DAYS.map(|day| text(&calendar["hours"][day])),
            holidays: calendar["holidays"]
                .as_array()
                .map(|days| days.iter().map(text).collect::<Vec<_>>().join("\n"))
                .unwrap_or_default(),
            satisfaction: settings.satisfaction_delay_secs.map(|s| in_units(i64::from(s), 60)).unwrap_or_default(),
            topics: settings.approval_topics.join(", "),
            roles: settings.approval_roles.iter().map(|r| r.as_str().to_owned()).collect(),
        }
    }

    fn from_fields(fields: &Fields) -> SettingsInput {
        SettingsInput {
            timezone: fields.get("timezone").trim().to_owned(),
            hours: DAYS.map(|day| fields.get(&format!("hours_{day}")).trim().to_owned()),
            holidays: fields.get("holidays").to_owned(),
            satisfaction: fields.get("satisfaction").trim().to_owned(),
            topics: fields.get("approval_topics").to_owned(),
            roles: fields.all("approval_role"),
        }
    }

    /// The settings typed, read by the calendar's own parser (as the API reads them);
    /// `Err` holds the catalogue key of what is wrong and the value at fault.
    fn settings(&self, t: &Catalog) -> Result<InboxSettings, (&'static str, String)> {
        let mut holidays = Vec::new();
        for line in self.holidays.lines().flat_map(|l| l.split(',')).map(str::trim).filter(|l| !l.is_empty()) {
            let date = chrono::NaiveDate::parse_from_str(line, "%Y-%m-%d")
                .map_err(|_| ("admin.error.holiday", line.to_owned()))?;
            holidays.push(date);
        }
        let calendar = |timezone: &str, hours: serde_json::Value| {
            serde_json::from_value::<BusinessCalendar>(json!({ "timezone": timezone, "hours": hours }))
        };
        if calendar(&self.timezone, json!({ "mon": "00:00-24:00" })).is_err() {
            return Err(("admin.error.timezone", self.timezone.clone()));
        }
        let mut hours = serde_json::Map::new();
        for ((day, text), label) in DAYS.iter().zip(&self.hours).zip(day_labels(t)) {
            if text.is_empty() {
                continue;
            }
            if calendar("UTC", json!({ *day: text })).is_err() {
                return Err(("admin.error.opening_hours", format!("{label}: {text}")));
            }
            hours.insert((*day).to_owned(), json!(text));
        }
        if hours.is_empty() {
            return Err(("admin.error.never_open", String::new()));
        }
        let satisfaction = match self.satisfaction.as_str() {
            "" => None,
            text => Some(
                decimal(text)
                    .map(|minutes| (minutes * 60.0).round())
                    .filter(|secs| (0.0..=f64::from(u32::MAX)).contains(secs))
                    .ok_or(("admin.error.minutes", text.to_owned()))? as u32,
            ),
        };
        let roles = self.roles.iter().map(|r| r.parse::<Role>()).collect::<Result<Vec<_>, _>>();
        let settings = json!({
            "calendar": { "timezone": self.timezone, "hours": hours, "holidays": holidays },
            "satisfaction_delay_secs": satisfaction,
            "approval_topics": list(&self.topics),
            "approval_roles": roles.map_err(|_| ("admin.error.choice", String::new()))?,
        });
        serde_json::from_value(settings).map_err(|e| ("admin.error.other", e.to_string()))
    }
}

fn day_labels(t: &Catalog) -> [String; 7] {
    DAYS.map(|day| t.get(&format!("admin.day.{day}")).to_owned())
}

#[derive(Template)]
#[template(path = "admin_deadlines.html")]
struct DeadlinesPage<'a> {
    t: &'a Catalog,
    who: Option<Who>,
    current: &'static str,
    csrf: String,
    can_change: bool,
    policies_problem: Option<Problem>,
    settings_problem: Option<Problem>,
    rows: Vec<PolicyRow>,
    timezone: String,
    /// Day key, label and hours as typed.
    days: Vec<(&'static str, String, String)>,
    holidays: String,
    satisfaction: String,
    topics: String,
    roles: Vec<Choice>,
}

/// `GET /admin/deadlines`
async fn deadlines_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(
        async {
            let s = reader(&state, &headers, &DEADLINES).await?;
            deadlines_view(&state, &s, None).await
        }
        .await,
    )
}

/// A refused form of the deadlines page: which one, why, and what was typed.
enum DeadlinesRefusal {
    Policies(Problem, Vec<PolicyInput>),
    Settings(Problem, Box<SettingsInput>),
}

async fn deadlines_view(state: &AppState, s: &Signed, refused: Option<DeadlinesRefusal>) -> Result<Response, Response> {
    let t = s.t;
    let institution = s.staff.user.institution_id;
    let (mut policies_problem, mut settings_problem, mut typed_rows, mut typed_settings) = (None, None, None, None);
    match refused {
        Some(DeadlinesRefusal::Policies(problem, rows)) => (policies_problem, typed_rows) = (Some(problem), Some(rows)),
        Some(DeadlinesRefusal::Settings(problem, input)) => {
            (settings_problem, typed_settings) = (Some(problem), Some(*input));
        }
        None => {}
    }
    let status = if policies_problem.is_some() || settings_problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let rows = match typed_rows {
        Some(rows) => rows,
        None => PolicyInput::rows(&state.db.deadline_policies(institution).await.map_err(|e| store_failed(t, e))?),
    };
    let input = match typed_settings {
        Some(input) => input,
        None => SettingsInput::of(&state.db.inbox_settings(institution).await.map_err(|e| store_failed(t, e))?),
    };
    let priorities: Vec<(String, String)> = std::iter::once((String::new(), "—".to_owned()))
        .chain(Priority::ALL.iter().map(|p| (p.as_str().to_owned(), t.value("priority", p.as_str()).to_owned())))
        .collect();
    let platforms: Vec<(String, String)> =
        std::iter::once((String::new(), t.get("admin.deadlines.all_channels").to_owned()))
            .chain(Platform::ALL.iter().map(|p| (p.as_str().to_owned(), t.value("platform", p.as_str()).to_owned())))
            .collect();
    let rows = rows
        .into_iter()
        .enumerate()
        .map(|(index, row)| PolicyRow {
            index,
            priorities: choices(priorities.clone(), |v| v == row.priority),
            platforms: choices(platforms.clone(), |v| v == row.platform),
            first: row.first,
            resolution: row.resolution,
        })
        .collect();
    let labels = day_labels(t);
    let page = DeadlinesPage {
        t,
        who: s.who(state).await,
        current: "deadlines",
        csrf: s.staff.csrf.clone(),
        can_change: s.can_change,
        policies_problem,
        settings_problem,
        rows,
        timezone: input.timezone,
        days: DAYS.iter().zip(labels).zip(input.hours).map(|((day, label), hours)| (*day, label, hours)).collect(),
        holidays: input.holidays,
        satisfaction: input.satisfaction,
        topics: input.topics,
        roles: choices(role_options(t), |v| input.roles.iter().any(|r| r == v)),
    };
    Ok(render(status, &page))
}

/// `POST /admin/deadlines`: replaces the deadline policies.
async fn set_policies(State(state): State<AppState>, headers: HeaderMap, fields: Fields) -> Response {
    respond(
        async {
            let s = writer(&state, &headers, &DEADLINES, &fields, ("PUT", "/deadline-policies")).await?;
            let rows = PolicyInput::from_fields(&fields);
            let mut policies = Vec::new();
            for row in &rows {
                match row.policy() {
                    Ok(policy) => policies.extend(policy),
                    Err((key, value)) => {
                        let refused = DeadlinesRefusal::Policies(Problem::with(s.t, key, value), rows.clone());
                        return deadlines_view(&state, &s, Some(refused)).await;
                    }
                }
            }
            match settings::set_deadline_policies(&state.db, &s.staff.user, &policies).await {
                Ok(()) => Ok(Redirect::to("/admin/deadlines").into_response()),
                Err(error) => {
                    let refused = DeadlinesRefusal::Policies(refusal(s.t, error)?, rows);
                    deadlines_view(&state, &s, Some(refused)).await
                }
            }
        }
        .await,
    )
}

/// `POST /admin/deadlines/settings`: replaces the inbox settings.
async fn set_inbox_settings(State(state): State<AppState>, headers: HeaderMap, fields: Fields) -> Response {
    respond(
        async {
            let s = writer(&state, &headers, &DEADLINES, &fields, ("PUT", "/inbox-settings")).await?;
            let input = SettingsInput::from_fields(&fields);
            let inbox_settings = match input.settings(s.t) {
                Ok(settings) => settings,
                Err((key, value)) => {
                    let problem = Problem::with(s.t, key, value);
                    return deadlines_view(&state, &s, Some(DeadlinesRefusal::Settings(problem, Box::new(input))))
                        .await;
                }
            };
            match settings::set_inbox_settings(&state.db, &s.staff.user, &inbox_settings).await {
                Ok(()) => Ok(Redirect::to("/admin/deadlines").into_response()),
                Err(error) => {
                    let refused = DeadlinesRefusal::Settings(refusal(s.t, error)?, Box::new(input));
                    deadlines_view(&state, &s, Some(refused)).await
                }
            }
        }
        .await,
    )
}

// ---------------------------------------------------------------------------------
// Canned answers

#[derive(Template)]
#[template(path = "admin_canned.html")]
struct CannedPage<'a> {
    t: &'a Catalog,
    who: Option<Who>,
    current: &'static str,
    csrf: String,
    can_change: bool,
    problem: Option<Problem>,
    answers: Vec<townhall_core::canned::CannedAnswer>,
    /// The new answer as typed.
    name: String,
    lang: String,
    body: String,
    /// The placeholders a text may use, `{{citizen}}`, …
    variables: String,
}

/// `GET /admin/canned`
async fn canned_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(
        async {
            let s = reader(&state, &headers, &CANNED).await?;
            canned_view(&state, &s, None, (String::new(), s.t.lang().to_owned(), String::new())).await
        }
        .await,
    )
}

async fn canned_view(
    state: &AppState,
    s: &Signed,
    problem: Option<Problem>,
    (name, lang, body): (String, String, String),
) -> Result<Response, Response> {
    let answers = state.db.canned_answers(s.staff.user.institution_id).await.map_err(|e| store_failed(s.t, e))?;
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = CannedPage {
        t: s.t,
        who: s.who(state).await,
        current: "canned",
        csrf: s.staff.csrf.clone(),
        can_change: s.can_change,
        problem,
        answers,
        name,
        lang,
        body,
        variables: VARIABLES.iter().map(|v| format!("{{{{{v}}}}}")).collect::<Vec<_>>().join(", "),
    };
    Ok(render(status, &page))
}

/// `POST /admin/canned`
async fn create_canned(State(state): State<AppState>, headers: HeaderMap, fields: Fields) -> Response {
    respond(
        async {
            let s = writer(&state, &headers, &CANNED, &fields, ("POST", "/canned-answers")).await?;
            let (name, lang, body) = (fields.get("name"), fields.get("lang").trim(), fields.get("body"));
            match settings::create_canned_answer(&state.db, &s.staff.user, name, lang, body).await {
                Ok(_) => Ok(Redirect::to("/admin/canned").into_response()),
                Err(error) => {
                    let typed = (name.to_owned(), lang.to_owned(), body.to_owned());
                    canned_view(&state, &s, Some(refusal(s.t, error)?), typed).await
                }
            }
        }
        .await,
    )
}

/// `POST /admin/canned/{id}/delete`
async fn delete_canned(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
    fields: Fields,
) -> Response {
    respond(
        async {
            let s = writer(&state, &headers, &CANNED, &fields, ("DELETE", "/canned-answers/{id}")).await?;
            match settings::delete_canned_answer(&state.db, &s.staff.user, id).await {
                Ok(()) => Ok(Redirect::to("/admin/canned").into_response()),
                Err(error) => {
                    let typed = (String::new(), s.t.lang().to_owned(), String::new());
                    canned_view(&state, &s, Some(refusal(s.t, error)?), typed).await
                }
            }
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_route_an_area_names_exists() {
        for area in [&INDEX, &TEAMS, &USERS, &RULES, &DEADLINES, &CANNED] {
            for (method, path) in area.reads.iter().chain(area.writes) {
                assert!(ROUTES.iter().any(|r| r.method == *method && r.path == *path), "{method} {path}");
            }
        }
    }

    #[test]
    fn admins_change_leads_read_others_are_turned_away() {
        for area in [&TEAMS, &USERS, &RULES, &DEADLINES, &CANNED] {
            assert!(may_read(Role::Admin, area) && may_read(Role::Lead, area));
            assert!(area.writes.iter().all(|w| api_admits(Role::Admin, *w)));
            assert!(!area.writes.iter().all(|w| api_admits(Role::Lead, *w)), "leads only read");
            for role in [Role::Agent, Role::Analyst, Role::Auditor] {
                assert!(!may_read(role, area), "{role}");
            }
        }
    }

    #[test]
    fn a_rule_survives_its_form() {
        let rule: Rule = serde_json::from_value(json!({
            "name": "Floods", "position": 10, "stop": true,
            "conditions": [
                {"field": "keywords", "any_of": ["inundación", "calle cortada"]},
                {"field": "platform", "any_of": ["mastodon", "x"]},
                {"field": "urgency", "at_least": 0.4},
                {"field": "account", "any_of": [3]}
            ],
            "actions": [
                {"action": "assign_team", "team": 3},
                {"action": "set_priority", "priority": "urgent"},
                {"action": "tag", "tag": "flooding"},
                {"action": "tag", "tag": "agua"}
            ]
        }))
        .unwrap();
        let form = RuleForm::from_rule(&rule).unwrap();
        let back = form.to_rule(kept_conditions(&rule)).unwrap();
        let sorted = |r: &Rule| {
            let mut fields: Vec<_> = r.conditions.iter().map(|c| format!("{c:?}")).collect();
            fields.sort();
            fields
        };
        assert_eq!(sorted(&back), sorted(&rule));
        assert_eq!((back.actions, back.stop, back.position), (rule.actions.clone(), true, 10));
        let twice = Rule {
            conditions: vec![
                Condition::Keywords { any_of: vec!["a".into()] },
                Condition::Keywords { any_of: vec!["b".into()] },
            ],
            ..rule
        };
        assert!(RuleForm::from_rule(&twice).is_none(), "two keyword tests cannot be one field");
    }

    #[test]
    fn hours_read_back_as_typed() {
        assert_eq!(in_units(5400, 3600), "1.5");
        assert_eq!(in_units(7200, 3600), "2");
        assert_eq!(decimal("0,25"), Some(0.25));
        assert_eq!(decimal("inf"), None);
    }
}
