//! gluetun-k8s: the VPN gateway charm. Pure pieces live in modules here and are tested
//! without I/O; `main.rs` is the thin gather → plan → apply binary.

pub mod config;
pub mod workload;
