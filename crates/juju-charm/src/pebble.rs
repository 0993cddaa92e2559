//! Pebble client (owned by the Pebble/Kubernetes work).
