//! The one validation error: which field is wrong and what is wrong with it.
//!
//! Relation data comes from another application (possibly another model) and is untrusted,
//! so the error never echoes raw input back (it ends up in `juju status` and the debug log):
//! it names the field and describes the problem with a fixed phrase.

use std::fmt;

/// A value that failed validation. `field` is the databag field (`api_url`, `pvc_name`, ...)
/// or, for the whole value, `config`; `problem` says what is wrong.
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
    /// A required field is absent (or `null` where `null` means absent).
    Missing,
    /// The JSON value has the wrong type (`expected` names the right one).
    WrongType {
        /// "a string", "an integer", ...
        expected: &'static str,
    },
    /// An integer outside its range.
    OutOfRange {
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// The value is longer than allowed.
    TooLarge {
        /// Limit in bytes.
        max: usize,
    },
    /// Not a JSON object (or not JSON at all).
    NotJsonObject,
    /// A string outside a closed set (`expected` lists the set).
    UnknownValue {
        /// "one of qbittorrent, sabnzbd", ...
        expected: &'static str,
    },
    /// `client_type` disagrees with `client`.
    ClientTypeMismatch {
        /// The client, as parsed.
        client: &'static str,
        /// The client type that client has.
        expected: &'static str,
    },
    /// A secret field the client does not use is set (both secret ids, or the wrong one).
    SecretNotForClient {
        /// The client, as parsed.
        client: &'static str,
        /// The secret field that client uses.
        uses: &'static str,
    },
    /// Not a Juju application name, Kubernetes namespace or object name; the text says why.
    BadName(&'static str),
    /// Not an RFC 1123 DNS name; the text says why.
    BadDnsName(&'static str),
    /// Not a Juju secret URI; the text says why.
    BadSecretId(&'static str),
    /// Not an in-cluster service URL; the text says why.
    BadUrl(&'static str),
    /// Not an acceptable path; the text says why.
    BadPath(&'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("missing"),
            Self::WrongType { expected } => write!(f, "must be {expected}"),
            Self::OutOfRange { min, max } => write!(f, "must be an integer from {min} to {max}"),
            Self::TooLarge { max } => write!(f, "longer than {max} bytes"),
            Self::NotJsonObject => f.write_str("not a JSON object"),
            Self::UnknownValue { expected } => write!(f, "unknown value (must be {expected})"),
            Self::ClientTypeMismatch { client, expected } => {
                write!(f, "must be {expected} for client {client}")
            }
            Self::SecretNotForClient { client, uses } => {
                write!(
                    f,
                    "must be absent or null for client {client} (it uses {uses})"
                )
            }
            Self::BadName(why) => write!(f, "not a valid name: {why}"),
            Self::BadDnsName(why) => write!(f, "not a valid DNS name: {why}"),
            Self::BadSecretId(why) => write!(f, "not a Juju secret URI: {why}"),
            Self::BadUrl(why) => write!(f, "not an in-cluster service URL: {why}"),
            Self::BadPath(why) => write!(f, "not an acceptable path: {why}"),
        }
    }
}

impl std::error::Error for Problem {}

impl From<vpn_gateway_iface::Problem> for Problem {
    /// The name types borrowed from vpn-gateway-iface report only name problems.
    fn from(problem: vpn_gateway_iface::Problem) -> Self {
        match problem {
            vpn_gateway_iface::Problem::BadName(why) => Self::BadName(why),
            vpn_gateway_iface::Problem::BadDnsName(why) => Self::BadDnsName(why),
            _ => Self::BadName("not accepted"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_field_and_problem() {
        let e = InvalidField::new(
            "api_key_secret_id",
            Problem::SecretNotForClient {
                client: "qbittorrent",
                uses: "credentials_secret_id",
            },
        );
        assert_eq!(
            e.to_string(),
            "api_key_secret_id: must be absent or null for client qbittorrent (it uses \
             credentials_secret_id)"
        );
        let e = InvalidField::new("puid", Problem::OutOfRange { min: 1, max: 9 });
        assert_eq!(e.to_string(), "puid: must be an integer from 1 to 9");
    }

    #[test]
    fn name_problems_carry_over() {
        let p = vpn_gateway_iface::AppName::parse("A")
            .map(|_| ())
            .map_err(Problem::from);
        assert_eq!(
            p,
            Err(Problem::BadName("must start with a lower-case letter"))
        );
    }
}
