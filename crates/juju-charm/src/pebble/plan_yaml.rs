//! Reads the YAML of Pebble's plan (`GET /v1/plan?format=yaml`) into a JSON value.
//!
//! Pebble writes the plan with Go's yaml.v3: block mappings, sequences and scalars, never
//! anchors, aliases or tags. This reader takes yaml-rust2's parser events and builds the value
//! with an explicit stack: plain scalars are typed by yaml-rust2's own core-schema resolution
//! (`Yaml::from_str`), quoted ones stay strings, mapping keys are their text. Anything Pebble
//! never writes (an alias, an anchor, a tag, a non-scalar key, a repeated key, a second
//! document, nesting deeper than [`MAX_DEPTH`]) is refused rather than expanded or guessed,
//! so a hostile container cannot make the charm allocate without bound.

use serde_json::{Map, Number, Value};
use yaml_rust2::Yaml;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting accepted (a plan is at most five levels deep).
pub const MAX_DEPTH: usize = 32;

/// Why the plan text could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Not YAML.
    #[error("not YAML")]
    Syntax(#[source] yaml_rust2::ScanError),
    /// YAML that Pebble never writes.
    #[error("line {line}: {what}")]
    Unsupported {
        /// 1-based line of the offending node.
        line: usize,
        /// What was found.
        what: &'static str,
    },
    /// A document, but not a mapping with `services` and `checks` mappings.
    #[error("not a plan: {0}")]
    Shape(&'static str),
}

enum Frame {
    Seq(Vec<Value>),
    /// A mapping and the key whose value comes next.
    Map(Map<String, Value>, Option<String>),
}

fn unsupported(mark: Marker, what: &'static str) -> PlanError {
    PlanError::Unsupported {
        line: mark.line(),
        what,
    }
}

/// The single document of `text` as a JSON value; `None` for an empty stream.
pub fn read(text: &str) -> Result<Option<Value>, PlanError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Value> = None;
    loop {
        let (event, mark) = parser.next_token().map_err(PlanError::Syntax)?;
        let value = match event {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentStart | Event::DocumentEnd => {
                continue;
            }
            Event::Alias(_) => return Err(unsupported(mark, "an alias")),
            Event::MappingStart(anchor, tag) | Event::SequenceStart(anchor, tag)
                if anchor != 0 || tag.is_some() =>
            {
                return Err(unsupported(mark, "an anchor or a tag"));
            }
            Event::Scalar(_, _, anchor, tag) if anchor != 0 || tag.is_some() => {
                return Err(unsupported(mark, "an anchor or a tag"));
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if matches!(stack.last(), Some(Frame::Map(_, None))) {
                    return Err(unsupported(mark, "a mapping or sequence as a key"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(unsupported(mark, "nesting deeper than 32"));
                }
                stack.push(if matches!(event, Event::MappingStart(..)) {
                    Frame::Map(Map::new(), None)
                } else {
                    Frame::Seq(Vec::new())
                });
                continue;
            }
            // The parser balances start and end events; a mismatch is refused, not assumed.
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(map, None)) => Value::Object(map),
                _ => return Err(unsupported(mark, "an unbalanced mapping")),
            },
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items)) => Value::Array(items),
                _ => return Err(unsupported(mark, "an unbalanced sequence")),
            },
            Event::Scalar(text, style, _, _) => {
                if let Some(Frame::Map(_, key @ None)) = stack.last_mut() {
                    *key = Some(text);
                    continue;
                }
                if style == TScalarStyle::Plain {
                    typed(&text)
                } else {
                    Value::String(text)
                }
            }
        };
        match stack.last_mut() {
            None if root.is_some() => return Err(unsupported(mark, "a second document")),
            None => root = Some(value),
            Some(Frame::Seq(items)) => items.push(value),
            Some(Frame::Map(map, key)) => {
                let Some(key) = key.take() else {
                    return Err(unsupported(mark, "a value without a key"));
                };
                if map.insert(key, value).is_some() {
                    return Err(unsupported(mark, "a repeated key"));
                }
            }
        }
    }
    Ok(root)
}

/// A plain scalar typed as YAML's core schema does (yaml-rust2's resolution).
fn typed(text: &str) -> Value {
    match Yaml::from_str(text) {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::from(i),
        Yaml::Real(real) => real
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or_else(|| Value::String(real), Value::Number),
        _ => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_yaml_as_yaml_v3_writes_it() {
        let text = "services:\n    gluetun:\n        override: replace\n        command: /gluetun-entrypoint\n        environment:\n            FIREWALL_OUTBOUND_SUBNETS: 10.0.0.0/8\n            VPN_PORT: \"51820\"\n        user-id: 0\n        backoff-factor: 1.5\n        on-success: ~\n        kill-delay: \"\"\nchecks:\n    vpn:\n        threshold: 3\n        exec:\n            command: [a, 'b c']\n";
        assert_eq!(
            read(text).unwrap(),
            Some(json!({
                "services": {"gluetun": {
                    "override": "replace",
                    "command": "/gluetun-entrypoint",
                    "environment": {"FIREWALL_OUTBOUND_SUBNETS": "10.0.0.0/8", "VPN_PORT": "51820"},
                    "user-id": 0,
                    "backoff-factor": 1.5,
                    "on-success": null,
                    "kill-delay": "",
                }},
                "checks": {"vpn": {"threshold": 3, "exec": {"command": ["a", "b c"]}}},
            }))
        );
    }

    #[test]
    fn json_text_and_empty_streams() {
        assert_eq!(
            read(r#"{"a": [1, true, "x"], "3": null}"#).unwrap(),
            Some(json!({"a": [1, true, "x"], "3": null}))
        );
        assert_eq!(read("").unwrap(), None);
        assert_eq!(read("{}\n").unwrap(), Some(json!({})));
    }

    #[test]
    fn what_pebble_never_writes_is_refused() {
        for (text, what) in [
            ("a: &x [1]\nb: *x\n", "an anchor or a tag"),
            ("a: !!str 1\n", "an anchor or a tag"),
            ("? [a]\n: 1\n", "a mapping or sequence as a key"),
            ("a: 1\na: 2\n", "a repeated key"),
            ("a: 1\n---\nb: 2\n", "a second document"),
        ] {
            match read(text) {
                Err(PlanError::Unsupported { what: found, .. }) => assert_eq!(found, what),
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert!(matches!(
            read(&deep),
            Err(PlanError::Unsupported {
                what: "nesting deeper than 32",
                ..
            })
        ));
        assert!(matches!(read("a: [1\n"), Err(PlanError::Syntax(_))));
        // An alias needs an anchor (refused above); one without is the parser's error.
        assert!(matches!(read("a: *x\n"), Err(PlanError::Syntax(_))));
    }
}
