//! Canned answers: an institution's prepared replies, with `{{variable}}` placeholders
//! filled in when an agent (or an acknowledging rule) sends one.
//!
//! A placeholder is `{{` a name of `a`–`z` and `_` `}}`, with optional whitespace inside
//! the braces: `{{citizen}}`, `{{ case }}`. There is no escape: a body cannot hold a
//! literal `{{`. Values are inserted as plain text and never expanded again, so a
//! citizen whose name is `{{agent}}` is greeted as `{{agent}}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The variables the inbox provides when it sends a canned answer.
///
/// - `citizen`: the citizen's display name, or their handle when they have none;
/// - `case`: the case number;
/// - `institution`: the institution's name;
/// - `agent`: the name of the agent sending it;
/// - `outcome`: the case's outcome, once resolved.
pub const VARIABLES: &[&str] = &["citizen", "case", "institution", "agent", "outcome"];

/// A prepared reply of an institution, in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedAnswer {
    /// Database id.
    pub id: i64,
    /// What staff call it.
    pub name: String,
    /// Its language code.
    pub lang: String,
    /// The text, with placeholders.
    pub body: String,
}

impl CannedAnswer {
    /// Checks that its body is well formed and uses only [`VARIABLES`].
    pub fn validate(&self) -> Result<(), TemplateError> {
        match variables(&self.body)?.into_iter().find(|v| !VARIABLES.contains(&v.as_str())) {
            Some(name) => Err(TemplateError::UnknownVariable(name)),
            None => Ok(()),
        }
    }
}

/// Why a body could not be rendered. Each has a stable code for the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A placeholder names a variable that has no value.
    #[error("unknown variable {{{{{0}}}}}")]
    UnknownVariable(String),
    /// A `{{` without its `}}`, or with something other than a name inside.
    #[error("malformed placeholder at byte {at}: write {{{{name}}}} with a name of a-z and _")]
    Malformed {
        /// Byte offset of the `{{`.
        at: usize,
    },
}

impl TemplateError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TemplateError::UnknownVariable(_) => "canned.unknown_variable",
            TemplateError::Malformed { .. } => "canned.malformed",
        }
    }
}

/// A body cut into literal text and placeholder names.
enum Piece<'a> {
    Text(&'a str),
    Variable(&'a str),
}

fn pieces(body: &str) -> impl Iterator<Item = Result<Piece<'_>, TemplateError>> {
    let mut rest = body;
    let mut offset = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some(open) = rest.find("{{") else {
            return Some(Ok(Piece::Text(std::mem::take(&mut rest))));
        };
        if open > 0 {
            let (text, after) = rest.split_at(open);
            (rest, offset) = (after, offset + open);
            return Some(Ok(Piece::Text(text)));
        }
        let malformed = TemplateError::Malformed { at: offset };
        let Some(close) = rest.find("}}") else {
            rest = "";
            return Some(Err(malformed));
        };
        let name = rest[2..close].trim();
        (rest, offset) = (&rest[close + 2..], offset + close + 2);
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            rest = "";
            return Some(Err(malformed));
        }
        Some(Ok(Piece::Variable(name)))
    })
}

/// `body` with each placeholder replaced by its value from `vars`.
pub fn render(body: &str, vars: &BTreeMap<&str, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(body.len());
    for piece in pieces(body) {
        match piece? {
            Piece::Text(text) => out.push_str(text),
            Piece::Variable(name) => {
                out.push_str(vars.get(name).ok_or_else(|| TemplateError::UnknownVariable(name.to_owned()))?)
            }
        }
    }
    Ok(out)
}

/// The variables `body` uses, each once, in order of first use.
pub fn variables(body: &str) -> Result<Vec<String>, TemplateError> {
    let mut names = Vec::new();
    for piece in pieces(body) {
        if let Piece::Variable(name) = piece?
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn vars() -> BTreeMap<&'static str, String> {
        BTreeMap::from([("citizen", "Ana".to_string()), ("case", "1042".to_string()), ("agent", "{{citizen}}".into())])
    }

    #[test]
    fn placeholders_are_filled_once() {
        let body = "Hola {{citizen}}, su caso {{ case }} está en curso. {{citizen}} — {{agent}}";
        assert_eq!(render(body, &vars()).unwrap(), "Hola Ana, su caso 1042 está en curso. Ana — {{citizen}}");
        assert_eq!(variables(body).unwrap(), ["citizen", "case", "agent"]);
        assert_eq!(render("no placeholders { } }}", &vars()).unwrap(), "no placeholders { } }}");
        assert_eq!(render("", &vars()).unwrap(), "");
    }

    #[test]
    fn mistakes_are_named() {
        let err = render("Dear {{citizen}}, {{ mayor }}", &vars()).unwrap_err();
        assert_eq!(err, TemplateError::UnknownVariable("mayor".into()));
        assert_eq!((err.code(), err.to_string()), ("canned.unknown_variable", "unknown variable {{mayor}}".into()));
        assert_eq!(render("Hi {{citizen", &vars()), Err(TemplateError::Malformed { at: 3 }));
        assert_eq!(variables("Hi {{Citizen}}"), Err(TemplateError::Malformed { at: 3 }));
        assert_eq!(variables("{{}}").map_err(|e| e.code()), Err("canned.malformed"));
        assert_eq!(variables("é {{a b}}"), Err(TemplateError::Malformed { at: 3 }));

        let answer = |body: &str| CannedAnswer { id: 1, name: "ack".into(), lang: "es".into(), body: body.into() };
        assert_eq!(answer("Gracias {{citizen}}, caso {{case}}").validate(), Ok(()));
        assert_eq!(answer("{{rut}}").validate(), Err(TemplateError::UnknownVariable("rut".into())));
    }

    proptest! {
        #[test]
        fn render_is_total_and_inserts_values_verbatim(
            body in "(\\PC|\\{\\{ ?[a-z_]{0,3} ?\\}?\\}?){0,12}",
            value in "\\PC{0,12}",
        ) {
            let vars = BTreeMap::from([("a", value.clone()), ("ab", value.clone())]);
            let out = render(&body, &vars);
            if !body.contains("{{") {
                prop_assert_eq!(out, Ok(body));
            }
            prop_assert_eq!(render("{{a}}", &vars), Ok(value));
        }
    }
}
