//! Public bodies and the teams inside them.

use serde::{Deserialize, Serialize};

use crate::{InstitutionId, TeamId, named_enum};

named_enum! {
    /// Whom a public body serves: citizens, or paying customers.
    pub enum InstitutionKind as "institution kind" {
        /// Serves citizens: a ministry, a municipality, a police force.
        Government = "government",
        /// A state-owned company serving paying customers, e.g. public transport.
        PublicCompany = "public_company",
    }
}

named_enum! {
    /// The tier of government a body belongs to.
    pub enum Level as "level" {
        /// A city or municipality.
        Local = "local",
        /// A region, province or state.
        Regional = "regional",
        /// A national government body.
        National = "national",
        /// Above nations, e.g. the European Commission.
        Supranational = "supranational",
    }
}

/// An ISO 3166-1 alpha-2 country code, always two upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

/// A country code that is not two ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid country code {0:?}: expected ISO 3166-1 alpha-2, two letters such as CL or ES")]
pub struct InvalidCountryCode(String);

impl CountryCode {
    /// Parses a code, accepting lower case.
    pub fn parse(text: &str) -> Result<Self, InvalidCountryCode> {
        match text.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Ok(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => Err(InvalidCountryCode(text.chars().take(16).collect())),
        }
    }

    /// The two-letter code.
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl std::fmt::Display for CountryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for CountryCode {
    type Error = InvalidCountryCode;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CountryCode> for String {
    fn from(value: CountryCode) -> Self {
        value.as_str().to_owned()
    }
}

/// A public body that runs Townhall or is referred cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Institution {
    /// Database id.
    pub id: InstitutionId,
    /// Short stable name used in URLs, e.g. `valparaiso`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Whom it serves.
    pub kind: InstitutionKind,
    /// Its tier of government.
    pub level: Level,
    /// Its country.
    pub country: CountryCode,
    /// The body it belongs to, e.g. a ministry's government.
    pub parent: Option<InstitutionId>,
    /// The area it is responsible for, in words (e.g. "Región de Valparaíso").
    pub jurisdiction: Option<String>,
}

/// An institution to be created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewInstitution {
    /// See [`Institution::slug`].
    pub slug: String,
    /// See [`Institution::name`].
    pub name: String,
    /// See [`Institution::kind`].
    pub kind: InstitutionKind,
    /// See [`Institution::level`].
    pub level: Level,
    /// See [`Institution::country`].
    pub country: CountryCode,
    /// See [`Institution::parent`].
    pub parent: Option<InstitutionId>,
    /// See [`Institution::jurisdiction`].
    pub jurisdiction: Option<String>,
}

/// Why a slug was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid slug {0:?}: use 1 to 64 lower-case letters, digits and dashes")]
pub struct InvalidSlug(pub String);

/// Checks a slug: it appears in URLs and file names, so only `[a-z0-9-]`.
pub fn validate_slug(slug: &str) -> Result<(), InvalidSlug> {
    let ok = !slug.is_empty()
        && slug.len() <= 64
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-');
    if ok { Ok(()) } else { Err(InvalidSlug(slug.chars().take(80).collect())) }
}

/// A queue of work inside an institution, e.g. "Transport desk".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// Database id.
    pub id: TeamId,
    /// The institution it belongs to.
    pub institution_id: InstitutionId,
    /// Display name, unique within the institution.
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_normalised_and_checked() {
        assert_eq!(CountryCode::parse("cl").map(|c| c.to_string()), Ok("CL".to_owned()));
        assert!(CountryCode::parse("CHL").is_err());
        assert!(CountryCode::parse("C1").is_err());
        assert!(CountryCode::parse("é").is_err());
    }

    #[test]
    fn slugs_allow_only_url_safe_names() {
        assert!(validate_slug("valparaiso-2").is_ok());
        for bad in ["", "Valpo", "a b", "../x", "-x", &"a".repeat(65)] {
            assert!(validate_slug(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn enum_names_round_trip() {
        for kind in InstitutionKind::ALL {
            assert_eq!(kind.as_str().parse::<InstitutionKind>(), Ok(*kind));
        }
        let err = "city".parse::<Level>().unwrap_err();
        assert_eq!(err.to_string(), "unknown level \"city\" (expected one of: local regional national supranational)");
    }
}
