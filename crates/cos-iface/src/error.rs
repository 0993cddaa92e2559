//! The one validation error: which field is wrong and what is wrong with it.
//!
//! Relation data comes from another application (often in another model) and is untrusted, so
//! the error never echoes the input back (it ends up in `juju status` and the debug log): it
//! names the field and describes the problem with a fixed phrase.

use std::fmt;

/// A value that failed validation. `field` is the databag key (`endpoint`, `receivers`, ...)
/// or a path into its JSON (`endpoint.url`, `receivers.url`); `problem` says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidField {
    /// The field that is wrong.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: Problem,
}

impl InvalidField {
    /// Shorthand used by the parsers.
    pub(crate) fn new(field: &'static str, problem: Problem) -> Self {
        Self { field, problem }
    }
}

/// What is wrong with a field. Displays as a short lower-case phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A required field is absent.
    Missing,
    /// The JSON value has the wrong type (`expected` names the right one).
    WrongType {
        /// "a string", "a list", ...
        expected: &'static str,
    },
    /// The value is longer than allowed (bytes of text, or entries of a list).
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// Not JSON at all.
    NotJson,
    /// A string outside a closed set (`expected` lists the set).
    UnknownValue {
        /// "one of http, grpc", ...
        expected: &'static str,
    },
    /// Not a Juju name (application, unit, model, charm) or UUID; the text says why.
    BadName(&'static str),
    /// Not an acceptable URL; the text says why.
    BadUrl(&'static str),
    /// Not acceptable for another reason; the text says why.
    Invalid(&'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("missing"),
            Self::WrongType { expected } => write!(f, "must be {expected}"),
            Self::TooLarge { max } => write!(f, "larger than {max}"),
            Self::NotJson => f.write_str("not JSON"),
            Self::UnknownValue { expected } => write!(f, "unknown value (must be {expected})"),
            Self::BadName(why) => write!(f, "not a valid name: {why}"),
            Self::BadUrl(why) => write!(f, "not an acceptable URL: {why}"),
            Self::Invalid(why) => write!(f, "not acceptable: {why}"),
        }
    }
}

impl std::error::Error for Problem {}

impl From<vpn_gateway_iface::Problem> for Problem {
    /// The name types borrowed from vpn-gateway-iface report only name problems.
    fn from(problem: vpn_gateway_iface::Problem) -> Self {
        match problem {
            vpn_gateway_iface::Problem::BadName(why)
            | vpn_gateway_iface::Problem::BadDnsName(why) => Self::BadName(why),
            _ => Self::BadName("not accepted"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_field_and_problem() {
        let e = InvalidField::new("endpoint.url", Problem::BadUrl("has user info"));
        assert_eq!(
            e.to_string(),
            "endpoint.url: not an acceptable URL: has user info"
        );
        assert_eq!(
            InvalidField::new("receivers", Problem::TooLarge { max: 16 }).to_string(),
            "receivers: larger than 16"
        );
    }
}
