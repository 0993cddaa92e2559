//! Pebble server (owned by the tools/Pebble work).
