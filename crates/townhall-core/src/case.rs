//! Cases: the unit of work of the shared inbox, and the one pure function that moves
//! them, [`transition`]. The store writes the new case and its events in one
//! transaction, so the audit trail and the case can never disagree.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CaseId, ContactId, InstitutionId, Platform, TeamId, UserId, named_enum};

named_enum! {
    /// Where a case stands: `new → open → pending → resolved → closed`.
    pub enum CaseStatus as "case status" {
        /// Arrived, nobody has looked at it.
        New = "new",
        /// Someone works on it.
        Open = "open",
        /// Answered; waiting for the citizen or a third party.
        Pending = "pending",
        /// The matter is settled and the citizen was told the outcome.
        Resolved = "resolved",
        /// Nothing more will happen.
        Closed = "closed",
    }
}

named_enum! {
    /// How soon a case needs attention.
    pub enum Priority as "priority" {
        /// When there is time.
        Low = "low",
        /// The default.
        Normal = "normal",
        /// Before the normal queue.
        High = "high",
        /// Threat to life or safety: now.
        Urgent = "urgent",
    }
}

named_enum! {
    /// Why a case was closed without being answered. Reported in public, so an
    /// institution cannot quietly ignore citizens.
    pub enum CloseReason as "close reason" {
        /// The citizen got the answer on another channel.
        AnsweredElsewhere = "answered_elsewhere",
        /// Another case covers it.
        Duplicate = "duplicate",
        /// Spam or a bot.
        Spam = "spam",
        /// Not something that asks for an answer.
        NotAQuestion = "not_a_question",
        /// Another body is responsible and referral was not possible.
        OutOfRemit = "out_of_remit",
    }
}

/// A unit of work: one or more posts of a conversation, owned by one institution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// Database id.
    pub id: CaseId,
    /// The institution that owns it now.
    pub institution_id: InstitutionId,
    /// The citizen it is about.
    pub contact_id: Option<ContactId>,
    /// A one-line summary for lists; untrusted text.
    pub subject: String,
    /// The channel of the post that opened it, where replies go.
    pub platform: Option<Platform>,
    /// Labels routing rules or staff put on it.
    pub tags: Vec<String>,
    /// Where it stands.
    pub status: CaseStatus,
    /// How urgent it is.
    pub priority: Priority,
    /// The queue it sits in.
    pub team_id: Option<TeamId>,
    /// The agent who owns it.
    pub assignee: Option<UserId>,
    /// When it was created.
    pub opened_at: DateTime<Utc>,
    /// When the first reply is due under the owner's deadline policy.
    pub first_response_due: Option<DateTime<Utc>>,
    /// When the resolution is due.
    pub resolution_due: Option<DateTime<Utc>>,
    /// When the first reply went out; set once, never changed.
    pub first_response_at: Option<DateTime<Utc>>,
    /// When it was last resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// What came of it, as told to the citizen.
    pub outcome: Option<String>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Why it was closed, required when it was never answered.
    pub close_reason: Option<CloseReason>,
    /// Bumped by every accepted action; the store refuses stale writes with it.
    pub version: i32,
}

/// An internal note on a case, for colleagues only: never sent to the citizen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Database id.
    pub id: i64,
    /// The case.
    pub case_id: CaseId,
    /// The institution whose staff wrote it; only they read it.
    pub institution_id: InstitutionId,
    /// Who wrote it.
    pub user_id: UserId,
    /// The text; untrusted.
    pub body: String,
    /// Colleagues it mentions with `@name`.
    pub mentions: Vec<UserId>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// One hand-over of a case to the institution responsible for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// The institution that referred it.
    pub from: InstitutionId,
    /// The institution that received it.
    pub to: InstitutionId,
    /// Why.
    pub reason: String,
    /// Who referred it.
    pub user_id: Option<UserId>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A citizen's satisfaction with how their case was handled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// The case.
    pub case_id: CaseId,
    /// From 1 (very unhappy) to 5 (very happy).
    pub score: i32,
    /// The citizen's post that gave it, when it came as a reply.
    pub post_id: Option<crate::PostId>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The score in a citizen's answer to the satisfaction question: a lone digit from 1
