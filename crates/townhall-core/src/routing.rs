//! Routing rules: an institution's ordered list of "when a case arrives like this, do
//! that", applied once, to what is known of a case's first post, by [`evaluate`].
//!
//! A rule as the API accepts it (`id` is assigned by the store, `enabled` defaults to
//! true, `stop` to false, `conditions` to none, which matches every case):
//!
//! ```json
//! {
//!   "name": "Floods go to civil protection",
//!   "position": 10,
//!   "conditions": [
//!     {"field": "keywords", "any_of": ["inundación", "calle cortada"]},
//!     {"field": "urgency", "at_least": 0.4}
//!   ],
//!   "actions": [
//!     {"action": "assign_team", "team": 3},
//!     {"action": "set_priority", "priority": "urgent"},
//!     {"action": "tag", "tag": "flooding"}
//!   ],
//!   "stop": true
//! }
//! ```
//!
//! Conditions name a `field` and hold when the arrival has `any_of` the listed values
//! (`platform`, `account`, `language`, `intent`, `topic`, `keywords`, `author`) or a
//! score `at_least` the threshold (`urgency`, `spam`). Actions are `assign_team`
//! (`team`), `assign_agent` (`user`), `set_priority` (`priority`), `tag` (`tag`) and
//! `acknowledge` (`canned_answer`, the id of the canned answer sent as an automatic
//! acknowledgement).
//!
//! Keywords match whole words, ignoring case and the accents of Latin letters (see
//! [`fold`]); a keyword of several words matches them in sequence, whatever
//! punctuation separates them in the post.

use std::cell::OnceCell;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{AccountId, Platform, Priority, TeamId, UserId};

/// The intents analysis assigns to a post.
pub const INTENTS: &[&str] = &["question", "complaint", "suggestion", "praise", "information", "other"];
/// At most this many conditions, and this many actions, in a rule.
pub const MAX_CONDITIONS: usize = 20;
/// See [`MAX_CONDITIONS`].
pub const MAX_ACTIONS: usize = 20;
/// At most this many values in one `any_of` list.
pub const MAX_VALUES: usize = 200;
/// At most this many characters in one value (a keyword, a handle, a topic…).
pub const MAX_VALUE_CHARS: usize = 100;
/// At most this many characters in a rule's name.
pub const MAX_NAME_CHARS: usize = 100;
/// At most this many characters in a tag.
pub const MAX_TAG_CHARS: usize = 50;
/// Keywords are looked for in the first this many words of a post: enough for any
/// post, and it bounds the work a very long e-mail can cause.
pub const MAX_TEXT_WORDS: usize = 10_000;

/// What is known of a case's first post when it arrives.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// Where it was posted.
    pub platform: Platform,
    /// The institution's account it was addressed to, when known.
    pub account: Option<AccountId>,
    /// Its language code, if identified.
    pub lang: Option<&'a str>,
    /// One of [`INTENTS`].
    pub intent: &'a str,
    /// Its topic keys.
    pub topics: &'a [String],
    /// Urgency, 0 to 1.
    pub urgency: f32,
    /// Spam likelihood, 0 to 1.
    pub spam: f32,
    /// Its text; untrusted.
    pub text: &'a str,
    /// The author's handle.
    pub author: &'a str,
}

/// One test on an [`Arrival`]; see the module documentation for the JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Posted on one of these platforms.
    Platform {
        /// The platforms.
        any_of: Vec<Platform>,
    },
    /// Addressed to one of these accounts.
    Account {
        /// The accounts.
        any_of: Vec<AccountId>,
    },
    /// In one of these languages (codes, case-insensitive).
    Language {
        /// The language codes.
        any_of: Vec<String>,
    },
    /// With one of these [`INTENTS`].
    Intent {
        /// The intents.
        any_of: Vec<String>,
    },
    /// About one of these topics (keys, case-insensitive).
    Topic {
        /// The topic keys.
        any_of: Vec<String>,
    },
    /// Urgency at least this, 0 to 1.
    Urgency {
        /// The threshold.
        at_least: f32,
    },
    /// Spam likelihood at least this, 0 to 1.
    Spam {
        /// The threshold.
        at_least: f32,
    },
    /// The text has one of these words or phrases.
    Keywords {
        /// The words or phrases.
        any_of: Vec<String>,
    },
    /// Written by one of these handles (case-insensitive, a leading `@` ignored).
    Author {
        /// The handles.
        any_of: Vec<String>,
    },
}

