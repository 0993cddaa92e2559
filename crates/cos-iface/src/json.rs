//! Reading a databag value: bounded JSON, fields taken one by one, and ordered maps for
//! writing dicts in the libraries' key order.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::error::{InvalidField, Problem};

/// Largest databag value read, in bytes. A Loki `endpoint` or a tracing `receivers` list is
/// well under 1 KiB; a Prometheus `event` carries cos-tool's error text.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// The whole value: at most [`MAX_VALUE_BYTES`], JSON (serde_json caps nesting at 128 levels,
/// so a deep value is an error, not a stack overflow).
pub(crate) fn parse(field: &'static str, text: &str) -> Result<Value, InvalidField> {
    if text.len() > MAX_VALUE_BYTES {
        return Err(InvalidField::new(
            field,
            Problem::TooLarge {
                max: MAX_VALUE_BYTES,
            },
        ));
    }
    serde_json::from_str(text).map_err(|_| InvalidField::new(field, Problem::NotJson))
}

pub(crate) fn string(value: &Value) -> Result<&str, Problem> {
    value.as_str().ok_or(Problem::WrongType {
        expected: "a string",
    })
}

pub(crate) fn object(value: &Value) -> Result<&serde_json::Map<String, Value>, Problem> {
    value.as_object().ok_or(Problem::WrongType {
        expected: "a JSON object",
    })
}

pub(crate) fn array(value: &Value) -> Result<&Vec<Value>, Problem> {
    value
        .as_array()
        .ok_or(Problem::WrongType { expected: "a list" })
}

/// A string map written in the given order (Python dicts keep insertion order).
pub(crate) struct Ordered<'a, V>(pub &'a [(&'a str, V)]);

impl<V: Serialize> Serialize for Ordered<'_, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// What a consumer (Prometheus, Grafana) writes back under `event` in its application
/// databag: whether it took what we sent. Only the verdict is kept; the error text is the
/// consumer's and is not repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsumerEvent {
    /// `valid`, when given (the libraries treat absent as true).
    pub valid: Option<bool>,
    /// `errors` is present and not empty (alert rules or dashboards refused).
    pub has_errors: bool,
    /// `scrape_job_errors` is present and not empty (Prometheus only).
    pub has_scrape_job_errors: bool,
}

impl ConsumerEvent {
    /// The databag key.
    pub const KEY: &'static str = "event";

    /// Reads the `event` value.
    pub fn from_databag(text: &str) -> Result<Self, InvalidField> {
        let value = parse(Self::KEY, text)?;
        let fields = object(&value).map_err(|p| InvalidField::new(Self::KEY, p))?;
        let valid = match fields.get("valid") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(InvalidField::new(
                    "event.valid",
                    Problem::WrongType {
                        expected: "a boolean",
                    },
                ));
            }
        };
        let nonempty = |field: &'static str, key: &str| -> Result<bool, InvalidField> {
            match fields.get(key) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::String(s)) => Ok(!s.is_empty()),
                Some(Value::Array(a)) => Ok(!a.is_empty()),
                Some(_) => Err(InvalidField::new(
                    field,
                    Problem::WrongType {
                        expected: "a string or a list",
                    },
                )),
            }
        };
        Ok(Self {
            valid,
            has_errors: nonempty("event.errors", "errors")?,
            has_scrape_job_errors: nonempty("event.scrape_job_errors", "scrape_job_errors")?,
        })
    }

    /// Whether the consumer reported a problem.
    pub fn is_ok(&self) -> bool {
        self.valid != Some(false) && !self.has_errors && !self.has_scrape_job_errors
    }
}
