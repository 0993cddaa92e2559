//! The charm's config options (`unsafe-mode`, `timezone`, `webui-port`), validated. An invalid
//! value names the option, so the operator sees which one to fix in `juju status`.

use std::fmt;

use serde_json::{Map, Value};

/// Default `timezone`.
pub const DEFAULT_TIMEZONE: &str = "Etc/UTC";
/// Default `webui-port`.
pub const DEFAULT_WEBUI_PORT: u16 = 8080;
/// Lowest `webui-port` accepted: qBittorrent runs unprivileged in LinuxServer images, and a
/// port below 1024 could also collide with pod-gateway's DNS/DHCP (53, 67).
pub const MIN_WEBUI_PORT: u16 = 1024;
/// Longest `timezone` accepted (the longest IANA name is about 32 characters).
pub const MAX_TIMEZONE_LEN: usize = 64;

/// A config option with a bad value. The value itself is not echoed (it may be anything).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid config {option}: {problem}")]
pub struct ConfigError {
    /// The option.
    pub option: &'static str,
    /// What is wrong.
    pub problem: &'static str,
}

/// An IANA-style timezone name (`Europe/London`, `Etc/UTC`, `UTC`): letters, digits, `_`, `-`,
/// `+` in `/`-separated non-empty parts, no `.` (so no `..`), at most 64 characters. It goes
/// into the `TZ` environment variable of the Pebble service only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timezone(String);

impl Timezone {
    /// Validates `text`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let err = |problem| ConfigError {
            option: "timezone",
            problem,
        };
        if text.is_empty() || text.len() > MAX_TIMEZONE_LEN {
            return Err(err("must be 1-64 characters"));
        }
        let part_ok = |p: &str| {
            !p.is_empty()
                && p.starts_with(|c: char| c.is_ascii_alphabetic())
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+'))
        };
        if text.split('/').all(part_ok) {
            Ok(Self(text.to_owned()))
        } else {
            Err(err(
                "must be an IANA timezone name such as Europe/London (letters, digits, '_', '-', '+' in '/'-separated parts)",
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The validated config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Allow running without VPN protection.
    pub unsafe_mode: bool,
    /// `TZ` for qBittorrent.
    pub timezone: Timezone,
    /// The WebUI port (1024-65535).
    pub webui_port: u16,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            unsafe_mode: false,
            timezone: Timezone(DEFAULT_TIMEZONE.to_owned()),
            webui_port: DEFAULT_WEBUI_PORT,
        }
    }
}

impl Config {
    /// Reads `config-get --format=json` output. Absent options take their defaults.
    pub fn parse(map: &Map<String, Value>) -> Result<Self, ConfigError> {
        let unsafe_mode = match map.get("unsafe-mode") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(ConfigError {
                    option: "unsafe-mode",
                    problem: "must be a boolean",
                });
            }
        };
        let timezone = match map.get("timezone") {
            None | Some(Value::Null) => Timezone(DEFAULT_TIMEZONE.to_owned()),
            Some(Value::String(s)) => Timezone::parse(s)?,
            Some(_) => {
                return Err(ConfigError {
                    option: "timezone",
                    problem: "must be a string",
                });
            }
        };
        let webui_port = match map.get("webui-port") {
            None | Some(Value::Null) => DEFAULT_WEBUI_PORT,
            Some(v) => v
                .as_i64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|p| *p >= MIN_WEBUI_PORT)
                .ok_or(ConfigError {
                    option: "webui-port",
                    problem: "must be an integer from 1024 to 65535",
                })?,
        };
        Ok(Self {
            unsafe_mode,
            timezone,
            webui_port,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse_value(v: Value) -> Result<Config, ConfigError> {
        let Value::Object(map) = v else {
            panic!("test input is an object")
        };
        Config::parse(&map)
    }

    #[test]
    fn defaults_and_valid_values() {
        assert_eq!(parse_value(json!({})), Ok(Config::default()));
        let c = parse_value(json!({"unsafe-mode": true, "timezone": "America/Argentina/Buenos_Aires", "webui-port": 65535}))
            .unwrap();
        assert!(c.unsafe_mode);
        assert_eq!(c.timezone.as_str(), "America/Argentina/Buenos_Aires");
        assert_eq!(c.webui_port, 65535);
        for tz in ["UTC", "Etc/GMT+5", "Etc/GMT-14", "Europe/London"] {
            assert!(Timezone::parse(tz).is_ok(), "{tz}");
        }
    }

    #[test]
    fn bad_values_name_the_option() {
        for (input, option) in [
            (json!({"webui-port": 80}), "webui-port"),
            (json!({"webui-port": 0}), "webui-port"),
            (json!({"webui-port": 70000}), "webui-port"),
            (json!({"webui-port": "8080"}), "webui-port"),
            (json!({"unsafe-mode": "yes"}), "unsafe-mode"),
            (json!({"timezone": 3}), "timezone"),
            (json!({"timezone": ""}), "timezone"),
            (json!({"timezone": "../../etc/passwd"}), "timezone"),
            (json!({"timezone": "/Europe/London"}), "timezone"),
            (json!({"timezone": "Europe/London\nX=1"}), "timezone"),
            (json!({"timezone": "Europe/$(reboot)"}), "timezone"),
            (json!({"timezone": "a".repeat(65)}), "timezone"),
        ] {
            let err = parse_value(input.clone()).unwrap_err();
            assert_eq!(err.option, option, "{input}");
            assert!(err.to_string().contains(option));
        }
    }
}