/// Something a matching rule does to the new case; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleAction {
    /// Put the case in a team's queue.
    AssignTeam {
        /// The team.
        team: TeamId,
    },
    /// Give the case to an agent.
    AssignAgent {
        /// The agent.
        user: UserId,
    },
    /// Set its priority (and so its deadlines).
    SetPriority {
        /// The priority.
        priority: Priority,
    },
    /// Add a tag.
    Tag {
        /// Letters, digits, `-` and `_`, at most [`MAX_TAG_CHARS`].
        tag: String,
    },
    /// Acknowledge receipt automatically with a canned answer.
    Acknowledge {
        /// The canned answer's id.
        canned_answer: i64,
    },
}

/// A routing rule of an institution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Database id; 0 before it is stored.
    #[serde(default)]
    pub id: i64,
    /// What staff call it.
    pub name: String,
    /// Rules run in ascending position (ties by id).
    pub position: i32,
    /// A disabled rule is skipped.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// All must hold for the rule to match; none matches every case.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Applied in order when it matches.
    pub actions: Vec<RuleAction>,
    /// When it matches, no later rule runs.
    #[serde(default)]
    pub stop: bool,
}

fn enabled() -> bool {
    true
}

/// Why a rule was refused. Each has a stable code for the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The name is blank or too long.
    #[error("a rule's name must be 1 to {MAX_NAME_CHARS} characters")]
    Name,
    /// Too many conditions or actions.
    #[error("a rule has at most {MAX_CONDITIONS} conditions and {MAX_ACTIONS} actions")]
    TooLong,
    /// A condition is not acceptable.
    #[error("conditions[{index}] ({field}): {reason}")]
    Condition {
        /// Its index, from 0.
        index: usize,
        /// Its field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// An action is not acceptable.
    #[error("actions[{index}]: {reason}")]
    Action {
        /// Its index, from 0.
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

impl RuleError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            RuleError::Name => "rule.invalid_name",
            RuleError::TooLong => "rule.too_long",
            RuleError::Condition { .. } => "rule.invalid_condition",
            RuleError::Action { .. } => "rule.invalid_action",
        }
    }
}

impl Condition {
    /// The condition's `field` name, as in the JSON.
    pub fn field(&self) -> &'static str {
        match self {
            Condition::Platform { .. } => "platform",
            Condition::Account { .. } => "account",
            Condition::Language { .. } => "language",
            Condition::Intent { .. } => "intent",
            Condition::Topic { .. } => "topic",
            Condition::Urgency { .. } => "urgency",
            Condition::Spam { .. } => "spam",
            Condition::Keywords { .. } => "keywords",
            Condition::Author { .. } => "author",
        }
    }

    /// Whether it holds for `arrival`.
    pub fn holds(&self, arrival: &Arrival) -> bool {
        self.holds_in(arrival, &OnceCell::new())
    }

    /// `words` is the arrival's text, indexed on first need and shared by all the
    /// conditions of one evaluation.
    fn holds_in(&self, arrival: &Arrival, words: &OnceCell<Words>) -> bool {
        match self {
            Condition::Platform { any_of } => any_of.contains(&arrival.platform),
            Condition::Account { any_of } => arrival.account.is_some_and(|a| any_of.contains(&a)),
            Condition::Language { any_of } => {
                arrival.lang.is_some_and(|lang| any_of.iter().any(|l| l.eq_ignore_ascii_case(lang)))
            }
            Condition::Intent { any_of } => any_of.iter().any(|i| i == arrival.intent),
            Condition::Topic { any_of } => {
                arrival.topics.iter().any(|topic| any_of.iter().any(|t| t.eq_ignore_ascii_case(topic)))
            }
            Condition::Urgency { at_least } => arrival.urgency >= *at_least,
            Condition::Spam { at_least } => arrival.spam >= *at_least,
            Condition::Keywords { any_of } => {
                let words = words.get_or_init(|| Words::new(arrival.text));
                any_of.iter().any(|keyword| words.contains(keyword))
            }
            Condition::Author { any_of } => {
                let author = handle(arrival.author);
                any_of.iter().any(|h| handle(h) == author)
            }
        }
    }

    fn check(&self) -> Result<(), &'static str> {
        let values = |values: &[String], valid: fn(&str) -> bool, reason| {
            count(values.len())?;
            let fits = |v: &str| !v.trim().is_empty() && v.chars().count() <= MAX_VALUE_CHARS && valid(v);
            if values.iter().all(|v| fits(v)) { Ok(()) } else { Err(reason) }
        };
        match self {
            Condition::Platform { any_of } => count(any_of.len()),
            Condition::Account { any_of } => count(any_of.len()),
            Condition::Language { any_of } | Condition::Topic { any_of } => {
                values(any_of, |_| true, "each value must be 1 to 100 characters")
            }
            Condition::Intent { any_of } => values(
                any_of,
                |i| INTENTS.contains(&i),
                "intents are question, complaint, suggestion, praise, information or other",
            ),
            Condition::Urgency { at_least } | Condition::Spam { at_least } => {
                if (0.0..=1.0).contains(at_least) {
                    Ok(())
                } else {
                    Err("the threshold must be from 0 to 1")
                }
            }
            Condition::Keywords { any_of } => values(
                any_of,
                |k| k.chars().any(char::is_alphanumeric),
                "each keyword must be 1 to 100 characters with a letter or digit",
            ),
            Condition::Author { any_of } => {
                values(any_of, |h| !handle(h).is_empty(), "each handle must be 1 to 100 characters")
            }
        }
    }
}

