//! JSON as Python's `json.dumps(obj)` writes it with its defaults: `", "` between items,
//! `": "` after keys, every non-ASCII character escaped as `\uXXXX` (a surrogate pair above
//! U+FFFF), and floats as Python's `repr`. The charm libraries write every databag value this
//! way, so writing it the same way makes our values byte-identical to theirs.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};

/// `json.dumps(value)`. Map keys keep the order the value serializes them in.
pub fn dumps<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser = Serializer::with_formatter(&mut out, PythonFormatter);
    // Serializing into a Vec cannot fail for the crate's own types (string keys only).
    value
        .serialize(&mut ser)
        .expect("the crate's values serialize to JSON");
    String::from_utf8(out).expect("the formatter writes ASCII")
}

/// The formatter behind [`dumps`].
struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        // Python and serde_json escape the same set the same way (`\u001f` in lower case);
        // spelled out so that a change in either is caught by the tests.
        let text: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(byte) => return write!(w, "\\u{byte:04x}"),
        };
        w.write_all(text)
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        w.write_all(python_float_repr(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(w, f64::from(value))
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, positional when the decimal
/// exponent is in -4..16, else `d.ddde+XX`; always with a `.0` or an exponent. JSON has no
/// NaN or infinity, and serde_json writes `null` for them before reaching the formatter.
pub(crate) fn python_float_repr(value: f64) -> String {
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{value:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} has an integer exponent");
    let (sign, mantissa) = mantissa
        .strip_prefix('-')
        .map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1;
        if point <= 0 {
            let zeros = "0".repeat(usize::try_from(-point).unwrap_or(0));
            format!("{sign}0.{zeros}{digits}")
        } else {
            let point = usize::try_from(point).unwrap_or(0);
            if digits.len() <= point {
                format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
            } else {
                format!("{sign}{}.{}", &digits[..point], &digits[point..])
            }
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{rest}e{esign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn separators_and_ascii_escapes_match_python() {
        // json.dumps({"a": [1, "é😀\u001f\"/\\\n"], "b": {}}) in CPython 3.12.
        let v = json!({"a": [1, "é😀\u{1f}\"/\\\n"], "b": {}});
        assert_eq!(
            dumps(&v),
            r#"{"a": [1, "\u00e9\ud83d\ude00\u001f\"/\\\n"], "b": {}}"#
        );
        assert_eq!(dumps(&json!([])), "[]");
    }

    #[test]
    fn floats_are_python_repr() {
        // repr() of each in CPython 3.12.
        for (f, py) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1_234_567_890_123_456.0, "1234567890123456.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (-2.5e-7, "-2.5e-07"),
            (1.5e300, "1.5e+300"),
            (-0.0, "-0.0"),
            (123.456, "123.456"),
        ] {
            assert_eq!(python_float_repr(f), py, "{f}");
        }
    }
}

/// A JSON value as Python's `json.loads` holds it: objects keep their key order (a repeated
/// key keeps its first place and its last value, as a dict does). For re-writing our own
/// dashboard files exactly as the library would.
#[cfg(feature = "prepare")]
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer (serde_json reads integers beyond 64 bits as floats; Python would not).
    Int(i128),
    /// A float.
    Float(f64),
    /// A string.
    String(String),
    /// A list.
    Array(Vec<PyValue>),
    /// An object, in order.
    Object(Vec<(String, PyValue)>),
}

#[cfg(feature = "prepare")]
impl Serialize for PyValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Self::Null => s.serialize_unit(),
            Self::Bool(b) => s.serialize_bool(*b),
            Self::Int(i) => s.serialize_i128(*i),
            Self::Float(f) => s.serialize_f64(*f),
            Self::String(t) => s.serialize_str(t),
            Self::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(feature = "prepare")]
impl<'de> serde::Deserialize<'de> for PyValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = PyValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<PyValue, E> {
                Ok(PyValue::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<PyValue, E> {
                Ok(PyValue::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<PyValue, E> {
                Ok(PyValue::Int(i.into()))
            }
            fn visit_u64<E>(self, i: u64) -> Result<PyValue, E> {
                Ok(PyValue::Int(i.into()))
            }
            fn visit_f64<E>(self, f: f64) -> Result<PyValue, E> {
                Ok(PyValue::Float(f))
            }
            fn visit_str<E>(self, t: &str) -> Result<PyValue, E> {
                Ok(PyValue::String(t.to_owned()))
            }
            fn visit_string<E>(self, t: String) -> Result<PyValue, E> {
                Ok(PyValue::String(t))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<PyValue, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = a.next_element()? {
                    items.push(item);
                }
                Ok(PyValue::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<PyValue, A::Error> {
                let mut fields: Vec<(String, PyValue)> = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, PyValue>()? {
                    if let Some(slot) = fields.iter_mut().find(|(have, _)| *have == k) {
                        slot.1 = v;
                    } else {
                        fields.push((k, v));
                    }
                }
                Ok(PyValue::Object(fields))
            }
        }
        d.deserialize_any(V)
    }
}
