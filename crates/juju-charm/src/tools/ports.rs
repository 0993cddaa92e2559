//! Port hook tools: `open-port`, `close-port`, `opened-ports` (ops `ops/hookcmds/_port.py`).

use std::fmt;

use super::{OutputError, ToolError, Tools, argv};

/// A transport protocol Juju can open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP (no port).
    Icmp,
}

/// A port (or inclusive range) Juju opens for the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    /// The protocol.
    pub protocol: Protocol,
    /// First port; `None` for ICMP.
    pub from: Option<u16>,
    /// Last port of a range, if a range.
    pub to: Option<u16>,
}

impl Port {
    /// One TCP port.
    pub fn tcp(port: u16) -> Self {
        Self {
            protocol: Protocol::Tcp,
            from: Some(port),
            to: None,
        }
    }

    /// One UDP port.
    pub fn udp(port: u16) -> Self {
        Self {
            protocol: Protocol::Udp,
            from: Some(port),
            to: None,
        }
    }

    /// ICMP.
    pub fn icmp() -> Self {
        Self {
            protocol: Protocol::Icmp,
            from: None,
            to: None,
        }
    }

    /// Parses one `opened-ports` entry: `8080/tcp`, `8081-8090/udp`, `icmp`, or `80` (TCP,
    /// as ops assumes when the protocol is missing).
    pub fn parse(raw: &str) -> Option<Self> {
        if raw == "icmp" {
            return Some(Self::icmp());
        }
        let (ports, protocol) = raw.split_once('/').unwrap_or((raw, "tcp"));
        let protocol = match protocol {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            _ => return None,
        };
        let (from, to) = match ports.split_once('-') {
            Some((from, to)) => (from.parse().ok()?, Some(to.parse().ok()?)),
            None => (ports.parse().ok()?, None),
        };
        Some(Self {
            protocol,
            from: Some(from),
            to,
        })
    }
}

impl fmt::Display for Port {
    /// The argument form `open-port` takes: `8080/tcp`, `8081-8090/udp`, `icmp`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        };
        match (self.from, self.to) {
            (None, _) => f.write_str(protocol),
            (Some(from), None) => write!(f, "{from}/{protocol}"),
            (Some(from), Some(to)) => write!(f, "{from}-{to}/{protocol}"),
        }
    }
}

impl Tools {
    /// Opens a port on every endpoint: `open-port 8080/tcp`.
    pub fn open_port(&self, port: Port) -> Result<(), ToolError> {
        self.run("open-port", &argv([port.to_string()])).map(drop)
    }

    /// Closes a port: `close-port 8080/tcp`.
    pub fn close_port(&self, port: Port) -> Result<(), ToolError> {
        self.run("close-port", &argv([port.to_string()])).map(drop)
    }

    /// The ports this unit opened: `opened-ports --format=json`.
    pub fn opened_ports(&self) -> Result<Vec<Port>, ToolError> {
        const TOOL: &str = "opened-ports";
        let raw: Option<Vec<String>> = self.run_json(TOOL, &argv(["--format=json"]))?;
        raw.unwrap_or_default()
            .iter()
            .map(|entry| {
                Port::parse(entry).ok_or_else(|| ToolError::BadOutput {
                    tool: TOOL.to_owned(),
                    source: OutputError::Unexpected(format!("port {entry:?}")),
                })
            })
            .collect()
    }
}