fn count(len: usize) -> Result<(), &'static str> {
    if (1..=MAX_VALUES).contains(&len) { Ok(()) } else { Err("needs 1 to 200 values") }
}

/// A handle as compared: trimmed, without leading `@`, lower case.
fn handle(text: &str) -> String {
    text.trim().trim_start_matches('@').to_lowercase()
}

impl Rule {
    /// Checks the limits the API enforces before storing a rule.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.name.trim().is_empty() || self.name.chars().count() > MAX_NAME_CHARS {
            return Err(RuleError::Name);
        }
        if self.conditions.len() > MAX_CONDITIONS || self.actions.len() > MAX_ACTIONS {
            return Err(RuleError::TooLong);
        }
        for (index, condition) in self.conditions.iter().enumerate() {
            condition.check().map_err(|reason| RuleError::Condition { index, field: condition.field(), reason })?;
        }
        for (index, action) in self.actions.iter().enumerate() {
            if let RuleAction::Tag { tag } = action
                && !valid_tag(tag)
            {
                let reason = "a tag is 1 to 50 letters, digits, '-' or '_'";
                return Err(RuleError::Action { index, reason });
            }
        }
        Ok(())
    }

    /// Whether all its conditions hold for `arrival` (enabled or not).
    pub fn matches(&self, arrival: &Arrival) -> bool {
        let words = OnceCell::new();
        self.conditions.iter().all(|c| c.holds_in(arrival, &words))
    }
}

fn valid_tag(tag: &str) -> bool {
    (1..=MAX_TAG_CHARS).contains(&tag.chars().count())
        && tag.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_')
}

/// What the rules decided for a new case; `None` leaves the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The team to queue it in.
    pub team: Option<TeamId>,
    /// The agent to give it to.
    pub agent: Option<UserId>,
    /// Its priority; [`default_priority`] otherwise.
    pub priority: Option<Priority>,
    /// Tags to add, without duplicates, in the order first set.
    pub tags: Vec<String>,
    /// The canned answer to acknowledge it with.
    pub acknowledge: Option<i64>,
    /// The ids of the rules that matched, in the order they ran.
    pub matched: Vec<i64>,
}