/// to 5 ("4", "4/5", "un 5!"), or a row of stars. `None` when the text holds no single
/// clear score, so a chatty answer is never misread as a rating.
pub fn parse_rating(text: &str) -> Option<i32> {
    let stars = text.chars().filter(|&c| c == '⭐' || c == '★').count();
    if (1..=5).contains(&stars) {
        return i32::try_from(stars).ok();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut found = None;
    for (i, c) in chars.iter().enumerate() {
        let Some(digit) = c.to_digit(10) else { continue };
        let lone = |j: Option<usize>| j.and_then(|j| chars.get(j)).is_none_or(|n| !n.is_alphanumeric());
        if !lone(i.checked_sub(1)) || !lone(Some(i + 1)) {
            continue;
        }
        // "4/5" names its scale: the digit after the slash is not a second score.
        if i >= 2 && chars[i - 1] == '/' && found.is_some() {
            continue;
        }
        if !(1..=5).contains(&digit) || found.is_some() {
            return None;
        }
        found = Some(i32::try_from(digit).ok()?);
    }
    found
}

/// The `@name` mentions in a note, lower-cased, without the `@`: a name is what comes
/// before the `@` of a colleague's login e-mail.
pub fn mentioned_names(body: &str) -> Vec<String> {
    let mut names: Vec<String> = body
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '(' | ')'))
        .filter_map(|word| word.strip_prefix('@'))
        .map(|name| name.trim_end_matches(['.', '!', '?']).to_lowercase())
        .filter(|name| !name.is_empty() && name.len() <= 64 && !name.contains('@'))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Something a person or a rule does to a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CaseAction {
    /// Start working on a new case.
    Open,
    /// Put it in a queue and/or give it to an agent (`None` clears).
    Assign {
        /// The team.
        team: Option<TeamId>,
        /// The agent.
        assignee: Option<UserId>,
    },
    /// Change its priority.
    SetPriority {
        /// The new priority.
        priority: Priority,
    },
    /// A reply to the citizen went out.
    Respond,
    /// The citizen wrote again.
    CitizenReplied,
    /// The matter is settled; `outcome` is what the citizen is told.
    Resolve {
        /// The outcome, in words.
        outcome: String,
    },
    /// Nothing more will happen; a reason is required if it was never answered.
    Close {
        /// Why.
        reason: Option<CloseReason>,
    },
    /// Take up a resolved or closed case again.
    Reopen,
    /// Hand the case to the institution that is responsible. It arrives there as new,
    /// unassigned, under that institution's deadlines, which the caller computes.
    Refer {
        /// The receiving institution.
        to: InstitutionId,
        /// Why it is responsible; shown to both institutions and the citizen.
        reason: String,
        /// The receiving institution's first-response deadline.
        first_response_due: Option<DateTime<Utc>>,
        /// The receiving institution's resolution deadline.
        resolution_due: Option<DateTime<Utc>>,
    },
}

impl CaseAction {
    /// The stable name of the action, as used in audit events.
    pub fn name(&self) -> &'static str {
        match self {
            CaseAction::Open => "open",
            CaseAction::Assign { .. } => "assign",
            CaseAction::SetPriority { .. } => "set_priority",
            CaseAction::Respond => "respond",
            CaseAction::CitizenReplied => "citizen_replied",
            CaseAction::Resolve { .. } => "resolve",
            CaseAction::Close { .. } => "close",
            CaseAction::Reopen => "reopen",
            CaseAction::Refer { .. } => "refer",
        }
    }
}

/// What an accepted action changed, one entry per fact, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CaseEvent {
    /// The status moved.
    StatusChanged {
        /// Before.
        from: CaseStatus,
        /// After.
        to: CaseStatus,
    },
    /// Team or assignee changed.
    Assigned {
        /// Team before.
        team_from: Option<TeamId>,
        /// Team after.
        team_to: Option<TeamId>,
        /// Agent before.
        assignee_from: Option<UserId>,
        /// Agent after.
        assignee_to: Option<UserId>,
    },
    /// Priority changed.
    PriorityChanged {
        /// Before.
        from: Priority,
        /// After.
        to: Priority,
    },
    /// The first reply went out.
    FirstResponse {
        /// When.
        at: DateTime<Utc>,
    },
    /// A further reply went out.
    Responded,
    /// The citizen wrote again.
    CitizenReplied,
    /// The outcome was recorded.
    Resolved {
        /// The outcome.
        outcome: String,
    },
    /// The case was closed.
    Closed {
        /// Why, when given.
        reason: Option<CloseReason>,
    },
    /// A resolved or closed case was taken up again.
    Reopened,
    /// The case moved to another institution.
    Referred {
        /// The institution that referred it.
        from: InstitutionId,
        /// The institution that owns it now.
        to: InstitutionId,
        /// Why.
        reason: String,
    },
}

