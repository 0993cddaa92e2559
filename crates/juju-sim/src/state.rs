//! Juju model state that hook tools read and write (owned by the tools/Pebble work).
