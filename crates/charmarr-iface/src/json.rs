//! Reading a databag value: one bounded JSON object, fields taken one by one.
//!
//! Types are strict (an integer field must be a JSON integer: no `"1000"`, no `1000.0`, no
//! `true`, all of which pydantic's lax mode would take). Unknown fields are ignored, as
//! pydantic does. A key given twice counts once, with its last value (serde_json and pydantic
//! agree on that).

use serde_json::{Map, Value};

use crate::error::{InvalidField, Problem};

/// The application databag key both sides of both interfaces write.
pub const DATABAG_KEY: &str = "config";
/// Largest `config` value accepted, in bytes. The reference's largest value is about 300.
pub const MAX_CONFIG_BYTES: usize = 16 * 1024;

pub(crate) type Fields = Map<String, Value>;

/// The whole value: at most [`MAX_CONFIG_BYTES`], a JSON object (serde_json caps nesting at
/// 128 levels, so a deep value is an error, not a stack overflow).
pub(crate) fn object(text: &str) -> Result<Fields, InvalidField> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(InvalidField::new(
            DATABAG_KEY,
            Problem::TooLarge {
                max: MAX_CONFIG_BYTES,
            },
        ));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(InvalidField::new(DATABAG_KEY, Problem::NotJsonObject)),
    }
}

/// A field that must be present (and not `null`: pydantic refuses `null` for these too).
pub(crate) fn required<'v, T>(
    fields: &'v Fields,
    field: &'static str,
    read: impl FnOnce(&'v Value) -> Result<T, Problem>,
) -> Result<T, InvalidField> {
    let value = fields
        .get(field)
        .ok_or(InvalidField::new(field, Problem::Missing))?;
    read(value).map_err(|p| InvalidField::new(field, p))
}

/// A field with a default: absent gives `None`; `null` goes to `read` (and is refused by it,
/// as pydantic refuses `null` for a defaulted non-optional field).
pub(crate) fn defaulted<'v, T>(
    fields: &'v Fields,
    field: &'static str,
    read: impl FnOnce(&'v Value) -> Result<T, Problem>,
) -> Result<Option<T>, InvalidField> {
    fields
        .get(field)
        .map(read)
        .transpose()
        .map_err(|p| InvalidField::new(field, p))
}

/// An `Optional[...] = None` field: absent and `null` both give `None`.
pub(crate) fn nullable<'v, T>(
    fields: &'v Fields,
    field: &'static str,
    read: impl FnOnce(&'v Value) -> Result<T, Problem>,
) -> Result<Option<T>, InvalidField> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => read(value)
            .map(Some)
            .map_err(|p| InvalidField::new(field, p)),
    }
}

/// Whether an `Optional[...]` field holds a value (present and not `null`).
pub(crate) fn is_set(fields: &Fields, field: &str) -> bool {
    !matches!(fields.get(field), None | Some(Value::Null))
}

pub(crate) fn string(value: &Value) -> Result<&str, Problem> {
    value.as_str().ok_or(Problem::WrongType {
        expected: "a string",
    })
}

/// A JSON integer (any sign and size serde_json represents exactly); floats, strings and
/// booleans are refused.
pub(crate) fn integer(value: &Value) -> Result<i128, Problem> {
    let wrong = Problem::WrongType {
        expected: "an integer",
    };
    let n = value.as_number().ok_or(wrong.clone())?;
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
        .ok_or(wrong)
}