/// Why an action was refused. Each has a stable code for the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// The action does not apply in this status.
    #[error("cannot {action} a case that is {status}")]
    NotAllowed {
        /// The action's name.
        action: &'static str,
        /// The case's status.
        status: CaseStatus,
    },
    /// Closing a case that was never answered needs a reason.
    #[error("a case closed without a reply needs a reason")]
    ReasonRequired,
    /// Resolving needs the outcome the citizen will be told.
    #[error("resolving a case needs an outcome for the citizen")]
    OutcomeRequired,
    /// Only an answered case can be resolved; otherwise close it with a reason.
    #[error("a case that was never answered cannot be resolved; close it with a reason")]
    NotAnswered,
    /// The action would change nothing.
    #[error("nothing to change")]
    NoChange,
    /// A referral must say why the other institution is responsible.
    #[error("a referral needs a reason")]
    ReferralReasonRequired,
    /// A case cannot be referred to the institution that owns it.
    #[error("the case already belongs to that institution")]
    ReferToSelf,
}

impl Rejected {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Rejected::NotAllowed { .. } => "case.not_allowed",
            Rejected::ReasonRequired => "case.reason_required",
            Rejected::OutcomeRequired => "case.outcome_required",
            Rejected::NotAnswered => "case.not_answered",
            Rejected::NoChange => "case.no_change",
            Rejected::ReferralReasonRequired => "case.referral_reason_required",
            Rejected::ReferToSelf => "case.refer_to_self",
        }
    }
}