/// Runs the enabled `rules` in position order (ties by id) on `arrival`: each matching
/// rule's actions apply in turn, a later one overriding an earlier one of the same kind,
/// except tags, which accumulate; a matching rule with `stop` ends the evaluation.
pub fn evaluate(rules: &[Rule], arrival: &Arrival) -> Decision {
    let mut order: Vec<&Rule> = rules.iter().filter(|r| r.enabled).collect();
    order.sort_by_key(|r| (r.position, r.id));
    let words = OnceCell::new();
    let mut decision = Decision::default();
    for rule in order {
        if !rule.conditions.iter().all(|c| c.holds_in(arrival, &words)) {
            continue;
        }
        decision.matched.push(rule.id);
        for action in &rule.actions {
            match action {
                RuleAction::AssignTeam { team } => decision.team = Some(*team),
                RuleAction::AssignAgent { user } => decision.agent = Some(*user),
                RuleAction::SetPriority { priority } => decision.priority = Some(*priority),
                RuleAction::Tag { tag } => {
                    if !decision.tags.contains(tag) {
                        decision.tags.push(tag.clone());
                    }
                }
                RuleAction::Acknowledge { canned_answer } => decision.acknowledge = Some(*canned_answer),
            }
        }
        if rule.stop {
            break;
        }
    }
    decision
}

/// The priority of a case no rule set one for: urgent from urgency 0.7, high from 0.4;
/// otherwise normal for what asks for an answer (a question, complaint or suggestion)
/// and low for the rest. Complaints are not high by themselves: they are the bulk of an
/// inbox, and a queue where most cases are high orders nothing.
pub fn default_priority(intent: &str, urgency: f32) -> Priority {
    if urgency >= 0.7 {
        Priority::Urgent
    } else if urgency >= 0.4 {
        Priority::High
    } else if matches!(intent, "question" | "complaint" | "suggestion") {
        Priority::Normal
    } else {
        Priority::Low
    }
}

/// Whether a post expects a reply: questions, complaints and suggestions do, and so
/// does anything with urgency from 0.4; nothing with spam likelihood from 0.8 does.
pub fn needs_answer(intent: &str, urgency: f32, spam: f32) -> bool {
    spam < 0.8 && (matches!(intent, "question" | "complaint" | "suggestion") || urgency >= 0.4)
}

/// An agent who could take a case, with their current load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentLoad {
    /// The agent.
    pub user: UserId,
    /// Whether they take cases now.
    pub available: bool,
    /// Cases they own that are not resolved or closed.
    pub open_cases: i64,
    /// The most open cases they take, if limited.
    pub max_open_cases: Option<i64>,
}

/// The available agent under their cap with the fewest open cases (ties to the lowest
/// id), if any.
pub fn pick_agent(candidates: &[AgentLoad]) -> Option<UserId> {
    candidates
        .iter()
        .filter(|a| a.available && a.max_open_cases.is_none_or(|max| a.open_cases < max))
        .min_by_key(|a| (a.open_cases, a.user))
        .map(|a| a.user)
}

/// Lower case, with the diacritics of Latin letters removed (precomposed ones by a
/// table, decomposed ones by dropping combining marks U+0300–U+036F); other scripts
/// are only lower-cased. The same fold as analysis's lexicons, so a keyword matches
/// what analysis would.
pub fn fold(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            'ß' => 's',
            other => other,
        })
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .collect()
}

