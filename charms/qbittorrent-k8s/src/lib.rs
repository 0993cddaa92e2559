//! qbittorrent-k8s: the download-client charm. Pure pieces live in modules here and are tested
//! without I/O; `main.rs` is the thin gather → plan → apply binary.

pub mod conf;
pub mod credentials;