/// Applies `action` to `case` at time `now`.
///
/// Returns the new case, with `version` bumped, and the events that describe the
/// change; or why the action was refused, in which case nothing changed.
pub fn transition(case: &Case, action: &CaseAction, now: DateTime<Utc>) -> Result<(Case, Vec<CaseEvent>), Rejected> {
    use CaseStatus::*;
    let not_allowed = || Rejected::NotAllowed { action: action.name(), status: case.status };
    let mut next = case.clone();
    let mut events = Vec::new();
    fn move_to(next: &mut Case, events: &mut Vec<CaseEvent>, to: CaseStatus) {
        if next.status != to {
            events.push(CaseEvent::StatusChanged { from: next.status, to });
            next.status = to;
        }
    }

    match action {
        CaseAction::Open => {
            if case.status != New {
                return Err(not_allowed());
            }
            move_to(&mut next, &mut events, Open);
        }
        CaseAction::Assign { team, assignee } => {
            if case.status == Closed {
                return Err(not_allowed());
            }
            if *team == case.team_id && *assignee == case.assignee {
                return Err(Rejected::NoChange);
            }
            events.push(CaseEvent::Assigned {
                team_from: case.team_id,
                team_to: *team,
                assignee_from: case.assignee,
                assignee_to: *assignee,
            });
            next.team_id = *team;
            next.assignee = *assignee;
            if case.status == New && assignee.is_some() {
                move_to(&mut next, &mut events, Open);
            }
        }
        CaseAction::SetPriority { priority } => {
            if case.status == Closed {
                return Err(not_allowed());
            }
            if *priority == case.priority {
                return Err(Rejected::NoChange);
            }
            events.push(CaseEvent::PriorityChanged { from: case.priority, to: *priority });
            next.priority = *priority;
        }
        CaseAction::Respond => {
            if case.status == Closed {
                return Err(not_allowed());
            }
            if case.first_response_at.is_none() {
                next.first_response_at = Some(now);
                events.push(CaseEvent::FirstResponse { at: now });
            } else {
                events.push(CaseEvent::Responded);
            }
            if matches!(case.status, New | Open) {
                move_to(&mut next, &mut events, Pending);
            }
        }
        CaseAction::CitizenReplied => {
            if case.status == Closed {
                return Err(not_allowed());
            }
            events.push(CaseEvent::CitizenReplied);
            if matches!(case.status, Pending | Resolved) {
                if case.status == Resolved {
                    events.push(CaseEvent::Reopened);
                    next.resolved_at = None;
                    next.outcome = None;
                }
                move_to(&mut next, &mut events, Open);
            }
        }
        CaseAction::Resolve { outcome } => {
            if !matches!(case.status, Open | Pending) {
                return Err(not_allowed());
            }
            if case.first_response_at.is_none() {
                return Err(Rejected::NotAnswered);
            }
            let outcome = outcome.trim();
            if outcome.is_empty() {
                return Err(Rejected::OutcomeRequired);
            }
            next.resolved_at = Some(now);
            next.outcome = Some(outcome.to_owned());
            events.push(CaseEvent::Resolved { outcome: outcome.to_owned() });
            move_to(&mut next, &mut events, Resolved);
        }
        CaseAction::Close { reason } => {
            if case.status == Closed {
                return Err(not_allowed());
            }
            if reason.is_none() && case.first_response_at.is_none() {
                return Err(Rejected::ReasonRequired);
            }
            next.closed_at = Some(now);
            next.close_reason = *reason;
            events.push(CaseEvent::Closed { reason: *reason });
            move_to(&mut next, &mut events, Closed);
        }
        CaseAction::Reopen => {
            if !matches!(case.status, Resolved | Closed) {
                return Err(not_allowed());
            }
            next.resolved_at = None;
            next.outcome = None;
            next.closed_at = None;
            next.close_reason = None;
            events.push(CaseEvent::Reopened);
            move_to(&mut next, &mut events, Open);
        }
        CaseAction::Refer { to, reason, first_response_due, resolution_due } => {
            if matches!(case.status, Resolved | Closed) {
                return Err(not_allowed());
            }
            if *to == case.institution_id {
                return Err(Rejected::ReferToSelf);
            }
            let reason = reason.trim();
            if reason.is_empty() {
                return Err(Rejected::ReferralReasonRequired);
            }
            events.push(CaseEvent::Referred { from: case.institution_id, to: *to, reason: reason.to_owned() });
            if case.team_id.is_some() || case.assignee.is_some() {
                events.push(CaseEvent::Assigned {
                    team_from: case.team_id,
                    team_to: None,
                    assignee_from: case.assignee,
                    assignee_to: None,
                });
            }
            next.institution_id = *to;
            next.team_id = None;
            next.assignee = None;
            next.tags.clear();
            next.first_response_due =
                if case.first_response_at.is_some() { case.first_response_due } else { *first_response_due };
            next.resolution_due = *resolution_due;
            move_to(&mut next, &mut events, New);
        }
    }
    next.version = case.version + 1;
    Ok((next, events))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn new_case() -> Case {
        Case {
            id: CaseId(1),
            institution_id: InstitutionId(1),
            contact_id: None,
            subject: "¿Cuándo pasa el bus 612?".into(),
            platform: Some(Platform::Mastodon),
            tags: Vec::new(),
            status: CaseStatus::New,
            priority: Priority::Normal,
            team_id: None,
            assignee: None,
            opened_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            first_response_due: None,
            resolution_due: None,
            first_response_at: None,
            resolved_at: None,
            outcome: None,
            closed_at: None,
            close_reason: None,
            version: 1,
        }
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + minutes * 60, 0).unwrap()
    }

    #[test]
    fn the_ordinary_life_of_a_case() {
        let case = new_case();
        let (case, events) =
            transition(&case, &CaseAction::Assign { team: Some(TeamId(2)), assignee: Some(UserId(3)) }, at(1)).unwrap();
        assert_eq!(case.status, CaseStatus::Open);
        assert_eq!(events.len(), 2);
        let (case, _) = transition(&case, &CaseAction::Respond, at(5)).unwrap();
        assert_eq!((case.status, case.first_response_at), (CaseStatus::Pending, Some(at(5))));
        let (case, _) =
            transition(&case, &CaseAction::Resolve { outcome: " Bus 612 runs again ".into() }, at(9)).unwrap();
        assert_eq!(case.outcome.as_deref(), Some("Bus 612 runs again"));
        let (case, events) = transition(&case, &CaseAction::Close { reason: None }, at(10)).unwrap();
        assert_eq!(
            events,
            vec![
                CaseEvent::Closed { reason: None },
                CaseEvent::StatusChanged { from: CaseStatus::Resolved, to: CaseStatus::Closed }
            ]
        );
        assert_eq!(case.version, 5);
    }

    #[test]
    fn ignoring_a_citizen_needs_a_stated_reason() {
        let case = new_case();
        assert_eq!(transition(&case, &CaseAction::Close { reason: None }, at(1)), Err(Rejected::ReasonRequired));
        assert_eq!(
            transition(&case, &CaseAction::Resolve { outcome: "done".into() }, at(1)).map(|_| ()),
            Err(Rejected::NotAllowed { action: "resolve", status: CaseStatus::New })
        );
        let (opened, _) = transition(&case, &CaseAction::Open, at(1)).unwrap();
        assert_eq!(
            transition(&opened, &CaseAction::Resolve { outcome: "done".into() }, at(2)),
            Err(Rejected::NotAnswered)
        );
        let (closed, _) = transition(&case, &CaseAction::Close { reason: Some(CloseReason::Spam) }, at(1)).unwrap();
        assert_eq!(closed.close_reason, Some(CloseReason::Spam));
        assert_eq!(Rejected::ReasonRequired.code(), "case.reason_required");
    }

    #[test]
    fn a_citizen_writing_again_reopens_a_resolved_case() {
        let (case, _) = transition(&new_case(), &CaseAction::Respond, at(1)).unwrap();
        let (case, _) = transition(&case, &CaseAction::Resolve { outcome: "fixed".into() }, at(2)).unwrap();
        let (case, events) = transition(&case, &CaseAction::CitizenReplied, at(3)).unwrap();
        assert_eq!(case.status, CaseStatus::Open);
        assert_eq!((case.resolved_at, case.outcome), (None, None));
        assert!(events.contains(&CaseEvent::Reopened));
    }

    #[test]
    fn a_referral_hands_the_case_over_fresh_and_keeps_the_first_response() {
        let (case, _) =
            transition(&new_case(), &CaseAction::Assign { team: Some(TeamId(2)), assignee: Some(UserId(3)) }, at(1))
                .unwrap();
        let refer = |reason: &str| CaseAction::Refer {
            to: InstitutionId(7),
            reason: reason.into(),
            first_response_due: Some(at(120)),
            resolution_due: Some(at(600)),
        };
        assert_eq!(transition(&case, &refer("  "), at(2)), Err(Rejected::ReferralReasonRequired));
        let (referred, events) = transition(&case, &refer("The region runs the buses"), at(2)).unwrap();
        assert_eq!((referred.institution_id, referred.status), (InstitutionId(7), CaseStatus::New));
        assert_eq!((referred.team_id, referred.assignee), (None, None));
        assert_eq!(referred.first_response_due, Some(at(120)));
        assert!(matches!(&events[0], CaseEvent::Referred { from: InstitutionId(1), to: InstitutionId(7), .. }));
        assert_eq!(transition(&referred, &refer("again"), at(3)), Err(Rejected::ReferToSelf));
        // An answer given before the referral still counts as the first response.
        let (answered, _) = transition(&case, &CaseAction::Respond, at(2)).unwrap();
        let (referred, _) = transition(&answered, &refer("The region runs the buses"), at(3)).unwrap();
        assert_eq!((referred.first_response_at, referred.first_response_due), (Some(at(2)), None));
    }

    #[test]
    fn a_rating_is_read_only_from_a_clear_answer() {
        for (text, score) in
            [("5", Some(5)), ("un 4!", Some(4)), ("4/5", Some(4)), ("⭐⭐⭐", Some(3)), ("2 ★★", Some(2))]
        {
            assert_eq!(parse_rating(text), score, "{text}");
        }
        for text in ["", "gracias", "10", "entre 3 y 4", "line 612", "0", "6"] {
            assert_eq!(parse_rating(text), None, "{text}");
        }
    }

    #[test]
    fn mentions_are_the_names_before_the_at() {
        assert_eq!(mentioned_names("@Ana, can you call @luis.perez? cc @ana"), vec!["ana", "luis.perez"]);
        assert!(mentioned_names("mail ana@muni.cl").is_empty());
    }

    fn action() -> impl Strategy<Value = CaseAction> {
        let id = proptest::option::of(1i64..4);
        prop_oneof![
            Just(CaseAction::Open),
            (id.clone(), id).prop_map(|(t, u)| CaseAction::Assign { team: t.map(TeamId), assignee: u.map(UserId) }),
            proptest::sample::select(Priority::ALL).prop_map(|priority| CaseAction::SetPriority { priority }),
            Just(CaseAction::Respond),
            Just(CaseAction::CitizenReplied),
            prop_oneof![Just(""), Just("  "), Just("fixed")].prop_map(|o| CaseAction::Resolve { outcome: o.into() }),
            proptest::option::of(proptest::sample::select(CloseReason::ALL))
                .prop_map(|reason| CaseAction::Close { reason }),
            Just(CaseAction::Reopen),
            (1i64..4, prop_oneof![Just(""), Just("water is the region's")]).prop_map(|(to, reason)| {
                CaseAction::Refer {
                    to: InstitutionId(to),
                    reason: reason.into(),
                    first_response_due: Some(at(60)),
                    resolution_due: None,
                }
            }),
        ]
    }

    fn allowed_edge(from: CaseStatus, to: CaseStatus) -> bool {
        use CaseStatus::*;
        matches!(
            (from, to),
            (New, Open)
                | (New, Pending)
                | (New, Closed)
                | (Open, Pending)
                | (Open, Resolved)
                | (Open, Closed)
                | (Pending, Open)
                | (Pending, Resolved)
                | (Pending, Closed)
                | (Resolved, Open)
                | (Resolved, Closed)
                | (Closed, Open)
                | (Open, New)
                | (Pending, New)
        )
    }

    proptest! {
        #[test]
        fn invariants_hold_for_any_sequence_of_actions(actions in proptest::collection::vec(action(), 0..40)) {
            let mut case = new_case();
            for (minute, action) in actions.iter().enumerate() {
                let before = case.clone();
                match transition(&case, action, at(minute as i64)) {
                    Err(_) => continue,
                    Ok((next, events)) => {
                        // Every accepted action is recorded and bumps the version by one.
                        prop_assert!(!events.is_empty());
                        prop_assert_eq!(next.version, before.version + 1);
                        // Status moves only along the documented edges, and says so.
                        if next.status != before.status {
                            prop_assert!(allowed_edge(before.status, next.status), "{:?} -> {:?}", before.status, next.status);
                            let last_move = events.iter().rev().find_map(|e| match e {
                                CaseEvent::StatusChanged { from, to } => Some((*from, *to)),
                                _ => None,
                            });
                            prop_assert_eq!(last_move, Some((before.status, next.status)));
                        }
                        // The first response time, once set, never changes.
                        if before.first_response_at.is_some() {
                            prop_assert_eq!(next.first_response_at, before.first_response_at);
                        }
                        // Only a referral changes the owner, and it always does.
                        prop_assert_eq!(
                            next.institution_id != before.institution_id,
                            matches!(action, CaseAction::Refer { .. })
                        );
                        // A closed case is left only by reopening it.
                        if before.status == CaseStatus::Closed {
                            prop_assert_eq!(action, &CaseAction::Reopen);
                        }
                        case = next;
                    }
                }
                // Honest reporting: never closed unanswered without a reason, never
                // resolved without an answer and an outcome.
                if case.status == CaseStatus::Closed && case.first_response_at.is_none() {
                    prop_assert!(case.close_reason.is_some());
                }
                if case.status == CaseStatus::Resolved {
                    prop_assert!(case.first_response_at.is_some() && case.outcome.is_some() && case.resolved_at.is_some());
                }
                prop_assert_eq!(case.status == CaseStatus::Closed, case.closed_at.is_some());
            }
        }
    }
}
