//! Command-line parsing and output formatting shared by the hook tools, following Juju's
//! `gnuflag` + `juju/cmd` conventions: `-x`/`--x` are the same flag, `--flag=value` and
//! `--flag value` both work, flags and positional arguments may be interspersed, `--` ends the
//! flags, bool flags take an optional `=true|false`. Parse errors exit 2, run errors exit 1,
//! both as `ERROR <message>` on stderr.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// A tool failure: exit code and the message printed after `ERROR `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    /// Exit code (2: bad arguments, 1: the command failed).
    pub code: i32,
    /// Message.
    pub message: String,
}

impl ToolError {
    /// A bad-arguments error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    /// A run-time error (exit 1).
    pub fn run(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

/// A flag a tool accepts: its names (without dashes) and whether it takes a value.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// All names; the first is the key in [`Parsed`].
    pub names: &'static [&'static str],
    /// Takes a value (else boolean).
    pub value: bool,
}

/// A flag taking a value.
pub const fn val(names: &'static [&'static str]) -> Flag {
    Flag { names, value: true }
}

/// A boolean flag.
pub const fn boolean(names: &'static [&'static str]) -> Flag {
    Flag {
        names,
        value: false,
    }
}

/// Parsed command line.
#[derive(Debug, Default)]
pub struct Parsed {
    values: BTreeMap<&'static str, Vec<String>>,
    bools: BTreeSet<&'static str>,
    /// Positional arguments.
    pub pos: Vec<String>,
}

impl Parsed {
    /// Last value of a value flag.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Whether a bool flag is set (true).
    pub fn flag(&self, name: &str) -> bool {
        self.bools.contains(name)
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Parses `args` (without the tool name) against `flags`.
pub fn parse(args: &[String], flags: &[Flag]) -> Result<Parsed, ToolError> {
    let mut out = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            out.pos.extend(args[i..].iter().cloned());
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            out.pos.push(arg.clone());
            continue;
        }
        let body = arg.trim_start_matches('-');
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let Some(flag) = flags.iter().find(|f| f.names.contains(&name)) else {
            return Err(ToolError::usage(format!(
                "option provided but not defined: {}",
                arg.split('=').next().unwrap_or(arg)
            )));
        };
        let key = flag.names[0];
        let dashed = if name.len() == 1 {
            format!("-{name}")
        } else {
            format!("--{name}")
        };
        if flag.value {
            let v = if let Some(v) = inline {
                v.to_owned()
            } else if i < args.len() {
                i += 1;
                args[i - 1].clone()
            } else {
                return Err(ToolError::usage(format!(
                    "option needs an argument: {dashed}"
                )));
            };
            out.values.entry(key).or_default().push(v);
        } else {
            let on = match inline {
                None => true,
                Some(v) => parse_bool(v).ok_or_else(|| {
                    ToolError::usage(format!(
                        "invalid boolean value {v:?} for option {dashed}: parse error"
                    ))
                })?,
            };
            if on {
                out.bools.insert(key);
            } else {
                out.bools.remove(key);
            }
        }
    }
    Ok(out)
}

/// Rejects extra positional arguments as Juju's `cmd.CheckEmpty` does (`%q` of a Go slice).
pub fn check_empty(rest: &[String]) -> Result<(), ToolError> {
    if rest.is_empty() {
        return Ok(());
    }
    let quoted: Vec<String> = rest.iter().map(|a| format!("{a:?}")).collect();
    Err(ToolError::usage(format!(
        "unrecognized args: [{}]",
        quoted.join(" ")
    )))
}

/// Output formats of `juju/cmd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Strings as is, bools as `True`/`False`, string lists one per line, the rest YAML.
    Smart,
    /// YAML.
    Yaml,
    /// JSON (Go's encoder: sorted keys, HTML characters escaped).
    Json,
}

/// The `--format` flag.
pub const FORMAT: Flag = val(&["format"]);

/// Reads `--format` given the tool's default and accepted formats.
pub fn format(p: &Parsed, default: Format, accepted: &[Format]) -> Result<Format, ToolError> {
    let Some(name) = p.get("format") else {
        return Ok(default);
    };
    let f = match name {
        "smart" => Format::Smart,
        "yaml" => Format::Yaml,
        "json" => Format::Json,
        _ => None.ok_or_else(|| unknown_format(name))?,
    };
    if f == default || accepted.contains(&f) {
        Ok(f)
    } else {
        Err(unknown_format(name))
    }
}

fn unknown_format(name: &str) -> ToolError {
    ToolError::usage(format!(
        "invalid value {name:?} for option --format: unknown format {name:?}"
    ))
}

/// Renders `value` in `format`, with the trailing newline `juju/cmd` adds.
pub fn render(value: &Value, format: Format) -> Vec<u8> {
    let mut s = match (format, value) {
        (Format::Json, v) => go_json(v),
        (Format::Smart, Value::Null) => String::new(),
        (Format::Smart, Value::String(s)) => s.clone(),
        (Format::Smart, Value::Bool(b)) => if *b { "True" } else { "False" }.to_owned(),
        (Format::Smart, Value::Number(n)) => n.to_string(),
        (Format::Smart, Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        (_, v) => yaml(v),
    };
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s.into_bytes()
}

/// JSON as Go's `encoding/json` writes it (keys sorted, `<`, `>`, `&` escaped).
pub fn go_json(v: &Value) -> String {
    // serde_json's Map is a BTreeMap here (no preserve_order), so keys come out sorted.
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// YAML (block style).
pub fn yaml(v: &Value) -> String {
    match v {
        Value::Null => "null\n".to_owned(),
        Value::Object(m) if m.is_empty() => "{}\n".to_owned(),
        Value::Array(a) if a.is_empty() => "[]\n".to_owned(),
        // A serde_json::Value always serializes; fall back to JSON (valid YAML) if not.
        _ => serde_saphyr::to_string(v).unwrap_or_else(|_| go_json(v)),
    }
}

/// Parses Juju `key=value` arguments (`keyvalues.Parse` with duplicates rejected).
pub fn key_values(args: &[String]) -> Result<BTreeMap<String, String>, ToolError> {
    let mut out = BTreeMap::new();
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            return Err(ToolError::usage(format!(
                "expected \"key=value\", got {a:?}"
            )));
        };
        if k.is_empty() {
            return Err(ToolError::usage(format!(
                "expected \"key=value\", got {a:?}"
            )));
        }
        if out.insert(k.to_owned(), v.to_owned()).is_some() {
            return Err(ToolError::usage(format!(
                "key {k:?} specified more than once"
            )));
        }
    }
    Ok(out)
}

/// `2006-01-02T15:04:05Z` for seconds since the epoch.
pub fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Seconds since the epoch now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
