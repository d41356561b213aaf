//! The staff dashboard (`GET /dashboard`): today's load in the institution's own time
//! zone — what arrived, was answered and resolved, what waits in each queue and with
//! each agent — and the deadlines missed lately. Every figure is counted in SQL.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use townhall_core::{Team, User};
use townhall_store::{Load, TeamLoad};

use super::AppState;
use super::api::ApiError;
use super::chart::BarChart;
use super::i18n::{Catalog, negotiate};
use super::pages::{PageStaff, Who, page_viewer, problem_page, refused, render, who};

/// How many of the latest missed deadlines are listed.
const BREACHES_SHOWN: i64 = 20;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    t: &'a Catalog,
    who: Option<Who>,
    /// The local date, e.g. `2026-12-02`.
    day: String,
    load: Load,
    chart: BarChart,
    queues: Vec<Queue>,
    agents: Vec<Agent>,
    breaches: Vec<BreachView>,
}

struct Queue {
    /// The team's id for the inbox filter; empty for cases in no team.
    team: String,
    name: String,
    waiting: i64,
    overdue: i64,
}

struct Agent {
    name: String,
    team: String,
    available: bool,
    open: i64,
    max: Option<i64>,
}

struct BreachView {
    case: i64,
    kind: &'static str,
    due: String,
}

/// `GET /dashboard`
pub(super) async fn dashboard(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let t = negotiate(&headers);
    let staff = match page_viewer(&state, &headers, &uri).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    match build(&state, t, &staff, Utc::now()).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(error) => problem_page(t, error.status(), refused(t, &error)),
    }
}

async fn build<'a>(
    state: &AppState,
    t: &'a Catalog,
    staff: &PageStaff,
    now: DateTime<Utc>,
) -> Result<DashboardPage<'a>, ApiError> {
    let db = &state.db;
    let institution = staff.user.institution_id;
    let settings = db.inbox_settings(institution).await?;
    let calendar = &settings.calendar;
    let midnight = calendar.start_of_day(now);
    let load = db.load(institution, midnight, now).await?;
    let teams = db.teams(institution).await?;
    let users = db.users(institution).await?;
    let queues = db.team_loads(institution, now).await?.into_iter().map(|q| queue(t, &teams, q)).collect();
    let mut agents = Vec::new();
    for team in &teams {
        for load in db.agent_loads(institution, team.id).await? {
            agents.push(Agent {
                name: name_of(&users, load.user),
                team: team.name.clone(),
                available: load.available,
                open: load.open_cases,
                max: load.max_open_cases,
            });
        }
    }
    // 23 or 25 hours on the days the clocks change.
    let day_hours = (calendar.start_of_day(midnight + chrono::Duration::hours(26)) - midnight).num_hours();
    let hours = db
        .cases_per_period(institution, midnight, chrono::Duration::hours(1), u32::try_from(day_hours).unwrap_or(24))
        .await?;
    let mut chart = BarChart::new(
        "today",
        t.get("dashboard.chart.title"),
        vec![t.get("dashboard.opened").to_owned(), t.get("dashboard.chart.answered").to_owned()],
    );
    t.get("dashboard.chart.desc").clone_into(&mut chart.description);
    t.get("dashboard.chart.hour").clone_into(&mut chart.group_header);
    t.get("dashboard.chart.table").clone_into(&mut chart.table_label);
    let tz = calendar.timezone();
    for hour in hours.iter().filter(|h| h.start <= now) {
        let label = hour.start.with_timezone(&tz).format("%H").to_string();
        chart.push(label, &[hour.opened as f64, hour.answered as f64]);
    }
    let breaches = db
        .breaches(institution, BREACHES_SHOWN)
        .await?
        .into_iter()
        .map(|b| BreachView {
            case: b.case_id.0,
            kind: b.kind.as_str(),
            due: b.due_at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        })
        .collect();
    Ok(DashboardPage {
        t,
        who: Some(who(state, staff).await),
        day: now.with_timezone(&tz).format("%Y-%m-%d").to_string(),
        load,
        chart,
        queues,
        agents,
        breaches,
    })
}

fn queue(t: &Catalog, teams: &[Team], load: TeamLoad) -> Queue {
    let name = match load.team {
        Some(id) => teams.iter().find(|team| team.id == id).map_or_else(|| id.to_string(), |team| team.name.clone()),
        None => t.get("dashboard.no_team").to_owned(),
    };
    Queue {
        team: load.team.map(|id| id.to_string()).unwrap_or_default(),
        name,
        waiting: load.waiting,
        overdue: load.overdue,
    }
}

fn name_of(users: &[User], id: townhall_core::UserId) -> String {
    users.iter().find(|u| u.id == id).map_or_else(|| id.to_string(), |u| u.name.clone())
}
