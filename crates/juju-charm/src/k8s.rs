//! Kubernetes access (owned by the Pebble/Kubernetes work).