fn split_words(folded: &str) -> impl Iterator<Item = &str> {
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

/// A text's folded words as numbers, with where each occurs, so a phrase is looked up
/// from its rarest word instead of by scanning the whole text.
#[derive(Debug, Default)]
struct Words {
    ids: HashMap<String, usize>,
    text: Vec<usize>,
    at: Vec<Vec<usize>>,
}

impl Words {
    fn new(text: &str) -> Words {
        let mut words = Words::default();
        for word in split_words(&fold(text)).take(MAX_TEXT_WORDS) {
            let next = words.ids.len();
            let id = *words.ids.entry(word.to_owned()).or_insert(next);
            if id == next {
                words.at.push(Vec::new());
            }
            words.at[id].push(words.text.len());
            words.text.push(id);
        }
        words
    }

    fn contains(&self, phrase: &str) -> bool {
        let folded = fold(phrase);
        let Some(phrase): Option<Vec<usize>> = split_words(&folded).map(|w| self.ids.get(w).copied()).collect() else {
            return false;
        };
        let Some((offset, &rarest)) = phrase.iter().enumerate().min_by_key(|(_, id)| self.at[**id].len()) else {
            return false;
        };
        self.at[rarest].iter().any(|&p| p >= offset && self.text[p - offset..].starts_with(&phrase))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn arrival<'a>(text: &'a str, topics: &'a [String]) -> Arrival<'a> {
        Arrival {
            platform: Platform::Mastodon,
            account: Some(AccountId(1)),
            lang: Some("es"),
            intent: "complaint",
            topics,
            urgency: 0.5,
            spam: 0.0,
            text,
            author: "@Vecina@mastodon.social",
        }
    }

    fn rule(id: i64, position: i32, conditions: Vec<Condition>, actions: Vec<RuleAction>) -> Rule {
        Rule { id, name: format!("rule {id}"), position, enabled: true, conditions, actions, stop: false }
    }

    fn keywords(words: &[&str]) -> Condition {
        Condition::Keywords { any_of: words.iter().map(|w| w.to_string()).collect() }
    }

    fn tag(tag: &str) -> RuleAction {
        RuleAction::Tag { tag: tag.into() }
    }

    #[test]
    fn keywords_ignore_case_and_accents_and_match_whole_words() {
        let none = [];
        let post = arrival("¡La CALLE está cortada por una INUNDACION en Ñuñoa!", &none);
        assert!(keywords(&["inundación"]).holds(&post));
        assert!(keywords(&["calle  está-cortada"]).holds(&post));
        assert!(keywords(&["nunoa"]).holds(&post));
        assert!(!keywords(&["cortad"]).holds(&post));
        assert!(!keywords(&["calle cortada"]).holds(&post));
        assert!(keywords(&["corte de luz", "Inundación"]).holds(&post));
        // Decomposed accents fold like precomposed ones.
        assert!(keywords(&["inundacio\u{301}n"]).holds(&post));
    }

    #[test]
    fn other_conditions() {
        let topics = vec!["transport".to_string()];
        let post = arrival("hola", &topics);
        let holds = |c: Condition| c.holds(&post);
        assert!(holds(Condition::Platform { any_of: vec![Platform::X, Platform::Mastodon] }));
        assert!(!holds(Condition::Account { any_of: vec![AccountId(2)] }));
        assert!(holds(Condition::Language { any_of: vec!["ES".into()] }));
        assert!(holds(Condition::Intent { any_of: vec!["complaint".into()] }));
        assert!(holds(Condition::Topic { any_of: vec!["Transport".into()] }));
        assert!(holds(Condition::Urgency { at_least: 0.5 }));
        assert!(!holds(Condition::Spam { at_least: 0.1 }));
        assert!(holds(Condition::Author { any_of: vec!["vecina@Mastodon.social".into()] }));
        assert!(!holds(Condition::Author { any_of: vec!["@vecina".into()] }));
    }

    #[test]
    fn rules_run_in_order_and_a_stop_rule_ends_them() {
        let none = [];
        let post = arrival("Inundación en la calle", &none);
        let mut disabled = rule(4, 0, vec![], vec![RuleAction::AssignTeam { team: TeamId(99) }]);
        disabled.enabled = false;
        let mut flood = rule(
            2,
            10,
            vec![keywords(&["inundacion"])],
            vec![RuleAction::AssignTeam { team: TeamId(3) }, tag("flooding"), tag("street")],
        );
        flood.stop = true;
        let rules = vec![
            flood,
            rule(1, 10, vec![], vec![RuleAction::AssignTeam { team: TeamId(1) }, tag("street")]),
            rule(3, 5, vec![keywords(&["fuego"])], vec![RuleAction::SetPriority { priority: Priority::Urgent }]),
            rule(5, 20, vec![], vec![tag("never")]),
            disabled,
            rule(6, -1, vec![], vec![RuleAction::Acknowledge { canned_answer: 7 }]),
        ];
        let decision = evaluate(&rules, &post);
        assert_eq!(
            decision,
            Decision {
                team: Some(TeamId(3)),
                agent: None,
                priority: None,
                tags: vec!["street".into(), "flooding".into()],
                acknowledge: Some(7),
                matched: vec![6, 1, 2],
            }
        );
    }

    #[test]
    fn rules_round_trip_as_the_api_sends_them() {
        let json = serde_json::json!({
            "name": "Floods go to civil protection",
            "position": 10,
            "conditions": [
                {"field": "keywords", "any_of": ["inundación", "calle cortada"]},
                {"field": "platform", "any_of": ["x", "mastodon"]},
                {"field": "urgency", "at_least": 0.5}
            ],
            "actions": [
                {"action": "assign_team", "team": 3},
                {"action": "assign_agent", "user": 8},
                {"action": "set_priority", "priority": "urgent"},
                {"action": "tag", "tag": "flooding"},
                {"action": "acknowledge", "canned_answer": 12}
            ],
            "stop": true
        });
        let rule: Rule = serde_json::from_value(json.clone()).unwrap();
        assert_eq!((rule.id, rule.enabled, rule.stop), (0, true, true));
        assert_eq!(rule.validate(), Ok(()));
        let mut expected = json;
        expected["id"] = 0.into();
        expected["enabled"] = true.into();
        assert_eq!(serde_json::to_value(&rule).unwrap(), expected);

        let refused = |json: serde_json::Value| serde_json::from_value::<Rule>(json).is_err();
        assert!(refused(serde_json::json!({"name": "x", "position": 1, "actions": [], "colour": "red"})));
        assert!(refused(serde_json::json!({"name": "x", "position": 1, "actions": [],
            "conditions": [{"field": "urgency", "any_of": [1]}]})));
        assert!(refused(serde_json::json!({"name": "x", "position": 1, "actions": [{"action": "delete"}]})));
    }

    #[test]
    fn rules_are_validated() {
        let ok = rule(1, 0, vec![], vec![tag("calle_cortada-2")]);
        assert_eq!(ok.validate(), Ok(()));
        let with = |f: &dyn Fn(&mut Rule)| {
            let mut r = ok.clone();
            f(&mut r);
            r.validate().map_err(|e| e.code())
        };
        assert_eq!(with(&|r| r.name = "  ".into()), Err("rule.invalid_name"));
        assert_eq!(with(&|r| r.name = "x".repeat(101)), Err("rule.invalid_name"));
        assert_eq!(with(&|r| r.actions = vec![tag("x"); 21]), Err("rule.too_long"));
        assert_eq!(with(&|r| r.actions = vec![tag("has space")]), Err("rule.invalid_action"));
        assert_eq!(with(&|r| r.actions = vec![tag("")]), Err("rule.invalid_action"));
        let bad = [
            keywords(&[]),
            keywords(&["!!!"]),
            keywords(&[&"a".repeat(101)]),
            Condition::Keywords { any_of: vec!["a".into(); 201] },
            Condition::Urgency { at_least: 1.5 },
            Condition::Spam { at_least: f32::NAN },
            Condition::Intent { any_of: vec!["rant".into()] },
            Condition::Author { any_of: vec!["@".into()] },
            Condition::Platform { any_of: vec![] },
        ];
        for condition in bad {
            assert_eq!(
                with(&|r| r.conditions = vec![condition.clone()]),
                Err("rule.invalid_condition"),
                "{condition:?}"
            );
        }
        let err = RuleError::Condition { index: 2, field: "keywords", reason: "oops" };
        assert_eq!(err.to_string(), "conditions[2] (keywords): oops");
    }

    #[test]
    fn defaults_and_agents() {
        assert_eq!(default_priority("praise", 0.9), Priority::Urgent);
        assert_eq!(default_priority("information", 0.4), Priority::High);
        assert_eq!(default_priority("complaint", 0.1), Priority::Normal);
        assert_eq!(default_priority("praise", 0.1), Priority::Low);
        assert!(needs_answer("question", 0.0, 0.0));
        assert!(needs_answer("other", 0.5, 0.0));
        assert!(!needs_answer("praise", 0.1, 0.0));
        assert!(!needs_answer("question", 0.9, 0.8));

        let agent = |user, available, open_cases, max_open_cases| AgentLoad {
            user: UserId(user),
            available,
            open_cases,
            max_open_cases,
        };
        assert_eq!(
            pick_agent(&[
                agent(5, true, 3, None),
                agent(4, false, 0, None),
                agent(3, true, 2, Some(2)),
                agent(2, true, 3, Some(9))
            ]),
            Some(UserId(2))
        );
        assert_eq!(pick_agent(&[agent(1, false, 0, None)]), None);
    }

    fn text() -> impl Strategy<Value = Vec<String>> {
        let word = prop_oneof![
            Just("calle"),
            Just("Calle"),
            Just("inundación"),
            Just("INUNDACION"),
            Just("luz"),
            Just("árbol"),
            Just("Ärger"),
        ];
        proptest::collection::vec(word.prop_map(String::from), 0..30)
    }

    fn condition() -> impl Strategy<Value = Condition> {
        let strings = proptest::collection::vec("[a-zA-Záé @-]{0,12}", 0..4);
        prop_oneof![
            proptest::collection::vec(proptest::sample::select(Platform::ALL), 0..3)
                .prop_map(|any_of| Condition::Platform { any_of }),
            proptest::collection::vec((0i64..3).prop_map(AccountId), 0..3)
                .prop_map(|any_of| Condition::Account { any_of }),
            strings.clone().prop_map(|any_of| Condition::Language { any_of }),
            proptest::collection::vec(proptest::sample::select(INTENTS).prop_map(String::from), 0..3)
                .prop_map(|any_of| Condition::Intent { any_of }),
            strings.clone().prop_map(|any_of| Condition::Topic { any_of }),
            any::<f32>().prop_map(|at_least| Condition::Urgency { at_least }),
            (0f32..=1.0).prop_map(|at_least| Condition::Spam { at_least }),
            strings.clone().prop_map(|any_of| Condition::Keywords { any_of }),
            text().prop_map(|words| Condition::Keywords { any_of: vec![words.join(" ")] }),
            strings.prop_map(|any_of| Condition::Author { any_of }),
        ]
    }

    fn rules() -> impl Strategy<Value = Vec<Rule>> {
        let action = prop_oneof![
            (0i64..4).prop_map(|t| RuleAction::AssignTeam { team: TeamId(t) }),
            proptest::sample::select(Priority::ALL).prop_map(|priority| RuleAction::SetPriority { priority }),
            "[ab]".prop_map(|t| RuleAction::Tag { tag: t }),
        ];
        let rule = (
            0i64..10,
            -3i32..3,
            any::<bool>(),
            proptest::collection::vec(condition(), 0..3),
            proptest::collection::vec(action, 0..3),
            proptest::bool::weighted(0.2),
        )
            .prop_map(|(id, position, enabled, conditions, actions, stop)| Rule {
                id,
                name: "r".into(),
                position,
                enabled,
                conditions,
                actions,
                stop,
            });
        proptest::collection::vec(rule, 0..8)
    }

    proptest! {
        #[test]
        fn evaluate_matches_only_enabled_rules_whose_conditions_hold(
            rules in rules(),
            words in text(),
            noise in "\\PC{0,40}",
            topics in proptest::collection::vec("[a-z]{1,3}", 0..3),
            urgency in any::<f32>(),
            author in "\\PC{0,10}",
        ) {
            let text = format!("{noise} {}", words.join(" "));
            let post = Arrival { urgency, author: &author, ..arrival(&text, &topics) };
            let decision = evaluate(&rules, &post);
            let mut last = None;
            for (n, id) in decision.matched.iter().enumerate() {
                // Some rule with this id is enabled and matches, and runs no earlier than the previous one.
                let rule = rules
                    .iter()
                    .filter(|r| r.id == *id && r.enabled && r.matches(&post))
                    .filter(|r| last.is_none_or(|l| (r.position, r.id) >= l))
                    .min_by_key(|r| r.position);
                prop_assert!(rule.is_some(), "{id} should not have matched");
                let rule = rule.unwrap();
                last = Some((rule.position, rule.id));
                if rule.stop && rules.iter().filter(|r| r.id == *id).count() == 1 {
                    prop_assert_eq!(n + 1, decision.matched.len());
                }
            }
            let mut tags = decision.tags.clone();
            tags.dedup();
            prop_assert_eq!(tags.len(), decision.tags.len());
        }

        #[test]
        fn any_run_of_the_text_matches_as_a_keyword(words in text(), from in 0usize..30, len in 1usize..5) {
            let text = words.join(", ");
            let from = from.min(words.len());
            let phrase = words[from..(from + len).min(words.len())].join(" ").to_uppercase();
            let none = [];
            let holds = keywords(&[&phrase]).holds(&arrival(&text, &none));
            prop_assert_eq!(holds, !phrase.is_empty());
        }
    }
}
